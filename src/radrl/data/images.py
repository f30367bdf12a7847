"""Opening X-ray images safely: a decoded-pixel cap, one error type, bad images skipped and counted.

* ``open_image(path)``: the RGB image, or :class:`ImageError` that names the file and why
  (missing, empty, not an image, truncated, or more pixels than the cap).
* ``image_problem(path)``: the same checks without decoding the pixels (header + ``verify``),
  as a reason string or ``None``; loaders and :func:`drop_unreadable` use it.
* ``drop_unreadable(samples, source)``: the samples whose images all pass, and a
  :class:`SkippedImages` record; generation, selection and training call it (or skip inline)
  so one corrupt film costs one sample, never the run.

The cap: ``MAX_IMAGE_PIXELS`` (64 M pixels, about 8000 x 8000; a MIMIC film is 7.8 M), checked
here from the header before any pixel is decoded. It is PIL's limit too, so every other decoder
in the process (``datasets``' lazy images) refuses a decompression bomb past twice the cap.
``RADRL_MAX_IMAGE_PIXELS`` in the environment changes it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from radrl.io import InputError

MAX_IMAGE_PIXELS = int(os.environ.get("RADRL_MAX_IMAGE_PIXELS", 64_000_000))
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # PIL errors past twice its limit (a backstop)

_DECODE_ERRORS = (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError, EOFError)


class ImageError(InputError):
    """An image that cannot be used; ``reason`` is the short form a skip count groups by."""

    def __init__(self, path, reason: str, detail: str = ""):
        super().__init__(f"{path}: {reason}{f' ({detail})' if detail else ''}")
        self.path, self.reason = str(path), reason


def _check_size(path, im) -> None:
    pixels = im.width * im.height
    if pixels > MAX_IMAGE_PIXELS:
        raise ImageError(path, "too many pixels",
                         f"{im.width} x {im.height} = {pixels:,} > the cap of {MAX_IMAGE_PIXELS:,}; "
                         "set RADRL_MAX_IMAGE_PIXELS to allow more")


def _open(path):
    path = Path(path)
    if not path.is_file():
        raise ImageError(path, "missing image")
    if path.stat().st_size == 0:
        raise ImageError(path, "empty image file")
    try:
        with warnings.catch_warnings():  # the size is checked, with a clearer message, by _check_size
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageError(path, "too many pixels", str(exc)) from None
    except _DECODE_ERRORS as exc:
        raise ImageError(path, "unreadable image", f"{type(exc).__name__}: {exc}") from None


GRAYSCALE_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "F")


def open_image(path, keep_grayscale: bool = False) -> Image.Image:
    """The image as RGB (or as 8-bit grayscale when it is one and ``keep_grayscale``), decoded;
    :class:`ImageError` when it cannot be."""
    im = _open(path)
    with im:
        _check_size(path, im)
        try:
            return im.convert("L" if keep_grayscale and im.mode in GRAYSCALE_MODES else "RGB")
        except _DECODE_ERRORS as exc:
            raise ImageError(path, "unreadable image", f"{type(exc).__name__}: {exc}") from None


def image_problem(path) -> str | None:
    """Why ``path`` cannot be used (header, size and ``verify`` checks, no full decode), or None."""
    try:
        im = _open(path)
        with im:
            _check_size(path, im)
            try:
                im.verify()
            except _DECODE_ERRORS as exc:
                raise ImageError(path, "unreadable image", str(exc)) from None
    except ImageError as err:
        return err.reason
    return None


@dataclass
class SkippedImages:
    """Samples skipped for their images, grouped by reason, for the warning and the run summary."""

    source: str
    by_reason: dict[str, list[str]] = field(default_factory=dict)

    def add(self, sample_id: str, reason: str) -> None:
        self.by_reason.setdefault(reason, []).append(str(sample_id))

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.by_reason.values())

    def summary(self) -> dict:
        """``{"skipped": N, "reasons": {reason: {"count", "first_ids"}}}`` (for metrics files)."""
        return {"skipped": self.count,
                "reasons": {r: {"count": len(ids), "first_ids": ids[:5]} for r, ids in self.by_reason.items()}}

    def message(self) -> str:
        parts = [f"{len(ids)} {reason} (first: {', '.join(ids[:3])})" for reason, ids in self.by_reason.items()]
        return f"{self.source}: skipped {self.count} sample(s) for their images: " + "; ".join(parts)

    def warn(self) -> None:
        if self.count:
            warnings.warn(self.message(), stacklevel=3)


def drop_unreadable(samples: Sequence, source: str, progress: bool = False) -> tuple[list, SkippedImages]:
    """The samples whose every image passes :func:`image_problem`, and what was skipped (warned)."""
    from tqdm.auto import tqdm

    skipped = SkippedImages(source)
    kept = []
    for s in tqdm(samples, desc="checking images", unit="sample", disable=not progress or len(samples) < 1000):
        reason = next((r for r in map(image_problem, s.images) if r), None)
        if reason:
            skipped.add(s.id, reason)
        else:
            kept.append(s)
    skipped.warn()
    return kept, skipped
