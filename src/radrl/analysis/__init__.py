"""Analyses of the papers, run from the command line (``radrl analyze ...``).

``masking.py``           DEER's token-masking validation of the DiTPO weightings (Table 6)
``reward_diversity.py``  DEER's reward diversity of a training subset (Table 7)
"""
