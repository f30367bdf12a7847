"""Real report pairs for the engine-adapter tests, and the engines' own ways of calling a reward
(read from their source: verl 0.9 ``NaiveRewardManager`` / ``load_extern_object``, EasyR1's
``AutoRewardManager``, ms-swift 4.6 ``compute_rewards_per_func``, OpenRLHF 0.11
``SingleTurnAgentExecutor``)."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

FALLBACK = [
    ("Small left pleural effusion. Heart size is normal.", "Small left pleural effusion.",
     "No pneumothorax. Small left effusion.", "Left pleural effusion."),
    ("<think>edema?</think><report>Mild pulmonary edema. Cardiomegaly.</report>", None,
     "Cardiomegaly with mild interstitial edema.", "Cardiomegaly. Mild edema."),
    ("", None, "The lungs are clear. No acute disease.", "No acute cardiopulmonary process."),
]


def report_rows(n: int = 24, seed: int = 0) -> list[dict]:
    """``radrl reward`` input rows: IU X-Ray FINDINGS/IMPRESSION as references, other studies'
    reports (and some <think>/<report> forms, empty ones) as predictions; every third row with
    gold labels."""
    rng = random.Random(seed)
    path = SHARED / "iu_xray" / "dev_reports_mesh.jsonl"
    if path.exists():
        studies = [json.loads(line) for line in path.read_text().splitlines()[:400]]
        studies = [s for s in studies if s.get("findings") and s.get("impression")]
        pairs = []
        for i in range(n):
            ref, other = rng.sample(studies, 2)
            pred = f"{other['findings']} {other['impression']}"
            if i % 5 == 1:
                pred = f"<think>look at the lungs</think><report>{ref['findings']}</report>"
            if i % 7 == 3:
                pred = ""
            pairs.append((pred, None, ref["findings"], ref["impression"]))
    else:
        pairs = (FALLBACK * (n // len(FALLBACK) + 1))[:n]
    rows = []
    for i, (pred, _, findings, impression) in enumerate(pairs):
        row = {"id": f"s{i}", "prediction": pred, "reference_findings": findings, "reference_impression": impression,
               "reference": f"{findings} {impression}"}
        if i % 3 == 0:
            row["labels"] = {"Pleural Effusion": "positive", "Cardiomegaly": "negative", "Edema": "uncertain"}
        rows.append(row)
    return rows


def extra_info(row: dict) -> dict:
    """verl's extra_info as ``radrl export --engine verl`` writes it (labels as JSON text)."""
    return {"id": row["id"], "reference_findings": row["reference_findings"],
            "reference_impression": row["reference_impression"],
            "labels": json.dumps(row["labels"]) if row.get("labels") else ""}


def payload(row: dict) -> str:
    from radrl.integrations.rows import ground_truth_payload

    return ground_truth_payload(row["reference"], row["reference_findings"], row["reference_impression"],
                                row.get("labels"))


def load_file_function(path: str, name: str, module_name: str = "custom_reward_fn"):
    """How EasyR1 and OpenRLHF load a reward file: ``spec_from_file_location`` + ``exec_module``."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, getattr(module, name)


class TrainerState:
    def __init__(self, global_step: int):
        self.global_step = global_step
