"""`python -m learnet train`: the command line, from reading the datasets to a LOSO report or an exported model."""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from ..datasets import (LABEL_MAPS, Sample, get_label_map, read_casme2, read_casme_sq, read_manifest, read_samm,
                        read_smic, summarize, validate)
from ..device import DEVICES, resolve_device
from ..dynamic import INPUT_SCALINGS, VARIANTS
from ..face import FACE_MODES
from ..report import ORACLE_WARNING, RUN_FILE, summary_line
from .cache import default_cache_dir
from .loso import run_all_subjects, run_loso
from .recipe import CLASS_WEIGHTS, SCHEDULES, WINDOW_CHOICES, Recipe
from .rundir import loso_folds, parse_shard


def load_samples(args: argparse.Namespace) -> tuple[list[Sample], list[str]]:
    """Read every dataset named on the command line; returns the samples and a description of the sources."""
    samples: list[Sample] = []
    sources: list[str] = []
    for path in args.manifest or []:
        samples += read_manifest(path)
        sources.append(f"manifest {path}")
    for flag, reader in (("casme2", read_casme2), ("samm", read_samm), ("smic", read_smic),
                         ("casme_sq", read_casme_sq)):
        folder = getattr(args, flag)
        if folder:
            samples += reader(folder)
            sources.append(f"{flag} {folder}")
    if not sources:
        raise ValueError("no data given: pass --manifest CSV and/or --casme2/--samm/--smic/--casme-sq FOLDER")
    return samples, sources


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in re.split(r"[,\s]+", text.strip()) if s]
    except ValueError:
        raise ValueError(f"--seeds takes whole numbers separated by commas, got {text!r}") from None
    if not seeds:
        raise ValueError("--seeds is empty")
    return sorted(set(seeds))


def recipe_from_args(args: argparse.Namespace) -> Recipe:
    return Recipe(
        face_mode=args.face_mode, window=args.window, di_variant=args.di_variant,
        input_scaling=args.input_scaling, stabilise=args.stabilise, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, schedule=args.schedule,
        class_weights=args.class_weights, shift=args.shift, scale=args.scale, brightness=args.brightness,
        flip=args.flip, blur=args.blur, recalibrate_bn=not args.no_bn_recalibration, val_subjects=args.val_subjects,
        oracle_epoch=args.oracle_epoch,
    )


def check_run_outputs(out_dir: str | os.PathLike, seeds: Sequence[int], all_subjects: bool,
                      overwrite: bool = False) -> None:
    """Refuse, before any work, what would overwrite a model or mix seeds in one run folder.

    `--all-subjects` trains one model with one seed: it must be a seed of the run's LOSO figures (else the
    folder's run.json would list a seed without folds, and the model card would quote other seeds' figures),
    and an existing `RUN_DIR/model` is replaced only with `overwrite`.
    """
    out_dir = Path(out_dir)
    if not all_subjects:
        return
    if len(seeds) > 1:
        raise ValueError(f"--all-subjects trains one model; give one --seed, not {','.join(map(str, seeds))}")
    run_file = out_dir / RUN_FILE
    if run_file.is_file():
        run_seeds = json.loads(run_file.read_text(encoding="utf-8")).get("seeds", [])
        if run_seeds and seeds[0] not in run_seeds:
            raise ValueError(f"{out_dir} holds a run of seed {', '.join(map(str, run_seeds))}; --all-subjects --seed "
                             f"{seeds[0]} would mix seeds in one run folder: use --seed {run_seeds[0]} or another --out")
    model = out_dir / "model"
    if model.exists() and not overwrite:
        raise ValueError(f"{model} already holds a model; pass --overwrite to replace it, or use another --out")


