"""Reward callables with TRL's signature (``base.py``), the clinical rewards (``clinical.py``:
DEER example F1, MRG-R1 MCCS), text rewards (``text.py``: BLEU-2), MRG-R1's format reward
(``format.py``), weight schedules (``schedule.py``: DEER's two phases) and the recipe registry."""

from radrl.rewards.base import RewardFunction, completion_text, extract_report
from radrl.rewards.clinical import ExampleF1Reward, MCCSReward, mccs
from radrl.rewards.format import FormatReward, format_score
from radrl.rewards.registry import REWARD_TYPES, RewardSet, build_rewards, register_reward
from radrl.rewards.schedule import weight_at
from radrl.rewards.text import BleuReward, sentence_bleu

__all__ = [
    "REWARD_TYPES", "BleuReward", "ExampleF1Reward", "FormatReward", "MCCSReward", "RewardFunction",
    "RewardSet", "build_rewards", "completion_text", "extract_report", "format_score", "mccs",
    "register_reward", "sentence_bleu", "weight_at",
]
