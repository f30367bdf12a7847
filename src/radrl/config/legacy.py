"""Keys radrl 0.1 wrote elsewhere, moved to their one place with a ``FutureWarning`` by the loader
for one release (``radrl recipes show`` prints a recipe in the new form).

=====================================  ===========================================
radrl 0.1                              now
=====================================  ===========================================
``rl.token_weighting``, ``rl.capo``,   ``algorithm:`` (:func:`radrl.config.algorithm.legacy_rl_keys`)
``rl.orapo``, ``rl.orapo_*``, ...
``select.temperature``, ``top_p``,     ``select.generation.*`` (one ``GenerationSettings`` for
``max_new_tokens``, ``batch_size``     selection, evaluation and ``radrl generate``)
``evaluate.generation.instruction``,   the recipe's top-level ``instruction`` (one prompt for
``sft.instruction``                    training, selection and evaluation)
=====================================  ===========================================
"""

from __future__ import annotations

from radrl.config.algorithm import legacy_rl_keys
from radrl.config.sections import DEFAULT_INSTRUCTION

SELECT_GENERATION_KEYS = ("temperature", "top_p", "max_new_tokens", "batch_size")


def legacy_select_keys(recipe: dict) -> tuple[dict, list[str]]:
    select = recipe.get("select")
    if not isinstance(select, dict) or not any(k in select for k in SELECT_GENERATION_KEYS):
        return recipe, []
    select = dict(select)
    generation = dict(select.get("generation") or {})
    renamed = []
    for key in SELECT_GENERATION_KEYS:
        if key in select:
            generation.setdefault(key, select.pop(key))
            renamed.append(f"select.{key} -> select.generation.{key}")
    return {**recipe, "select": {**select, "generation": generation}}, renamed


def legacy_instruction_keys(recipe: dict) -> tuple[dict, list[str]]:
    """``evaluate.generation.instruction`` / ``sft.instruction`` become the top-level
    ``instruction`` when the recipe has none (a differing one is refused by the recipe check)."""
    out, renamed = dict(recipe), []
    for path in (("evaluate", "generation"), ("sft",)):
        node = out
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict) or node.get("instruction", DEFAULT_INSTRUCTION) == DEFAULT_INSTRUCTION:
            continue  # unset, or the default a resolved recipe writes back
        dotted = ".".join((*path, "instruction"))
        if out.get("instruction") is None:
            out["instruction"] = node["instruction"]
            renamed.append(f"{dotted} -> instruction")
    return out, renamed


def translate_legacy(recipe: dict) -> tuple[dict, list[str]]:
    """A recipe mapping with every radrl 0.1 key in its new place, and the renames made."""
    renamed: list[str] = []
    for step in (legacy_rl_keys, legacy_select_keys, legacy_instruction_keys):
        recipe, more = step(recipe)
        renamed += more
    return recipe, renamed
