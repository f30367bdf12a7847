"""Radiologist-style reports for synthetic cases, with the labels their sentences state.

Every sentence comes from a template tagged with the CheXpert labels it states (positive,
uncertain for hedged wording, negative for pertinent negatives), so a report's ground truth
is exactly what its text says, in the CheXpert labeler's conventions. FINDINGS follows the
usual reading order (lines and tubes, heart and mediastinum, lungs, pleura, bones); IMPRESSION
summarises the abnormal statements, or says the study is normal. Three styles
(``SyntheticConfig.report_style``):

- ``paraphrased`` (the default): abnormal statements, pertinent negatives and boilerplate normal
  sentences each from several paraphrases, some negatives included at random.
- ``templated``: as with a structured normal template, the way many reading rooms write: every
  normal statement and pertinent negative is the template's one fixed sentence in its fixed
  place ("The lungs are clear.", "No pleural effusion or pneumothorax."), and a present finding
  replaces its line in free text, from five or six paraphrases that open with different words.
  A likelihood-trained model then spreads its belief that a finding is present over several
  sentences and puts its belief that it is absent on one, which could make greedy decoding
  under-call; ``docs/rl.md`` measures whether it does (it does not, on this benchmark).
- ``comparison``: the template's normal lines, and most present findings stated against a prior
  study ("Unchanged small left pleural effusion.", "Increased right lower lobe consolidation."),
  as inpatient follow-up reports are. The prior is not in the data (report generators see one
  film), so the comparison word cannot be predicted: a likelihood-trained model spreads its
  belief that a finding is present over eight opening words, while an absence opens with "No"
  or the template's line. Greedy decoding then calls a finding only when it is far surer than
  even. ``docs/rl.md`` measures it: the converged model under-calls, and RL corrects that (the
  committed checkpoint: +0.020 example F1 on 2,000 fresh test studies, 3 seeds, 95 % CI above
  0). The committed checkpoint, the demo and the recipes' tiny variants use this style.

The generator picks every paraphrase with the case's seeded rng.
"""

from __future__ import annotations

import numpy as np

from radrl.config.synthetic import REPORT_STYLES
from radrl.data.synthetic.cases import Case, Finding
from radrl.schema import FINDINGS, NO_FINDING, OBSERVATIONS

Labelled = tuple[str, dict[str, str]]  # (sentence, {observation: value})

# The comparison style's opening words: a change or no change since a prior study. Their first
# letters differ from each other and from "No" and "The", which open the absent lines.
COMPARISON_WORDS = ("Unchanged", "Stable", "Persistent", "Increased", "Decreased", "Redemonstrated",
                    "Worsening", "Grossly unchanged")
COMPARISON_RATE = 0.75  # share of present findings stated against the prior; the rest as in ``templated``

SEVERITY_WORD = {"small": "mild", "moderate": "moderate", "large": "severe"}
EFFUSION_WORD = {"small": "small", "moderate": "moderate", "large": "large"}
ZONE_LOBE = {("right", "upper"): "right upper lobe", ("right", "middle"): "right middle lobe",
             ("right", "lower"): "right lower lobe", ("left", "upper"): "left upper lobe",
             ("left", "middle"): "lingula", ("left", "lower"): "left lower lobe"}
RIB = {"upper": "fourth", "middle": "sixth", "lower": "eighth"}


def _pick(rng: np.random.Generator, options: list):
    """One of ``options`` (paraphrases, or labelled sentences), drawn with the case's rng."""
    return options[int(rng.integers(len(options)))]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


# ---- abnormal statements --------------------------------------------------------------------

