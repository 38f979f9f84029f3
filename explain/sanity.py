"""Sanity checks for saliency maps (Adebayo et al., NeurIPS 2018): do the maps depend on the learnt weights?

Model-parameter randomisation re-initialises parts of a *copy* of the network and asks how similar each
method's map stays to the map of the trained network:

- cascading: from the output towards the input, one block at a time, keeping the earlier blocks random
  (`CASCADE`: logits, head, AL4, AL3, AL2, AL1, stem);
- independent: one accretion-layer block at a time, the rest trained.

Similarity is the Spearman rank correlation of the absolute maps and SSIM of the absolute maps scaled to
[0, 1] by their own maximum.  A method whose map stays similar after the whole network is random does not
explain the model (guided backpropagation and guided Grad-CAM are the classic failures: they mostly
reconstruct the input's edges).  `edge_map`, a Sobel filter of the input, is the control: it never looks at
the model, so its similarity is 1 at every step.

A "block" of an accretion layer is its BatchNorm, the two convolutions whose outputs it sums, and, for the
second AL of a pair (AL2, AL4), the two convolutions between it and the concat.  AL1/AL2 live in the first
pair of lateral branches and AL3/AL4 in the second; both pairs read the stem, so the cascade's AL4 and AL3
steps randomise the second pair while the first is still trained.

Re-initialisation is the network's own (Keras): glorot-uniform kernels from a seeded generator, zero biases,
BatchNorm to identity (weight 1, bias 0, running mean 0, variance 1).  The loaded model is never touched.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from learnet.model import ACCRETION_LAYERS

from .base import ExplainError, attribute, check_input, get_method
from .similarity import is_constant, rank_average, ssim, unit_abs  # noqa: F401  (public here too)
from .similarity import spearman as _spearman

# (step name, module paths re-initialised at that step), from the output towards the input.
CASCADE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logits", ("classifier", "fc")),
    ("head", ("head", "fuse")),
    ("al4", ("pair2.al4", "pair2.b3_2", "pair2.b4_2", "pair2.b3_3", "pair2.b4_3")),
    ("al3", ("pair2.al3", "pair2.b3_1", "pair2.b4_1")),
    ("al2", ("pair1.al2", "pair1.b1_2", "pair1.b2_2", "pair1.b1_3", "pair1.b2_3")),
    ("al1", ("pair1.al1", "pair1.b1_1", "pair1.b2_1")),
    ("stem", ("stem",)),
)
ORIGINAL = "original"
PASS_THRESHOLD = 0.5  # a method passes when its mean Spearman after full randomisation is at most this

MapFn = Callable[[nn.Module, torch.Tensor, int], np.ndarray]


# --------------------------------------------------------------------------------------------------------
# similarity (explain.similarity), with a map that went flat under randomisation scored 0


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps; a map that went constant shares no ranking: 0.0."""
    return _spearman(a, b, one_flat=0.0)


