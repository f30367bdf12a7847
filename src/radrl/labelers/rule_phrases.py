"""Phrase lists of the rule-based labeler: what counts as a mention, a negation, an uncertainty.

Written for radrl after the conventions of the CheXpert labeler (Irvin et al., 2019): a
mention of an observation is found by a phrase; its value (positive / negative / uncertain)
comes from the words around it in the same clause. Everything is lower case; the text is
normalised before matching (see ``rule.normalize``). Each pattern is a regular-expression
fragment; the engine wraps every list in ``\\b(?:...)\\b``.

Kinds of mention patterns
-------------------------
``MENTIONS[obs]``        an ordinary mention: its value depends on negation / uncertainty cues.
``NEGATIVE_MENTIONS``    phrases that state the observation is absent ("heart size is normal").
``UNCERTAIN_MENTIONS``   phrases that state it hedged ("borderline heart size").
``IMPLIED_UNCERTAIN``    a mention of one thing that makes another uncertain (heart failure ->
                         Cardiomegaly), as the CheXpert labeler does.
``OTHER_FINDINGS``       abnormalities outside the 14 observations (emphysema, scoliosis,
                         granuloma, hernia, ...). A positive one keeps No Finding from being
                         positive.

The engine works out the first four characters each mention phrase can start with and tries, at a
word start, only the phrases that fit there (``prefix_dispatch``): a phrase may be any regular
expression, but one that starts with ``\\w`` or ``.`` is tried at more places (slower).
"""

from __future__ import annotations

# Words that may sit between a subject and its predicate ("the heart is mildly enlarged").
# Negation words may not sit in the gap: "the heart is not enlarged" is no enlarged heart.
_WORD = r"(?:(?!(?:not|no|without)\b)[\w/-]+\s+)"
_GAP = _WORD + r"{0,5}?"
_HEART_PART = r"(?:\s+(?:silhouette|shadow|contours?|size|borders?))"  # "cardiac silhouette"
_HEART = r"(?:heart|cardiac" + _HEART_PART + r"?)"
_CARDIOMED_PART = r"(?:\s+(?:silhouettes?|contours?|shadows?|width|borders?|structures?))"
_CARDIOMED = r"(?:cardiomediastinal|cardio-mediastinal|cardiothymic|mediastinal)" + _CARDIOMED_PART + "?"
# Words that name the enlargement itself. A stable abnormality is still present (the CheXpert
# labeler reads "stable cardiomegaly" as positive), so "stable" or "normal" states absence only
# when none of these sits between it and the heart or mediastinum, or right after them:
# "stable mediastinal widening" and "cardiac enlargement is stable" are positive.
_ENLARGED = r"(?:widen\w*|wide|enlarg\w*|large|prominen\w*|increased|cardiomegal\w*|mass)\b"
_OTHER_WORD = r"(?:(?!" + _ENLARGED + r")\w+\s+)"  # one word, not one of those
# _GAP without them: "the cardiac silhouette is normal", never "the cardiac enlargement is stable"
_CLEAN_GAP = r"(?:(?!(?:not|no|without)\b|" + _ENLARGED + r")[\w/-]+\s+){0,5}?"
_NORMAL = (
    r"(?:normal|within\s+normal\s+limits|unremarkable|stable|not\s+(?:significantly\s+)?enlarged|"
    r"upper\s+(?:limits?\s+)?(?:of\s+)?normal|top\s+(?:of\s+)?normal|at\s+the\s+upper\s+limits?)"
)