def _devices(f: Finding, rng) -> list[Labelled]:
    pos = {"Support Devices": "positive"}
    out = []
    for kind in f.devices:
        if kind == "ett":
            cm = int(rng.integers(3, 7))
            s = _pick(rng, [f"Endotracheal tube terminates {cm} cm above the carina.",
                            f"The endotracheal tube tip is {cm} cm above the carina.",
                            "Endotracheal tube in standard position."])
        elif kind == "cvc":
            s = _pick(rng, [f"{_cap(f.side or 'right')} subclavian central venous catheter with tip in the SVC.",
                            f"{_cap(f.side or 'right')} central line terminates in the superior vena cava.",
                            f"A {f.side or 'right'} subclavian line ends in the low SVC."])
        elif kind == "pacemaker":
            s = _pick(rng, ["Left chest wall pacemaker with leads in the right atrium and right ventricle.",
                            "A dual-lead pacemaker is in place, leads terminating in the right atrium and ventricle.",
                            "Left-sided pacemaker with leads in expected position."])
        else:
            s = _pick(rng, ["A nasogastric tube courses below the diaphragm into the stomach.",
                            "Enteric tube tip is in the stomach.",
                            "The nasogastric tube extends below the left hemidiaphragm."])
        out.append((s, pos))
    return out


def _noun_phrases(f: Finding) -> list[Labelled]:
    """The noun phrases a comparison sentence can state for ``f`` (what changed or did not), with their labels."""
    n, sev, size = f.name, SEVERITY_WORD[f.severity], EFFUSION_WORD[f.severity]
    pos = {n: "positive"}
    lobe = ZONE_LOBE.get((f.side or "right", f.zone or "lower"), "right lower lobe")
    both = "bilateral" if f.side == "bilateral" else f.side
    phrases = {
        "Cardiomegaly": [f"{sev} cardiomegaly", f"{sev} enlargement of the cardiac silhouette"],
        "Enlarged Cardiomediastinum": ["widening of the mediastinum", "widening of the superior mediastinum"],
        "Pleural Effusion": [f"{size} {both} pleural effusion{'s' if f.side == 'bilateral' else ''}"],
        "Pneumothorax": [f"{size} {f.side} pneumothorax", f"{size} {f.side} apical pneumothorax"],
        "Edema": [f"{sev} pulmonary edema", f"{sev} interstitial edema"],
        "Consolidation": [f"{lobe} consolidation"],
        "Lung Opacity": [f"{lobe} opacity", f"ill-defined {lobe} opacity"],
        "Atelectasis": ["bibasilar atelectasis" if f.side == "bilateral" else f"{f.side} basilar atelectasis"],
        "Lung Lesion": [f"{'1 cm' if (f.kind or 'nodule') == 'nodule' else '4 cm'} {lobe} {f.kind or 'nodule'}"],
        "Pleural Other": [f"{both} apical pleural thickening"],
        "Fracture": [f"{f.side} {RIB[f.zone or 'middle']} rib fracture"],
    }
    if n == "Pneumonia":
        return [(f"{lobe} pneumonia", pos),
                (f"{lobe} opacities consistent with pneumonia", {n: "positive", "Lung Opacity": "positive"})]
    return [(p, pos) for p in phrases[n]]


def _against_prior(f: Finding, rng) -> Labelled:
    """The comparison style's sentence for a definite finding: ``COMPARISON_WORD noun phrase.``"""
    phrase, labels = _pick(rng, _noun_phrases(f))
    return f"{_pick(rng, list(COMPARISON_WORDS))} {phrase}.", labels


def _lobe(f: Finding) -> str:
    return ZONE_LOBE.get((f.side or "right", f.zone or "lower"), "right lower lobe")


def _cardiomegaly(f: Finding, rng, pick) -> list[Labelled]:
    n = f.name
    sev = SEVERITY_WORD[f.severity]
    return [(pick([f"The heart is {sev}ly enlarged.", f"{_cap(sev)} cardiomegaly.",
                   f"There is {sev} enlargement of the cardiac silhouette.",
                   f"The cardiac silhouette is {sev}ly enlarged."],
                   [f"Cardiomegaly, {sev}.", f"Enlarged cardiac silhouette, {sev}."]), {n: "positive"})]


def _enlarged_cardiomediastinum(f: Finding, rng, pick) -> list[Labelled]:
    n = f.name
    return [(pick(["The mediastinum is widened.", "Widened superior mediastinum.",
                   "The mediastinal silhouette is enlarged."], ["Mediastinal widening.",
                   "There is widening of the superior mediastinum."]), {n: "positive"})]