def similarity(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """Spearman of |maps| and SSIM of |maps| scaled to [0, 1].

    `flat` is 1 when `after` went constant (no ranking left), `original_flat` when `before` already was one
    (then the map has nothing to lose, and a method cannot be judged on this input).
    """
    flat_before, flat_after = is_constant(np.abs(before)), is_constant(np.abs(after))
    return {"spearman": spearman(np.abs(before), np.abs(after)),
            "ssim": ssim(unit_abs(before), unit_abs(after)),
            "flat": int(flat_after and not flat_before), "original_flat": int(flat_before)}


# --------------------------------------------------------------------------------------------------------
# randomisation


def reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    """Keras re-initialisation of every conv/linear/BatchNorm inside `module`, in place."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()  # weight 1, bias 0, running mean 0, running variance 1


def randomised_copies(model: nn.Module, steps: Sequence[tuple[str, Sequence[str]]], *, cascade: bool,
                      seed: int = 0):
    """Yield (step name, copy of `model`) with that step's modules re-initialised.

    With `cascade`, one copy accumulates every step so far; otherwise each step starts from a fresh deep copy.
    Each step draws from its own generator seeded by (seed, step index), so a step's weights do not depend on
    which steps ran before it.
    """
    work = copy.deepcopy(model) if cascade else None
    for i, (name, paths) in enumerate(steps):
        net = work if cascade else copy.deepcopy(model)
        generator = torch.Generator().manual_seed(int(seed) * 1000 + i)
        for path in paths:
            try:
                module = net.get_submodule(path)
            except AttributeError:
                raise ExplainError(f"the model has no module {path!r} for sanity step {name!r}") from None
            reinitialise(module, generator)
        yield name, net.eval()


def independent_steps(layers: Sequence[str] = ACCRETION_LAYERS) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The `CASCADE` blocks of the named steps (default: the accretion layers), for independent randomisation."""
    blocks = dict(CASCADE)
    unknown = [s for s in layers if s not in blocks]
    if unknown:
        raise ExplainError(f"unknown sanity step {unknown[0]!r}; valid steps: {', '.join(blocks)}")
    return tuple((s, blocks[s]) for s in layers)


# --------------------------------------------------------------------------------------------------------
# methods

EDGE = "edge"  # the model-independent control "method"
GUIDED_BACKPROP = "guided-backprop"  # plain guided backpropagation, the classic failure (not in the registry)
CONTROL = "edge (control)"
# The last conv's Grad-CAM is flat (ReLU removes everything) on many clips of the shipped weights, and so is
# Guided Grad-CAM built on it: the defaults use AL4 for Guided Grad-CAM.
DEFAULT_METHODS: tuple[str, ...] = ("gradcam:al1,al2,al3,al4", "guided:al4", GUIDED_BACKPROP, "ig", "smoothgrad",
                                    "occlusion", EDGE)


def edge_map(x: torch.Tensor) -> np.ndarray:
    """Sobel gradient magnitude of the input, summed over channels: a "saliency map" that ignores the model."""
    x = torch.as_tensor(x, dtype=torch.float32).detach().cpu().reshape(-1, *x.shape[-2:])[:, None]
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])[None, None]
    pad = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(pad, kx), F.conv2d(pad, kx.transpose(-1, -2))
    return torch.sqrt(gx * gx + gy * gy).sum(dim=0)[0].numpy().astype(np.float32)


