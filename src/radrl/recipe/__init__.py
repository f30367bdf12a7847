"""Typed recipes: one dataclass per section, checked before anything heavy loads.

=================  ===============================================================
``sections.py``    every section's dataclass: the one place a setting's default lives
``recipes.py``     the recipe kinds (``stage: rl | sft_pipeline | demo``)
``loading.py``     finding (``radrl/recipes/*.yaml``), ``tiny:``, overrides, errors with lines
``fields.py``      the type checks (specs from annotations) and the dict -> dataclass builder
``rl_fields.py``   what ``rl:`` may hold (radrl's switches + a snapshot of GRPOConfig's fields)
=================  ===============================================================

``load_recipe("deer", tiny=True, overrides=["rl.learning_rate=1e-5"])`` returns an
:class:`RLRecipe`; a misspelt key, a wrong type or an out-of-range value raises ``ConfigError``
with the file line or the override that holds it and the closest valid name.
"""

from radrl.io import ConfigError
from radrl.recipe.loading import (
    RECIPES_DIR,
    apply_override,
    find_recipe,
    load_recipe,
    merge,
    recipe_from_dict,
    recipe_names,
    recipe_summaries,
    recipe_yaml,
    with_overrides,
)
from radrl.recipe.recipes import (
    DemoLabelerStage,
    DemoRecipe,
    DemoRLStage,
    PipelineRecipe,
    Recipe,
    RLRecipe,
    RLSection,
)
from radrl.recipe.sections import (
    CriticalSection,
    DataSection,
    EvaluateSection,
    GenerationSettings,
    LabelerSection,
    LabelerTrainSettings,
    LoraSettings,
    ModelSection,
    RadRLOptions,
    RewardEntry,
    SelectionSettings,
    SFTSettings,
    TinyVLMConfig,
    VisionPretrainSection,
)

__all__ = [
    "RECIPES_DIR", "ConfigError", "CriticalSection", "DataSection", "DemoLabelerStage", "DemoRLStage",
    "DemoRecipe", "EvaluateSection",
    "GenerationSettings", "LabelerSection", "LabelerTrainSettings", "LoraSettings", "ModelSection",
    "PipelineRecipe", "RLRecipe", "RLSection", "RadRLOptions", "Recipe", "RewardEntry", "SFTSettings",
    "SelectionSettings", "TinyVLMConfig", "VisionPretrainSection", "apply_override", "find_recipe", "load_recipe", "merge",
    "recipe_from_dict", "recipe_names", "recipe_summaries", "recipe_yaml", "with_overrides",
]