def _pleural_effusion(f: Finding, rng, pick) -> list[Labelled]:
    n = f.name
    size = EFFUSION_WORD[f.severity]
    where = "bilateral" if f.side == "bilateral" else f.side
    plural = "s" if f.side == "bilateral" else ""
    if f.hedged:
        return [(_pick(rng, [f"Possible small {where} pleural effusion{plural}.",
                             f"A small {where} pleural effusion{plural} may be present.",
                             f"Trace {where} pleural effusion{plural} cannot be excluded."]), {n: "uncertain"})]
    are = "are" if plural else "is"
    return [(pick([f"{_cap(size)} {where} pleural effusion{plural}.",
                   f"There {are} {'a ' if not plural else ''}{size} {where} pleural effusion{plural}.",
                   f"{_cap(size)} {where} pleural effusion{plural} with blunting of the costophrenic angle{plural}."],
                   [f"{_cap(where)} pleural effusion{plural}, {size}.",
                   f"Layering {size} {where} pleural effusion{plural}.",
                   f"{'A ' if not plural else ''}{size} {where} pleural effusion{plural} {are} present."]),
             {n: "positive"})]


def _pneumothorax(f: Finding, rng, pick) -> list[Labelled]:
    n = f.name
    size = EFFUSION_WORD[f.severity]
    return [(pick([f"{_cap(size)} {f.side} pneumothorax.",
                   f"There is a {size} {f.side} apical pneumothorax.",
                   f"{_cap(size)} {f.side} pneumothorax with a visible pleural line."],
                   [f"{_cap(f.side)} apical pneumothorax, {size}.",
                   f"A {size} {f.side} pneumothorax is present.",
                   f"Pneumothorax at the {f.side} apex, {size}."]), {n: "positive"})]


def _edema(f: Finding, rng, pick) -> list[Labelled]:
    n = f.name
    sev = SEVERITY_WORD[f.severity]
    if f.hedged:
        return [(_pick(rng, ["Possible mild pulmonary edema.", "Mild interstitial edema is not excluded.",
                             "Mild edema cannot be excluded."]), {n: "uncertain"})]
    return [pick([(f"{_cap(sev)} pulmonary edema.", {n: "positive"}),
                  (f"There is {sev} interstitial pulmonary edema.", {n: "positive"}),
                  (f"{_cap(sev)} pulmonary edema with perihilar haziness and septal lines.",
                   {n: "positive", "Lung Opacity": "positive"})],
                  [(f"Pulmonary edema, {sev}.", {n: "positive"}),
                  (f"Bilateral {sev} interstitial edema.", {n: "positive"})])]


def _consolidation(f: Finding, rng, pick) -> list[Labelled]:
    n = f.name
    lobe = _lobe(f)
    if f.hedged:
        return [(_pick(rng, [f"Possible {lobe} consolidation.",
                             f"Consolidation in the {lobe} is not excluded."]), {n: "uncertain"})]
    return [(pick([f"Dense {lobe} consolidation with air bronchograms.",
                   f"There is consolidation in the {lobe}.",
                   f"Focal {lobe} consolidation."], [f"{_cap(lobe)} consolidation.",
                   f"Consolidation of the {lobe}."]), {n: "positive"})]


def _pneumonia(f: Finding, rng, pick) -> list[Labelled]:
    n = f.name
    lobe = _lobe(f)
    if f.hedged:
        return [(_pick(rng, [f"Patchy {lobe} opacities, which may represent pneumonia.",
                             f"Patchy {lobe} opacities. Pneumonia is not excluded.",
                             f"Multifocal {lobe} opacities, possibly pneumonia.",
                             f"Patchy airspace opacities in the {lobe} compatible with pneumonia."]),
                 {n: "uncertain", "Lung Opacity": "positive"})]
    with_opacity = {n: "positive", "Lung Opacity": "positive"}
    return [pick([(f"Multifocal patchy {lobe} opacities consistent with pneumonia.", with_opacity),
                  (f"Patchy airspace opacities in the {lobe} due to pneumonia.", with_opacity),
                  (f"{_cap(lobe)} pneumonia.", {n: "positive"})],
                  [(f"Focal {lobe} opacity consistent with pneumonia.", with_opacity),
                  (f"Pneumonia in the {lobe}.", {n: "positive"})])]


