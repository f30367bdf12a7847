"""What a synthetic study shows: findings with laterality, zone, severity and hedging.

A :class:`Case` is drawn once per study from a seeded generator; the renderer draws it and the
report writer describes it, so image, report and labels always agree.

Prevalence is long-tailed like MIMIC-CXR: a share of studies is normal (``normal_fraction``);
the others draw each finding independently with its own rate (:data:`MIMIC_LIKE_PREVALENCE`,
positive rates per study in MIMIC-CXR's CheXpert labels, rounded) and keep at least one.
Edema raises the odds of cardiomegaly and effusion, as heart failure does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from radrl.config.synthetic import MIMIC_LIKE_PREVALENCE
from radrl.schema import FINDINGS

#: Chance that a present finding is reported with a hedge ("may represent", "possible"): the
#: label is then ``uncertain`` and the sign is drawn fainter. Findings not listed are never hedged.
HEDGE_RATE: dict[str, float] = {
    "Pneumonia": 0.30,
    "Atelectasis": 0.20,
    "Edema": 0.15,
    "Consolidation": 0.10,
    "Lung Lesion": 0.15,
    "Fracture": 0.15,
    "Pleural Effusion": 0.10,
}

SIDES = ("right", "left")
SEVERITIES = ("small", "moderate", "large")
ZONES = ("upper", "middle", "lower")
DEVICE_KINDS = ("ett", "cvc", "pacemaker", "ngt")


@dataclass
class Finding:
    """One finding as drawn and described. ``side`` is the patient's side ("right" is image left)."""

    name: str
    side: str | None = None  # right / left / bilateral / None
    severity: str = "moderate"  # small / moderate / large (mild / moderate / severe in text)
    zone: str | None = None  # upper / middle / lower
    hedged: bool = False
    kind: str | None = None  # nodule / mass; device kinds
    devices: tuple[str, ...] = ()


@dataclass
class Anatomy:
    """Per-patient variation of the normal anatomy (fractions of the image)."""

    thorax_width: float
    lung_top: float
    lung_base: float
    heart_width: float  # fraction of thorax width: normal about 0.40-0.46
    heart_shift: float
    mediastinum_width: float
    rotation: float
    exposure: float
    n_vessels: int
    seed: int


@dataclass
class Case:
    id: str
    anatomy: Anatomy
    findings: dict[str, Finding] = field(default_factory=dict)

    @property
    def is_normal(self) -> bool:
        return not any(n != "Support Devices" for n in self.findings)


def _side(rng: np.random.Generator, bilateral_rate: float = 0.0) -> str:
    if rng.random() < bilateral_rate:
        return "bilateral"
    return SIDES[int(rng.integers(2))]


def _severity(rng: np.random.Generator, weights=(0.45, 0.4, 0.15)) -> str:
    return SEVERITIES[int(rng.choice(3, p=np.asarray(weights) / sum(weights)))]


def draw_anatomy(rng: np.random.Generator) -> Anatomy:
    return Anatomy(
        thorax_width=float(rng.uniform(0.74, 0.84)),
        lung_top=float(rng.uniform(0.12, 0.17)),
        lung_base=float(rng.uniform(0.70, 0.76)),
        heart_width=float(rng.uniform(0.38, 0.45)),
        heart_shift=float(rng.uniform(0.02, 0.05)),
        mediastinum_width=float(rng.uniform(0.11, 0.14)),
        rotation=float(rng.uniform(-0.02, 0.02)),
        exposure=float(rng.uniform(0.9, 1.1)),
        n_vessels=int(rng.integers(7, 11)),
        seed=int(rng.integers(2**31)),
    )


def draw_finding(name: str, rng: np.random.Generator) -> Finding:
    hedged = rng.random() < HEDGE_RATE.get(name, 0.0)
    if name == "Cardiomegaly":
        return Finding(name, severity=_severity(rng, (0.5, 0.35, 0.15)))
    if name == "Enlarged Cardiomediastinum":
        return Finding(name)
    if name == "Pleural Effusion":
        return Finding(name, side=_side(rng, 0.35), severity=_severity(rng), hedged=hedged)
    if name == "Pneumothorax":
        return Finding(name, side=_side(rng), severity=_severity(rng, (0.6, 0.3, 0.1)))
    if name == "Edema":
        return Finding(name, side="bilateral", severity=_severity(rng, (0.5, 0.35, 0.15)), hedged=hedged)
    if name in ("Consolidation", "Pneumonia", "Lung Opacity"):
        zone = ZONES[int(rng.choice(3, p=[0.15, 0.3, 0.55]))]
        return Finding(name, side=_side(rng), zone=zone, hedged=hedged)
    if name == "Atelectasis":
        return Finding(name, side=_side(rng, 0.4), zone="lower", severity="small", hedged=hedged)
    if name == "Lung Lesion":
        kind = "nodule" if rng.random() < 0.7 else "mass"
        zone = ZONES[int(rng.integers(3))]
        return Finding(name, side=_side(rng), zone=zone, kind=kind, hedged=hedged)
    if name == "Fracture":
        return Finding(name, side=_side(rng), zone=ZONES[int(rng.integers(3))], hedged=hedged)
    if name == "Pleural Other":
        return Finding(name, side=_side(rng, 0.3), zone="upper")
    if name == "Support Devices":
        n = 1 if rng.random() < 0.6 else 2
        kinds = tuple(sorted(rng.choice(DEVICE_KINDS, size=n, replace=False).tolist()))
        return Finding(name, devices=kinds, side=_side(rng))
    raise ValueError(f"unknown finding {name!r}")


def draw_case(
    case_id: str,
    rng: np.random.Generator,
    prevalence: dict[str, float] | None = None,
    normal_fraction: float = 0.3,
) -> Case:
    """Draw one study. Abnormal studies keep at least one finding (a normal study may still
    carry support devices, as in ICU films)."""
    prevalence = MIMIC_LIKE_PREVALENCE if prevalence is None else prevalence
    unknown = set(prevalence) - set(FINDINGS)
    if unknown:
        raise ValueError(f"prevalence names unknown findings: {sorted(unknown)}; use {FINDINGS}")
    case = Case(case_id, draw_anatomy(rng))
    if rng.random() < normal_fraction:
        if rng.random() < prevalence.get("Support Devices", 0.0) * 0.5:
            case.findings["Support Devices"] = draw_finding("Support Devices", rng)
        return case
    names = [n for n in FINDINGS if prevalence.get(n, 0.0) > 0]
    if not names:
        return case
    rates = np.array([prevalence[n] for n in names])
    for _ in range(100):
        present = rng.random(len(names)) < rates
        if "Edema" in names and present[names.index("Edema")]:
            for linked in ("Cardiomegaly", "Pleural Effusion"):
                if linked in names and rng.random() < 0.4:
                    present[names.index(linked)] = True
        if any(present[i] for i, n in enumerate(names) if n != "Support Devices") or not any(
                n != "Support Devices" for n in names):
            break
    for i, name in enumerate(names):
        if present[i]:
            case.findings[name] = draw_finding(name, rng)
    return case
