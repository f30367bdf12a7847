"""The three kinds of recipe, chosen by the top-level ``stage:`` key (default ``rl``).

* :class:`RLRecipe` (``radrl train``): policy, data, rewards, RL settings and everything around.
* :class:`PipelineRecipe` (``stage: sft_pipeline``, ``radrl pipeline``): synthetic benchmark ->
  tiny VLM -> SFT -> evaluation (how the committed tiny SFT checkpoint was made).
* :class:`DemoRecipe` (``stage: demo``, ``radrl demo``): the pipeline, then an RL recipe's tiny
  variant and the labeler stage.

Each is a dataclass of the sections in :mod:`radrl.config.sections`; ``to_dict()`` gives the
resolved recipe written into every run folder (loadable again as a recipe). Checks that need a
registry (a reward's parameters, a component's slot, the demo's RL recipe) run after building,
in :mod:`radrl.recipe.checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from radrl.config.algorithm import AlgorithmSection, moved_rl_key
from radrl.config.commands import MaskingOptions
from radrl.config.fields import Problem, build, check_keys, to_plain
from radrl.config.judge import JudgeConfig
from radrl.config.sections import (
    DataSection,
    EvaluateSection,
    LabelerSection,
    LabelerTrainSettings,
    ModelSection,
    RewardEntry,
    SelectionSettings,
    SFTSettings,
    SyntheticConfig,
    TinyVLMConfig,
    VisionPretrainSection,
    _help,
)
from radrl.io import FieldError

RL_RANGES: dict[str, tuple[float, bool]] = {
    # GRPOConfig fields whose range TRL checks only when the trainer is built: (bound, inclusive)
    "learning_rate": (0.0, False), "num_generations": (2, True), "per_device_train_batch_size": (1, True),
    "gradient_accumulation_steps": (1, True), "max_completion_length": (1, True), "temperature": (0.0, False),
    "beta": (0.0, True), "epsilon": (0.0, False), "num_iterations": (1, True), "save_steps": (0.0, False),
    "warmup_steps": (0, True), "weight_decay": (0.0, True),
}
"""Checked when the recipe loads, so a bad value is refused before the model does."""


@dataclass
class RLSection:
    """The ``rl:`` keys as written: exactly TRL's ``GRPOConfig`` fields (checked against a snapshot
    of them, :mod:`radrl.config.rl_fields`). radrl's run-time defaults (output folder, logging,
    bf16 on GPUs) are added when the trainer's config is built."""

    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_yaml_mapping(cls, data: dict, path, problems: list[Problem]):
        from radrl.config.rl_fields import rl_specs

        before = len(problems)
        for key in [k for k in data if moved_rl_key(k)]:
            problems.append(Problem(path + (key,), "is an algorithm: setting: name the component under algorithm: "
                                    "(token_weights: tfidf, clip: capo, aux_loss: orapo_dpo, with its parameters; "
                                    "radrl.config.algorithm)", key_itself=True))
        data = {k: v for k, v in data.items() if not moved_rl_key(k)}
        values = check_keys(data, rl_specs(), path, problems, what="rl setting (GRPOConfig field)")
        if "reward_schedules" in values or "reward_weights" in values:
            key = "reward_schedules" if "reward_schedules" in values else "reward_weights"
            problems.append(Problem(path + (key,), "reward weights and schedules belong to each reward "
                                    "(rewards[i].weight, rewards[i].schedule), not to rl:", key_itself=True))
        if len(problems) > before:
            return None
        for key, (low, inclusive) in RL_RANGES.items():
            value = values.get(key)
            if isinstance(value, (int, float)) and (value < low or (value == low and not inclusive)):
                problems.append(Problem(path + (key,), f"must be {'>=' if inclusive else '>'} {low}, got {value}"))
        return cls(values) if len(problems) == before else None

    def to_yaml_value(self) -> dict:
        return dict(self.settings)

    def get(self, key: str, default: Any = None) -> Any:
        """A key as the recipe writes it (``default`` when it does not)."""
        return self.settings.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.settings[key]


