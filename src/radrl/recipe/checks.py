"""The checks that need a registry, run once after a recipe is built (``radrl.config`` has none).

:func:`recipe_problems` looks up every name a recipe gives (dataset kind and loader options,
reward types and parameters, labeler, selection method, algorithm components and their
parameters), checks the sections against each other, and normalises what it checked (a reward's
``margin: 1`` becomes ``1.0``). Each problem keeps the key path it belongs to, so the loader can
say which file line or override holds it. :func:`check_section` runs the same checks on one
section that did not come from a recipe (command-line settings).
"""

from __future__ import annotations

from radrl.config import (
    AlgorithmSection,
    DataSection,
    LabelerSection,
    RLRecipe,
    SelectionSettings,
)
from radrl.config.fields import Problem, check_keys, format_problems
from radrl.io import ConfigError
from radrl.rewards.registry import reward_problems


def _registry_problem(registry, name: str, path: tuple) -> Problem | None:
    return None if name in registry else Problem(path, registry.unknown(name))


def data_problems(data: DataSection, path: tuple = ("data",)) -> list[Problem]:
    from radrl.data.registry import DATASETS, loader_options

    problem = _registry_problem(DATASETS, data.kind, path + ("kind",))
    if problem:
        return [problem]
    if data.synthetic is not None and data.kind != "synthetic":
        return [Problem(path + ("synthetic",), f"a synthetic: block needs kind: synthetic, not {data.kind}")]
    problems: list[Problem] = []
    checked = check_keys(data.options, loader_options(data.kind), path + ("options",), problems,
                         what=f"option of the {data.kind} loader")
    if not problems:
        data.options = checked
    return problems


def labeler_problems(labeler: LabelerSection, path: tuple = ("labeler",)) -> list[Problem]:
    from radrl.labelers import LABELERS

    problem = _registry_problem(LABELERS, labeler.name, path + ("name",))
    return [problem] if problem else []


def selection_problems(select: SelectionSettings, path: tuple = ("select",)) -> list[Problem]:
    from radrl.selection.methods import SELECTION_METHODS

    problem = _registry_problem(SELECTION_METHODS, select.method, path + ("method",))
    return [problem] if problem else []


def algorithm_problems(algorithm: AlgorithmSection, labeler: LabelerSection,
                       path: tuple = ("algorithm",)) -> list[Problem]:
    """Each slot's component: registered, in its own slot, its parameters those of its constructor,
    its own range checks, and the labeler it needs."""
    from radrl.algorithms import COMPONENTS

    problems: list[Problem] = []
    for slot, entry in algorithm.entries().items():
        where = path + (slot,)
        problem = _registry_problem(COMPONENTS, entry.type, where + ("type",))
        if problem:
            problems.append(problem)
            continue
        cls = COMPONENTS.get(entry.type)
        if cls.slot != slot:
            problems.append(Problem(where + ("type",), f"{entry.type} is a {cls.slot} component; "
                                                       f"name it under algorithm.{cls.slot}"))
            continue
        before = len(problems)
        params = check_keys(entry.params, cls.parameter_specs(), where, problems,
                            what=f"parameter of the {entry.type} component")
        if len(problems) > before:
            continue
        entry.params = params
        if cls.labelers and labeler.name not in cls.labelers:
            problems.append(Problem(("labeler",), f"algorithm.{slot}: {entry.type} needs a "
                                    f"{' or '.join(cls.labelers)} labeler (labeler: {{name: {cls.labelers[0]}, "
                                    "weights: ...}})"))
            continue
        try:
            cls.check_params(**params)
        except (ValueError, TypeError) as err:
            field_name = getattr(err, "field", None)
            problems.append(Problem(where + ((field_name,) if field_name else ()), f"{entry.type}: {err}"))
    return problems


def instruction_problems(recipe) -> list[Problem]:
    """One prompt per recipe: the top-level ``instruction`` (radrl's default when unset) is the
    one every generation of the recipe uses; a section that writes another is refused, and each
    section is set to it (``evaluate.generation``, ``select.generation``, ``sft``)."""
    from radrl.config import DEFAULT_INSTRUCTION

    prompt = recipe.instruction or DEFAULT_INSTRUCTION
    sections = {("evaluate", "generation"): getattr(recipe.evaluate, "generation", None),
                ("select", "generation"): getattr(getattr(recipe, "select", None), "generation", None),
                ("sft",): getattr(recipe, "sft", None)}
    problems = []
    for path, section in sections.items():
        if section is None:
            continue
        if section.instruction not in (DEFAULT_INSTRUCTION, prompt):
            problems.append(Problem(path + ("instruction",), "the prompt is set once per recipe: write it as the "
                                    "top-level instruction: (training, selection and evaluation all use it)"))
        else:
            section.instruction = prompt
    return problems


def rl_recipe_problems(recipe: RLRecipe) -> list[Problem]:
    from radrl.rewards import REWARDS
    from radrl.training.vllm_rollouts import vllm_problem

    problems = data_problems(recipe.data) + labeler_problems(recipe.labeler) + reward_problems(recipe.rewards)
    problems += instruction_problems(recipe)
    if recipe.select is not None:
        problems += selection_problems(recipe.select)
    if problems:
        return problems
    problems += algorithm_problems(recipe.algorithm, recipe.labeler)
    for i, entry in enumerate(recipe.rewards):
        for param, mode in REWARDS.get(entry.type).judge_modes.items():
            if entry.params.get(param) == mode and recipe.judge is None:
                problems.append(Problem(("rewards", i, param), f"{entry.type} {param}: {mode} asks the LLM judge; add a "
                                        "judge: section (radrl.config.JudgeConfig) or use the offline mode"))
    problem = vllm_problem(recipe.rl.settings, recipe.model.max_pixels)
    if problem:
        problems.append(Problem(("rl",), problem))
    return problems


def recipe_problems(recipe) -> list[Problem]:
    """Every registry and cross-section problem of a built recipe (an empty list: it is sound). A
    demo recipe's RL recipe is resolved and checked by the loader (``overlay_problems``)."""
    return rl_recipe_problems(recipe) if isinstance(recipe, RLRecipe) else instruction_problems(recipe)


_SECTION_CHECKS = {DataSection: data_problems, SelectionSettings: selection_problems,
                   LabelerSection: labeler_problems}


def check_section(section, path: tuple = ()):
    """A section built outside a recipe (command-line settings) through the same registry checks;
    returns it, or raises ``ConfigError`` naming every problem."""
    checker = _SECTION_CHECKS.get(type(section))
    problems = checker(section, path) if checker else []
    if problems:
        raise ConfigError(format_problems(problems))
    return section
