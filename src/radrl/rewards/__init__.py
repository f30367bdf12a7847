"""Reward callables with TRL's signature (``base.py``: the base class and the ``REWARDS``
registry), the clinical rewards (``clinical.py``: DEER example F1, MRG-R1 MCCS), text rewards
(``text.py``: BLEU-2), MRG-R1's format reward (``format.py``), OraPO's FactS (``facts.py``),
RadFlow's hierarchical reward (``hierarchical.py``), weight schedules (``schedule.py``: DEER's two
phases) and building them from a recipe (``registry.py``)."""

from radrl.rewards.base import REWARDS, RewardFunction, completion_text, extract_report
from radrl.rewards.clinical import ExampleF1Reward, MCCSReward, mccs
from radrl.rewards.format import FormatReward, format_score
from radrl.rewards.registry import RewardSet, build_rewards
from radrl.rewards.schedule import weight_at
from radrl.rewards.text import BleuReward, sentence_bleu

__all__ = [
    "REWARDS", "BleuReward", "ExampleF1Reward", "FormatReward", "MCCSReward", "RewardFunction",
    "RewardSet", "build_rewards", "completion_text", "extract_report", "format_score", "mccs",
    "sentence_bleu", "weight_at",
]
