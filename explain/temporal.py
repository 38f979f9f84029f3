"""Explanations over time for one clip and per class: which frames mattered (`explain.frames`) and whether the
answer survives key-frame error (`explain.stability`), as the records `python -m explain` and the page write.

`python -m explain figure --frames` adds a frame-curve figure and a "frames" record per clip;
`python -m explain dataset --frames --stability K` caches per clip the apex-aligned frame shares and the
stability counts, then writes the class tables (`frames_by_class.csv`, `stability.csv`, summary.json).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .frames import FrameAttribution, FrameCurve, aligned_shares, explain_frames, frame_motion_energy
from .stability import keyframe_stability

_SIMILARITY_DIGITS = 4


@dataclass(frozen=True)
class TemporalOptions:
    """What to add over time: a frame attribution method (None: none) and the stability jitter k (None: none)."""

    frames: str | None = None
    stability: int | None = None
    sample: str = "all"
    steps: int = 32

    def __bool__(self) -> bool:
        return self.frames is not None or self.stability is not None

    def run_info(self) -> dict[str, Any]:
        """The settings that change cached results (for a run folder's run.json); empty when nothing is on."""
        info: dict[str, Any] = {}
        if self.frames is not None:
            info["frames"] = {"method": self.frames, "steps": self.steps}
        if self.stability is not None:
            info["stability"] = {"k": self.stability, "sample": self.sample}
        return info


def frame_record(model: Any, pipeline: Any, pre: Any, method: str = "ig", *, target: Any = None,
                 contrast: Any = None, fps: float | None = None, steps: int = 32,
                 title: str | None = None) -> tuple[FrameCurve, dict[str, Any]]:
    """A clip's frame attribution as a figure row and as a JSON record (the motion-energy curve included)."""
    attr = explain_frames(model, pre, method=method, target=target, contrast=contrast,
                          variant=pipeline.di_variant, steps=steps)
    energy = frame_motion_energy(pre)
    record = {**attr.to_dict(), "motion_energy": [round(float(v), 4) for v in energy], "fps": fps}
    return FrameCurve(attr, energy, pre.onset, fps, title), record


def sample_arrays(model: Any, pipeline: Any, sample: Any, pred: Any, options: TemporalOptions) -> dict[str, np.ndarray]:
    """The arrays `explain dataset` caches for one sample: frame shares by distance from the apex (for its true
    class when the model has it) and the stability counts."""
    out: dict[str, np.ndarray] = {}
    truth = sample.target or sample.label
    if options.frames is not None:
        target = truth if truth in model.class_names else None
        attr = explain_frames(model, pred.preprocessed, method=options.frames, target=target,
                              variant=pipeline.di_variant, steps=options.steps)
        out["frame_rel"] = (attr.frames - attr.apex).astype(np.int32)
        out["frame_shares"] = attr.shares()
    if options.stability is not None:
        r = sample_stability(pipeline, sample, pred, options)
        sims = [o.mean_similarity for o in r.outcomes if not np.isnan(o.mean_similarity)]
        out["stab_tried"] = np.array(len(r.outcomes))
        out["stab_flips"] = np.array(sum(o.flipped for o in r.outcomes))
        out["stab_skipped"] = np.array(r.skipped)
        out["stab_similarity"] = np.array(np.mean(sims) if sims else np.nan)
    return out


def sample_stability(pipeline: Any, sample: Any, pred: Any, options: TemporalOptions):
    """`keyframe_stability` of a manifest sample, its window read with k frames of margin where the clip has them
    (a sample's own read covers onset..offset only)."""
    from learnet.datasets.schema import count_video_frames
    from learnet.video import Clip

    k = int(options.stability)
    pre = pred.preprocessed
    onset = 0 if sample.onset is None else sample.onset
    n = len(sample.frames) if sample.frames else count_video_frames(sample.path)
    offset = n - 1 if sample.offset is None else sample.offset
    first, last = max(0, onset - k), min(n - 1, offset + k)
    frames, _, _, _ = dataclasses.replace(sample, onset=first, offset=last, apex=None).read_window()
    shift = onset - first
    return keyframe_stability(pipeline, Clip(frames, sample.fps or 200.0, sample.id), pre.onset + shift,
                              pre.apex + shift, pre.offset + shift, k=k, sample=options.sample)


def dataset_tables(results: list[dict[str, np.ndarray]], classes: list[str]) -> dict[str, Any]:
    """Per true class: the apex-aligned mean frame share, and the stability flip rate and map similarity.

    Empty parts are left out (a run without `--frames` has no frame table)."""
    tables: dict[str, Any] = {}
    framed = [r for r in results if "frame_rel" in r]
    if framed:
        radius = int(max(np.abs(r["frame_rel"]).max() for r in framed))
        tables["frames_by_class"] = {}
        for cls in classes:
            mine = [(r["frame_rel"], r["frame_shares"]) for r in framed if str(r["label"]) == cls]
            if mine:
                offsets, mean, count = aligned_shares(mine, radius)
                tables["frames_by_class"][cls] = {"offsets": offsets.tolist(), "clips": count.tolist(),
                                                  "mean_share": [_round(v) for v in mean]}
    steady = [r for r in results if "stab_tried" in r]
    if steady:
        tables["stability"] = {}
        for cls in [*classes, "all"]:
            mine = [r for r in steady if cls == "all" or str(r["label"]) == cls]
            tried = int(sum(int(r["stab_tried"]) for r in mine))
            sims = [float(r["stab_similarity"]) for r in mine if not np.isnan(float(r["stab_similarity"]))]
            if mine:
                tables["stability"][cls] = {
                    "clips": len(mine), "tried": tried,
                    "flip_rate": _round(sum(int(r["stab_flips"]) for r in mine) / tried) if tried else None,
                    "mean_similarity": _round(float(np.mean(sims))) if sims else None}
    return tables


def tables_csv(tables: dict[str, Any]) -> dict[str, str]:
    """The CSV files of `dataset_tables`: frames_by_class.csv (one row per frame offset from the apex, mean
    share and clip count per class) and stability.csv (one row per class, then "all")."""
    files: dict[str, str] = {}
    frames = tables.get("frames_by_class")
    if frames:
        classes = list(frames)
        offsets = sorted({o for t in frames.values() for o in t["offsets"]})
        lines = ["offset_from_apex," + ",".join(f"{c}_share,{c}_clips" for c in classes)]
        for o in offsets:
            cells = []
            for c in classes:
                i = frames[c]["offsets"].index(o)
                share = frames[c]["mean_share"][i]
                cells += ["" if share is None else f"{share:.4f}", str(frames[c]["clips"][i])]
            lines.append(f"{o}," + ",".join(cells))
        files["frames_by_class.csv"] = "\n".join(lines) + "\n"
    stability = tables.get("stability")
    if stability:
        lines = ["class,clips,tried,flip_rate,mean_similarity"] + [
            f"{c},{v['clips']},{v['tried']},{_cell(v['flip_rate'])},{_cell(v['mean_similarity'])}"
            for c, v in stability.items()]
        files["stability.csv"] = "\n".join(lines) + "\n"
    return files


def _cell(v: float | None) -> str:
    return "" if v is None else f"{v:.4f}"


def _round(v: float) -> float | None:
    return None if v is None or np.isnan(v) else round(float(v), _SIMILARITY_DIGITS)




# --------------------------------------------------------------------------------------------------------
# command line (`python -m explain figure|dataset`)


def add_cli_arguments(parser: Any, *, dataset: bool) -> None:
    """--frames for `figure` and `dataset`; --stability and --jitter-sample for `dataset` only."""
    from .frames import FRAME_METHODS
    from .stability import SAMPLES

    parser.add_argument(
        "--frames", nargs="?", const="ig", default=None, choices=FRAME_METHODS, metavar="METHOD",
        help="which frames mattered: per-frame contributions through the dynamic image (ig, the default, or "
             "gradient-x-input); " + ("per class, mean share aligned on the apex (frames_by_class.csv)" if dataset
                                      else "a second figure FILE_frames.EXT beside the motion energy"))
    if dataset:
        parser.add_argument("--stability", type=int, default=None, metavar="K",
                            help="jitter onset/apex/offset by -K..+K frames: prediction flip rate and Grad-CAM "
                                 "similarity per class (stability.csv)")
        parser.add_argument("--jitter-sample", choices=SAMPLES, default="all",
                            help="all: every combination of shifts; axes: one key frame at a time plus window "
                                 "shifts (default all)")


def options_from_args(args: Any) -> TemporalOptions:
    """The `TemporalOptions` of parsed command-line arguments (stability only where the command has it)."""
    k = getattr(args, "stability", None)
    if k is not None and k < 0:
        from .base import ExplainError

        raise ExplainError(f"--stability takes a number of frames >= 0, got {k}")
    return TemporalOptions(getattr(args, "frames", None), k, getattr(args, "jitter_sample", "all"))


def frame_figure_paths(outs: list[Any], options: TemporalOptions) -> list[Any]:
    """FILE_frames.EXT beside every figure FILE.EXT when frames are asked for, else none."""
    return [o.with_name(f"{o.stem}_frames{o.suffix}") for o in outs] if options.frames else []


def write_frame_figures(records: list[dict[str, Any]], paths: list[Any], *, width: Any, dpi: int) -> None:
    """The frame-curve figure (one line per clip, from the sidecar records) in every format asked for."""
    from .figure import save_figure
    from .frames import frame_curves_figure

    curves = [FrameCurve(FrameAttribution.from_dict(r["frames"]), np.asarray(r["frames"]["motion_energy"]), None,
                         r["frames"]["fps"], str(r["clip"]).replace("\\", "/").rsplit("/", 1)[-1])
              for r in records]
    fig = frame_curves_figure(curves, width=width)
    for path in paths:
        save_figure(fig, path, dpi=dpi)
