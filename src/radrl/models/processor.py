"""Processor loading, with an image-only fallback for Qwen2-VL-family checkpoints.

In transformers 5 the Qwen2-VL / Qwen2.5-VL processor always builds a video processor, and
video processors need torchvision. radrl's CPU environment has no torchvision (its only
CPU-compatible wheels here come with a multi-GB CUDA build of torch), and radrl never feeds
video. :func:`load_processor` therefore tries ``AutoProcessor`` first and, when it fails only
because torchvision is missing, builds :class:`ImageOnlyQwenVLProcessor`: the same class
behaviour (image token expansion, chat template, ``mm_token_type_ids``) without the video part.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from transformers import AutoProcessor, AutoTokenizer
from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor

QWEN_VL_TYPES = ("qwen2_vl", "qwen2_5_vl")


class ImageOnlyQwenVLProcessor(Qwen2_5_VLProcessor):
    """Qwen2.5-VL processor without its video processor (no torchvision needed)."""

    @classmethod
    def get_attributes(cls) -> list[str]:
        return ["image_processor", "tokenizer"]

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)
        self.video_processor = None

    def save_pretrained(self, save_directory, **kwargs):
        """Saved as a stock ``Qwen2_5_VLProcessor`` folder, so machines with torchvision load the
        stock class (a default video processor config is written alongside)."""
        out = super().save_pretrained(save_directory, **kwargs)
        root = Path(save_directory)
        for name in ("processor_config.json", "preprocessor_config.json"):
            path = root / name
            if path.is_file():
                data = json.loads(path.read_text())
                if data.get("processor_class") == type(self).__name__:
                    data["processor_class"] = "Qwen2_5_VLProcessor"
                    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        ip = self.image_processor
        video_cfg = {"video_processor_type": "Qwen2VLVideoProcessor", "patch_size": ip.patch_size,
                     "merge_size": ip.merge_size, "temporal_patch_size": ip.temporal_patch_size,
                     "processor_class": "Qwen2_5_VLProcessor"}
        (root / "video_preprocessor_config.json").write_text(json.dumps(video_cfg, indent=2) + "\n")
        return out


def _model_type(name_or_path: str, trust_remote_code: bool) -> str | None:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code).model_type
    except (OSError, ValueError):
        return None


def load_processor(name_or_path: str, trust_remote_code: bool = False, **kwargs):
    """``AutoProcessor.from_pretrained``, or the image-only Qwen processor when the only thing
    missing is torchvision (for a Qwen2-VL-family checkpoint)."""
    try:
        return AutoProcessor.from_pretrained(name_or_path, trust_remote_code=trust_remote_code, **kwargs)
    except ImportError as exc:
        if "orchvision" not in str(exc) or _model_type(name_or_path, trust_remote_code) not in QWEN_VL_TYPES:
            raise
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(name_or_path, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    return ImageOnlyQwenVLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                    chat_template=tokenizer.chat_template)
