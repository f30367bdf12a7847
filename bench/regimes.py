"""bench-papers v2's starting regimes: each comparison starts where its paper starts.

Each :class:`Regime` names its start, cites the paper's section or figure for it, and makes the
start with radrl's own commands (``radrl pipeline`` here: what a user could run). The knob that
sets how weak the start is (SFT steps) is chosen on validation: the first candidate whose
target figure (the step-0 all-zero share for OraPO and MRG-R1, the validation example F1, i.e.
the headroom, for DEER) lies in the paper's range, else the closest, and the block says so. The regime
block (the start's weights SHA-256, its validation F1, the step-0 share of all-zero-reward and
zero-variance groups, every candidate tried) goes into ``docs/results/bench-papers.json`` under
``regimes.<comparison>.paper``, to be committed before that comparison's first test read;
:func:`require_block` refuses a test read without it, or with another start.

    python bench/regimes.py --comparison orapo            # build the candidates, measure, choose, write
    python bench/regimes.py --comparison orapo --rebuild  # on a new machine: rebuild the start, compare, record

Run alone: each candidate is an SFT run and a sampling pass on CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from papers import RESULTS, _commit  # noqa: E402  (bench/papers.py: the results JSON the blocks go into)

from radrl.io import InputError, atomic_write_json  # noqa: E402


@dataclass(frozen=True)
class Regime:
    """A comparison's start: ``radrl pipeline tiny_sft`` (a fresh tiny VLM with the committed vision
    tower, SFT on the RL recipe's own training benchmark; DEER's first pretrains the LM on the
    reports' text and then freezes it) stopped after ``candidates[k]`` SFT steps."""

    comparison: str
    recipe: str
    """The RL recipe (tiny variant) whose data, reward, group size and temperature the step-0 figures use."""
    paper: str
    """What the paper reports of its start, and where."""
    target: tuple[float, float]
    """The range of the step-0 all-zero-reward group share the start must reach."""
    candidates: tuple[int | tuple[int, float], ...]
    """SFT steps tried, weakest first; ``(steps, learning rate)`` for a rate other than :data:`SFT_SETTINGS`'."""
    start: str = "weak-sft"
    """The candidates' folder: comparisons whose starts are made by the same commands share it."""
    reward: tuple = (("type", "facts"), ("beta", 2.0), ("mode", "rule"))
    """The reward the step-0 figures are measured with: FactS, the issue's yardstick of a weak start."""
    settings: tuple[str, ...] = ()
    """Overrides after :data:`SFT_SETTINGS` (the later wins): what makes this paper's start differ."""
    target_metric: str = "step0.all_zero_share"
    """The measured figure (dotted, in a candidate's row) that ``target`` bounds."""
    label: str = "weak SFT"
    """The start in a word or two, for the tables' regime column."""