MENTIONS: dict[str, list[str]] = {
    "Enlarged Cardiomediastinum": [
        r"(?:widen(?:ed|ing)|enlarged|prominent|wide)\s+(?:superior\s+)?mediastin(?:um|al\s+(?:silhouette|contours?|width|shadow))",
        r"mediastin(?:um|al\s+(?:silhouette|contours?|width|shadow))\s+" + _GAP + r"(?:is\s+|are\s+|appears?\s+|remains?\s+)?(?:\w+\s+)?(?:widen(?:ed|ing)|enlarged|prominent|wide)",
        r"mediastinal\s+(?:widening|enlargement|prominence|mass)",
        r"(?:prominence|widening|enlargement)\s+of\s+the\s+(?:superior\s+)?mediastinum",
        r"mediastinal\s+(?:enlargement|widening)",
        r"enlargement\s+of\s+the\s+mediastinal\s+(?:silhouette|contours?)",
    ],
    "Cardiomegaly": [
        r"cardiomegal(?:y|ic)", r"cardiomegally", r"cardiomegaly",
        r"(?:enlarged|large|prominent|increased)\s+(?:heart|cardiac\s+(?:silhouette|shadow|size|contours?))",
        _HEART + r"\s+" + _GAP + r"(?:is\s+|are\s+|appears?\s+|remains?\s+|size\s+)?(?:\w+\s+)?(?:enlarged|large|prominent|increased)(?!\s+(?:lung|pulmonary))",
        r"(?:cardiac|heart)\s+(?:enlargement|prominence)",
        # "enlarged cardiomediastinal silhouette" is read as cardiomegaly, as the IU coders do.
        r"(?:enlarged|prominent)\s+cardiomediastinal(?:\s+(?:silhouette|contours?|shadow))?",
        r"cardiomediastinal\s+(?:silhouette|contours?|shadow)\s+" + _GAP + r"(?:is\s+|are\s+|appears?\s+|remains?\s+)?(?:\w+\s+)?(?:enlarged|prominent)",
        r"enlargement\s+of\s+the\s+cardiomediastinal\s+(?:silhouette|contours?)",
        r"enlargement\s+of\s+the\s+(?:heart|cardiac\s+(?:silhouette|shadow))",
        r"(?:cardiothoracic|cardiac-thoracic)\s+ratio\s+" + _GAP + r"(?:increased|enlarged|greater)",
    ],
    "Lung Opacity": [
        r"opaci(?:ty|ties|fication|fications|fied)", r"opacites",
        r"air[\s-]?space\s+(?:disease|process|opacit(?:y|ies)|density|densities|filling)",
        r"(?:lung|pulmonary|parenchymal|airspace|alveolar|interstitial|focal|patchy|hazy|streaky|nodular|linear|reticular|increased|ill-defined|confluent|basilar|basal|perihilar|retrocardiac|hilar|lingular|apical)\s+(?:density|densities)",
        r"infiltrat(?:e|es|ion|ive)", r"haz(?:iness|y\s+(?:opacit\w*|density|densities|lungs?))",
        r"ground[\s-]glass",
        r"(?:increased|increasing|new)\s+density",
        r"density\s+(?:in|at|within|over|projecting)\s+the\s+(?:\w+\s+){0,3}?(?:lobe|lung|base|apex|lingula|segment)",
        r"(?:lung|pulmonary|parenchymal)\s+(?:marking|markings)?\s*(?:abnormality|abnormalities)",
    ],
    "Lung Lesion": [
        r"nodul(?:e|es|ar\s+(?:opacit\w*|densit\w*|lesions?|foci|focus))", r"nodularity",
        r"mass(?:es|like|-like)?", r"(?:lung|pulmonary|cavitary|parenchymal|focal|spiculated)\s+lesions?",
        r"lesions?\s+(?:in|of|within)\s+the\s+(?:\w+\s+){0,3}?(?:lobe|lung|apex|base|lingula)",
        r"tumou?rs?", r"neoplasms?", r"carcinoma", r"malignanc(?:y|ies)", r"metasta(?:sis|ses|tic)",
        r"cavitary", r"cavitation",
    ],
    "Edema": [
        r"edema", r"oedema", r"(?:vascular|pulmonary|venous|interstitial)\s+congestion", r"congestion",
        r"(?:congestive\s+)?heart\s+failure", r"chf", r"fluid\s+overload", r"cephalization",
        r"kerley\s+b?\s*lines?", r"(?:pulmonary\s+)?venous\s+hypertension",
        r"vascular\s+(?:redistribution|engorgement)",
        # CheXpert's edema list has "vascular prominence" and "indistinctness" (issue #15).
        r"(?:pulmonary|vascular)\s+(?:vascular\s+)?(?:prominence|engorgement)",
        r"(?:vascular\s+)?indistinctness", r"indistinct\s+(?:pulmonary\s+)?(?:vascular|vessels|vasculature)",
        r"prominen(?:ce|t)\s+(?:of\s+)?(?:the\s+)?(?:central\s+)?(?:pulmonary\s+)?vasculature",
        r"(?:increased|prominent)\s+(?:central\s+)?(?:pulmonary\s+)?vascularity",
    ],
    "Consolidation": [
        r"consolidat(?:ion|ions|ive|ed|ing)", r"consolidaton",
    ],
    "Pneumonia": [
        r"pneumonias?", r"pnuemonia", r"pneumonitis", r"bronchopneumonia",
        r"(?<!granulomatous\s)(?<!prior\s)(?<!old\s)(?<!previous\s)(?<!remote\s)infectio(?:n|ns|us\s+(?:process|etiology|infiltrate)|us)", r"(?:lung|pulmonary)\s+abscess",
    ],
    "Atelectasis": [
        r"atelecta(?:sis|ses|tic)", r"atelectsis", r"atelectesis",
        r"(?:lobar|lobe|lung|segmental|subsegmental)\s+collapse", r"collapse\s+of\s+the",
        r"collapsed\s+(?:lung|lobe)", r"volume\s+loss", r"loss\s+of\s+volume",
    ],
    "Pneumothorax": [
        r"pneumothora(?:x|ces|xes)", r"pnuemothorax", r"pneumothroax", r"ptx",
        r"hydropneumothorax", r"hemopneumothorax",
    ],
    "Pleural Effusion": [
        r"(?<!pericardial\s)effusions?", r"(?<!pericardial\s)effussions?", r"effusoin",
        r"pleural\s+fluid", r"hydrothorax", r"hydropneumothorax", r"hemothorax",
        r"fluid\s+(?:in|within)\s+the\s+(?:\w+\s+)?(?:fissure|pleural\s+space)",
        r"blunt(?:ing|ed)\s+(?:of\s+)?(?:the\s+)?(?:\w+\s+){0,2}?(?:costophrenic|cp|costodiaphragmatic)",
        r"(?:costophrenic|cp)\s+(?:angles?\s+|sulc(?:us|i)\s+)?(?:\w+\s+){0,3}?(?:blunting|blunted|obscured|obscuration)",
        r"(?:costophrenic|cp)\s+(?:angles?\s+)?blunting",
        r"meniscus",
    ],
    "Pleural Other": [
        r"pleural\s+(?:thickening|plaques?|calcifications?|scarring|scar|fibrosis|reaction|densities|density|irregularity|disease)",
        r"pleural[\s-]+parenchymal\s+(?:scarring|scar|thickening|irregularity|opacit\w*)",
        r"pleuroparenchymal\s+(?:scarring|scar|thickening|opacit\w*)",
        r"thickening\s+of\s+the\s+(?:\w+\s+)?pleura", r"fibrothorax",
        # A bare "apical scarring" is lung scarring; CheXpert's list needs "pleural scar" (issue #15).
        r"apical\s+(?:pleural\s+)?(?:cap|capping|thickening)", r"(?:pulmonary|interstitial|lung)\s+fibrosis",
        # The fissures are pleura: their thickening is pleural thickening (issue #15).
        r"(?:fissural|interlobar\s+fissural?|fissure)\s+thickening",
        r"thicken(?:ed|ing)\s+(?:of\s+)?(?:the\s+)?(?:minor|major|horizontal|oblique|right|left)?\s*fissures?",
        r"(?<!cystic\s)fibrosis", r"fibrotic\s+(?:changes?|scarring)",
    ],
    "Fracture": [
        r"fractur(?:e|es|ed|ing)", r"fx", r"fractue", r"(?:broken|healed)\s+ribs?",
        # A rib deformity is not by itself a fracture (CheXpert: "fracture" only; issue #15); it
        # stays an abnormality through OTHER_FINDINGS' "deformity".
        r"rib\s+callus", r"callus\s+formation",
        r"compression\s+deformit(?:y|ies)",
    ],
    "Support Devices": [
        r"(?:median\s+|midline\s+)?sternotomy\s+(?:wires?|sutures?|xxxx)", r"sternal\s+(?:wires?|sutures?|xxxx)",
        r"xxxx-a-xxxx", r"(?:its|the|with|whose)\s+tip", r"tip\s+(?:projecting|projects|terminat\w+|overlying|overlies|at|in|is|positioned|located|approximat\w+)",
        r"(?:breast\s+)?prosthes(?:is|es)", r"(?:internal\s+)?fixation", r"(?:ekg|ecg|telemetry)\s+(?:leads?|wires?)",
        r"(?:surgical|vascular|cholecystectomy|mediastinal|axillary|hilar|metallic|aneurysm)\s+clips?", r"clips",
        r"pacemakers?", r"pacer(?:s|\s+wires?)?", r"pacing\s+(?:leads?|wires?|device)",
        r"(?:a?icd|defibrillator)(?:\s+(?:leads?|device|generator))?", r"(?:cardiac\s+)?(?:monitor|monitoring)\s+leads?",
        r"(?:transvenous\s+)?leads?\s+(?:in|terminat\w+|project\w*|over)", r"loop\s+recorder",
        r"catheters?", r"picc(?:\s+line)?", r"port-?a-?cath", r"portacath", r"mediport", r"power\s*port",
        r"(?:central\s+venous|central|venous|arterial|dialysis|swan[\s-]ganz|midline|ij|subclavian)\s+(?:lines?|catheters?)",
        r"(?:chest|endotracheal|et|ng|og|nasogastric|orogastric|enteric|feeding|dobhoff|tracheostomy|gastrostomy|thoracostomy)\s+tubes?",
        r"tracheostomy", r"(?:pleural\s+)?drains?", r"pigtail",
        r"stents?", r"cabg", r"(?:coronary\s+(?:artery\s+)?)?bypass\s+(?:graft|surgery)",
        r"(?:valve\s+replacement|replaced\s+valve|prosthetic\s+(?:valve|heart\s+valve)|valve\s+prosthesis|annuloplasty)",
        r"(?:aortic|mitral)\s+valve\s+(?:replacement|repair|prosthesis)",
        r"(?:breast\s+)?implants?", r"(?:surgical|orthopedic|spinal|fixation|fusion)\s+hardware", r"hardware",
        r"(?:support|medical|implanted|cardiac|electronic)\s+devices?", r"(?:surgical\s+)?staples",
        r"bone\s+anchor", r"(?:tube|catheter)\s+tip", r"filter", r"vp\s+shunt", r"shunt\s+(?:catheter|tubing)",
    ],
}

