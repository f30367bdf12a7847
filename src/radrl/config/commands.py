"""The options of the commands that are not a recipe section: each command's settings as a
dataclass, so every default and range is written once, here (``radrl.cli_options`` makes the
``--options`` from them and checks a given value the way a recipe value is checked)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from radrl.io import FieldError


def _help(text: str) -> dict:
    return {"help": text}


def _at_least(obj, low, *names) -> None:
    for name in names:
        value = getattr(obj, name)
        if value is not None and value < low:
            raise FieldError(name, f"must be >= {low}, got {value:g}")


@dataclass
class ScoringOptions:
    """``radrl label``, ``eval``, ``compare``, ``reward``: which labeler, how labels are binarised,
    the paired tests."""

    labeler: str = field(default="rule", metadata=_help("labeler (radrl.labelers.LABELERS): rule (offline) or chexbert"))
    weights: str | None = field(default=None, metadata=_help("checkpoint of a model-backed labeler (chexbert.pth or a folder)"))
    max_chars: int = field(default=20_000, metadata=_help(
        "cut longer reports to N characters, with a warning (0: no cap)"))
    workers: int | None = field(default=None, metadata=_help("processes for the rule labeler (default: one per CPU)"))
    uncertain: Literal["negative", "positive"] = field(default="negative", metadata=_help(
        "how uncertain labels count when binarised"))
    empty_match: Literal["zero", "one"] = field(default="zero", metadata=_help(
        "example-based score when neither report has a positive"))
    resamples: int = field(default=1000, metadata=_help("bootstrap and randomisation rounds"))
    seed: int = field(default=0, metadata=_help("random seed of both tests"))
    step: int = field(default=0, metadata=_help("training step whose reward weights apply (schedules)"))

    def __post_init__(self):
        _at_least(self, 0, "max_chars", "step")
        _at_least(self, 1, "workers", "resamples")


@dataclass
class PlanOptions:
    """``radrl plan``: the hardware a recipe is sized for."""

    gpus: int = field(default=8, metadata=_help("devices the run is spread over"))
    gpu_memory: float = field(default=80.0, metadata=_help("GB per device"))
    image_size: str = field(default="3056x2544", metadata=_help("WIDTHxHEIGHT of the films before resizing (a MIMIC-CXR film)"))
    images: int = field(default=1, metadata=_help("images per sample"))
    architecture: str | None = field(default=None, metadata=_help(
        "size this architecture instead of model.path's (a shipped name such as qwen2.5-vl-7b-instruct, or a "
        "folder with config.json): for a fine-tune of one"))

    def __post_init__(self):
        _at_least(self, 1, "gpus", "images")
        if self.gpu_memory <= 0:
            raise FieldError("gpu_memory", f"must be > 0, got {self.gpu_memory:g}")
        width, sep, height = self.image_size.partition("x")
        if not (sep and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
            raise FieldError("image_size", f"must be WIDTHxHEIGHT in pixels, e.g. 3056x2544; got {self.image_size!r}")


@dataclass
class DataToolOptions:
    """``radrl data inspect``, ``radrl prepare-images``."""

    show: int = field(default=3, metadata=_help("samples shown"))
    workers: int | None = field(default=None, metadata=_help("processes (default: one per CPU)"))

    def __post_init__(self):
        _at_least(self, 0, "show")
        _at_least(self, 1, "workers")


@dataclass
class RolloutOptions:
    """How the analyses sample their rollouts (shared by the two below)."""

    group_size: int = field(default=8, metadata=_help("rollouts per prompt"))
    temperature: float = field(default=1.0, metadata=_help("sampling temperature of the rollouts"))
    seed: int = field(default=0, metadata=_help("random seed"))

    def __post_init__(self):
        _at_least(self, 2, "group_size")
        if self.temperature <= 0:
            raise FieldError("temperature", f"must be > 0, got {self.temperature:g}")


@dataclass
class MaskingOptions(RolloutOptions):
    """``radrl analyze masking`` (DEER Table 6), and the demo's masking table."""

    n_prompts: int = field(default=64, metadata=_help("test images whose rollouts are masked"))
    fraction: float = field(default=0.1, metadata=_help("share of each report's tokens masked"))

    def __post_init__(self):
        super().__post_init__()
        _at_least(self, 1, "n_prompts")
        if not 0.0 < self.fraction <= 1.0:
            raise FieldError("fraction", f"must lie in (0, 1], got {self.fraction:g}")


@dataclass
class RewardDiversityOptions(RolloutOptions):
    """``radrl analyze rewards`` (DEER Table 7)."""

    reward: str = field(default="example_f1", metadata=_help("a reward type (radrl.rewards.REWARDS)"))
    n_prompts: int = field(default=200, metadata=_help("prompts per subset (its first N)"))

    def __post_init__(self):
        super().__post_init__()
        _at_least(self, 1, "n_prompts")


@dataclass
class ServeOptions:
    """``radrl serve``: where the reward server listens, who may call it, how much it takes at once."""

    host: str = field(default="127.0.0.1", metadata=_help(
        "address to bind; reports may hold patient information, so anything but loopback needs --token-env"))
    port: int = field(default=8000, metadata=_help("TCP port"))
    token_env: str | None = field(default=None, metadata=_help(
        "environment variable holding the bearer token every request must carry (required off loopback)"))
    max_body_mb: float = field(default=16.0, metadata=_help("largest request body, in MB (413 above it)"))
    max_items: int = field(default=4096, metadata=_help("most predictions in one request (413 above it)"))
    max_batch: int = field(default=256, metadata=_help("most predictions scored in one labeler batch"))
    max_wait_ms: float = field(default=0.0, metadata=_help(
        "how long the first request of a batch waits for others to join it (0: a batch takes what queued "
        "while the previous ones were scored)"))
    log_level: Literal["debug", "info", "warning", "error"] = field(default="info", metadata=_help(
        "server log level (no level logs report text)"))
    score_in: Literal["process", "thread"] = field(default="process", metadata=_help(
        "where batches are scored: a worker process of their own (labelling and HTTP run side by side), "
        "or a thread of the server's process"))

    def __post_init__(self):
        _at_least(self, 1, "port", "max_items", "max_batch")
        _at_least(self, 0, "max_wait_ms")
        if self.port > 65535:
            raise FieldError("port", f"must be <= 65535, got {self.port}")
        if self.max_body_mb <= 0:
            raise FieldError("max_body_mb", f"must be > 0, got {self.max_body_mb:g}")


@dataclass
class ExportOptions:
    """``radrl export``: a radrl dataset in another engine's format."""

    engine: Literal["verl", "easyr1", "swift", "openrlhf"] = field(default="verl", metadata=_help(
        "the engine whose dataset format to write"))
    instruction: str | None = field(default=None, metadata=_help(
        "the prompt's instruction (default: radrl's, or --recipe's top-level instruction)"))
