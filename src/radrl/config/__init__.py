"""Every setting radrl has, as dataclasses: the bottom layer, importing nothing of radrl but its errors.

=================  ===============================================================
``sections.py``    every recipe section's dataclass: the one place a setting's default lives
``algorithm.py``   the ``algorithm:`` section (a registered component per slot)
``recipes.py``     the recipe kinds (``stage: rl | sft_pipeline | demo``)
``judge.py``       an LLM judge's endpoint (``judge:``)
``synthetic.py``   the synthetic benchmark (``data.synthetic``, ``synthetic:``)
``fields.py``      the type checks (specs from annotations) and the dict -> dataclass builder
``rl_fields.py``   what ``rl:`` may hold (a snapshot of GRPOConfig's fields)
=================  ===============================================================

Reading a recipe file (``tiny:``, overrides, line numbers in errors) and the checks that need a
registry live one layer up, in :mod:`radrl.recipe`.
"""

from radrl.config.algorithm import SLOTS, AlgorithmSection, ComponentEntry
from radrl.config.judge import JudgeConfig
from radrl.config.recipes import (
    STAGES,
    DemoLabelerStage,
    DemoRecipe,
    DemoRLStage,
    PipelineRecipe,
    Recipe,
    RLRecipe,
    RLSection,
    build_recipe,
)
from radrl.config.sections import (
    DEFAULT_INSTRUCTION,
    DataSection,
    EvaluateSection,
    GenerationSettings,
    LabelerSection,
    LabelerTrainSettings,
    LoraSettings,
    ModelSection,
    RewardEntry,
    SelectionSettings,
    SFTSettings,
    TinyVLMConfig,
    VisionPretrainSection,
)
from radrl.config.synthetic import SyntheticConfig

__all__ = [
    "DEFAULT_INSTRUCTION", "SLOTS", "STAGES", "AlgorithmSection", "ComponentEntry", "DataSection",
    "DemoLabelerStage", "DemoRLStage", "DemoRecipe", "EvaluateSection", "GenerationSettings", "JudgeConfig",
    "LabelerSection", "LabelerTrainSettings", "LoraSettings", "ModelSection", "PipelineRecipe", "RLRecipe",
    "RLSection", "Recipe", "RewardEntry", "SFTSettings", "SelectionSettings", "SyntheticConfig", "TinyVLMConfig",
    "VisionPretrainSection", "build_recipe",
]
