"""CheXpert-14 observations and label values: the vocabulary every other module speaks.

The observations are listed in CheXbert's head order (heads 0..13), which is the order used by
every tensor and vector in radrl. Label values are the four CheXbert classes:

=========  ===============  =====================================
value      CheXbert class   CheXpert labeler CSV cell
=========  ===============  =====================================
blank      0                empty (not mentioned)
positive   1                1.0
negative   2                0.0
uncertain  3                -1.0
=========  ===============  =====================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum

OBSERVATIONS: tuple[str, ...] = (
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
    "No Finding",
)
NUM_OBSERVATIONS = len(OBSERVATIONS)
OBSERVATION_INDEX: dict[str, int] = {name: i for i, name in enumerate(OBSERVATIONS)}
NO_FINDING = "No Finding"
SUPPORT_DEVICES = "Support Devices"
# The 13 findings (everything but No Finding): the vector MRG-R1's MCCS compares.
FINDINGS: tuple[str, ...] = OBSERVATIONS[:-1]
# The five common observations of the CheXpert competition (micro_5 in the metrics).
FIVE_COMMON: tuple[str, ...] = (
    "Cardiomegaly",
    "Edema",
    "Consolidation",
    "Atelectasis",
    "Pleural Effusion",
)


class LabelValue(str, Enum):
    """The value a labeler gives one observation of one report."""

    BLANK = "blank"
    POSITIVE = "positive"
    NEGATIVE = "negative"
    UNCERTAIN = "uncertain"


BLANK, POSITIVE, NEGATIVE, UNCERTAIN = (
    LabelValue.BLANK.value,
    LabelValue.POSITIVE.value,
    LabelValue.NEGATIVE.value,
    LabelValue.UNCERTAIN.value,
)
VALUES: tuple[str, ...] = (BLANK, POSITIVE, NEGATIVE, UNCERTAIN)

# CheXbert class ids (index = class id).
CHEXBERT_CLASS: dict[str, int] = {BLANK: 0, POSITIVE: 1, NEGATIVE: 2, UNCERTAIN: 3}
CHEXBERT_VALUE: tuple[str, ...] = VALUES
# CheXbert's No Finding head has two classes: 0 = blank, 1 = positive.

# CheXpert labeler CSV cells.
_CSV_TO_VALUE = {"": BLANK, "1.0": POSITIVE, "1": POSITIVE, "0.0": NEGATIVE, "0": NEGATIVE,
                 "-1.0": UNCERTAIN, "-1": UNCERTAIN}

Labels = dict[str, str]
"""One report's labels: every observation name mapped to one of ``VALUES``."""


def check_value(value: str) -> str:
    """Return ``value`` if it is one of the four label values, else raise ``ValueError``."""
    if value not in CHEXBERT_CLASS:
        raise ValueError(f"unknown label value {value!r}; expected one of {', '.join(VALUES)}")
    return value


def blank_labels() -> Labels:
    """Labels with every observation blank."""
    return {name: BLANK for name in OBSERVATIONS}


def normalize_labels(labels: Mapping[str, str]) -> Labels:
    """Complete a partial mapping (missing observations become blank) and validate it."""
    unknown = set(labels) - set(OBSERVATIONS)
    if unknown:
        raise ValueError(f"unknown observation(s) {sorted(unknown)}; expected CheXpert-14 names")
    return {name: check_value(labels.get(name, BLANK)) for name in OBSERVATIONS}


def from_positives(positives: Sequence[str]) -> Labels:
    """Labels with the given observations positive and every other one blank."""
    return normalize_labels({name: POSITIVE for name in positives})


def to_chexbert_classes(labels: Mapping[str, str]) -> list[int]:
    """Class ids in head order (0 blank, 1 positive, 2 negative, 3 uncertain)."""
    return [CHEXBERT_CLASS[labels.get(name, BLANK)] for name in OBSERVATIONS]


def from_chexbert_classes(classes: Sequence[int]) -> Labels:
    """Inverse of :func:`to_chexbert_classes`."""
    if len(classes) != NUM_OBSERVATIONS:
        raise ValueError(f"expected {NUM_OBSERVATIONS} class ids, got {len(classes)}")
    return {name: CHEXBERT_VALUE[int(c)] for name, c in zip(OBSERVATIONS, classes)}


def from_chexpert_csv_cell(cell: str) -> str:
    """A CheXpert-labeler CSV cell ('1.0', '0.0', '-1.0' or empty) as a label value."""
    try:
        return _CSV_TO_VALUE[cell.strip()]
    except KeyError:
        raise ValueError(f"not a CheXpert labeler cell: {cell!r}") from None


def to_binary(
    labels: Mapping[str, str],
    uncertain: str = "negative",
    observations: Sequence[str] = OBSERVATIONS,
) -> list[int]:
    """Binarise labels for clinical-efficacy metrics.

    positive -> 1; negative and blank -> 0; uncertain -> 0 (``uncertain="negative"``, the
    default of PromptMRG/DEER evaluation code) or 1 (``uncertain="positive"``).
    """
    if uncertain not in ("negative", "positive"):
        raise ValueError("uncertain must be 'negative' or 'positive'")
    unc = 1 if uncertain == "positive" else 0
    out = []
    for name in observations:
        v = labels.get(name, BLANK)
        out.append(1 if v == POSITIVE else unc if v == UNCERTAIN else 0)
    return out


def to_mccs_vector(labels: Mapping[str, str]) -> list[int]:
    """MRG-R1's signed vector over the 13 findings (No Finding excluded).

    z = +1 for positive and uncertain, -1 for negative, 0 for blank.
    """
    sign = {POSITIVE: 1, UNCERTAIN: 1, NEGATIVE: -1, BLANK: 0}
    return [sign[labels.get(name, BLANK)] for name in FINDINGS]
