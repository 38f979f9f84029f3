"""Run directories: the LOSO folds and their shards, `run.json` (what was trained, on what), per-fold files
written atomically, and the checks that let a run resume but never mix two runs."""
from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import __version__
from ..datasets import LabelMap, Sample
from ..report import RUN_FILE
from ..video import natural_key
from .cache import preprocessing_settings
from .loop import FoldResult
from .naming import short_hash, slug
from .recipe import Recipe


def loso_folds(samples: Sequence[Sample]) -> list[str]:
    """One fold per namespaced subject, in natural order."""
    return sorted({s.subject for s in samples}, key=natural_key)


def parse_shard(spec: str) -> tuple[int, int]:
    """`"i/N"` -> (i, N) with 1 <= i <= N."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec or "")
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"--folds takes i/N with 1 <= i <= N (e.g. 2/8), got {spec!r}")
    return int(m.group(1)), int(m.group(2))


def shard_folds(folds: Sequence[str], index: int, count: int) -> list[str]:
    """Folds of shard `index` of `count` (1-based), dealt round-robin so shards get similar sizes."""
    return list(folds[index - 1 :: count])


def data_fingerprint(samples: Sequence[Sample]) -> str:
    """Hash of sample ids, targets and windows: runs on different data never merge."""
    return short_hash([(s.id, s.target, s.onset, s.apex, s.offset) for s in samples])


def fold_path(out_dir: Path, kind: str, seed: int, fold: str, suffix: str) -> Path:
    """`out_dir/<kind>/seed<seed>/<fold slug><suffix>`: one fold's file of one kind (predictions, logs)."""
    return Path(out_dir) / kind / f"seed{seed}" / f"{slug(fold)}{suffix}"


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run_description(samples: Sequence[Sample], label_map: LabelMap, recipe: Recipe, seeds: Sequence[int],
                    sources: Sequence[str] = ()) -> dict:
    """The `run.json` of a run: what was trained, on what, how it is to be read."""
    return {
        "learnet_version": __version__,
        "protocol": "loso",
        "recipe": recipe.to_dict(),
        "recipe_hash": recipe.digest(),
        "label_map": label_map.to_dict(),
        "classes": list(label_map.classes),
        "folds": loso_folds(samples),
        "seeds": sorted(set(seeds)),
        "data_hash": data_fingerprint(samples),
        "n_samples": len(samples),
        "datasets": dict(sorted(Counter(s.dataset for s in samples).items())),
        "class_counts": {c: sum(s.target == c for s in samples) for c in label_map.classes},
        "preprocessing": [preprocessing_settings(recipe, w) for w in recipe.phases],
        "sources": list(sources),
    }


def prepare_run_dir(out_dir: str | os.PathLike, run: dict) -> dict:
    """Create the run directory, or check that an existing one holds the same run (then resume it).

    Seeds may be added to an existing run; anything else that differs is an error.
    """
    out_dir = Path(out_dir)
    path = out_dir / RUN_FILE
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old.get("recipe_hash") != run["recipe_hash"]:
            diff = [f"{k} {old['recipe'].get(k)!r} -> {v!r}" for k, v in run["recipe"].items() if old["recipe"].get(k) != v]
            raise ValueError(f"{out_dir} holds a run with another recipe ({'; '.join(diff) or 'version'}); use a new --out")
        for key, what in (("classes", "classes"), ("data_hash", "data (samples, labels or windows)")):
            if old.get(key) != run[key]:
                raise ValueError(f"{out_dir} holds a run on other {what}; use a new --out")
        seeds = sorted(set(old["seeds"]) | set(run["seeds"]))
        if seeds == old["seeds"]:
            return old
        run = {**old, "seeds": seeds}
    write_atomic(path, json.dumps(run, indent=2) + "\n")
    return run


def prediction_rows(samples: Sequence[Sample], idx: Sequence[int], result: FoldResult, classes: Sequence[str],
                    seed: int) -> str:
    """The predictions CSV of one fold: one row per test sample, with its class probabilities."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["seed", "fold", "sample_id", "dataset", "subject", "label", "prediction", "epoch"] + [f"p:{c}" for c in classes])
    for k, i in enumerate(idx):
        s = samples[i]
        probs = result.probabilities[k]
        w.writerow([seed, s.subject, s.id, s.dataset, s.subject, s.target, classes[int(np.argmax(probs))], result.epoch]
                   + [f"{p:.6f}" for p in probs])
    return buf.getvalue()