def _cmd_train(args: argparse.Namespace) -> int:
    echo = lambda msg: print(msg, file=sys.stderr)  # noqa: E731  (stdout keeps the one result line)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = recipe_from_args(args)
    seeds = _parse_seeds(args.seeds)
    shard = parse_shard(args.folds)
    device = resolve_device(args.device)  # before any work: a missing GPU is a one-line error, not a late crash
    if args.all_subjects and shard != (1, 1):
        raise ValueError("--all-subjects trains one model on everyone; it takes no --folds")
    check_run_outputs(args.out, seeds, args.all_subjects, args.overwrite)
    samples, sources = load_samples(args)
    label_map = get_label_map(args.label_map, samples)
    problems = validate(samples, label_map)
    if problems:
        for p in problems[:20]:
            echo(f"  {p}")
        if len(problems) > 20:
            echo(f"  ... and {len(problems) - 20} more")
        if not args.skip_invalid:
            raise ValueError(f"{len(problems)} problem(s) in the data (listed above); fix them or pass "
                             "--skip-invalid to leave those samples out")
        bad = {p.sample for p in problems}
        samples = [s for s in samples if s.id not in bad]
        echo(f"left out {len(bad)} sample(s) with problems")
    samples = label_map.apply(samples)
    if not samples:
        raise ValueError(f"no samples left under label map {label_map.name}")
    echo(f"label map {label_map.name}: " + summarize(samples, label_map).replace("\n", "; "))
    if recipe.oracle_epoch:
        echo(f"WARNING: --oracle-epoch picks each fold's epoch on its test subject: {ORACLE_WARNING}")
    if args.dry_run:
        print(f"dry run: {len(samples)} samples, {len(loso_folds(samples))} LOSO folds, recipe {recipe.digest()}")
        return 0
    cache = args.cache_dir or default_cache_dir()
    if device.type != "cpu":
        echo(f"training on {device}" + ("" if args.no_amp or device.type != "cuda" else " with mixed precision"))
    hardware = {"device": device, "amp": not args.no_amp}
    if args.all_subjects:
        folder = run_all_subjects(samples, label_map, recipe, seeds[0], args.out, cache_dir=cache,
                                  workers=args.workers, sources=sources, push_to_hub=args.push_to_hub, echo=echo,
                                  **hardware)
        print(f"model written to {folder}")
        return 0
    if args.push_to_hub:
        raise ValueError("--push-to-hub needs --all-subjects (LOSO fold models are not published)")
    report = run_loso(samples, label_map, recipe, seeds, args.out, cache_dir=cache, shard=shard,
                      workers=args.workers, sources=sources, echo=echo, **hardware)
    if report is not None:
        print(f"{summary_line(report)} -> {args.out}")
    else:
        print(f"shard {shard[0]}/{shard[1]} finished -> {args.out}")
    return 0


def register_cli(subparsers) -> None:
    """Add the `train` subcommand to `python -m learnet`."""
    d = Recipe()
    p = subparsers.add_parser(
        "train", help="train LEARNet: leak-free LOSO evaluation, or one model on all subjects",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train LEARNet on dynamic images.  By default: leave-one-subject-out (LOSO) with a fixed\n"
                    "epoch budget; per-fold predictions and a report go to --out (resumable).  --all-subjects\n"
                    "then trains one deployable model with the same recipe into RUN_DIR/model, a save_pretrained\n"
                    "folder whose model card quotes the LOSO figures.",
        epilog="examples:\n"
               "  python -m learnet train --manifest synth/manifest.csv --face-mode none --out runs/synth\n"
               "  python -m learnet train --casme2 /data/CASME2/Cropped --face-mode none --label-map casme2_5c "
               "--out runs/casme2\n"
               "  python -m learnet train --casme2 /data/CASME2/Cropped --face-mode none --label-map casme2_5c "
               "--out runs/casme2 --all-subjects",
    )
    _add_data_arguments(p)
    _add_preprocessing_arguments(p, d)
    _add_optimisation_arguments(p, d)
    _add_augmentation_arguments(p, d)
    _add_protocol_arguments(p, d)
    p.set_defaults(func=_cmd_train)


def _add_data_arguments(p: argparse.ArgumentParser) -> None:
    """The options for the data to train on."""
    data = p.add_argument_group("data")
    data.add_argument("--manifest", action="append", metavar="CSV", help="manifest CSV (repeatable)")
    data.add_argument("--casme2", metavar="DIR", help="CASME II release folder (raw or Cropped)")
    data.add_argument("--samm", metavar="DIR", help="SAMM folder")
    data.add_argument("--smic", metavar="DIR", help="SMIC folder (or its HS folder)")
    data.add_argument("--casme-sq", dest="casme_sq", metavar="DIR", help="CAS(ME)^2 folder (with rawpic/)")
    data.add_argument("--label-map", default="auto",
                      help=f"{', '.join(LABEL_MAPS)}, identity, a .json file, or auto (the datasets' usual map; "
                           "identity for manifests) [auto]")
    data.add_argument("--skip-invalid", action="store_true", help="leave out samples validate() finds problems with")