def _lung_opacity(f: Finding, rng, pick) -> list[Labelled]:
    n = f.name
    lobe = _lobe(f)
    return [(pick([f"Faint {lobe} opacity.", f"Ill-defined opacity in the {lobe}.",
                   f"There is a hazy opacity projecting over the {lobe}."], [f"Hazy {lobe} opacity.",
                   f"{_cap(lobe)} opacity.", f"An ill-defined {lobe} opacity is noted."]), {n: "positive"})]


def _atelectasis(f: Finding, rng, pick) -> list[Labelled]:
    n = f.name
    where = "bibasilar" if f.side == "bilateral" else f"{f.side} basilar"
    if f.hedged:
        return [(_pick(rng, [f"Linear {where} opacity, likely atelectasis.",
                             f"{_cap(where)} linear opacity may reflect atelectasis."]),
                 {n: "uncertain", "Lung Opacity": "positive"})]
    return [(pick([f"{_cap(where)} atelectasis.", f"Plate-like {where} atelectasis.",
                   f"There is {where} subsegmental atelectasis."], [f"Mild {where} atelectasis.",
                   f"Streaky {where} atelectasis.", f"Subsegmental {where} atelectasis."]), {n: "positive"})]


def _lung_lesion(f: Finding, rng, pick) -> list[Labelled]:
    n = f.name
    lobe = _lobe(f)
    what = f.kind or "nodule"
    size = "1 cm" if what == "nodule" else "4 cm"
    if f.hedged:
        return [(_pick(rng, [f"Possible {lobe} {what}.", f"A rounded {lobe} density may represent a {what}."]),
                 {n: "uncertain"})]
    return [(pick([f"A {size} {what} in the {lobe}.", f"There is a {size} {lobe} {what}.",
                   f"{_cap(lobe)} {what} measuring {size}."], [f"Rounded {lobe} {what}, {size}.",
                   f"Well-circumscribed {size} {lobe} {what}."]), {n: "positive"})]


def _pleural_other(f: Finding, rng, pick) -> list[Labelled]:
    n = f.name
    where = "bilateral" if f.side == "bilateral" else f.side
    return [(pick([f"{_cap(where)} apical pleural thickening.",
                   f"Pleural thickening at the {where} apex.",
                   f"{_cap(where)} apical pleural thickening, likely chronic."],
                   [f"There is {where} apical pleural thickening.",
                   f"Mild {where} apical pleural thickening."]), {n: "positive"})]


def _fracture(f: Finding, rng, pick) -> list[Labelled]:
    n = f.name
    rib = RIB[f.zone or "middle"]
    if f.hedged:
        return [(_pick(rng, [f"Possible nondisplaced fracture of the {f.side} {rib} rib.",
                             f"Irregularity of the {f.side} {rib} rib may represent a fracture."]),
                 {n: "uncertain"})]
    return [(pick([f"Acute fracture of the {f.side} {rib} rib.",
                   f"There is a displaced {f.side} {rib} rib fracture.",
                   f"{_cap(f.side)} {rib} rib fracture."], [f"Fracture of the {f.side} {rib} rib.",
                   f"Nondisplaced {f.side} {rib} rib fracture."]), {n: "positive"})]


_STATEMENTS = {
    "Support Devices": lambda f, rng, pick: _devices(f, rng),
    "Cardiomegaly": _cardiomegaly,
    "Enlarged Cardiomediastinum": _enlarged_cardiomediastinum,
    "Pleural Effusion": _pleural_effusion,
    "Pneumothorax": _pneumothorax,
    "Edema": _edema,
    "Consolidation": _consolidation,
    "Pneumonia": _pneumonia,
    "Lung Opacity": _lung_opacity,
    "Atelectasis": _atelectasis,
    "Lung Lesion": _lung_lesion,
    "Pleural Other": _pleural_other,
    "Fracture": _fracture,
}
"""Finding -> its FINDINGS statements ``(f, rng, pick) -> [(sentence, labels)]``; ``pick`` chooses
among the paraphrases of the report style (:func:`_abnormal`)."""


