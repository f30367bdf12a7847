"""Files shipped inside the radrl package: the tiny SFT checkpoint the demo and the tiny recipes
start from (``radrl/models/tiny-sft``, 6 MB, in every wheel), and the recipes (``radrl/recipes``).

``python -m radrl.assets SRC DST`` copies a trained model folder into ``DST`` keeping only what
loading needs (safetensors weights, configs, tokenizer, processor, chat template, the SFT log);
pickles such as ``training_args.bin`` are left out. ``make sft-checkpoint`` rebuilds the tiny
checkpoint that way (about 20-25 min on 2 CPU cores).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from radrl.io import InputError, atomic_folder

PACKAGE_ROOT = Path(__file__).resolve().parent
TINY_SFT = PACKAGE_ROOT / "models" / "tiny-sft"
TINY_SFT_NAME = "tiny-sft"
"""The name recipes and commands use for the committed checkpoint (``model: {path: tiny-sft}``)."""
KEEP = ("model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
        "processor_config.json", "video_preprocessor_config.json", "chat_template.jinja", "radrl_sft.json",
        "radrl_tiny.json", "special_tokens_map.json", "preprocessor_config.json", "vision_pretrain.json")


CONFIGS = PACKAGE_ROOT / "configs"


def package_configs() -> list[str]:
    """The configs shipped in the package, as ``accelerate/zero3.yaml``-style names."""
    return sorted(str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob("*") if p.is_file() and p.suffix in (".yaml", ".json"))


def package_config(name: str) -> Path:
    """A shipped config by name: ``accelerate/zero3`` (or ``.yaml``), ``zero3`` alone if unique."""
    names = package_configs()
    stem = {n: n.rsplit(".", 1)[0] for n in names}
    hits = [n for n in names if name in (n, stem[n]) or name == Path(stem[n]).name]
    if len(hits) != 1:
        raise InputError(f"no shipped config {name!r}" if not hits else f"{name!r} is ambiguous: {', '.join(hits)}"
                         + f"; shipped: {', '.join(names)}")
    return CONFIGS / hits[0]


def tiny_sft_checkpoint() -> Path:
    """Folder of the committed tiny SFT checkpoint; a clear error when it is not there."""
    if not (TINY_SFT / "model.safetensors").is_file():
        raise InputError(f"{TINY_SFT}: the tiny SFT checkpoint is missing; it ships inside the radrl package "
                         "(radrl/models/tiny-sft), and `make sft-checkpoint` rebuilds it from a git checkout")
    return TINY_SFT


def resolve_model_path(path: str | Path) -> str:
    """``tiny-sft`` names the committed tiny SFT checkpoint; anything else is a hub id or folder."""
    return str(tiny_sft_checkpoint()) if str(path) == TINY_SFT_NAME else str(path)


def copy_model(src: str | Path, dst: str | Path) -> Path:
    src, dst = Path(src), Path(dst)
    if not (src / "model.safetensors").is_file():
        raise InputError(f"{src}: no model.safetensors")
    with atomic_folder(dst) as tmp:
        for name in KEEP:
            if (src / name).is_file():
                shutil.copy2(src / name, tmp / name)
    return dst


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m radrl.assets SRC_MODEL_FOLDER DST_FOLDER")
    print(copy_model(sys.argv[1], sys.argv[2]))
