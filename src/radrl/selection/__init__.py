"""Training-subset selection: which studies RL trains on.

======================  =====================================================================
``ddsampling.py``       DEER: K sampled reports per image, diagnostic diversity, log-rank draw
``target_exploration``  RadFlow: composite score of the SFT reports, bottom k %
``balanced.py``         OraPO: label-balanced subset of N studies
``subsets.py``          running a method on a dataset; the subset file ``radrl train`` reads
======================  =====================================================================
"""

from radrl.selection.balanced import label_balanced_subset
from radrl.selection.ddsampling import diagnostic_diversity, log_rank_probabilities, log_rank_sample
from radrl.selection.methods import SELECTION_METHODS
from radrl.selection.subsets import read_subset, select_subset
from radrl.selection.target_exploration import bottom_fraction, composite_scores, per_sample_metrics

__all__ = ["SELECTION_METHODS", "bottom_fraction", "composite_scores", "diagnostic_diversity", "label_balanced_subset",
           "log_rank_probabilities", "log_rank_sample", "per_sample_metrics", "read_subset", "select_subset"]
