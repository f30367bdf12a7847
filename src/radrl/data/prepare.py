"""``radrl prepare-images``: a resized copy of a dataset's images, so that training does not decode
3000 x 2500 films to throw most of their pixels away on every read.

Each image is written under ``OUT`` at the same path relative to the dataset's image root, with
at most ``max_pixels`` pixels (aspect ratio kept, bicubic, as the Qwen2-VL processor resizes),
in the same format (PNG stays lossless; JPEG at quality 95), grayscale films kept grayscale. A
loader reads the copy when pointed at it: ``data.options.image_root: OUT`` in a recipe (or
``image_root=OUT`` in Python). Give the cache the recipe's ``model.max_pixels`` or more; the
processor then resizes the same way from a smaller source.

Resumable: an image already written (newer than its source) is kept, so an interrupted run
continues. ``OUT/prepare_images.json`` records the source and the cap; another cap into the same
folder is refused. Unreadable images are skipped and counted, never fatal.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from radrl.io import InputError, atomic_write_json

MANIFEST = "prepare_images.json"


def resized_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The largest size with the same aspect ratio and at most ``max_pixels`` pixels (unchanged
    when the image is within the cap)."""
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _prepare_one(job: tuple[str, str, int]) -> tuple[str, str | None]:
    """Resize ``src`` into ``dst``; returns (src, None) or (src, why it was skipped)."""
    from PIL import Image

    from radrl.data.images import ImageError, open_image

    src, dst, max_pixels = job
    target = Path(dst)
    try:
        if target.is_file() and target.stat().st_mtime >= Path(src).stat().st_mtime:
            return src, None  # done before (resume)
        image = open_image(src, keep_grayscale=True)  # one full decode: a truncated file fails here
        size = resized_size(image.width, image.height, max_pixels)
        if size != image.size:
            image = image.resize(size, Image.Resampling.BICUBIC)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        fmt = "JPEG" if target.suffix.lower() in (".jpg", ".jpeg") else "PNG"
        image.save(tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        os.replace(tmp, target)
    except ImageError as err:
        return src, err.reason
    except OSError as err:
        return src, f"not written ({err.strerror or err})"
    return src, None


def prepare_images(samples: Sequence, out: str | Path, max_pixels: int, source: str, workers: int | None = None,
                   progress: bool = True) -> dict:
    """Write the resized copies of every image of ``samples`` under ``out``; returns the manifest."""
    from tqdm.auto import tqdm

    out = Path(out)
    if max_pixels < 28 * 28:
        raise InputError(f"--max-pixels {max_pixels} is below one 28 x 28 patch")
    manifest_path = out / MANIFEST
    if manifest_path.is_file():
        before = json.loads(manifest_path.read_text())
        if before.get("max_pixels") != max_pixels:
            raise InputError(f"{out} holds images prepared with max_pixels {before.get('max_pixels')}; "
                             "write another cap into another folder")
    elif out.is_dir() and any(out.iterdir()):
        raise InputError(f"{out} is not empty and is not an image cache of radrl prepare-images; choose a new folder")
    jobs, roots = {}, set()
    for s in samples:
        root = s.meta.get("image_root")
        if root is None:
            raise InputError(f"sample {s.id}: its loader does not record an image root; prepare-images needs one")
        roots.add(os.path.abspath(root))
        for image in s.images:
            rel = os.path.relpath(os.path.abspath(image), os.path.abspath(root))
            if rel.startswith(".."):
                raise InputError(f"{image} lies outside the image root {root}; a cache keeps paths relative to it")
            jobs[os.path.abspath(image)] = str(out / rel)
    if any(os.path.abspath(out) == r or os.path.abspath(out).startswith(r + os.sep) for r in roots):
        raise InputError(f"{out} is inside the dataset's image folder; write the cache elsewhere")
    workers = workers or max(1, (os.cpu_count() or 1))
    skipped: dict[str, list[str]] = {}
    tasks = [(src, dst, max_pixels) for src, dst in jobs.items()]
    bar = tqdm(total=len(tasks), desc="preparing images", unit="img", disable=not progress)
    if workers > 1 and len(tasks) > 64:
        with ProcessPoolExecutor(workers) as pool:
            results = pool.map(_prepare_one, tasks, chunksize=32)
            for src, why in results:
                if why:
                    skipped.setdefault(why, []).append(src)
                bar.update(1)
    else:
        for task in tasks:
            src, why = _prepare_one(task)
            if why:
                skipped.setdefault(why, []).append(src)
            bar.update(1)
    bar.close()
    manifest = {"source": source, "image_roots": sorted(roots), "max_pixels": max_pixels, "n_images": len(tasks),
                "n_skipped": sum(len(v) for v in skipped.values()),
                "skipped": {why: {"count": len(v), "first": v[:5]} for why, v in skipped.items()}}
    atomic_write_json(manifest_path, manifest)
    return manifest