def guided_backprop(model: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    """Guided backpropagation (Springenberg et al., 2015) through Captum, channels summed: Guided Grad-CAM
    without its Grad-CAM factor."""
    import warnings

    from captum.attr import GuidedBackprop

    from .base import attribution_mode, to_map

    x = check_input(model, x)
    with attribution_mode(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
        return to_map(GuidedBackprop(model).attribute(x, target=int(target)))


def parse_methods(specs: Sequence[str], level: float | None = None) -> dict[str, MapFn]:
    """`METHOD[:LAYER,...|:key=value,...]` items (as `explain figure --methods`, plus `guided-backprop` and the
    control `edge`) -> map functions.

    Each function maps (model, x, target) to {map title: (H, W) map}; Grad-CAM layers share one pass.
    `level` is the clip's no-motion baseline for the methods that take one (IG, occlusion).
    """
    from .gradcam import gradcam_layers

    out: dict[str, MapFn] = {}
    for spec in specs:
        name, _, rest = spec.partition(":")
        if name.strip().lower() == EDGE:
            out[CONTROL] = lambda model, x, target: {CONTROL: edge_map(x)}
            continue
        if name.strip().lower() == GUIDED_BACKPROP:
            out["Guided backprop"] = lambda model, x, target: {"Guided backprop": guided_backprop(model, x, target)}
            continue
        method = get_method(name)
        args = [a.strip() for a in rest.split(",") if a.strip()]
        params = {k.strip(): _value(v.strip()) for k, _, v in (a.partition("=") for a in args if "=" in a)}
        layers = [a.lower() for a in args if "=" not in a]
        if layers and not method.needs_layer:
            raise ExplainError(f"{method.name} works on the input and takes no layer ({spec!r})")
        if level is not None and method.name in ("ig", "occlusion"):
            params.setdefault("level", level)
        if method.name == "gradcam" and not params:
            out[spec] = _gradcam_fn(tuple(layers or ["head"]), gradcam_layers)
        elif method.needs_layer:
            for layer in layers or ["head"]:
                out[f"{spec}/{layer}"] = _method_fn(method.name, layer, params)
        else:
            out[spec] = _method_fn(method.name, None, params)
    if not out:
        raise ExplainError("the sanity check needs at least one method")
    return out


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _gradcam_fn(layers: tuple[str, ...], gradcam_layers) -> MapFn:
    def fn(model, x, target):
        return {m.title: m.values for m in gradcam_layers(model, x, layers, target=target).values()}
    return fn


def _method_fn(name: str, layer: str | None, params: dict) -> MapFn:
    def fn(model, x, target):
        m = attribute(model, x, name, layer=layer, target=target, **params)
        return {m.title: m.values}
    return fn


# --------------------------------------------------------------------------------------------------------
# the check


@dataclass
class SanityRun:
    """Maps of one input under the trained model and each randomisation step (titles -> (H, W) maps)."""

    target: int
    original: dict[str, np.ndarray]
    cascade: list[tuple[str, dict[str, np.ndarray]]] = field(default_factory=list)
    independent: list[tuple[str, dict[str, np.ndarray]]] = field(default_factory=list)

    @property
    def methods(self) -> list[str]:
        return list(self.original)

    def rows(self, clip: str = "") -> list[dict]:
        """One row per (test, step, method): Spearman, SSIM and the flat flag against the original map.

        The cascade's first row is the trained model itself (step 0, similarity 1 by construction).
        """
        rows = []
        tests = (("cascade", [(ORIGINAL, self.original), *self.cascade]), ("independent", self.independent))
        for test, steps in tests:
            for k, (step, maps) in enumerate(steps):
                for method in self.methods:
                    s = similarity(self.original[method], maps[method])
                    rows.append({"clip": clip, "test": test, "step": k if test == "cascade" else k + 1,
                                 "randomised": step, "method": method, **s})
        return rows


def sanity_check(model: nn.Module, x: torch.Tensor, methods: Mapping[str, MapFn] | Sequence[str] | None = None, *,
                 target: int | str | None = None, seed: int = 0,
                 cascade: Sequence[tuple[str, Sequence[str]]] = CASCADE,
                 independent: Sequence[str] = ACCRETION_LAYERS, level: float | None = None) -> SanityRun:
    """Cascading and independent model-parameter randomisation of `model` (on deep copies) for one input.

    `methods`: map functions (see `parse_methods`) or specs (default `DEFAULT_METHODS`).  The target defaults
    to the trained model's predicted class and stays fixed for every randomised copy (their own predictions
    are meaningless).
    """
    from .base import resolve_class

    fns = parse_methods(methods or DEFAULT_METHODS, level) if not isinstance(methods, Mapping) else dict(methods)
    x = check_input(model, x)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            t = int(model(x)[0].argmax()) if target is None else resolve_class(model, target)
        run = SanityRun(t, _all_maps(fns, model, x, t))
    finally:
        model.train(was_training)
    for name, net in randomised_copies(model, cascade, cascade=True, seed=seed):
        run.cascade.append((name, _all_maps(fns, net, x, t)))
    for name, net in randomised_copies(model, independent_steps(independent), cascade=False, seed=seed):
        run.independent.append((name, _all_maps(fns, net, x, t)))
    return run


def _all_maps(fns: Mapping[str, MapFn], model: nn.Module, x: torch.Tensor, target: int) -> dict[str, np.ndarray]:
    maps: dict[str, np.ndarray] = {}
    for fn in fns.values():
        maps.update({k: np.asarray(v, dtype=np.float32) for k, v in fn(model, x, target).items()})
    return maps


def summarise(rows: Sequence[dict]) -> list[dict]:
    """Mean Spearman and SSIM over clips per (test, step, method), with the number of clips and flat maps."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["test"], r["step"], r["randomised"], r["method"]), []).append(r)
    out = []
    for (test, step, name, method), g in groups.items():
        judged = [r for r in g if not r["original_flat"]] or g  # a flat original map says nothing
        out.append({"test": test, "step": step, "randomised": name, "method": method,
                    "spearman": float(np.mean([r["spearman"] for r in judged])),
                    "ssim": float(np.mean([r["ssim"] for r in judged])), "n": len(judged),
                    "flat": int(sum(r["flat"] for r in judged)), "original_flat": int(sum(r["original_flat"] for r in g))})
    return out


def verdicts(summary: Sequence[dict], threshold: float = PASS_THRESHOLD) -> dict[str, dict]:
    """Per method: mean similarity after the whole cascade and a verdict.

    "pass" when the mean Spearman is at most `threshold` (the maps depend on the weights), "FAIL" otherwise,
    "control" for the edge detector (it must stay at 1), "n/a" when the trained model's map was flat on every
    input (nothing to compare).
    """
    cascade = [r for r in summary if r["test"] == "cascade"]
    if not cascade:
        raise ExplainError("no cascade rows to judge")
    last = max(r["step"] for r in cascade)
    out = {}
    for r in cascade:
        if r["step"] != last:
            continue
        if r["method"] == CONTROL:
            verdict = "control"
        elif r["original_flat"] >= r["n"] and r["original_flat"]:
            verdict = "n/a (flat)"
        else:
            verdict = "pass" if r["spearman"] <= threshold else "FAIL"
        out[r["method"]] = {"spearman": r["spearman"], "ssim": r["ssim"], "n": r["n"], "verdict": verdict}
    return out


# --------------------------------------------------------------------------------------------------------
# figure and table


def sanity_figure(run: SanityRun, summary: Sequence[dict], title: str = ""):
    """Maps of one input along the cascade (rows = methods, columns = steps), then the mean similarity curves.

    Each map is drawn as |map| over its own maximum (the form SSIM compares), so a map that keeps its shape
    under randomisation looks alike across its row.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [(ORIGINAL, run.original), *run.cascade]
    methods = run.methods
    cell, below = 0.66, 2.6  # inches per map; inches under the maps for the curves and their labels
    head = 0.6 if title else 0.35  # inches above the maps: the suptitle, then the step names
    height = cell * len(methods) + below + head
    fig = plt.figure(figsize=(0.9 + cell * len(steps), height))
    grid = fig.add_gridspec(len(methods), len(steps), left=0.17, right=0.99, top=1 - head / height,
                            bottom=below / height, hspace=0.08, wspace=0.04)
    for i, method in enumerate(methods):
        for j, (step, maps) in enumerate(steps):
            ax = fig.add_subplot(grid[i, j])
            ax.imshow(unit_abs(maps[method]), cmap="inferno", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(step, fontsize=7)
            if j == 0:
                ax.set_ylabel(method.replace(" last conv", "").replace("Grad-CAM ", "Grad-CAM\n"), fontsize=6,
                              rotation=0, ha="right", va="center")
    curves = fig.add_gridspec(1, 2, left=0.08, right=0.99, top=(below - 0.45) / height, bottom=0.55 / height,
                              wspace=0.2)
    names = [s for s, _ in steps]
    for k, metric in enumerate(("spearman", "ssim")):
        ax = fig.add_subplot(curves[0, k])
        for method in methods:
            rows = sorted((r for r in summary if r["test"] == "cascade" and r["method"] == method),
                          key=lambda r: r["step"])
            ax.plot([r["step"] for r in rows], [r[metric] for r in rows], marker="o", ms=2.5, lw=1,
                    ls="--" if method == CONTROL else "-", label=method.replace(" last conv", ""))
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, fontsize=6, rotation=45)
        ax.set_ylim(-0.6, 1.05)
        ax.axhline(0, color="0.6", lw=0.5)
        ax.tick_params(labelsize=6)
        ax.set_title({"spearman": "Spearman rank correlation of |map|", "ssim": "SSIM of |map| / max"}[metric],
                     fontsize=7)
        ax.set_xlabel("cascade: re-initialised down to", fontsize=6)
    fig.axes[-1].legend(fontsize=5, loc="lower left", ncol=2, frameon=False)
    if title:
        fig.suptitle(title, fontsize=8, y=1 - 0.08 / height, va="top")
    return fig


def write_rows(rows: Sequence[dict], path) -> None:
    """Rows (dicts with the same keys) as CSV; floats with 4 decimals."""
    import csv
    from pathlib import Path

    with open(Path(path), "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: f"{v:.4f}" if isinstance(v, float) else v for k, v in r.items()})


# --------------------------------------------------------------------------------------------------------
# command line: python -m explain sanity


def add_parser(sub) -> None:
    """Add the `sanity` subcommand to the `python -m explain` subparsers."""
    p = sub.add_parser(
        "sanity", help="model-parameter randomisation sanity checks of the attribution methods",
        description="Cascading (logits, head, AL4, AL3, AL2, AL1, stem) and independent (each accretion layer) "
                    "re-initialisation of a copy of the model (Adebayo et al., 2018): Spearman rank correlation "
                    "and SSIM of each method's |map| before and after. Writes sanity.csv (every clip), "
                    "sanity_summary.csv (means), sanity.json (verdicts, parameters) and a figure.",
        epilog="Methods as in `explain figure --methods`, plus guided-backprop and the model-independent control "
               "edge (a Sobel filter of the input). A method passes when its mean Spearman after the whole "
               f"cascade is <= {PASS_THRESHOLD}.",
    )
    p.add_argument("inputs", nargs="+", metavar="CLIP_OR_MANIFEST",
                   help="video files, frame folders or zips, or one manifest CSV")
    p.add_argument("--model", default=None, help="model folder or Hub id org/name[@rev] (default: $LEARNET_MODEL, "
                                                  "else the shipped weights)")
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), metavar="METHOD",
                   help=f"maps to check (default {' '.join(DEFAULT_METHODS)})")
    p.add_argument("--out", default="explain-sanity", help="output folder (default explain-sanity)")
    p.add_argument("--limit", type=int, default=4, help="clips of a manifest to check, from the top (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the re-initialised weights (default 0)")
    p.add_argument("--target", default=None, help="class to explain (default: the trained model's prediction)")
    p.add_argument("--formats", nargs="+", choices=("pdf", "svg", "png"), default=["pdf", "png"],
                   help="figure formats (default pdf png)")
    p.add_argument("--dpi", type=int, default=150, help="PNG resolution (default 150)")
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier run in --out")
    p.add_argument("--face-mode", choices=("auto", "none"), default=None, help="override the model's face mode")
    p.add_argument("--fps", type=float, help="frame rate of a frame folder/zip")
    p.add_argument("--device", default="auto", help="where the network runs: auto, cpu, cuda[:N] or mps [auto]")
    p.set_defaults(func=cmd_sanity)


def _clips(inputs: Sequence[str], limit: int, fps: float | None):
    """(name, Clip, onset, apex, offset) for clip paths, or for the first `limit` usable rows of a manifest."""
    from pathlib import Path

    from learnet.datasets import read_manifest
    from learnet.video import Clip, read_clip

    missing = [s for s in inputs if not Path(s).exists()]
    if missing:
        raise ExplainError(f"{missing[0]} does not exist")
    if len(inputs) == 1 and Path(inputs[0]).suffix.lower() == ".csv":
        samples = [s for s in read_manifest(inputs[0]) if not s.issues][: max(1, limit)]
        if not samples:
            raise ExplainError(f"the manifest {inputs[0]} lists no usable sample")
        for s in samples:
            frames, onset, apex, offset = s.read_window()
            yield s.id, Clip(frames, s.fps or 200.0, s.id), onset, apex, offset
        return
    for path in inputs:
        yield Path(path).name, read_clip(path, fps=fps), None, None, None


def cmd_sanity(args) -> int:
    """`python -m explain sanity`: run the checks on each clip, write the tables, the figure and verdicts."""
    import json
    import sys
    from pathlib import Path

    from learnet.device import resolve_device
    from learnet.hub import load_model
    from learnet.pipeline import Pipeline

    out = Path(args.out)
    files = [out / "sanity.csv", out / "sanity_summary.csv", out / "sanity.json",
             *(out / f"sanity.{f}" for f in args.formats)]
    existing = [f for f in files if f.exists()]
    if existing and not args.overwrite:
        raise ExplainError(f"{existing[0]} exists; pass --overwrite to replace it, or choose another --out")
    parse_methods(args.methods)  # a bad method fails before the model loads
    model = load_model(args.model).to(resolve_device(args.device))
    pipeline = Pipeline(model, face_mode=args.face_mode)
    rows, first, names = [], None, []
    for name, clip, onset, apex, offset in _clips(args.inputs, args.limit, args.fps):
        pred = pipeline.predict(clip, onset=onset, apex=apex, offset=offset)
        x = pipeline.input_tensor(pred.preprocessed)
        fns = parse_methods(args.methods, pipeline.no_motion_level(pred.preprocessed))
        run = sanity_check(model, x, fns, target=args.target, seed=args.seed)
        rows += run.rows(name)
        first = first or (name, run)
        names.append(name)
        print(f"{name}: explained {model.class_names[run.target]}", file=sys.stderr)
    summary = summarise(rows)
    out.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out / "sanity.csv")
    write_rows(summary, out / "sanity_summary.csv")
    verdict = verdicts(summary)
    fig = sanity_figure(first[1], summary, f"{first[0]}: maps along the cascade; curves: mean of {len(names)} "
                                           f"clip(s)")
    for fmt in args.formats:
        fig.savefig(out / f"sanity.{fmt}", dpi=args.dpi, metadata={"Software": None} if fmt == "png" else None)
    report = {"command": "sanity", "inputs": list(args.inputs), "clips": names, "methods": list(args.methods),
              "seed": args.seed, "threshold": PASS_THRESHOLD, "cascade": [s for s, _ in CASCADE],
              "independent": list(ACCRETION_LAYERS), "model": getattr(model, "source", None),
              "revision": getattr(model, "revision", None), "verdicts": verdict}
    (out / "sanity.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{'method':<28} {'Spearman':>9} {'SSIM':>6}  after the whole cascade ({len(names)} clip(s))")
    for method, v in verdict.items():
        print(f"{method:<28} {v['spearman']:>9.3f} {v['ssim']:>6.3f}  {v['verdict']}")
    print(f"wrote {out}/sanity.csv, sanity_summary.csv, sanity.json, " + ", ".join(f"sanity.{f}" for f in args.formats))
    return 0
