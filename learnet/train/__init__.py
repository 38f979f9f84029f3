"""Training LEARNet on dynamic images: leak-free LOSO, sharded runs, and one deployable model.

Protocol.  Leave-one-subject-out (LOSO): one fold per (namespaced) subject; the fold's model never sees its
test subject.  The epoch whose weights are scored is fixed in advance (the epoch budget) or chosen on held-out
*training* subjects (``val_subjects``); both are leak-free.  ``oracle_epoch`` picks, per fold, the epoch that
scored best on the test subject itself, as many published MER results do: it exists to reproduce such
numbers and every output of such a run says "not a valid estimate".

Data.  Each sample's dynamic image (DI) is computed by `learnet.pipeline.preprocess`, the very function
inference uses, from the annotated window, and cached on disk as a PNG keyed by a hash of the preprocessing
settings and of the sample (id, path, onset/apex/offset).  For training all DIs sit in memory as one uint8
tensor; augmentation (small shifts and scales, brightness, optional flips) runs in torch on whole batches, so
feeding the network costs little next to the network itself (see bench/bench_train.py).

Run directory (``--out``; resumable: finished folds are skipped)::

    run.json                          recipe, label map, classes, folds, seeds, data fingerprint
    predictions/seed<S>/<fold>.csv    per-fold predictions (read by learnet.report)
    logs/seed<S>/<fold>.json          per-epoch loss (and validation / oracle scores)
    report.json, report.csv, ...      written once every fold of every seed is done (learnet.report)
    model/                            --all-subjects: save_pretrained folder with config and model card

Modules: `recipe` (the Recipe and its checks), `cache` (dynamic images computed and cached), `augment`
(batch augmentation), `loop` (one fold's training, BatchNorm recalibration, epoch choice), `rundir` (run
directories, folds and shards), `loso` (the LOSO protocol and the all-subjects model), `card` (its model card),
`cli` (`python -m learnet train`); `naming` and `progress` hold small helpers.
"""
from __future__ import annotations

from .augment import augment_batch, blur_batch
from .cache import (cache_path, compute_dynamic_image, default_cache_dir, load_dynamic_images,
                    preprocessing_settings)
from .card import model_card_text
from .cli import check_run_outputs, load_samples, main, recipe_from_args, register_cli
from .loop import (FoldResult, class_weights, fold_seed, make_model, predict_proba, recalibrate_batchnorm, run_fold,
                   train_model)
from .loso import run_all_subjects, run_loso
from .recipe import CLASS_WEIGHTS, DUAL_PHASE, SCHEDULES, WINDOW_CHOICES, Recipe
from .rundir import data_fingerprint, fold_path, loso_folds, parse_shard, prepare_run_dir, run_description, shard_folds

__all__ = [
    "CLASS_WEIGHTS", "DUAL_PHASE", "SCHEDULES", "WINDOW_CHOICES", "Recipe",
    "cache_path", "compute_dynamic_image", "default_cache_dir", "load_dynamic_images", "preprocessing_settings",
    "augment_batch", "blur_batch",
    "FoldResult", "class_weights", "fold_seed", "make_model", "predict_proba", "recalibrate_batchnorm", "run_fold",
    "train_model",
    "data_fingerprint", "fold_path", "loso_folds", "parse_shard", "prepare_run_dir", "run_description", "shard_folds",
    "model_card_text", "run_all_subjects", "run_loso",
    "check_run_outputs", "load_samples", "main", "recipe_from_args", "register_cli",
]
