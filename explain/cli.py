"""Command line: `python -m explain figure ...` and `python -m explain dataset ...`.

figure:  clips -> prediction -> attribution maps -> one grid figure (PDF/SVG/PNG), a sidecar JSON with every
         parameter, the model source and revision and the library versions, and the region table (CSV/LaTeX).
dataset: a manifest -> class-mean Grad-CAM maps per accretion layer over correctly classified samples, the
         region table per class and layer, a figure, and (with ground-truth masks) energy-in-mask and
         pointing-game scores next to a random-map baseline.  Per-sample results are cached, so an
         interrupted run resumes where it stopped.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from learnet.device import resolve_device
from learnet.model import ACCRETION_LAYERS, LEARNet

from .base import LAYERS, METHODS, AttributionMap, ExplainError, get_layer, resolve_class
from .bundle import (  # noqa: F401  (MethodSpec, parse_method_spec and run_methods were defined here)
    FaithfulnessCheck, MethodSpec, explanation_bundle, map_name, parse_method_spec, run_methods,
)
from . import au_regions, temporal
from .overlay import SCALES

EXIT_USAGE = 2
DEVICE_HELP = "where the network runs: auto (CUDA, else Apple MPS, else CPU), cpu, cuda[:N] or mps [auto]"


def parse_shard(spec: str) -> tuple[int, int]:
    """`"i/N"` -> (i, N) with 1 <= i <= N (`--shard`)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec or "")
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ExplainError(f"--shard takes i/N with 1 <= i <= N (e.g. 2/8), got {spec!r}")
    return int(m.group(1)), int(m.group(2))


def versions() -> dict[str, str]:
    """Library versions for sidecar files."""
    import captum
    import matplotlib
    import torch

    import learnet

    return {"python": platform.python_version(), "learnet": learnet.__version__, "torch": torch.__version__,
            "captum": captum.__version__, "matplotlib": matplotlib.__version__, "numpy": np.__version__}


def _model_info(model: LEARNet) -> dict[str, Any]:
    from learnet.model import describe

    return {"source": getattr(model, "source", None), "revision": getattr(model, "revision", None), **describe(model)}


# --------------------------------------------------------------------------------------------------------
# figure