def _add_preprocessing_arguments(p: argparse.ArgumentParser, d: Recipe) -> None:
    """The options for preprocessing (recorded in the model config) and where it runs."""
    pre = p.add_argument_group("preprocessing (recorded in the model config)")
    pre.add_argument("--face-mode", choices=FACE_MODES, default=d.face_mode,
                     help=f"auto: detect and align; none: clips are aligned face crops [{d.face_mode}]")
    pre.add_argument("--window", choices=WINDOW_CHOICES, default=d.window,
                     help=f"frames the dynamic image summarises; dual-phase: both halves, averaged [{d.window}]")
    pre.add_argument("--di-variant", choices=VARIANTS, default=d.di_variant,
                     help=f"bilen (correct) or authors (released-code compat) [{d.di_variant}]")
    pre.add_argument("--input-scaling", choices=INPUT_SCALINGS, default=d.input_scaling,
                     help="minmax: the DI min-max scaled to [0, 1] (the paper's form); signed: DI / max|DI| in "
                          f"[-1, 1], so no motion is 0, the convolutions' padding value [{d.input_scaling}]")
    pre.add_argument("--stabilise", action="store_true",
                     help="remove head motion frame by frame (rigid registration to the onset frame) before "
                          "pooling, so the dynamic image keeps the local, facial motion [off]")
    pre.add_argument("--cache-dir", default=None, help=f"dynamic-image cache [{default_cache_dir()}]")
    pre.add_argument("--workers", type=int, default=1, help="processes computing dynamic images [1]")
    pre.add_argument("--threads", type=int, default=None,
                     help="torch threads for training [torch's default: one per core]; use 1 per job when "
                          "several jobs share a machine")
    pre.add_argument("--device", default="auto", metavar="|".join(DEVICES),
                     help="where to train: auto (CUDA, else Apple MPS, else CPU), cpu, cuda[:N] or mps [auto]")
    pre.add_argument("--no-amp", action="store_true",
                     help="train in float32 on CUDA too (default there: bfloat16/float16 mixed precision)")


def _add_optimisation_arguments(p: argparse.ArgumentParser, d: Recipe) -> None:
    """The options for optimisation and seeds."""
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=int, default=d.epochs, help=f"epoch budget [{d.epochs}]")
    opt.add_argument("--batch-size", type=int, default=d.batch_size, help=f"[{d.batch_size}]")
    opt.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate [{d.lr}]")
    opt.add_argument("--weight-decay", type=float, default=d.weight_decay, help=f"[{d.weight_decay}]")
    opt.add_argument("--schedule", choices=SCHEDULES, default=d.schedule, help=f"[{d.schedule}]")
    opt.add_argument("--class-weights", choices=CLASS_WEIGHTS, default=d.class_weights,
                     help=f"balanced: inverse class frequency in the loss [{d.class_weights}]")
    opt.add_argument("--seeds", "--seed", default="0", help="seed or comma-separated seeds (one LOSO per seed) [0]")
    opt.add_argument("--no-bn-recalibration", action="store_true",
                     help="keep BatchNorm's running statistics as training left them (default: re-estimate them "
                          "on the training DIs after training, which the slow Keras momentum makes necessary)")


def _add_augmentation_arguments(p: argparse.ArgumentParser, d: Recipe) -> None:
    """The options for augmentation."""
    aug = p.add_argument_group("augmentation (on batches, in torch)")
    aug.add_argument("--shift", type=float, default=d.shift, help=f"max shift, fraction of the side [{d.shift}]")
    aug.add_argument("--scale", type=float, default=d.scale, help=f"max zoom in/out [{d.scale}]")
    aug.add_argument("--brightness", type=float, default=d.brightness, help=f"max brightness offset [{d.brightness}]")
    aug.add_argument("--flip", action="store_true", help="random horizontal flips (off: they swap face sides)")
    aug.add_argument("--blur", type=float, default=d.blur,
                     help="max Gaussian blur sigma in px of the dynamic image, drawn per sample: robustness to "
                          f"how the crop was resampled [{d.blur:g}]")


def _add_protocol_arguments(p: argparse.ArgumentParser, d: Recipe) -> None:
    """The options for protocol and output."""
    proto = p.add_argument_group("protocol and output")
    proto.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory (resumable)")
    proto.add_argument("--val-subjects", type=int, default=d.val_subjects, metavar="K",
                       help="choose the epoch on K held-out training subjects per fold (leak-free) [0: fixed budget]")
    proto.add_argument("--oracle-epoch", action="store_true",
                       help="choose the epoch on the test subject, as some papers do: NOT a valid estimate; outputs say so")
    proto.add_argument("--folds", default="1/1", metavar="i/N", help="run shard i of N of the folds (e.g. a SLURM array) [1/1]")
    proto.add_argument("--all-subjects", action="store_true", help="train one model on every subject; writes RUN_DIR/model")
    proto.add_argument("--overwrite", action="store_true", help="with --all-subjects: replace an existing RUN_DIR/model")
    proto.add_argument("--push-to-hub", metavar="ORG/NAME", help="with --all-subjects: upload the model (network)")
    proto.add_argument("--dry-run", action="store_true", help="read and validate the data, print counts, train nothing")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m learnet.train ...` (same as `python -m learnet train ...`)."""
    parser = argparse.ArgumentParser(prog="python -m learnet.train")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