# Phrases that by themselves state absence.
NEGATIVE_MENTIONS: dict[str, list[str]] = {
    "Enlarged Cardiomediastinum": [
        _CARDIOMED + r"\s+" + _CLEAN_GAP + r"(?:is\s+|are\s+|appears?\s+|remains?\s+)?" + _OTHER_WORD + r"?(?:normal|within\s+normal\s+limits|unremarkable|stable|not\s+(?:enlarged|widened))",
        r"(?:normal|unremarkable|stable)\s+" + _OTHER_WORD + r"?" + _CARDIOMED + r"(?!" + _CARDIOMED_PART + r"?\s+" + _ENLARGED + r")",
        r"(?:heart|cardiac)\s+and\s+mediastin(?:um|al)\s+(?:\w+\s+)?(?:\w+\s+)?(?:\w+\s+)?(?:normal|within\s+normal\s+limits|unremarkable|stable)",
        r"mediastinum\s+(?:is\s+|appears?\s+)?(?:normal|unremarkable|within\s+normal\s+limits|stable)",
    ],
    "Cardiomegaly": [
        _HEART + r"(?:\s+size)?\s+" + _CLEAN_GAP + r"(?:is\s+|are\s+|appears?\s+|remains?\s+)?" + _OTHER_WORD + r"?(?:normal|within\s+normal\s+limits|unremarkable|not\s+(?:significantly\s+)?enlarged|stable)",
        r"(?:normal|unremarkable|stable)\s+" + _OTHER_WORD + r"?(?:heart|cardiac)" + _HEART_PART + r"?(?!" + _HEART_PART + r"?\s+" + _ENLARGED + r")",
        r"(?:heart|cardiac)\s+and\s+(?:mediastin\w+|pulmonary\s+vascularity)\s+(?:\w+\s+)?(?:\w+\s+)?(?:\w+\s+)?(?:normal|within\s+normal\s+limits|unremarkable)",
        r"cardiomediastinal\s+(?:silhouette|contours?|shadow)\s+" + _GAP + r"(?:is\s+|are\s+|appears?\s+|remains?\s+)?(?:\w+\s+)?(?:normal|within\s+normal\s+limits|unremarkable)(?:\s+in\s+size)?",
        r"(?:normal|unremarkable)\s+(?:\w+\s+)?cardiomediastinal",
    ],
}
# Heart size hedged at the upper limit of normal: uncertain Cardiomegaly, as CheXpert does.
UNCERTAIN_MENTIONS: dict[str, list[str]] = {
    "Cardiomegaly": [
        r"borderline\s+(?:enlarged\s+)?(?:heart|cardiac|cardiomegaly|cardiomediastinal)(?:\s+(?:size|silhouette|enlargement|shadow))?",
        _HEART + r"(?:\s+size)?\s+" + _GAP + r"(?:is\s+|are\s+|appears?\s+|remains?\s+)?(?:\w+\s+)?(?:borderline|upper\s+(?:limits?\s+)?(?:of\s+)?normal|top\s+(?:of\s+)?normal|at\s+the\s+upper\s+limits?)",
        r"(?:upper\s+(?:limits?\s+)?(?:of\s+)?normal|top\s+normal)\s+(?:\w+\s+)?(?:heart|cardiac)(?:\s+(?:size|silhouette))?",
    ],
}
IMPLIED_UNCERTAIN: dict[str, list[str]] = {
    "Cardiomegaly": [r"(?:congestive\s+)?heart\s+failure", r"chf", r"pericardial\s+effusions?"],
}

