"""The protocols: leave-one-subject-out (LOSO) over a run directory, sharded and resumable, and the training
of one deployable model on every subject, whose model card quotes the LOSO figures."""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .. import __version__
from ..datasets import LabelMap, Sample
from ..device import to_device
from ..hub import save_model
from ..report import ORACLE_WARNING, PREDICTIONS_DIR, build_report, merge_runs, write_report
from .cache import echo_di_stats, load_dynamic_images
from .card import model_card_text
from .loop import fold_seed, run_fold, train_model
from .progress import no_bar
from .recipe import Recipe
from .rundir import fold_path, prediction_rows, prepare_run_dir, run_description, shard_folds, write_atomic


def run_loso(
    samples: Sequence[Sample],
    label_map: LabelMap,
    recipe: Recipe,
    seeds: Sequence[int],
    out_dir: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike | None = None,
    shard: tuple[int, int] = (1, 1),
    workers: int = 1,
    sources: Sequence[str] = (),
    progress: bool | None = None,
    echo: Callable[[str], None] = print,
    device: torch.device | str = "cpu",
    amp: bool = True,
) -> dict | None:
    """Run (this shard of) LOSO for every seed into `out_dir`; skip folds already done.

    The dynamic images go to `device` once for all folds; `amp` is mixed precision on CUDA (`train_model`).

    `samples` must carry targets (`label_map.apply`).  Returns the report once every fold of every seed in
    the directory is done, else None (merge shards with `learnet.report`).
    """
    samples = list(samples)
    if any(s.target is None for s in samples):
        raise ValueError("samples need targets: apply a label map first")
    classes = list(label_map.classes)
    run = prepare_run_dir(out_dir, run_description(samples, label_map, recipe, seeds, sources))
    folds = run["folds"]
    if len(folds) < 2:
        raise ValueError(f"LOSO needs at least 2 subjects; the data has {len(folds)}")
    mine = shard_folds(folds, *shard)
    todo = [(seed, f) for seed in seeds for f in mine if not fold_path(out_dir, PREDICTIONS_DIR, seed, f, ".csv").exists()]
    done = len(seeds) * len(mine) - len(todo)
    if done:
        echo(f"resuming: {done} of {len(seeds) * len(mine)} folds already done in {out_dir}")
    if todo:
        dis, stats = load_dynamic_images(samples, recipe, cache_dir, workers=workers, progress=progress)
        echo_di_stats(stats, echo)
        dis = to_device(dis, torch.device(device))
        targets = torch.tensor([classes.index(s.target) for s in samples])
        subjects = [s.subject for s in samples]
        for seed, fold in tqdm(todo, desc="LOSO folds", disable=no_bar(progress)):
            result = run_fold(dis, targets, subjects, fold, recipe, classes, seed, progress=progress,
                              device=device, amp=amp)
            idx = [i for i, s in enumerate(subjects) if s == fold]
            log = {"seed": seed, "fold": fold, "epoch": result.epoch, "seconds": round(result.seconds, 2),
                   "n_train": len(samples) - len(idx), "n_test": len(idx), "val_subjects": result.val_subjects,
                   "epochs": result.log}
            if recipe.oracle_epoch:
                log["validity"] = ORACLE_WARNING
            write_atomic(fold_path(out_dir, "logs", seed, fold, ".json"), json.dumps(log, indent=1) + "\n")
            write_atomic(fold_path(out_dir, PREDICTIONS_DIR, seed, fold, ".csv"),
                          prediction_rows(samples, idx, result, classes, seed))
            right = sum(classes[int(np.argmax(p))] == samples[i].target for p, i in zip(result.probabilities, idx))
            tqdm.write(f"seed {seed} {fold}: {right}/{len(idx)} right (epoch {result.epoch}, {result.seconds:.1f} s)",
                       file=sys.stderr)
    merged = merge_runs([out_dir])
    if not merged.complete:
        left = sum(map(len, merged.missing.values()))
        echo(f"shard {shard[0]}/{shard[1]} done; {left} fold(s) of this run remain; merge with "
             f"`python -m learnet report {out_dir} ...` when all shards are done")
        return None
    report = build_report(merged)
    write_report(report, out_dir, overwrite=True)  # a run folder's own report, refreshed as folds finish
    return report



def run_all_subjects(
    samples: Sequence[Sample],
    label_map: LabelMap,
    recipe: Recipe,
    seed: int,
    out_dir: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike | None = None,
    workers: int = 1,
    sources: Sequence[str] = (),
    push_to_hub: str | None = None,
    progress: bool | None = None,
    echo: Callable[[str], None] = print,
    device: torch.device | str = "cpu",
    amp: bool = True,
) -> Path:
    """Train one model on every subject and write a `save_pretrained` folder `out_dir/model`.

    The model card quotes the LOSO figures found in `out_dir` for the same recipe and data (if any).  With
    a validation recipe, the epoch budget is the median epoch the LOSO folds chose.  `push_to_hub` (a repo id)
    uploads the folder; nothing touches the network otherwise.
    """
    if recipe.window == "dual-phase":
        raise ValueError("a dual-phase model needs two dynamic images per clip, which learnet.pipeline does not "
                         "compute; export with --window onset-offset, onset-apex or apex-offset")
    samples = list(samples)
    classes = list(label_map.classes)
    run = prepare_run_dir(out_dir, run_description(samples, label_map, recipe, [seed], sources))
    merged = merge_runs([out_dir])
    loso = build_report(merged) if merged.rows else None
    epochs = recipe.epochs
    if recipe.val_subjects:
        chosen = [json.loads(p.read_text())["epoch"] for p in sorted((Path(out_dir) / "logs").glob("seed*/*.json"))]
        if chosen:
            epochs = int(np.median(chosen))
            echo(f"training for {epochs} epochs, the median epoch chosen on validation subjects in the LOSO folds")
    card = model_card_text(run, recipe, seed, epochs, loso)
    metadata = {
        "model_card": card,
        "training": {"recipe": recipe.to_dict(), "epochs": epochs, "seed": seed, "label_map": label_map.name,
                     "datasets": run["datasets"], "class_counts": run["class_counts"], "n_samples": len(samples),
                     "subjects": len(run["folds"]), "learnet_version": __version__},
        "loso": None if loso is None else {"overall": loso["overall"], "validity": loso["validity"],
                                           "notes": loso["notes"], "n_folds": loso["n_folds"]},
    }
    dis, stats = load_dynamic_images(samples, recipe, cache_dir, workers=workers, progress=progress)
    echo_di_stats(stats, echo)
    targets = torch.tensor([classes.index(s.target) for s in samples])
    model = train_model(dis, targets, range(len(samples)), recipe, classes, fold_seed(seed, "all-subjects"),
                        epochs=epochs, metadata=metadata, progress=progress, desc="all subjects",
                        device=device, amp=amp).cpu()  # saved from the CPU: the same files from any device
    folder = save_model(model, Path(out_dir) / "model")
    echo(f"wrote {folder} ({', '.join(classes)}; {len(samples)} samples)")
    if push_to_hub:
        url = model.push_to_hub(push_to_hub, commit_message=f"LEARNet trained on {label_map.name} with learnet {__version__}")
        echo(f"pushed to {url}")
    return folder
