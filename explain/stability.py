"""Stability under key-frame error: does the answer, and its Grad-CAM, survive onset/apex/offset off by k frames?

Key frames come from annotators who disagree by a few frames, or from the motion heuristic
(`learnet.motion`), which misses by a few frames.  `keyframe_stability` moves onset, apex and offset by
-k..+k frames, re-runs the prediction (same face alignment, the model's own frame window and input scaling)
and Grad-CAM of the accretion layers for the *unjittered* predicted class, and reports:

- the flip rate: the share of jittered key-frame triples whose predicted class differs;
- the map similarity: Spearman rank correlation of each jittered Grad-CAM map with the unjittered one,
  per layer, then averaged (1 = same ranking of pixels).

Which jitters (`jitter_offsets`): ``"all"`` is every combination of -k..+k for the three key frames except no
shift ((2k+1)^3 - 1); ``"axes"`` moves one key frame at a time by +-1..+-k, then all three together
(the whole window shifted) by +-1..+-k, 8k triples.  k = 0 is the unjittered triple itself (a determinism
check).  Triples that leave the clip or break onset <= apex <= offset, onset < offset are skipped and counted.
Triples that pool the same frames (with an ``onset-offset`` window the apex does not enter the dynamic image)
are computed once; the unjittered triple is computed twice (as the reference, then as a jitter's window when
one pools the same frames), so run-to-run nondeterminism would show up as similarity below 1.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from learnet.device import module_device
from learnet.dynamic import frame_window
from learnet.model import ACCRETION_LAYERS

from .base import ExplainError
from .gradcam import gradcam_layers
from .similarity import spearman  # noqa: F401  (NaN when one map is flat: left out of the means)

SAMPLES: tuple[str, ...] = ("all", "axes")


def jitter_offsets(k: int, sample: str = "all") -> list[tuple[int, int, int]]:
    """(d_onset, d_apex, d_offset) triples to try (see the module docstring); [(0, 0, 0)] for k = 0."""
    k = int(k)
    if k < 0:
        raise ExplainError(f"the key-frame jitter k must be 0 or more frames, got {k}")
    if sample not in SAMPLES:
        raise ExplainError(f"unknown jitter sample {sample!r}; choose one of {', '.join(SAMPLES)}")
    if k == 0:
        return [(0, 0, 0)]
    if sample == "all":
        return [d for d in itertools.product(range(-k, k + 1), repeat=3) if d != (0, 0, 0)]
    out = []
    for axis in range(3):
        for step in (s for m in range(1, k + 1) for s in (-m, m)):
            d = [0, 0, 0]
            d[axis] = step
            out.append(tuple(d))
    out.extend((s, s, s) for m in range(1, k + 1) for s in (-m, m))
    return out


@dataclass(frozen=True)
class JitterOutcome:
    """One jittered key-frame triple: its shift, the key frames, the predicted class and map similarities."""

    shift: tuple[int, int, int]
    phases: tuple[int, int, int]
    label: str
    flipped: bool
    similarity: dict[str, float]  # layer -> Spearman correlation with the unjittered map (NaN: one map flat)

    @property
    def mean_similarity(self) -> float:
        values = [v for v in self.similarity.values() if not np.isnan(v)]
        return float(np.mean(values)) if values else float("nan")


@dataclass(frozen=True)
class StabilityResult:
    """Key-frame stability of one clip (see the module docstring)."""

    phases: tuple[int, int, int]  # the unjittered onset, apex, offset
    label: str  # the unjittered predicted class (the class every map explains)
    k: int
    sample: str
    layers: tuple[str, ...]
    outcomes: list[JitterOutcome] = field(default_factory=list)
    skipped: int = 0  # jittered triples outside the clip or out of order

    @property
    def flip_rate(self) -> float:
        """Share of the tried triples whose predicted class differs (NaN when none could be tried)."""
        return float(np.mean([o.flipped for o in self.outcomes])) if self.outcomes else float("nan")

    @property
    def mean_similarity(self) -> float:
        """Mean over the tried triples of their layer-mean Spearman correlation (NaN-free values only)."""
        values = [o.mean_similarity for o in self.outcomes if not np.isnan(o.mean_similarity)]
        return float(np.mean(values)) if values else float("nan")

    @property
    def flat(self) -> int:
        """How many (triple, layer) similarities are NaN because exactly one of the two maps was flat."""
        return sum(int(np.isnan(v)) for o in self.outcomes for v in o.similarity.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary with every tried triple."""
        return {
            "phases": list(self.phases), "label": self.label, "k": self.k, "sample": self.sample,
            "layers": list(self.layers), "tried": len(self.outcomes), "skipped": self.skipped,
            "flip_rate": _round(self.flip_rate), "mean_similarity": _round(self.mean_similarity),
            "flat_maps": self.flat,
            "jitters": [{"shift": list(o.shift), "phases": list(o.phases), "label": o.label, "flipped": o.flipped,
                         "similarity": {k: _round(v) for k, v in o.similarity.items()}} for o in self.outcomes],
        }