def cmd_figure(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from learnet.hub import load_model
    from learnet.pipeline import Pipeline

    from .figure import attribution_figure, column_width

    specs = [parse_method_spec(m) for m in args.methods]
    outs = [Path(o) for o in (args.out or ["explain.pdf"])]
    for out in outs:
        if out.suffix.lower() not in (".pdf", ".svg", ".png"):
            raise ExplainError(f"--out {out}: use a .pdf, .svg or .png name")
    missing = [str(c) for c in args.clips if not Path(c).exists()]
    if missing:  # before loading the model: a typo should fail at once
        raise ExplainError(f"the clip {missing[0]} does not exist")
    frame_outs = temporal.frame_figure_paths(outs, temporal.options_from_args(args))
    check_figure_outputs(outs + frame_outs, args.overwrite)
    column_width(args.width)  # a bad --width fails before the model is loaded
    model = load_model(args.model).to(resolve_device(args.device))
    for cls in (args.target, args.contrast):
        if cls is not None:
            resolve_class(model, cls)  # fail before decoding anything
    pipeline = Pipeline(model, face_mode=args.face_mode)
    rows, records, named_maps = [], [], {}
    for path in tqdm(args.clips, desc="explain", unit="clip", file=sys.stderr, disable=len(args.clips) < 2):
        row, record, maps = figure_row(model, pipeline, path, specs, args)
        rows.append(row)
        records.append(record)
        named_maps.update({f"{Path(path).name} | {m.title}": m for m in maps})
    fig = attribution_figure(rows, scale=args.scale, background=args.background, percentile=args.percentile,
                             width=args.width, letters=args.letters)
    sidecar = {
        "command": "figure", "clips": [str(c) for c in args.clips], "methods": [s.label() for s in specs],
        "target": args.target, "contrast": args.contrast, "scale": args.scale, "background": args.background,
        "percentile": args.percentile, "dpi": args.dpi, "width": args.width,
        "width_in": round(float(fig.get_figwidth()), 3), "letters": args.letters, "face_mode": pipeline.face_mode,
        "phases": {"onset": args.onset, "apex": args.apex, "offset": args.offset},
        "model": _model_info(model), "versions": versions(), "outputs": [str(o) for o in outs],
        **({"frames": args.frames, "frame_outputs": [str(o) for o in frame_outs]} if frame_outs else {}),
        "rows": records,
    }
    write_figure_outputs(fig, outs, named_maps, sidecar, args.dpi)
    if frame_outs:
        temporal.write_frame_figures(records, frame_outs, width=args.width, dpi=args.dpi)
    side, _, _ = figure_side_files(outs)
    print(f"wrote {', '.join(map(str, outs))} ({len(rows)} clip(s) x {len(rows[0].maps)} map(s)), {side.name}, "
          f"{side.with_suffix('').name}_regions.csv/.tex")
    return 0


def figure_row(model: LEARNet, pipeline, path: str, specs: list[MethodSpec], args: argparse.Namespace):
    """One clip of `explain figure`: its figure row, its sidecar record and its maps (faithfulness printed)."""
    from learnet.video import read_clip

    from .figure import FigureRow

    clip = read_clip(path, fps=args.fps)
    pred = pipeline.predict(clip, onset=args.onset, apex=args.apex, offset=args.offset)
    x = pipeline.input_tensor(pred.preprocessed)
    level = pipeline.no_motion_level(pred.preprocessed)
    # Curves use the map's own target class; the baseline is this clip's no-motion level.  They run on the CPU
    # (a few hundred small forward passes; the maps are numpy arrays there already).
    check = FaithfulnessCheck(shared_batches=False, on_cpu=True) if args.faithfulness else None
    bundle = explanation_bundle(model, x, specs, target=args.target, contrast=args.contrast, level=level,
                                faithfulness=check)
    maps = bundle.maps
    name = Path(path).name
    faithfulness = {m.title: bundle.faithfulness[map_name(m)] for m in maps} if check else {}
    for title, aucs in faithfulness.items():
        if aucs["deletion_auc"] is None:  # a flat map ranks no pixel: nothing to score
            print(f"{name} {title}: {aucs['note']}")
            continue
        print(f"{name} {title}: deletion AUC {aucs['deletion_auc']:.3f}, insertion AUC {aucs['insertion_auc']:.3f}")
    target_label = maps[0].target_label if maps else pred.label
    label = f"{name}\n{pred.label} {pred.probabilities[pred.label]:.2f}"
    if target_label != pred.label:
        label += f"\nexplained: {target_label}"
    summary = pred.to_dict()
    summary.pop("timings_s", None)  # timings differ run to run; the sidecar must not
    shares = bundle.table.as_dict()
    record = {"clip": str(path), "prediction": summary, "no_motion_level": level,
              "maps": [m.metadata() for m in maps], "regions": {m.title: shares[map_name(m)] for m in maps},
              **({"faithfulness": faithfulness} if faithfulness else {})}
    if getattr(args, "frames", None):
        record["frames"] = temporal.frame_record(model, pipeline, pred.preprocessed, args.frames, target=args.target,
                                                 contrast=args.contrast, fps=clip.fps)[1]
    return FigureRow(label, pred.preprocessed.di_uint8, maps, apex=pred.keyframes["apex"]), record, maps


def write_figure_outputs(fig, outs: list[Path], named_maps: dict[str, AttributionMap], sidecar: dict,
                         dpi: int) -> None:
    """The figure in every format asked for, the region table (CSV, LaTeX) and the sidecar JSON."""
    from .figure import save_figure
    from .regions import region_table

    for out in outs:
        save_figure(fig, out, dpi=dpi)
    side, csv_path, tex_path = figure_side_files(outs)
    table = region_table(named_maps)
    table.to_csv(csv_path)
    table.to_latex(tex_path)
    side.write_text(json.dumps(sidecar, indent=2, default=_json_default) + "\n", encoding="utf-8")


def figure_side_files(outs: list[Path]) -> tuple[Path, Path, Path]:
    """The sidecar JSON and the region table (CSV, LaTeX) written next to the first figure file."""
    stem = outs[0].with_suffix("")
    return (stem.with_suffix(".json"), stem.with_name(stem.name + "_regions.csv"),
            stem.with_name(stem.name + "_regions.tex"))


def _is_figure_sidecar(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("command") == "figure" and "outputs" in data


def check_figure_outputs(outs: list[Path], overwrite: bool) -> None:
    """Refuse, before any work, to replace an existing figure without `overwrite`, or side files that an
    earlier `explain figure` did not write (a `report.json` beside `--out report.pdf` may be a training run's).
    """
    side, csv_path, tex_path = figure_side_files(outs)
    ours = _is_figure_sidecar(side)
    for path in (side, csv_path, tex_path):
        if path.exists() and not ours:
            raise ExplainError(f"{path} exists and was not written by `explain figure`; choose another --out name")
    existing = [p for p in (*outs, side, csv_path, tex_path) if p.exists()]
    if existing and not overwrite:
        raise ExplainError(f"{existing[0]} exists; pass --overwrite to replace it (and its .json, _regions.csv "
                           "and _regions.tex), or choose another --out")


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


# --------------------------------------------------------------------------------------------------------
# dataset


def _cache_name(sample_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", sample_id).strip("_")
    return f"{safe[:80]}-{hashlib.sha1(sample_id.encode()).hexdigest()[:8]}.npz"


def explain_sample(model: LEARNet, pipeline, sample, layers: tuple[str, ...], size: int,
                   mask_base: Path | None, over_time: temporal.TemporalOptions | None = None) -> dict[str, np.ndarray]:
    """One manifest sample -> the arrays cached for it (prediction; Grad-CAM maps if correctly classified)."""
    from learnet.video import Clip

    from .faithfulness import energy_in_mask, equal_weight_mean, pointing_game

    frames, onset, apex, offset = sample.read_window()
    pred = pipeline.predict(Clip(frames, sample.fps or 200.0, sample.id), onset=onset, apex=apex, offset=offset)
    truth = sample.target or sample.label
    names = list(model.class_names)
    out: dict[str, np.ndarray] = {
        "label": np.array(truth), "predicted": np.array(pred.label),
        "probability": np.array(pred.probabilities[pred.label]),
        "correct": np.array(pred.label == truth),
    }
    if over_time:  # frame shares and key-frame stability: for every sample, right or wrong
        out.update(temporal.sample_arrays(model, pipeline, sample, pred, over_time))
    if pred.label != truth or truth not in names:
        return out
    x = pipeline.input_tensor(pred.preprocessed)
    bundle = explanation_bundle(model, x, [MethodSpec("gradcam", layers, {})], target=truth,
                                level=pipeline.no_motion_level(pred.preprocessed))
    stack = np.stack([m.values for m in bundle.maps])  # one map per layer, in the order of `layers`
    out.update(maps=stack, di=pred.preprocessed.di_uint8,
               apex=pred.preprocessed.aligned[pred.preprocessed.apex - pred.preprocessed.onset])
    rel = (sample.extra or {}).get("mask", "")
    if rel and mask_base is not None:
        path = Path(rel) if Path(rel).is_absolute() else mask_base / rel
        if not path.is_file():
            raise ExplainError(f"{sample.id}: the ground-truth mask {path} does not exist")
        mask = _read_mask(path, size)
        al_mean = equal_weight_mean(stack)  # the "mean of AL maps", each layer counting alike
        out["mask"] = mask
        out["energy"] = np.array([energy_in_mask(v, mask) for v in stack] + [energy_in_mask(al_mean, mask)])
        out["pointing"] = np.array([pointing_game(v, mask) for v in stack] + [pointing_game(al_mean, mask)])
    out.update(au_regions.sample_scores(sample.aus, stack, out.get("mask")))  # the annotated AUs' regions
    return out


def _read_mask(path: Path, size: int) -> np.ndarray:
    import cv2

    from learnet.video import read_image

    img = read_image(path)
    grey = img[..., 0] if img.ndim == 3 else img
    return cv2.resize((grey > 127).astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST).astype(bool)


def cmd_dataset(args: argparse.Namespace) -> int:
    from learnet.datasets import read_manifest
    from learnet.hub import load_model
    from learnet.pipeline import Pipeline

    layers = tuple(dict.fromkeys(layer.strip().lower() for layer in args.layers.split(",") if layer.strip()))
    for layer in layers:
        if layer not in LAYERS:
            raise ExplainError(f"unknown layer {layer!r} in --layers; valid layers: {', '.join(LAYERS)}")
    if not layers:
        raise ExplainError("--layers needs at least one layer")
    samples = read_manifest(args.manifest)
    if args.limit:
        samples = samples[: args.limit]
    if not samples:
        raise ExplainError(f"the manifest {args.manifest} lists no samples")
    shard, shards = parse_shard(args.shard)
    model = load_model(args.model).to(resolve_device(args.device))
    for layer in layers:
        get_layer(model, layer)
    pipeline = Pipeline(model, face_mode=args.face_mode)
    out = Path(args.out)
    cache = out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    run = {"manifest": str(Path(args.manifest).resolve()), "model": getattr(model, "source", None),
           "revision": getattr(model, "revision", None), "layers": list(layers), "face_mode": pipeline.face_mode}
    over_time = temporal.options_from_args(args)
    run.update(over_time.run_info())  # only when asked: a plain run's run.json is unchanged
    claim_run_folder(out, run)
    mine = samples[shard - 1 :: shards]
    results, done, failed, skipped = explain_samples(model, pipeline, mine, layers, cache,
                                                     Path(args.manifest).resolve().parent, over_time)
    for line in skipped:
        print(f"warning: skipped {line}", file=sys.stderr)
    if shards > 1:  # the summary needs every sample: one run without --shard merges the shards' caches
        print(f"shard {shard}/{shards}: {len(results) - done} sample(s) processed, {done} from cache, "
              f"{len(skipped)} skipped -> {cache}; merge with the same command without --shard")
        return 1 if failed and failed == len(mine) else 0
    write_dataset_outputs(model, results, layers, args, {"run": run, "samples": len(samples), "skipped": skipped,
                                                         "from_cache": done})
    return 1 if failed and failed == len(samples) else 0


def claim_run_folder(out: Path, run: dict) -> None:
    """Write `out/run.json`, or refuse when `out` holds results of another run (its cache would be mixed in)."""
    run_file = out / "run.json"
    if run_file.is_file() and json.loads(run_file.read_text()) != run:
        raise ExplainError(f"{out} holds results of another run (model, manifest, layers or face mode differ); "
                           "use another --out, or delete its cache folder")
    tmp = run_file.with_name(f".run.{os.getpid()}.json")  # shards started together write it at once
    tmp.write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    tmp.replace(run_file)


def explain_samples(model: LEARNet, pipeline, samples: list, layers: tuple[str, ...], cache: Path,
                    mask_base: Path, over_time: temporal.TemporalOptions | None = None,
                    ) -> tuple[list[dict[str, np.ndarray]], int, int, list[str]]:
    """Every sample's cached arrays, made (`explain_sample`) and cached for those not in `cache` yet.

    Returns (results, how many came from the cache, how many failed, one line per skipped sample)."""
    from tqdm import tqdm

    done = failed = 0
    skipped: list[str] = []
    results: list[dict[str, np.ndarray]] = []
    for sample in tqdm(samples, desc="explain dataset", unit="clip", file=sys.stderr):
        file = cache / _cache_name(sample.id)
        if file.is_file():
            with np.load(file) as z:
                results.append({k: z[k] for k in z.files})
            done += 1
            continue
        if sample.issues:
            skipped.append(f"{sample.id}: {sample.issues[0]}")
            continue
        try:
            res = explain_sample(model, pipeline, sample, layers, model.input_size, mask_base, over_time)
        except (ValueError, OSError) as exc:  # one bad clip must not stop a long run
            failed += 1
            skipped.append(f"{sample.id}: {exc}")
            continue
        tmp = file.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **res)
        tmp.replace(file)  # atomic: an interrupted write never leaves a half file to resume from
        results.append(res)
    return results, done, failed, skipped


def write_dataset_outputs(model: LEARNet, results: list[dict[str, np.ndarray]], layers: tuple[str, ...],
                          args: argparse.Namespace, run_info: dict) -> None:
    """Class means (npz), the region table (CSV, LaTeX), the figures, the ground-truth scores and summary.json."""
    from .faithfulness import random_map_baseline
    from .figure import FigureRow, attribution_figure, region_bar_chart, save_figure
    from .regions import region_table

    out = Path(args.out)
    summary = summarize_dataset(model, results, layers)
    classes = summary["classes"]
    if not classes:
        raise ExplainError("no sample was classified correctly, so there are no class-mean maps to show")
    np.savez_compressed(out / "class_means.npz", **{f"{c}/{layer}": summary["means"][c][i]
                                                      for c in classes for i, layer in enumerate(layers)})
    maps = {f"{c} {layer}": _mean_map(model, c, layer, summary["means"][c][i], summary["counts"][c])
            for c in classes for i, layer in enumerate(layers)}
    table = region_table(maps)
    table.to_csv(out / "regions.csv")
    table.to_latex(out / "regions.tex")
    rows = [FigureRow(f"{c}\nn = {summary['counts'][c]}", summary["di"][c],
                      [maps[f"{c} {layer}"] for layer in layers], apex=summary["apex"][c]) for c in classes]
    fig = attribution_figure(rows, scale=args.scale)
    for suffix in args.formats:
        save_figure(fig, out / f"class_means.{suffix}", dpi=args.dpi)
    al_means = {c: _mean_map(model, c, None, summary["means"][c].mean(axis=0), summary["counts"][c])
                for c in classes}
    bars = region_bar_chart(region_table(al_means), title=f"mean of {', '.join(layers)} Grad-CAM per class")
    for suffix in args.formats:
        save_figure(bars, out / f"regions.{suffix}", dpi=args.dpi)
    report = {"run": run_info["run"], "samples": run_info["samples"], "explained": summary["n_correct"],
              "misclassified": summary["n_wrong"], "skipped": run_info["skipped"], "from_cache": run_info["from_cache"],
              "counts": summary["counts"], "regions": table.as_dict(), "versions": versions()}
    gt = ground_truth_table(results, layers, random_map_baseline)
    if gt:
        report["ground_truth"] = gt
        lines = ["map,energy_in_mask,pointing_game,n"] + [
            f"{k},{v['energy']:.4f},{v['pointing']:.4f},{v['n']}" for k, v in gt.items()]
        (out / "ground_truth.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    over_time = temporal.dataset_tables(results, list(model.class_names))
    report.update(over_time)
    for name, text in temporal.tables_csv(over_time).items():
        (out / name).write_text(text, encoding="utf-8")
    au = au_regions.dataset_tables(results, layers)
    report.update(au)
    for name, text in au_regions.tables_csv(au).items():
        (out / name).write_text(text, encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(report, indent=2, default=_json_default) + "\n", encoding="utf-8")
    print(f"explained {summary['n_correct']} correctly classified of {run_info['samples']} samples "
          f"({summary['n_wrong']} misclassified, {len(run_info['skipped'])} skipped, {run_info['from_cache']} from "
          f"cache) -> {out}")
    for k, v in gt.items():
        print(f"  {k:>12}: energy in mask {v['energy']:.1%}, pointing game {v['pointing']:.1%} (n={v['n']})")
    for line in au_regions.summary_lines(au):
        print(line)
    for k, v in over_time.get("stability", {}).items():
        print(f"  {k:>12}: key frames jittered: flip rate {v['flip_rate']} over {v['tried']} tries, mean Grad-CAM "
              f"rank correlation {v['mean_similarity']}")


def _mean_map(model: LEARNet, cls: str, layer: str | None, values: np.ndarray, n: int) -> AttributionMap:
    return AttributionMap(values, "gradcam", layer, resolve_class(model, cls), cls,
                          params={"aggregate": "mean of sum-normalised maps", "n": int(n)})


def summarize_dataset(model: LEARNet, results: list[dict[str, np.ndarray]], layers: tuple[str, ...]) -> dict:
    """Class means of sum-normalised maps (each sample weighs the same), mean DI and apex frame per class."""
    sums: dict[str, np.ndarray] = {}
    di: dict[str, np.ndarray] = {}
    apex: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    n_wrong = 0
    for r in results:
        if "maps" not in r:
            n_wrong += 1
            continue
        c = str(r["label"])
        maps = r["maps"].astype(np.float64)
        totals = maps.reshape(len(layers), -1).sum(axis=1)
        normalised = np.where(totals[:, None, None] > 0, maps / np.maximum(totals, 1e-30)[:, None, None], 0.0)
        sums[c] = sums.get(c, 0) + normalised
        di[c] = di.get(c, 0) + r["di"].astype(np.float64)
        apex[c] = apex.get(c, 0) + r["apex"].astype(np.float64)
        counts[c] = counts.get(c, 0) + 1
    classes = [c for c in model.class_names if c in counts]  # model order, not arrival order
    return {
        "classes": classes, "counts": {c: counts[c] for c in classes},
        "means": {c: (sums[c] / counts[c]).astype(np.float32) for c in classes},
        "di": {c: np.round(di[c] / counts[c]).astype(np.uint8) for c in classes},
        "apex": {c: np.round(apex[c] / counts[c]).astype(np.uint8) for c in classes},
        "n_correct": sum(counts.values()), "n_wrong": n_wrong,
    }


def ground_truth_table(results: list[dict[str, np.ndarray]], layers: tuple[str, ...], random_baseline) -> dict:
    """Energy-in-mask and pointing-game rate per layer, for the AL mean, and for random maps on the same masks."""
    scored = [r for r in results if "energy" in r]
    if not scored:
        return {}
    names = list(layers) + ["mean of maps"]
    energy = np.stack([r["energy"] for r in scored])
    pointing = np.stack([r["pointing"] for r in scored]).astype(np.float64)
    table = {name: {"energy": float(energy[:, i].mean()), "pointing": float(pointing[:, i].mean()), "n": len(scored)}
             for i, name in enumerate(names)}
    chance = random_baseline([r["mask"] for r in scored], n_maps=20, seed=0)
    table["random map"] = {"energy": chance.energy, "pointing": chance.pointing, "n": chance.n}
    return table


# --------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    methods = ", ".join(METHODS)
    parser = argparse.ArgumentParser(
        prog="python -m explain",
        description="Which facial regions do LEARNet's accretion layers respond to? Attribution maps "
                    "(Captum), region tables and paper figures.",
        epilog="Examples:\n  python -m explain figure clip.mp4 --methods gradcam:al1,al2,al3,al4 ig --out fig.pdf\n"
               "  python -m explain dataset data/synth/manifest.csv --out explain-synth",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_figure_command(sub, methods)
    _add_dataset_command(sub)
    from .sanity import add_parser as add_sanity_command

    add_sanity_command(sub)
    return parser


def _add_figure_command(sub, methods: str) -> None:
    p = sub.add_parser(
        "figure", help="grid figure of attribution maps for one or more clips",
        description="Rows = clips; columns = apex frame, dynamic image, one per map. Writes the figure, a sidecar "
                    "JSON (parameters, model, versions) and the region table (CSV and LaTeX).",
        epilog=f"Methods: {methods}. METHOD[:ARG,...]: layer methods take layers ({', '.join(LAYERS)}), others "
               "key=value parameters, e.g. gradcam:al1,al2,al3,al4  guided:head  ig:steps=64  "
               "smoothgrad:samples=50,stdev=0.1  occlusion:window=14,stride=7",
    )
    p.add_argument("clips", nargs="+", metavar="CLIP", help="video files, frame folders or zips of frames")
    p.add_argument("--model", default=None, help="model folder or Hub id org/name[@rev] (default: $LEARNET_MODEL, "
                                                  "else the shipped weights)")
    p.add_argument("--methods", nargs="+", default=["gradcam:" + ",".join(ACCRETION_LAYERS)], metavar="METHOD",
                   help="maps to draw, in column order (default gradcam:al1,al2,al3,al4)")
    p.add_argument("--out", action="append", metavar="FILE",
                   help="output figure, .pdf/.svg/.png; repeat for several formats (default explain.pdf)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing output files (side files only if an earlier `explain figure` wrote them)")
    p.add_argument("--target", default=None, help="class to explain, by name (default: the predicted class)")
    p.add_argument("--contrast", default=None, help="class to subtract: a class-contrastive map (target - contrast)")
    p.add_argument("--scale", choices=SCALES, default="shared",
                   help="shared: one scale for all maps, in attribution density (default); "
                        "per-map: each map to its max")
    p.add_argument("--background", choices=("dynamic", "apex"), default="dynamic",
                   help="draw maps over the dynamic image (default) or the aligned apex frame")
    p.add_argument("--percentile", type=float, default=99.0, help="shared scale ends at this percentile (default 99)")
    p.add_argument("--dpi", type=int, default=300, help="PNG resolution (default 300)")
    p.add_argument("--width", default="double", metavar="single|double|INCHES",
                   help="printed width: single (3.5 in) or double (7.16 in) IEEE column, or inches; panels wrap "
                        "onto more lines to fit, text stays 7-9 pt at that size (default double)")
    p.add_argument("--letters", action="store_true", help="label the panels a, b, c, ... (row by row)")
    p.add_argument("--faithfulness", action="store_true",
                   help="also compute deletion/insertion AUCs per map (toward the no-motion baseline)")
    p.add_argument("--face-mode", choices=("auto", "none"), default=None, help="override the model's face mode")
    p.add_argument("--onset", type=int, help="onset frame index (0-based); default: first frame")
    p.add_argument("--apex", type=int, help="apex frame index; default: middle of onset..offset")
    p.add_argument("--offset", type=int, help="offset frame index; default: last frame")
    p.add_argument("--fps", type=float, help="frame rate of a frame folder/zip")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    temporal.add_cli_arguments(p, dataset=False)
    p.set_defaults(func=cmd_figure)


def _add_dataset_command(sub) -> None:
    p = sub.add_parser(
        "dataset", help="class-mean Grad-CAM per accretion layer over a manifest",
        description="Over the correctly classified samples of a manifest: class-mean Grad-CAM maps per layer, the "
                    "region table per class and layer, figures, and (if the manifest has a mask column) "
                    "energy-in-mask and pointing-game scores next to random maps. Resumable: per-sample results "
                    "are cached under OUT/cache.",
    )
    p.add_argument("manifest", metavar="MANIFEST", help="manifest CSV (dataset,subject,clip,path,fps,onset,apex,...)")
    p.add_argument("--model", default=None, help="model folder or Hub id org/name[@rev]")
    p.add_argument("--out", default="explain-dataset", help="output folder (default explain-dataset)")
    p.add_argument("--layers", default=",".join(ACCRETION_LAYERS), help="comma-separated layers (default al1..al4)")
    p.add_argument("--limit", type=int, default=0, help="only the first N samples (0 = all)")
    p.add_argument("--scale", choices=SCALES, default="shared", help="colour scale of the figure")
    p.add_argument("--formats", nargs="+", choices=("pdf", "svg", "png"), default=["pdf", "png"],
                   help="figure formats (default pdf png)")
    p.add_argument("--dpi", type=int, default=300, help="PNG resolution (default 300)")
    p.add_argument("--face-mode", choices=("auto", "none"), default=None, help="override the model's face mode")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--shard", default="1/1", metavar="i/N",
                   help="explain only every N-th sample from the i-th into OUT/cache (e.g. a SLURM array); the same "
                        "command without --shard then merges the shards into one summary [1/1]")
    temporal.add_cli_arguments(p, dataset=True)
    p.set_defaults(func=cmd_dataset)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 with one `error:` line on bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from learnet.hub import ModelLoadError

    try:
        return int(args.func(args) or 0)
    except (ExplainError, ModelLoadError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted (finished samples are cached; run the same command again to resume)", file=sys.stderr)
        return 130