def _abnormal(f: Finding, rng, templated: bool = False) -> list[Labelled]:
    """Statements for one present finding: FINDINGS sentences. ``templated``: the report style
    with a normal template, whose free-text findings draw from more paraphrases (the second list)."""

    def pick(options: list, more: list) -> object:
        return _pick(rng, options + more if templated else options)

    if f.name not in _STATEMENTS:
        raise ValueError(f"no statements for {f.name!r}")
    return _STATEMENTS[f.name](f, rng, pick)


def _impression(f: Finding, rng, templated: bool = False) -> Labelled:
    """Short IMPRESSION line for one present finding (devices are left out, as radiologists do)."""
    sent, labels = _abnormal(f, rng, templated)[0]
    short = {
        "Cardiomegaly": ["Cardiomegaly.", f"{_cap(SEVERITY_WORD[f.severity])} cardiomegaly."],
        "Enlarged Cardiomediastinum": ["Widened mediastinum."],
        "Pneumothorax": [f"{_cap(f.side or 'right')} pneumothorax."],
        "Pleural Other": ["Pleural thickening."],
    }.get(f.name)
    if short and not f.hedged:
        return _pick(rng, short), labels
    return sent, labels


# ---- normal statements and pertinent negatives ------------------------------------------------

NORMAL_HEART: list[Labelled] = [
    ("The heart size is normal.", {"Cardiomegaly": "negative"}),
    ("Heart size is within normal limits.", {"Cardiomegaly": "negative"}),
    ("The cardiac silhouette is normal in size.", {"Cardiomegaly": "negative"}),
    ("Normal heart size.", {"Cardiomegaly": "negative"}),
]
NORMAL_MEDIASTINUM: list[Labelled] = [
    ("The mediastinal contours are normal.", {"Enlarged Cardiomediastinum": "negative"}),
    ("The cardiomediastinal silhouette is within normal limits.", {"Enlarged Cardiomediastinum": "negative"}),
    ("Normal mediastinal contours.", {"Enlarged Cardiomediastinum": "negative"}),
]
NORMAL_LUNGS: list[Labelled] = [
    ("The lungs are clear.", {}),
    ("Lungs are clear bilaterally.", {}),
    ("No focal consolidation.", {"Consolidation": "negative"}),
    ("There is no focal airspace consolidation.", {"Consolidation": "negative"}),
]
NEGATIVES: dict[str, list[Labelled]] = {
    "Pleural Effusion": [("No pleural effusion.", {"Pleural Effusion": "negative"}),
                         ("There is no pleural effusion.", {"Pleural Effusion": "negative"})],
    "Pneumothorax": [("No pneumothorax.", {"Pneumothorax": "negative"}),
                     ("There is no pneumothorax.", {"Pneumothorax": "negative"})],
    "Edema": [("No pulmonary edema.", {"Edema": "negative"}),
              ("There is no evidence of pulmonary edema.", {"Edema": "negative"})],
    "Fracture": [("No displaced rib fracture.", {"Fracture": "negative"}),
                 ("No acute fracture.", {"Fracture": "negative"})],
}
PLEURA_NEGATIVE_COMBINED: list[Labelled] = [
    ("No pleural effusion or pneumothorax.", {"Pleural Effusion": "negative", "Pneumothorax": "negative"}),
    ("There is no pleural effusion or pneumothorax.", {"Pleural Effusion": "negative", "Pneumothorax": "negative"}),
]
NORMAL_BONES: list[Labelled] = [
    ("No acute osseous abnormality.", {}),
    ("The osseous structures are intact.", {}),
    ("Visualized osseous structures are unremarkable.", {}),
]
NORMAL_IMPRESSION: list[Labelled] = [
    ("No acute cardiopulmonary process.", {}),
    ("No acute cardiopulmonary abnormality.", {}),
    ("Normal chest radiograph.", {}),
    ("No acute intrathoracic process.", {}),
]