REGIMES = {
    "orapo": Regime(
        "orapo", "orapo",
        paper="OraPO (arXiv:2509.18600) Fig. 2: about 30 % of GRPO groups get zero reward in the first 50 steps, "
              "from a base VLM with little radiology knowledge; Table 1: macro F1 0.089 (base)",
        target=(0.25, 0.40), candidates=(30, 50, 80)),
    "mrg_r1": Regime(
        "mrg_r1", "mrg_r1",
        paper="MRG-R1 (arXiv:2512.16145) Table II: RL from a zero-shot base model, where SFT does not raise CE; "
              "a weak start with as many all-zero FactS groups as OraPO's",
        target=(0.25, 0.40), candidates=(30, 50, 80)),
    "deer_weights": Regime(
        "deer_weights", "deer",
        paper="DEER (arXiv:2603.04022) section 3.1: SFT with the language model frozen (vision encoder and "
              "projector train), then RL on the whole model; Table 1: CE-F1 0.385 (SFT) -> 0.516 (RL), so the "
              "start sits at about 3/4 of what RL reaches. A real VLM's LM already writes text; the tiny one's "
              "is random, so it is first pretrained on the training reports as text (lm_pretrain)",
        # headroom as DEER's: 0.385 / 0.516 = 0.75 of the end; 0.75 x 0.823 (v1's converged start) = 0.62,
        # and well above the most-frequent-report baseline (0.28) so the images carry signal
        # a frozen LM reads the image only through the projector's output, as a soft prompt, whose
        # tuning wants higher rates than full SFT: the last two candidates try 10x and 50x
        target=(0.45, 0.70), candidates=(30, 100, 300, (300, 0.02), (300, 0.1)), start="frozen-lm-sft",
        reward=(("type", "example_f1"),), target_metric="val.example_f1", label="frozen-LM SFT",
        settings=("lm_pretrain={max_steps: 300, batch_size: 16, learning_rate: 0.002, warmup_steps: 10, "
                  "freeze: vision, seed: 0}", "sft.freeze=lm")),
}
REGIMES["capo"] = Regime(
    "capo", "radflow",
    paper="RadFlow (arXiv:2511.10065) section 4.1: SFT first, then Target Exploration keeps the bottom 10 % of "
          "the training set by the SFT model's score (section 5: bottom-k 10 %, four reports per case), and "
          "RL runs on that subset only with CAPO (Eq. 9: eps/4 on critical cases). The SFT model is radrl's "
          "committed one; the clip acts only when a batch is used for more than one update, so every arm "
          "takes rl.num_iterations=4 (declared here, not tuned)",
    target=(0.0, 1.0), candidates=(), start="committed-sft", reward=(("type", "radflow"), ("syntax", "bleu2"),
                                                                      ("consistency", "labels"), ("gamma", 1.0)),
    target_metric="val.example_f1", label="SFT, bottom 10 %")
"""RadFlow starts from its SFT model: no candidates, the committed checkpoint (:func:`committed_start`)."""
REGIMES["data_selection"] = dataclasses.replace(
    REGIMES["deer_weights"], comparison="data_selection", recipe="deer_tfidf",
    paper="DEER (arXiv:2603.04022) Table 7: DDSampling scores the pool with DEER's own SFT start (section 3.2), "
          "so the data selection runs in DEER's regime: the same start (same command, same SHA-256)")
"""deer_tfidf's benchmark is deer's (the same ``synthetic:`` block), so the commands, folders and start are deer_weights'."""
SFT_SETTINGS = ["sft.batch_size=16", "sft.learning_rate=0.002", "sft.warmup_steps=10", "sft.freeze=vision",
                "sft.seed=0", "vision_pretrain=null", "vision_tower=tiny-sft", "evaluate.split=val",
                "evaluate.meteor=false"]
"""demo_full's short SFT (recipes/demo_full.yaml), evaluated on validation, never on test."""


def candidate_settings(candidate: int | tuple[int, float]) -> tuple[int, float | None, str]:
    """A candidate's SFT steps, its learning rate (None: :data:`SFT_SETTINGS`') and its folder name."""
    steps, lr = candidate if isinstance(candidate, tuple) else (candidate, None)
    return steps, lr, f"sft-{steps}" + (f"-lr{lr:g}" if lr is not None else "")


def start_command(regime: Regime, candidate: int | tuple[int, float], folder: Path) -> list[str]:
    """The ``radrl`` command line that makes the start of ``candidate`` (its SFT steps, and its
    rate), on the RL recipe's own synthetic benchmark (its ``synthetic:`` block, key by key)."""
    from radrl.config.fields import to_plain
    from radrl.recipe import load_recipe

    synthetic = to_plain(load_recipe(regime.recipe, tiny=True).data.synthetic)
    data = [f"synthetic.{k}={json.dumps(v, separators=(',', ':'))}" for k, v in synthetic.items()]
    steps, lr, name = candidate_settings(candidate)
    return ["pipeline", "tiny_sft", "-o", str(folder / regime.start / name), "--no-meteor", *data, *SFT_SETTINGS,
            *regime.settings, f"sft.max_steps={steps}", *([f"sft.learning_rate={lr:g}"] if lr is not None else [])]


