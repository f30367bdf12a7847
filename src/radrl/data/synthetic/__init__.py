"""Synthetic chest X-ray benchmark: rendered frontal films, reports and ground-truth labels.

``cases`` draws what a study shows, ``render`` draws the film, ``reports`` writes the report
and its labels, ``build`` writes and reads whole splits. Deterministic by seed.
"""

from radrl.data.synthetic.build import SyntheticConfig, build_synthetic, load_synthetic, make_sample
from radrl.data.synthetic.cases import MIMIC_LIKE_PREVALENCE, Case, Finding, draw_case
from radrl.data.synthetic.render import SIGNS, render_case
from radrl.data.synthetic.reports import write_report

__all__ = ["MIMIC_LIKE_PREVALENCE", "SIGNS", "Case", "Finding", "SyntheticConfig", "build_synthetic",
           "draw_case", "load_synthetic", "make_sample", "render_case", "write_report"]