OTHER_FINDINGS: list[str] = [
    r"emphysema(?:tous)?", r"copd", r"chronic\s+obstructive", r"hyper(?:expanded|expansion|inflated|inflation|aerated|lucen\w*)",
    r"(?:dextro|levo)?scolio(?:sis|tic)", r"kypho(?:sis|tic)", r"granulom(?:a|as|ata|atous)",
    r"calcifi(?:ed|cation|cations|c)\s+(?:\w+\s+)?(?:nodes?|granulom\w*|lymph|focus|foci|densit\w+|opacit\w+|aorta|aortic)",
    r"(?:aortic|vascular|atherosclerotic)\s+calcifications?", r"calcified\s+(?:aorta|aortic)",
    r"hernia", r"degenerati(?:ve|on)", r"spondylo(?:sis|tic)", r"osteophytes?", r"arthriti(?:s|c)", r"arthropathy",
    r"tortuo(?:us|sity)", r"torturous", r"ectati\w+", r"unfold(?:ed|ing)\s+of\s+the\s+(?:thoracic\s+)?aorta",
    r"atherosclero(?:sis|tic)", r"scar(?:ring|s)?", r"bronchiectasis", r"cysts?", r"bullae?", r"blebs?",
    r"(?:elevated|elevation\s+of\s+the)\s+(?:\w+\s+)?(?:hemi)?diaphragm", r"(?:hemi)?diaphragm\s+(?:is\s+)?(?:\w+\s+)?elevated",
    r"eventration", r"flatten(?:ed|ing)\s+(?:of\s+)?(?:the\s+)?(?:\w+\s+)?(?:hemi)?diaphragms?",
    r"(?:hemi)?diaphragms?\s+(?:are\s+|is\s+)?(?:\w+\s+)?flattened",
    r"osteopenia", r"osteoporo\w+", r"demineraliz\w+", r"deformit(?:y|ies)",
    r"low\s+lung\s+volumes?", r"hypoinflat\w+", r"hypoventilat\w+", r"(?:reduced|decreased)\s+lung\s+volumes?",
    r"(?:increased|prominent|coarse|coarsened|chronic)\s+(?:\w+\s+)?(?:interstitial|bronchovascular|lung)\s+markings",
    r"interstitial\s+(?:markings|prominence|lung\s+disease|disease|pattern|changes)", r"chronic\s+(?:lung|interstitial|changes)",
    r"(?:hilar|mediastinal)?\s*(?:lymph)?adenopathy", r"(?:prominent|enlarged)\s+(?:\w+\s+)?hila", r"hilar\s+(?:prominence|enlargement)",
    r"(?:enlarged|prominent)\s+(?:\w+\s+)?(?:pulmonary\s+arter\w+|aorta|aortic\s+knob)", r"pulmonary\s+(?:arterial\s+)?hypertension",
    r"(?:post[\s-]?(?:operative|surgical)|surgical)\s+changes?", r"postsurgical", r"mastectomy", r"(?:pneumon|lob)ectomy",
    r"foreign\s+bod(?:y|ies)", r"pectus", r"subcutaneous\s+emphysema", r"pneumoperitoneum", r"dislocat\w+",
    r"(?:spinal\s+)?fusion", r"sclero(?:sis|tic)", r"lucenc(?:y|ies)", r"azygos\s+lobe", r"nipple\s+shadows?",
    r"(?:calcified|calcification)", r"bony\s+(?:abnormalit\w+|lesions?)", r"old\s+(?:tb|tuberculosis)", r"tuberculo\w+",
    r"(?:hiatal|hiatus)", r"shift", r"sternotom(?:y|ies)", r"cabg", r"thoracotomy", r"sutures?", r"pericardial\s+effusions?",
]

