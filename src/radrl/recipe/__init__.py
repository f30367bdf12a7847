"""Recipes: finding, reading and checking them (the settings themselves are :mod:`radrl.config`).

=================  ===============================================================
``loading.py``     finding (``radrl/recipes/*.yaml``), ``tiny:``, overrides, errors with lines
``checks.py``      the checks that need a registry, run once after a recipe is built
=================  ===============================================================

``load_recipe("deer", tiny=True, overrides=["rl.learning_rate=1e-5"])`` returns an
:class:`RLRecipe`; a misspelt key, a wrong type or an out-of-range value raises ``ConfigError``
with the file line or the override that holds it and the closest valid name. The settings
classes are re-exported here for convenience.
"""

from radrl.config import (
    AlgorithmSection,
    ComponentEntry,
    DataSection,
    DemoLabelerStage,
    DemoRecipe,
    DemoRLStage,
    EvaluateSection,
    GenerationSettings,
    JudgeConfig,
    LabelerSection,
    LabelerTrainSettings,
    LoraSettings,
    ModelSection,
    PipelineRecipe,
    Recipe,
    RewardEntry,
    RLRecipe,
    RLSection,
    SelectionSettings,
    SFTSettings,
    SyntheticConfig,
    TinyVLMConfig,
    VisionPretrainSection,
)
from radrl.io import ConfigError
from radrl.recipe.checks import check_section, recipe_problems
from radrl.recipe.loading import (
    RECIPES_DIR,
    apply_override,
    find_recipe,
    load_recipe,
    load_rl_recipe,
    merge,
    recipe_from_dict,
    recipe_names,
    recipe_summaries,
    recipe_yaml,
    with_overrides,
)

__all__ = [
    "RECIPES_DIR", "AlgorithmSection", "ComponentEntry", "ConfigError", "DataSection",
    "DemoLabelerStage", "DemoRLStage", "DemoRecipe", "EvaluateSection", "GenerationSettings", "JudgeConfig",
    "LabelerSection", "LabelerTrainSettings", "LoraSettings", "ModelSection", "PipelineRecipe", "RLRecipe",
    "RLSection", "Recipe", "RewardEntry", "SFTSettings", "SelectionSettings", "SyntheticConfig", "TinyVLMConfig",
    "VisionPretrainSection", "apply_override", "check_section", "find_recipe", "load_recipe", "load_rl_recipe", "merge",
    "recipe_from_dict", "recipe_names", "recipe_problems", "recipe_summaries", "recipe_yaml", "with_overrides",
]
