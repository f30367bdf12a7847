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
from radrl.io import ConfigError, did_you_mean
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


TRL_ONLY_SETTINGS = {"top_entropy_quantile": 1.0, "off_policy_mask_threshold": None, "entropy_coef": 0.0,
                     "use_adaptive_entropy": False}
"""TRL settings (and the values that turn them off) that radrl's own loss does not reproduce."""


def _function_problems(registry, entry, where: tuple, skip: tuple, what: str) -> list[Problem]:
    """A registered function's entry: known, and its parameters those of its keywords."""
    from radrl.config.fields import signature_specs

    problem = _registry_problem(registry, entry.type, where + ("type",))
    if problem:
        return [problem]
    fn = registry.get(entry.type)
    if not callable(fn) or isinstance(fn, type):
        return [Problem(where + ("type",), f"{entry.type} is not a function ({what}s are functions)")]
    problems: list[Problem] = []
    params = check_keys(entry.params, signature_specs(fn, skip=skip), where, problems,
                        what=f"parameter of the {entry.type} {what}")
    if not problems:
        entry.params = params
    return problems


def loss_problems(algorithm: AlgorithmSection, rl: dict, path: tuple = ("algorithm",)) -> list[Problem]:
    """The policy loss and advantage estimator: registered, their parameters theirs, one way of
    naming the loss (``algorithm.policy_loss`` or ``rl.loss_type``), a clip component only with
    a loss that reads a clip range, and none of TRL's own loss features beside radrl's parts."""
    from radrl.algorithms import (
        ADVANTAGES,
        COMPONENTS,
        POLICY_LOSSES,
        TRL_LOSS_TYPES,
        aggregation_problem,
        pairing_problem,
        trl_loss_name,
    )

    problems: list[Problem] = []
    loss = algorithm.policy_loss
    if loss is not None:
        problems += _function_problems(POLICY_LOSSES, loss, path + ("policy_loss",), ("x",), "policy loss")
        problem = None if problems else aggregation_problem(loss.type, POLICY_LOSSES.get(loss.type))
        if problem:
            problems.append(Problem(path + ("policy_loss", "type"), problem))
        if "loss_type" in rl and rl["loss_type"] != loss.type:
            problems.append(Problem(("rl", "loss_type"), f"algorithm.policy_loss ({loss.type}) decides the loss: "
                                    "remove rl.loss_type, or set one of the two"))
    elif rl.get("loss_type", "dapo") not in TRL_LOSS_TYPES:
        problems.append(Problem(("rl", "loss_type"), f"unknown TRL loss_type {rl['loss_type']!r}"
                                f"{did_you_mean(rl['loss_type'], TRL_LOSS_TYPES)}; choose one of "
                                f"{', '.join(TRL_LOSS_TYPES)} (or name a registered loss in algorithm.policy_loss)"))
    if algorithm.advantage is not None:
        problems += _function_problems(ADVANTAGES, algorithm.advantage, path + ("advantage",),
                                       ("rewards", "group_size"), "advantage estimator")
    if problems:
        return problems
    on = [k for k, off in TRL_ONLY_SETTINGS.items() if k in rl and rl[k] != off]
    if on and (algorithm.entries() or loss is not None or algorithm.advantage is not None):
        problems.append(Problem(("rl", on[0]), "radrl's algorithm: entries do not combine with TRL's "
                                f"{', '.join(on)}: turn it off, or use no algorithm: entries (stock TRL)"))
    clip = algorithm.clip
    if clip is not None and clip.type in COMPONENTS:
        name = loss.type if loss is not None else trl_loss_name(rl.get("loss_type", "dapo"),  # TRL's default
                                                                rl.get("importance_sampling_level", "token"))
        if name in POLICY_LOSSES:
            problem = pairing_problem(name, POLICY_LOSSES.get(name), clip.type)
            if problem:
                problems.append(Problem(path + ("clip",), problem))
    return problems


def algorithm_problems(algorithm: AlgorithmSection, labeler: LabelerSection,
                       path: tuple = ("algorithm",), has_judge: bool = True) -> list[Problem]:
    """Each slot's component: registered, in its own slot, its parameters those of its constructor,
    its own range checks, the labeler it needs, and a judge: section when a parameter asks one."""
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
        for param, mode in cls.judge_modes.items():
            if params.get(param) == mode and not has_judge:
                problems.append(Problem(where + (param,), f"{entry.type} {param}: {mode} asks the LLM judge; add a "
                                        "judge: section (radrl.config.JudgeConfig) or leave it off"))
        try:
            cls.check_params(**params)
        except (ValueError, TypeError) as err:
            field_name = getattr(err, "field", None)
            problems.append(Problem(where + ((field_name,) if field_name else ()), f"{entry.type}: {err}"))
    return problems


def instruction_problems(recipe) -> list[Problem]:
    """One prompt per recipe: the top-level ``instruction`` (radrl's default when unset) is the
    one every generation of the recipe uses; a section that writes another is refused, and each
    section is set to it (``evaluate.generation``, ``select.generation``, ``sft``, ``lm_pretrain``)."""
    from radrl.config import DEFAULT_INSTRUCTION

    prompt = recipe.instruction or DEFAULT_INSTRUCTION
    sections = {("evaluate", "generation"): getattr(recipe.evaluate, "generation", None),
                ("select", "generation"): getattr(getattr(recipe, "select", None), "generation", None),
                ("sft",): getattr(recipe, "sft", None), ("lm_pretrain",): getattr(recipe, "lm_pretrain", None)}
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
    problems += algorithm_problems(recipe.algorithm, recipe.labeler, has_judge=recipe.judge is not None)
    problems += loss_problems(recipe.algorithm, recipe.rl.settings)
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
