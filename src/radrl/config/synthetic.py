"""Settings of the synthetic chest X-ray benchmark (``radrl synth``, a recipe's ``data.synthetic``
and ``synthetic:``); the generator is :mod:`radrl.data.synthetic`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from radrl.io import FieldError

FORMAT_VERSION = 1
REPORT_STYLES = ("paraphrased", "templated", "comparison")

#: Positive rate of each finding among abnormal studies (long-tailed, MIMIC-CXR-like ordering).
MIMIC_LIKE_PREVALENCE: dict[str, float] = {
    "Support Devices": 0.30,
    "Pleural Effusion": 0.28,
    "Lung Opacity": 0.24,
    "Atelectasis": 0.24,
    "Cardiomegaly": 0.24,
    "Edema": 0.14,
    "Pneumonia": 0.09,
    "Consolidation": 0.07,
    "Pneumothorax": 0.06,
    "Enlarged Cardiomediastinum": 0.05,
    "Lung Lesion": 0.05,
    "Fracture": 0.04,
    "Pleural Other": 0.03,
}


@dataclass
class SyntheticConfig:
    n_train: int = 2000
    n_val: int = 100
    n_test: int = 200
    image_size: int = 224
    seed: int = 0
    normal_fraction: float = 0.3
    prevalence: dict[str, float] = field(default_factory=lambda: dict(MIMIC_LIKE_PREVALENCE))
    train_start: int = 0  # train samples train_start .. train_start + n_train - 1 (val and test unchanged)
    report_style: str = "paraphrased"  # "templated": a normal template; "comparison": findings against a prior (reports.py)
    sign_strength: float = 1.0  # how conspicuous the lung and pleural signs are (render.render_case); < 1 is harder

    def __post_init__(self):
        for name in ("n_train", "n_val", "n_test", "train_start"):
            if getattr(self, name) < 0:
                raise FieldError(name, f"{name} must be >= 0")
        if self.image_size < 32:
            raise FieldError("image_size", "image_size must be >= 32 pixels")
        if not 0.0 <= self.normal_fraction <= 1.0:
            raise FieldError("normal_fraction", "normal_fraction must lie in [0, 1]")
        if not 0.0 <= self.sign_strength <= 4.0:
            raise FieldError("sign_strength", f"sign_strength must lie in [0, 4] (1 is the default film), got {self.sign_strength}")
        if self.report_style not in REPORT_STYLES:
            raise FieldError("report_style", f"report_style must be one of {REPORT_STYLES}, got {self.report_style!r}")
        bad = {k: v for k, v in self.prevalence.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise FieldError("prevalence", f"prevalences must lie in [0, 1], got {bad}")
        unknown = sorted(set(self.prevalence) - set(MIMIC_LIKE_PREVALENCE))
        if unknown:
            raise FieldError("prevalence", f"unknown findings {unknown}; use {sorted(MIMIC_LIKE_PREVALENCE)}")
        # a partial table (an override such as synthetic.prevalence.Pneumothorax=0.3) changes only
        # the findings it names; the others keep their MIMIC-like rate (0 leaves one out)
        self.prevalence = {**MIMIC_LIKE_PREVALENCE, **self.prevalence}

    def splits(self) -> dict[str, int]:
        return {"train": self.n_train, "val": self.n_val, "test": self.n_test}

    def indices(self, split: str) -> range:
        """The sample indices of ``split``: train starts at ``train_start``, val and test at 0."""
        start = self.train_start if split == "train" else 0
        return range(start, start + self.splits()[split])

    def record(self) -> dict:
        """What ``config.json`` holds (``train_start``, ``report_style`` and ``sign_strength`` only
        when not the default, so folders built before they existed still match)."""
        d = {"format_version": FORMAT_VERSION, **asdict(self)}
        if not self.train_start:
            del d["train_start"]
        if self.report_style == "paraphrased":
            del d["report_style"]
        if self.sign_strength == 1.0:
            del d["sign_strength"]
        return d