def _round(v: float) -> float | None:
    return None if np.isnan(v) else round(float(v), 4)


def _run(pipeline: Any, clip: Any, phases: tuple[int, int, int], face: Any, layers: Sequence[str],
         target: int | None) -> tuple[int, dict[str, np.ndarray], Any]:
    """Predicted class index and Grad-CAM maps (of `target`, default the predicted class) for one triple."""
    onset, apex, offset = phases
    pre = pipeline.preprocess(clip, onset=onset, apex=apex, offset=offset, face=face)
    x = pipeline.input_tensor(pre)
    with torch.no_grad():
        predicted = int(pipeline.model(x.to(module_device(pipeline.model)))[0].argmax())
    maps = gradcam_layers(pipeline.model, x, layers, target=predicted if target is None else target)
    return predicted, {name: m.values for name, m in maps.items()}, pre.face


def keyframe_stability(pipeline: Any, clip: Any, onset: int, apex: int, offset: int, *, k: int = 1,
                       sample: str = "all", layers: Sequence[str] = ACCRETION_LAYERS,
                       face: Any = None) -> StabilityResult:
    """Flip rate and Grad-CAM similarity when onset/apex/offset move by up to `k` frames.

    Args:
        pipeline: a `learnet.pipeline.Pipeline` (its model, face mode, DI variant and frame window).
        clip: the decoded `learnet.video.Clip` (frames outside onset..offset are needed for the jitter).
        onset, apex, offset: the key frames to jitter (0-based clip frames).
        k, sample: the jitter (`jitter_offsets`); layers: Grad-CAM layers compared (default AL1-AL4).
        face: a `learnet.face.FaceInfo` found earlier on this clip (else it is found on the onset frame); every
            triple is aligned with the same face, so only the key frames change.
    """
    offsets = jitter_offsets(k, sample)
    layers = tuple(name.strip().lower() for name in layers)
    n = clip.frames.shape[0]
    base = (int(onset), int(apex), int(offset))
    frame_window(n, *base, pipeline.window)  # a bad unjittered triple is the caller's error: raise it
    target, base_maps, face = _run(pipeline, clip, base, face, layers, None)
    names = list(pipeline.model.class_names)
    cache: dict[tuple, tuple[int, dict[str, np.ndarray]]] = {}
    outcomes, skipped = [], 0
    stabilise = bool(getattr(pipeline.model, "stabilise", False))
    for shift in offsets:
        phases = tuple(b + d for b, d in zip(base, shift))
        try:
            win = frame_window(n, *phases, pipeline.window)
        except ValueError:
            skipped += 1
            continue
        # The DI depends on the pooled frames only (and on the onset, the stabilisation reference, if on).
        key = (win.start, win.stop, phases[0] if stabilise else None)
        if key not in cache:
            predicted, maps, _ = _run(pipeline, clip, phases, face, layers, target)
            cache[key] = (predicted, maps)
        predicted, maps = cache[key]
        similarity = {name: spearman(base_maps[name], maps[name]) for name in layers}
        outcomes.append(JitterOutcome(shift, phases, names[predicted], predicted != target, similarity))
    return StabilityResult(base, names[target], int(k), sample, layers, outcomes, skipped)


def stability_by_class(results: Sequence[StabilityResult], classes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per class (`classes[i]` is the class of `results[i]`, e.g. the true label): clips, tried triples, flip
    rate over all their triples, and the mean of the clips' mean similarities."""
    if len(results) != len(classes):
        raise ExplainError(f"{len(results)} stability results but {len(classes)} classes")
    table: dict[str, dict[str, Any]] = {}
    for cls in dict.fromkeys(classes):
        mine = [r for r, c in zip(results, classes) if c == cls]
        flips = [o.flipped for r in mine for o in r.outcomes]
        sims = [r.mean_similarity for r in mine if not np.isnan(r.mean_similarity)]
        table[cls] = {"clips": len(mine), "tried": len(flips),
                      "flip_rate": _round(float(np.mean(flips))) if flips else None,
                      "mean_similarity": _round(float(np.mean(sims))) if sims else None}
    return table
