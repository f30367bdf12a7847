"""Files committed with radrl: the tiny SFT checkpoint the demo and the RL stage start from.

``python -m radrl.assets SRC DST`` copies a trained model folder into ``DST`` keeping only what
loading needs (safetensors weights, configs, tokenizer, processor, chat template, the SFT log);
pickles such as ``training_args.bin`` are left out.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_SFT = REPO_ROOT / "assets" / "tiny-sft"
KEEP = ("model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
        "processor_config.json", "video_preprocessor_config.json", "chat_template.jinja", "radrl_sft.json",
        "radrl_tiny.json", "special_tokens_map.json", "preprocessor_config.json")


def tiny_sft_checkpoint() -> Path:
    """Folder of the committed tiny SFT checkpoint; a clear error when it is not there."""
    if not (TINY_SFT / "model.safetensors").is_file():
        raise FileNotFoundError(f"{TINY_SFT}: the tiny SFT checkpoint is missing; it ships with the git "
                                "repository (assets/tiny-sft) and `make sft-checkpoint` rebuilds it")
    return TINY_SFT


def copy_model(src: str | Path, dst: str | Path) -> Path:
    src, dst = Path(src), Path(dst)
    if not (src / "model.safetensors").is_file():
        raise FileNotFoundError(f"{src}: no model.safetensors")
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in KEEP:
        if (src / name).is_file():
            shutil.copy2(src / name, tmp / name)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    return dst


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m radrl.assets SRC_MODEL_FOLDER DST_FOLDER")
    print(copy_model(sys.argv[1], sys.argv[2]))