# ---- cue phrases -------------------------------------------------------------------------------
# Negation in front of a mention, anywhere earlier in its clause.
NEGATION_BEFORE: list[str] = [
    r"no", r"not", r"without", r"nor", r"neither", r"negative\s+for", r"free\s+of", r"clear\s+of",
    r"absence\s+of", r"absent", r"resolution\s+of", r"resolved", r"resolving", r"removal\s+of", r"removed",
    r"interval\s+removal", r"clearing\s+of", r"rather\s+than", r"ruled\s+out", r"never",
    r"no\s+(?:evidence|signs?|findings?)\s+(?:of|to\s+suggest)", r"(?:lungs?|chest)\s+(?:are|is)\s+clear\s+of",
    r"otherwise\s+clear\s+of", r"patient\s+(?:is\s+)?status\s+post\s+removal",
]
# Negation after a mention, within a few words ("pneumothorax is not seen").
NEGATION_AFTER: list[str] = [
    r"(?:is|are|was|were|has|have)?\s*(?:not|no\s+longer)\s+(?:\w+\s+)?(?:seen|identified|visualized|visualised|appreciated|evident|demonstrated|present|noted|detected|apparent|visible|shown|observed)",
    r"(?:is|are|was|were)?\s*(?:absent|negative|gone)",
    r"(?:has|have)\s+(?:\w+\s+)?(?:resolved|cleared|disappeared|been\s+removed|been\s+resolved)",
    r"(?:resolved|removed)", r"(?:is|are|was|were)\s+(?:\w+\s+)?ruled\s+out",
]
# Uncertainty that contains negation words: checked before negation, like CheXpert's
# "pre-negation uncertainty" rules.
UNCERTAIN_BEFORE_NEGATION: list[str] = [
    r"(?:cannot|can\s*not|can't|could\s+not|not)\s+(?:be\s+)?(?:entirely\s+|completely\s+|totally\s+|definitely\s+)?(?:exclude|excluded|rule\s+out|ruled\s+out)",
    r"not\s+(?:entirely\s+)?(?:excluded|ruled\s+out)", r"difficult\s+to\s+(?:exclude|rule\s+out)",
    r"no\s+(?:definite|definitive|convincing|clear)\s+(?:evidence\s+(?:of|for)\s+)?(?:\w+\s+)?(?:but|however)",
    r"not\s+(?:definitely|clearly)\s+(?:seen|identified|excluded)",
]
UNCERTAIN_AFTER_NEGATION: list[str] = [
    r"(?:\w+\s+){0,5}?(?:cannot|can\s*not|can't|could\s+not|may\s+not)\s+be\s+(?:entirely\s+|completely\s+|totally\s+|definitely\s+)?(?:excluded|ruled\s+out|entirely\s+excluded)",
    r"(?:\w+\s+){0,5}?(?:is|are)\s+not\s+(?:entirely\s+|completely\s+)?(?:excluded|ruled\s+out)",
    r"(?:\w+\s+){0,5}?(?:not\s+excluded|not\s+ruled\s+out)",
]
# Uncertainty in front of a mention.
UNCERTAIN_BEFORE: list[str] = [
    r"may", r"might", r"could", r"possibl[ey]", r"probabl[ey]", r"likely", r"questionabl[ey]",
    r"question\s+of", r"suspicious\s+(?:for|of)", r"suspect(?:ed)?", r"suggest(?:s|ive|ing)?(?:\s+of)?",
    r"concern(?:ing)?\s+for", r"worrisome\s+for", r"(?:is\s+)?(?:a\s+)?consideration", r"consider(?:ed)?",
    r"differential", r"versus", r"vs\.?", r"equivocal", r"indeterminate", r"uncertain", r"presum(?:ed|ably)",
    r"borderline", r"cannot\s+be\s+(?:differentiated|distinguished)", r"compatible\s+with",
    r"(?:rule\s+out|r/o|evaluate\s+for|assess\s+for|to\s+exclude)", r"atypical", r"potential(?:ly)?",
    r"(?:represent|reflect)(?:s|ing)?(?:\s+either)?", r"or\s+(?:less\s+likely|possibly)", r"favou?r(?:ed|ing)?",
]  # a question mark anywhere before the mention also counts (the engine adds it)
# Uncertainty right after a mention, closing its clause ("pneumonia is possible").
UNCERTAIN_AFTER: list[str] = [
    r"(?:\w+\s+){0,4}?(?:is|are|may\s+be|could\s+be|would\s+be)\s+(?:also\s+|more\s+|less\s+)?(?:possible|possibly\s+present|suspected|questioned|a\s+consideration|considered|favou?red|likely|probable|not\s+excluded)\s*$",
    r"(?:\w+\s+){0,4}?(?:may|might|could)\s+(?:be\s+)?(?:present|seen|developing|superimposed|contribute|contributing|be\s+present)",
    r"(?:\w+\s+){0,2}?(?:versus|vs\.?|or)\s+(?:\w+\s+){0,3}?(?:atelecta\w+|consolidat\w+|pneumonia|infection|scar\w*|effusion|edema|mass|nodules?)",
    r"\s*\?",
]