def weights_sha256(model: Path) -> str:
    digest = hashlib.sha256()
    with open(model / "model.safetensors", "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def step0_groups(regime: Regime, model: Path, data: Path, n_prompts: int) -> dict:
    """The RL recipe's reward over groups of its group size, sampled at its temperature from
    ``model`` on the first ``n_prompts`` validation studies of ``data`` (the pipeline's copy of the
    recipe's benchmark: the same config, so the same studies): what GRPO's step 0 would see."""
    from radrl.analysis.reward_diversity import reward_diversity, sample_groups
    from radrl.data.synthetic import load_synthetic
    from radrl.recipe import load_recipe
    from radrl.rewards import build_rewards

    recipe = load_recipe(regime.recipe, tiny=True)
    samples = load_synthetic(data, "val")[:n_prompts]
    rl = recipe.rl.settings
    groups = sample_groups(str(model), samples, rl["num_generations"], rl.get("temperature", 1.0),
                           max_new_tokens=rl.get("max_completion_length", 160), progress=False)
    reward = build_rewards([dict(regime.reward)]).functions[0]
    return reward_diversity(groups, [s.report for s in samples], reward, [s.labels for s in samples])


STEP0_KEYS = ("all_zero_share", "zero_std_share", "unique_per_group", "mean_reward", "group_size")


def measure(regime: Regime, candidate: int | tuple[int, float], folder: Path, n_prompts: int,
            before: dict | None = None) -> dict:
    """Build the candidate (resuming a finished one), then its validation F1 and step-0 figures.
    ``before``: this candidate's row from an earlier run; a rebuild that reused its weights keeps
    that row's ``build_seconds`` (a reuse takes seconds, the build it stands for did not)."""
    from radrl.cli import main as radrl

    steps, lr, name = candidate_settings(candidate)
    command = start_command(regime, candidate, folder)
    start = time.monotonic()
    if radrl(command) != 0:
        raise SystemExit(f"radrl {' '.join(command)} failed")
    built = time.monotonic() - start
    run = folder / regime.start / name
    digest = weights_sha256(run / "sft" / "final")
    if before and before.get("weights_sha256") == digest and before.get("command") == "radrl " + " ".join(command):
        built = before["build_seconds"]
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    groups = step0_groups(regime, run / "sft" / "final", run / "data", n_prompts)
    return {"sft_steps": steps, **({"sft_learning_rate": lr} if lr is not None else {}),
            "command": "radrl " + " ".join(command), "model": str(run / "sft" / "final"),
            "weights_sha256": digest, "build_seconds": round(built, 1),
            "val": {"example_f1": metrics["clinical"]["example"]["f1"], "macro_f1": metrics["clinical"]["macro"]["f1"],
                    "n": metrics.get("n")},
            "step0": {"n_prompts": n_prompts, "reward": dict(regime.reward),
                      **{k: groups[k] for k in STEP0_KEYS}}}


def target_value(regime: Regime, row: dict) -> float:
    """The figure ``regime.target`` bounds, from a candidate's row (``step0.all_zero_share``, ``val.example_f1``)."""
    value = row
    for key in regime.target_metric.split("."):
        value = value[key]
    return value


def choose(regime: Regime, tried: list[dict]) -> tuple[dict, bool]:
    """The first candidate (weakest first) whose target figure lies in the target range, else the
    closest one; and whether the range was reached."""
    low, high = regime.target
    for row in tried:
        if low <= target_value(regime, row) <= high:
            return row, True
    return min(tried, key=lambda r: min(abs(target_value(regime, r) - low), abs(target_value(regime, r) - high))), False


def regime_block(regime: Regime, tried: list[dict]) -> dict:
    chosen, reached = choose(regime, tried)
    low, high = regime.target
    what = regime.target_metric.replace("step0.all_zero_share", "step-0 all-zero share").replace(
        "val.example_f1", "validation example F1")
    note = (f"chosen on validation: the first candidate with a {what} in [{low:.2f}, {high:.2f}]"
            if reached else f"no candidate reached [{low:.2f}, {high:.2f}] on the tiny model; the closest: "
            f"{target_value(regime, chosen):.3f} at {chosen['sft_steps']} SFT steps"
            + (f", learning rate {chosen['sft_learning_rate']:g}" if "sft_learning_rate" in chosen else ""))
    target = ({"target_all_zero_share": [low, high]} if regime.target_metric == "step0.all_zero_share"
              else {"target": {"metric": regime.target_metric, "range": [low, high]}})
    return {"paper": regime.paper, "label": regime.label, **target, "reached": reached, "note": note,
            "start": chosen, "candidates": tried}


def accepted_hashes(block: dict) -> set[str]:
    """The start's SHA-256, and each rebuild's (:func:`rebuild`) whose validation F1 matched the start's."""
    start = block["start"]
    return {start["weights_sha256"], *(r["weights_sha256"] for r in start.get("rebuilds", []) if r["matches"])}


def require_block(results: dict, comparison: str, model: Path) -> dict:
    """The regime block a test read needs: present, and made from exactly this start (or a recorded
    rebuild of it that scores the same on validation)."""
    block = results.get("regimes", {}).get(comparison, {}).get("paper")
    if block is None:
        raise InputError(f"{comparison}: no regime block in the results JSON: run python bench/regimes.py "
                         f"--comparison {comparison} and commit it before the first test read")
    if weights_sha256(model) not in accepted_hashes(block):
        raise InputError(f"{comparison}: {model} is not the start the regime block declares "
                         f"(SHA-256 {block['start']['weights_sha256'][:12]}...); if it was rebuilt by the same "
                         f"command on another machine, run python bench/regimes.py --comparison {comparison} "
                         "--rebuild and commit what it records")
    return block


MATCH_TOLERANCE = 1e-9
"""How far a rebuild's validation F1 may lie from the start's: none, up to float printing."""


def machine() -> dict:
    """What a start's bytes depend on besides its command: the CPU (its vector units pick the
    float kernels), the thread count and torch's version."""
    import platform

    import torch

    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return {"cpu": info.get("model name", platform.processor()),
            "vector_units": sorted(f for f in info.get("flags", "").split() if f.startswith(("avx", "amx"))),
            "threads": torch.get_num_threads(), "torch": torch.__version__}


def rebuild(regime: Regime, block: dict, folder: Path, n_prompts: int) -> dict:
    """Rebuild the block's start by its own command and compare: float kernels differ between CPUs,
    so the same command can write other bytes on another machine. The rebuild ``matches`` when its
    validation example and macro F1 equal the start's (within :data:`MATCH_TOLERANCE`); its step-0
    figures are measured again beside them. Appended to ``start.rebuilds``; a matching rebuild's
    hash is one the test read accepts (:func:`accepted_hashes`) once the block is committed."""
    start = block["start"]
    candidate = (start["sft_steps"], start["sft_learning_rate"]) if "sft_learning_rate" in start else start["sft_steps"]
    if "radrl " + " ".join(start_command(regime, candidate, folder)) != start["command"]:
        raise InputError(f"{regime.comparison}: the block's start command is not what bench/regimes.py makes "
                         f"today for {candidate_settings(candidate)[2]} (--out {folder}?): rebuild it by hand")
    row = measure(regime, candidate, folder, n_prompts)
    matches = all(abs(row["val"][k] - start["val"][k]) <= MATCH_TOLERANCE for k in ("example_f1", "macro_f1"))
    record = {"weights_sha256": row["weights_sha256"], "matches": matches, "val": row["val"], "step0": row["step0"],
              "build_seconds": row["build_seconds"], "machine": machine(), "commit": _commit()}
    if row["weights_sha256"] != start["weights_sha256"]:
        start["rebuilds"] = [r for r in start.get("rebuilds", []) if r["weights_sha256"] != row["weights_sha256"]]
        start["rebuilds"].append(record)
    return record


def committed_start(regime: Regime, results: dict, n_prompts: int) -> dict:
    """The block of a regime whose paper starts from its SFT model (RadFlow): the committed
    checkpoint (its SHA-256 as v1 recorded it), its validation F1 as v1's SFT arm measured it,
    and its step-0 groups with the regime's reward on the recipe's validation studies."""
    from radrl.assets import tiny_sft_checkpoint
    from radrl.recipe import load_recipe

    model = tiny_sft_checkpoint()
    if weights_sha256(model) != results["origin"]["sft_model_sha256"]:
        raise InputError(f"{model} is not the checkpoint v1 recorded")
    data = Path(load_recipe(regime.recipe, tiny=True).data.path)
    groups = step0_groups(regime, model, data, n_prompts)
    sft_val = results["comparisons"]["deer_weights"]["arms"]["SFT"]["evaluation"]["val"]
    shown = model.relative_to(ROOT) if model.is_relative_to(ROOT) else model  # the JSON holds no machine's path
    start = {"model": str(shown), "weights_sha256": results["origin"]["sft_model_sha256"],
             "command": "radrl's committed tiny SFT checkpoint (radrl.assets.tiny_sft_checkpoint; make demo builds "
                        "its kind)",
             "val": {"example_f1": sft_val["example_f1"], "macro_f1": sft_val["macro_f1"], "n": 100},
             "step0": {"n_prompts": n_prompts, "reward": dict(regime.reward), **{k: groups[k] for k in STEP0_KEYS}}}
    return {"paper": regime.paper, "label": regime.label, "reached": True,
            "note": "the paper's own start: its SFT model (no weaker start is asked for)", "start": start,
            "candidates": []}


def converged_blocks(results: dict, n_prompts: int) -> dict:
    """v1's start as the ``converged_sft`` regime of every v1 comparison: the committed checkpoint
    (its SHA-256 as v1 recorded it), its validation F1 as v1's SFT arm measured it, and its step-0
    groups measured as :func:`step0_groups` measures a paper start's (every recipe samples 8
    rollouts at temperature 0.7 on the same validation studies, so one measurement serves all)."""
    from radrl.assets import tiny_sft_checkpoint
    from radrl.recipe import load_recipe

    model = tiny_sft_checkpoint()
    if weights_sha256(model) != results["origin"]["sft_model_sha256"]:
        raise InputError(f"{model} is not the checkpoint v1's runs started from")
    data = Path(load_recipe("orapo", tiny=True).data.path)
    groups = step0_groups(REGIMES["orapo"], model, data, n_prompts)
    sft_val = results["comparisons"]["deer_weights"]["arms"]["SFT"]["evaluation"]["val"]
    start = {"model": "tiny-sft", "weights_sha256": results["origin"]["sft_model_sha256"],
             "val": {"example_f1": sft_val["example_f1"], "macro_f1": sft_val["macro_f1"], "n": 100},
             "step0": {"n_prompts": n_prompts, "reward": dict(REGIMES["orapo"].reward),
                       **{k: groups[k] for k in STEP0_KEYS}}}
    for name in results["comparisons"]:
        results.setdefault("regimes", {}).setdefault(name, {})["converged_sft"] = {
            "start": start, "results": f"comparisons.{name}", "steps": results["steps"], "seeds": results["seeds"],
            "test_set": results["test_set"]}
    return start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--comparison", choices=list(REGIMES))
    p.add_argument("--converged", action="store_true", help="write every comparison's converged_sft block "
                   "(v1's start, its step-0 groups measured) instead")
    p.add_argument("--n-prompts", type=int, default=64, help="validation prompts for the step-0 figures")
    p.add_argument("--out", default="runs/bench-papers-v2/regimes", help="the candidates' run folders")
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--rebuild", action="store_true", help="rebuild the block's start by its command (on a new "
                   "machine), compare its validation F1 and record its hash in start.rebuilds")
    a = p.parse_args()
    if a.converged:
        results = json.loads(Path(a.results).read_text())
        start = converged_blocks(results, a.n_prompts)
        atomic_write_json(Path(a.results), results)
        print(f"converged_sft: step-0 all-zero groups {start['step0']['all_zero_share']:.1%}, zero-variance "
              f"{start['step0']['zero_std_share']:.1%} -> regimes.*.converged_sft")
        return
    if not a.comparison:
        p.error("--comparison or --converged")
    regime, folder = REGIMES[a.comparison], Path(a.out)
    if not regime.candidates:  # the paper's SFT model itself
        results_file = Path(a.results)
        results = json.loads(results_file.read_text())
        entry = results.setdefault("regimes", {}).setdefault(regime.comparison, {})
        block, old = committed_start(regime, results, a.n_prompts), entry.get("paper") or {}
        entry["paper"] = {**old, **block} if old.get("start", {}).get("weights_sha256") == \
            block["start"]["weights_sha256"] else block
        atomic_write_json(results_file, results)
        step0 = block["start"]["step0"]
        print(f"{regime.comparison}: the committed SFT start; step 0: all-zero groups {step0['all_zero_share']:.1%}, "
              f"zero-variance {step0['zero_std_share']:.1%} -> regimes.{regime.comparison}.paper")
        return
    if a.rebuild:
        results_file = Path(a.results)
        results = json.loads(results_file.read_text())
        block = (results.get("regimes", {}).get(a.comparison) or {}).get("paper")
        if not block:
            raise InputError(f"{a.comparison}: no regime block in {results_file} to rebuild")
        record = rebuild(regime, block, folder, a.n_prompts)
        atomic_write_json(results_file, results)
        same = record["weights_sha256"] == block["start"]["weights_sha256"]
        print(f"{a.comparison}: rebuilt start {record['weights_sha256'][:12]}... "
              + ("is the block's start, byte for byte" if same else
                 f"differs from {block['start']['weights_sha256'][:12]}...; validation F1 "
                 + ("matches" if record["matches"] else "DIFFERS") + f" (example {record['val']['example_f1']:.4f}, "
                 f"macro {record['val']['macro_f1']:.4f}); step 0: all-zero {record['step0']['all_zero_share']:.1%}"
                 f" -> regimes.{a.comparison}.paper.start.rebuilds (commit it before the next test read)"))
        return
    blocks = [r.get("paper") or {} for r in json.loads(Path(a.results).read_text()).get("regimes", {}).values()]
    before = {}  # shared starts too; a reuse is faster than the build it stands for, so the slowest row is the build
    for row in (row for block in blocks for row in block.get("candidates", [])):
        if row["build_seconds"] >= before.get(row["command"], {}).get("build_seconds", -1):
            before[row["command"]] = row
    tried = []
    for candidate in regime.candidates:
        command = "radrl " + " ".join(start_command(regime, candidate, folder))
        tried.append(measure(regime, candidate, folder, a.n_prompts, before.get(command)))
        row = tried[-1]
        print(f"{regime.comparison}: {candidate_settings(candidate)[2]}: val example F1 {row['val']['example_f1']:.3f}, macro F1 "
              f"{row['val']['macro_f1']:.3f}; step 0: all-zero groups {row['step0']['all_zero_share']:.1%}, "
              f"zero-variance {row['step0']['zero_std_share']:.1%}", flush=True)
        if choose(regime, tried)[1]:
            break  # weakest first: the first one in range is the start
    results_file = Path(a.results)
    results = json.loads(results_file.read_text())
    entry = results.setdefault("regimes", {}).setdefault(regime.comparison, {})
    block, old = regime_block(regime, tried), entry.get("paper") or {}
    if old.get("start", {}).get("weights_sha256") == block["start"]["weights_sha256"]:
        block = {**old, **block}  # the same start: what was measured from it (budget, runs, diversity) stands
    entry["paper"] = block
    atomic_write_json(results_file, results)
    print(f"-> {results_file}: regimes.{regime.comparison}.paper ({results['regimes'][regime.comparison]['paper']['note']})")


if __name__ == "__main__":
    main()