def _merge(labels: dict[str, str], new: dict[str, str]) -> None:
    """positive > uncertain > negative > blank, as the CheXpert aggregation does."""
    rank = {"blank": 0, "negative": 1, "uncertain": 2, "positive": 3}
    for k, v in new.items():
        if rank[v] > rank[labels.get(k, "blank")]:
            labels[k] = v


def write_report(case: Case, rng: np.random.Generator, style: str = "paraphrased") -> tuple[str, str, dict[str, str]]:
    """(findings, impression, labels) for ``case``; labels cover all 14 observations.

    ``style``: ``paraphrased`` (the default) draws normal sentences and pertinent negatives from
    paraphrases too, and includes some of them at random; ``templated`` writes every normal line
    of the template (the first paraphrase of each) and draws findings from more paraphrases;
    ``comparison`` writes the template too and states most present findings against a prior."""
    if style not in REPORT_STYLES:
        raise ValueError(f"report style {style!r}: use one of {REPORT_STYLES}")
    comparison = style == "comparison"
    templated = style in ("templated", "comparison")

    def normal(options: list[Labelled]) -> Labelled:
        return options[0] if templated else _pick(rng, options)

    def sometimes(rate: float) -> bool:  # an optional normal line: always there in the template
        return templated or rng.random() < rate

    fs = case.findings
    against_prior: dict[str, Labelled] = {}  # comparison style: a finding's sentence, repeated in IMPRESSION

    def state(name: str) -> list[Labelled]:
        """FINDINGS sentences for a present finding; in the comparison style a definite one (not
        hedged, not a device) is stated against the prior at ``COMPARISON_RATE``."""
        f = fs[name]
        if comparison and name != "Support Devices" and not f.hedged and rng.random() < COMPARISON_RATE:
            against_prior[name] = _against_prior(f, rng)
            return [against_prior[name]]
        return _abnormal(f, rng, templated)

    findings: list[Labelled] = []
    if "Support Devices" in fs:
        findings += state("Support Devices")
    # heart and mediastinum
    heart = [state(n)[0] for n in ("Cardiomegaly", "Enlarged Cardiomediastinum") if n in fs]
    if "Cardiomegaly" not in fs:
        heart.insert(0, normal(NORMAL_HEART))
    if "Enlarged Cardiomediastinum" not in fs and sometimes(0.6):
        heart.append(normal(NORMAL_MEDIASTINUM))
    findings += heart
    # lungs
    lung_names = ("Edema", "Consolidation", "Pneumonia", "Lung Opacity", "Atelectasis", "Lung Lesion")
    lungs = [s for n in lung_names if n in fs for s in state(n)]
    if not lungs:
        lungs.append(normal(NORMAL_LUNGS))
    elif "Edema" not in fs and not templated and rng.random() < 0.5:
        lungs.append(_pick(rng, NEGATIVES["Edema"]))
    findings += lungs
    # pleura
    pleura = [s for n in ("Pleural Effusion", "Pneumothorax", "Pleural Other") if n in fs
              for s in state(n)]
    missing = [n for n in ("Pleural Effusion", "Pneumothorax") if n not in fs]
    if len(missing) == 2:
        pleura.append(normal(PLEURA_NEGATIVE_COMBINED))
    elif missing:
        pleura.append(normal(NEGATIVES[missing[0]]))
    findings += pleura
    # bones
    if "Fracture" in fs:
        findings += state("Fracture")
    elif sometimes(0.7):
        findings.append(normal(NORMAL_BONES + NEGATIVES["Fracture"]))

    abnormal = [n for n in FINDINGS if n in fs and n != "Support Devices"]
    if abnormal:
        impression = [against_prior.get(n) or _impression(fs[n], rng, templated) for n in abnormal]
    else:
        impression = [normal(NORMAL_IMPRESSION)]

    labels: dict[str, str] = {}
    for _s, lab in findings + impression:
        _merge(labels, lab)
    full = {o: labels.get(o, "blank") for o in OBSERVATIONS}
    if not any(full[n] in ("positive", "uncertain") for n in FINDINGS if n != "Support Devices"):
        full[NO_FINDING] = "positive"
    return " ".join(s for s, _ in findings), " ".join(s for s, _ in impression), full