# Phrases that contain a negation word but negate something else ("no change in the effusion"
# says the effusion is there). They are blanked out before the negation cues are searched.
PSEUDO_NEGATIONS: list[str] = [
    r"no\s+(?:significant\s+|appreciable\s+|substantial\s+|definite\s+|interval\s+|radiographic\s+)*(?:change|changes|increase|decrease|worsening|improvement|progression|enlargement)(?:\s+(?:in|of|since|from))?",
    r"(?:without|with\s+no)\s+(?:significant\s+|appreciable\s+|interval\s+)*(?:change|changes|increase|progression|worsening)(?:\s+(?:in|of))?",
    r"not\s+(?:significantly\s+)?(?:changed|increased|improved|worsened)",
    r"not\s+only", r"no\s+longer\s+(?:in\s+place)", r"(?:is|are)\s+not\s+(?:well|clearly)\s+(?:seen|visualized)\s+(?:on|in)",
    r"no\s+doubt", r"not\s+clearly\s+(?:separate|distinguish\w*)", r"unchanged",
    r"gram[\s-]negative", r"not\s+certain", r"cannot\s+be\s+assessed",
]
# Words that end the scope of a cue inside a sentence.
SCOPE_TERMINATORS: list[str] = [
    r"but", r"however", r"although", r"though", r"except", r"aside\s+from", r"apart\s+from", r"which",
    r"whereas", r"while", r"nevertheless", r"yet", r"otherwise", r"there\s+(?:is|are|has|have|was|were)",
    r"with\s+(?:the\s+)?exception", r"other\s+than", r"(?<=[;:])", r"consistent\s+with", r"compatible\s+with",
    r"due\s+to", r"secondary\s+to", r"(?:is|are)\s+(?:seen|noted|present|identified|again\s+seen)", r"and\s+(?:a|an|the|mild|moderate|severe|small|large|new|stable|persistent)",
    r"likely", r"probably", r"with\s+(?:a|an|mild|moderate|small|large|stable|persistent|increased|decreased|new)",
]