@dataclass(kw_only=True)
class RLRecipe:
    """``radrl train --recipe NAME``: RL (GRPO / DiTPO / CAPO / OraPO) from a policy."""

    stage: Literal["rl"] = "rl"
    description: str = field(default="", metadata=_help("one line shown by `radrl recipes list`"))
    model: ModelSection
    data: DataSection
    rewards: list[RewardEntry]
    rl: RLSection = field(default_factory=RLSection)
    algorithm: AlgorithmSection = field(default_factory=AlgorithmSection, metadata=_help(
        "the registered components that change GRPO (DiTPO, CAPO, OraPO, yours)"))
    select: SelectionSettings | None = field(default=None, metadata=_help(
        "write data.subset first when it is missing"))
    labeler: LabelerSection = field(default_factory=LabelerSection)
    judge: JudgeConfig | None = None
    evaluate: EvaluateSection | None = None
    instruction: str | None = field(default=None, metadata=_help(
        "the prompt of training, selection and evaluation (default: radrl's); written once, here"))
    resolved_from: dict | None = field(default=None, metadata=_help(
        "where a resolved recipe came from (file, variant, overrides); informational"))

    def __post_init__(self):
        if not self.rewards:
            raise FieldError("rewards", "a recipe needs at least one reward under rewards:")
        names = [r.params.get("name") or r.type for r in self.rewards]
        if len(set(names)) != len(names):
            raise FieldError("rewards", f"reward names must be distinct (give one a name:), got {names}")
        if self.select is not None and not self.data.subset:
            raise FieldError("select", "select: writes the file named by data.subset; set data.subset")

    def to_dict(self) -> dict:
        return to_plain(self)


@dataclass
class DemoRLStage:
    """The demo's RL: an RL recipe's tiny variant, with ``overrides`` merged over it."""

    recipe: str = field(default="deer_tfidf", metadata=_help("RL recipe name"))
    overrides: dict = field(default_factory=dict, metadata=_help("merged over its tiny variant"))


@dataclass
class DemoLabelerStage:
    """The demo's labeler stage: a tiny CheXbert-architecture labeler and DEER's masking table."""

    train: LabelerTrainSettings = field(default_factory=LabelerTrainSettings)
    masking_prompts: int = field(default=MaskingOptions.n_prompts, metadata=_help(
        "test images for the masking table (0: skip)"))


@dataclass(kw_only=True)
class PipelineRecipe:
    """``radrl pipeline``: synthetic benchmark -> tiny VLM (-> vision pretraining) -> SFT -> generation
    -> evaluation."""

    stage: Literal["sft_pipeline"] = "sft_pipeline"
    description: str = ""
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    tiny_model: TinyVLMConfig = field(default_factory=TinyVLMConfig)
    lm_pretrain: SFTSettings | None = field(default=None, metadata=_help(
        "before SFT, train the tiny VLM's language model on the training reports alone (text-only SFT, no "
        "images): a language model that already writes reports, as DEER's frozen-LM SFT (sft.freeze: lm) needs"))
    vision_pretrain: VisionPretrainSection | None = field(default=None, metadata=_help(
        "pretrain the tiny VLM's vision tower on labelled films before SFT"))
    vision_tower: str | None = field(default=None, metadata=_help(
        "start the tiny VLM with this checkpoint's vision tower (tiny-sft: the committed one, pretrained)"))
    sft: SFTSettings = field(default_factory=SFTSettings)
    evaluate: EvaluateSection = field(default_factory=EvaluateSection)
    instruction: str | None = field(default=None, metadata=_help(
        "the prompt of SFT and evaluation (default: radrl's); written once, here"))
    resolved_from: dict | None = None

    def to_dict(self) -> dict:
        return to_plain(self)


@dataclass(kw_only=True)
class DemoRecipe(PipelineRecipe):
    """``radrl demo``: the benchmark (and, with ``sft:``, the short SFT pipeline), then RL from the
    committed checkpoint (and, with ``labeler:``, the labeler stage)."""

    stage: Literal["demo"] = "demo"
    sft: SFTSettings | None = field(default=None, metadata=_help(
        "a short SFT of a fresh tiny VLM, scored beside the committed checkpoint (none: skipped; demo_full has one)"))
    rl: DemoRLStage | None = None
    labeler: DemoLabelerStage | None = None

    def pipeline(self) -> PipelineRecipe:
        return PipelineRecipe(description=self.description, synthetic=self.synthetic, tiny_model=self.tiny_model,
                              lm_pretrain=self.lm_pretrain, vision_pretrain=self.vision_pretrain,
                              vision_tower=self.vision_tower, sft=self.sft, evaluate=self.evaluate,
                              instruction=self.instruction)


STAGES: dict[str, type] = {"rl": RLRecipe, "sft_pipeline": PipelineRecipe, "demo": DemoRecipe}
Recipe = RLRecipe | PipelineRecipe | DemoRecipe


def build_recipe(data: dict, problems: list[Problem]):
    """The typed recipe of a resolved mapping (its ``stage:`` picks the kind), registry checks not
    yet run; ``None`` with ``problems`` filled when it cannot be built."""
    stage = data.get("stage", "rl")
    if stage not in STAGES:
        from radrl.io import did_you_mean

        problems.append(Problem(("stage",), f"unknown stage {stage!r}{did_you_mean(stage, STAGES)}; "
                                            f"one of {', '.join(STAGES)}"))
        return None
    return build(STAGES[stage], data, (), problems)
