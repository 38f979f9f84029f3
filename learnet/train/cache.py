"""Dynamic images for training: computed through the inference pipeline, cached on disk, held in memory.

Each sample's dynamic image (DI) comes from `learnet.pipeline.preprocess`, the very function inference uses,
and is cached as a lossless PNG keyed by a hash of the preprocessing settings and of the sample; for training
all DIs sit in memory as one uint8 tensor.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from .. import __version__
from ..datasets import DatasetError, Sample
from ..dynamic import DEFAULT_INPUT_SCALING, to_input_uint8
from ..pipeline import preprocess
from ..video import ClipError
from .naming import short_hash, slug
from .progress import no_bar
from .recipe import Recipe


def default_cache_dir() -> Path:
    """`$LEARNET_CACHE`, else `$XDG_CACHE_HOME/learnet` or `~/.cache/learnet`, plus `dynamic-images`."""
    base = os.environ.get("LEARNET_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "learnet"
    return Path(base) / "dynamic-images"


def preprocessing_settings(recipe: Recipe, window: str) -> dict:
    """The settings a cached DI depends on (the toolkit version included: preprocessing code may change)."""
    p = recipe.phase_preprocessing(window)
    # These keys and values name the cache folder: keep them as they are, or every cached DI is recomputed.
    settings = {"face_mode": p.face_mode, "size": p.input_size, "di_variant": p.di_variant,
                "window": p.window, "input_scaling": p.input_scaling, "learnet": __version__}
    if p.stabilise:  # only when on, so caches made before the option existed keep their keys
        settings["stabilise"] = True
    return settings


def cache_path(cache_dir: str | os.PathLike, settings: dict, sample: Sample) -> Path:
    """`<cache>/<settings hash>/<sample id>-<sample hash>.png`; the sample hash covers path and annotation."""
    key = {"id": sample.id, "path": sample.path, "frames": len(sample.frames), "onset": sample.onset,
           "apex": sample.apex, "offset": sample.offset}
    return Path(cache_dir) / short_hash(settings) / f"{slug(sample.id)}-{short_hash(key)[:10]}.png"


def compute_dynamic_image(sample: Sample, settings: dict) -> tuple[np.ndarray, list[str]]:
    """One sample's DI (S, S, 3) uint8 through `learnet.pipeline.preprocess`, and the face warnings."""
    try:
        frames, onset, apex, offset = sample.read_window()
        pre = preprocess(frames, face_mode=settings["face_mode"], size=settings["size"],
                         di_variant=settings["di_variant"], window=settings["window"], onset=onset, apex=apex,
                         offset=offset, stabilise=settings.get("stabilise", False))
    except (ClipError, ValueError) as exc:
        raise DatasetError(f"{sample.id} ({sample.source or sample.path}): {exc}") from exc
    return to_input_uint8(pre.di, settings.get("input_scaling", DEFAULT_INPUT_SCALING)), list(pre.face.warnings)


def _cached_dynamic_image(job: tuple[Sample, dict, Path]) -> tuple[np.ndarray, list[str], bool]:
    sample, settings, path = job
    if path.is_file():
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        size = settings["size"]
        if image is not None and image.shape == (size, size, 3):
            return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), [], True
    di, warnings = compute_dynamic_image(sample, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.png")
    cv2.imwrite(str(tmp), cv2.cvtColor(di, cv2.COLOR_RGB2BGR))  # PNG: lossless, so cached == computed
    os.replace(tmp, path)  # atomic: parallel shards never read half a file
    return di, warnings, False


def load_dynamic_images(
    samples: Sequence[Sample],
    recipe: Recipe,
    cache_dir: str | os.PathLike | None = None,
    *,
    workers: int = 1,
    progress: bool | None = None,
) -> tuple[torch.Tensor, dict]:
    """All DIs as one uint8 tensor (P, N, 3, S, S) (P = 1, or 2 for dual-phase), computing missing ones.

    Returns the tensor and stats: {"computed", "cached", "face_warnings": {message: count}, "cache_dir"}.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    size = recipe.input_size
    out = torch.empty((len(recipe.phases), len(samples), 3, size, size), dtype=torch.uint8)
    stats = {"computed": 0, "cached": 0, "face_warnings": Counter(), "cache_dir": str(cache_dir)}
    for p, window in enumerate(recipe.phases):
        settings = preprocessing_settings(recipe, window)
        folder = cache_dir / short_hash(settings)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "settings.json").write_text(json.dumps(settings, indent=2))
        jobs = [(s, settings, cache_path(cache_dir, settings, s)) for s in samples]
        desc = f"dynamic images ({window})"
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                results = pool.map(_cached_dynamic_image, jobs, chunksize=4)
                results = list(tqdm(results, total=len(jobs), desc=desc, disable=no_bar(progress)))
        else:
            results = [_cached_dynamic_image(j) for j in tqdm(jobs, desc=desc, disable=no_bar(progress))]
        for i, (di, warnings, hit) in enumerate(results):
            out[p, i] = torch.from_numpy(np.ascontiguousarray(di.transpose(2, 0, 1)))
            stats["cached" if hit else "computed"] += 1
            stats["face_warnings"].update(w.split(";")[0] for w in warnings)
    stats["face_warnings"] = dict(stats["face_warnings"])
    return out, stats



def echo_di_stats(stats: dict, echo: Callable[[str], None]) -> None:
    """Say how many DIs were computed and read from the cache, and each face warning with its count."""
    echo(f"dynamic images: {stats['computed']} computed, {stats['cached']} from the cache ({stats['cache_dir']})")
    for message, count in stats["face_warnings"].items():
        echo(f"warning: {count} sample(s): {message}")
