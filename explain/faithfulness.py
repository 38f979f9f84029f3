"""Is a map faithful to the model, and does it find the ground truth?

Model-side checks (no ground truth needed):
- deletion curve: replace the most relevant pixels first by the baseline; a faithful map makes the class
  probability fall fast (low area under the curve).
- insertion curve: start from the baseline and restore the most relevant pixels first; it should rise fast
  (high area).
- optional Captum infidelity and max-sensitivity.

A flat map (all zero, or one constant value: Grad-CAM whose ReLU removed everything) ranks no pixel above
another, so its curves would only measure the row-major order of the tie-break.  `faithfulness_aucs` reports
such a map as flat (`FLAT_NOTE`, AUCs None) instead of scoring it.

Ground-truth checks (synthetic clips, where the moving action-unit region is known as a boolean mask):
- `energy_in_mask`: share of the positive attribution inside the mask;
- `pointing_game`: whether the map's maximum falls in the mask (within a tolerance);
- `random_map_baseline`: what random maps score on the same mask, to report next to the real ones.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from .base import AttributionMap, ExplainError, check_input
from .baselines import make_baseline, no_motion_level


FLAT_NOTE = "map is flat: no positive evidence"


def is_flat(m: AttributionMap | np.ndarray, rtol: float = 1e-6) -> bool:
    """True when the map holds one value everywhere (all zero included), up to `rtol` of its largest magnitude:
    such a map gives no ranking of the pixels, so deletion and insertion curves say nothing about it.

    For a plain (not class-contrastive) AttributionMap only its positive part counts, the evidence for the
    class: a map without any positive value is flat too.
    """
    v = _map_values(m).astype(np.float64)
    if isinstance(m, AttributionMap) and not m.signed:
        v = np.clip(v, 0.0, None)
    return bool(np.ptp(v) <= rtol * np.abs(v).max()) if v.size else True


@dataclass
class Curve:
    """A deletion or insertion curve: class probability against the fraction of pixels changed."""

    kind: str  # "deletion" or "insertion"
    fractions: np.ndarray  # (n+1,) from 0 to 1
    scores: np.ndarray  # (n+1,) softmax probability of the target class
    auc: float  # trapezoidal area under scores over fractions in [0, 1]


def _map_values(m: AttributionMap | np.ndarray) -> np.ndarray:
    v = m.values if isinstance(m, AttributionMap) else np.asarray(m, dtype=np.float64)
    if v.ndim != 2:
        raise ExplainError(f"expected a 2-D (H, W) map, got shape {v.shape}")
    return v


def _curves(model, x, maps: dict, target, kinds: tuple[str, ...], steps, baseline, batch_size) -> dict:
    """Curves of every (map, kind) pair, all their perturbed inputs run through the model in shared batches.

    Batching across maps and kinds matters on a CPU: a 112 px forward pass costs about half as much per
    image in a batch of ~100 as in a batch of 9 (one curve's worth).
    """
    x = check_input(model, x)
    if isinstance(baseline, torch.Tensor):
        base = baseline.reshape(x.shape)
    else:
        base = make_baseline(x, baseline, level=no_motion_level(model))
    jobs = []  # (name, kind, start image, end image, rank of each pixel)
    for name, m in maps.items():
        v = _map_values(m)
        if v.shape != tuple(x.shape[-2:]):
            raise ExplainError(f"map shape {v.shape} does not match the input's {tuple(x.shape[-2:])}")
        # Most relevant first; a stable sort makes ties (flat maps) deterministic: row-major order.
        order = torch.from_numpy(np.argsort(-v.reshape(-1), kind="stable").copy())
        rank = torch.empty(v.size, dtype=torch.long)
        rank[order] = torch.arange(v.size)
        rank = rank.to(x.device)  # the perturbed images are built where the model runs
        for kind in kinds:
            start, end = (x, base) if kind == "deletion" else (base, x)
            jobs.append((name, kind, start, end, rank))
    n = int(np.prod(x.shape[-2:]))
    counts = np.unique(np.round(np.linspace(0, n, int(steps) + 1)).astype(np.int64))
    # Both ends of every curve are the input itself or the baseline (nothing or everything changed): those
    # two images run once, the inner points once per (map, kind), built lazily one batch at a time.
    items = [(j, int(k)) for j in range(len(jobs)) for k in counts if 0 < k < n]
    inner = np.empty(len(items), dtype=np.float64)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ends = torch.softmax(model(torch.cat([x, base])), dim=1)
            if target is None:
                target = int(ends[0].argmax())
            p_input, p_base = (float(v) for v in ends[:, int(target)])
            for i in range(0, len(items), batch_size):
                chunk = items[i : i + batch_size]
                batch = torch.cat([
                    torch.where((jobs[j][4] < k).view(1, 1, *x.shape[-2:]), jobs[j][3], jobs[j][2])
                    for j, k in chunk
                ])
                probs = torch.softmax(model(batch), dim=1)
                inner[i : i + len(chunk)] = probs[:, int(target)].double().cpu().numpy()
    finally:
        model.train(was_training)
    per_job = len(counts) - 2  # inner points per curve
    f = counts / n
    out = {}
    for j, (name, kind, *_rest) in enumerate(jobs):
        first, last = (p_input, p_base) if kind == "deletion" else (p_base, p_input)
        s_j = np.concatenate([[first], inner[j * per_job : (j + 1) * per_job], [last]])
        out[name, kind] = Curve(kind, f, s_j, float(np.sum((s_j[1:] + s_j[:-1]) * np.diff(f)) / 2))
    return out


def _curve(model, x, m, target, kind, steps, baseline, batch_size) -> Curve:
    if isinstance(m, AttributionMap) and target is None:
        target = m.target
    return _curves(model, x, {"map": m}, target, (kind,), steps, baseline, batch_size)["map", kind]


def faithfulness_aucs(model: nn.Module, x: torch.Tensor, maps: dict[str, AttributionMap | np.ndarray], *,
                      target: int | None = None, steps: int = 28,
                      baseline: str | float | torch.Tensor = "no-motion", batch_size: int = 64) -> dict[str, dict]:
    """Deletion and insertion AUC of several maps of one input, in shared batches (faster than map by map).

    The target defaults to the first AttributionMap's target, else the predicted class.  Returns
    {name: {"deletion_auc": ..., "insertion_auc": ...}} in the order of `maps`; a flat map (`is_flat`) is not
    scored: {"deletion_auc": None, "insertion_auc": None, "note": FLAT_NOTE}.
    """
    if target is None:
        target = next((m.target for m in maps.values() if isinstance(m, AttributionMap)), None)
    for m in maps.values():
        _map_values(m)  # a malformed map is an error even when another one is flat
    ranked = {name: m for name, m in maps.items() if not is_flat(m)}
    curves = _curves(model, x, ranked, target, ("deletion", "insertion"), steps, baseline, batch_size) if ranked \
        else {}
    return {name: ({"deletion_auc": curves[name, "deletion"].auc, "insertion_auc": curves[name, "insertion"].auc}
                   if name in ranked else {"deletion_auc": None, "insertion_auc": None, "note": FLAT_NOTE})
            for name in maps}


def deletion_curve(model: nn.Module, x: torch.Tensor, m: AttributionMap | np.ndarray, *, target: int | None = None,
                   steps: int = 56, baseline: str | float | torch.Tensor = "no-motion",
                   batch_size: int = 57) -> Curve:
    """Target-class probability as the most relevant pixels (all channels) are set to the baseline.

    `steps` equal slices of the pixel ranking (56 -> 224 pixels each at 112 x 112), evaluated in batches.
    The target defaults to the map's own target, else the predicted class.
    """
    return _curve(model, x, m, target, "deletion", steps, baseline, batch_size)


def insertion_curve(model: nn.Module, x: torch.Tensor, m: AttributionMap | np.ndarray, *, target: int | None = None,
                    steps: int = 56, baseline: str | float | torch.Tensor = "no-motion",
                    batch_size: int = 57) -> Curve:
    """Target-class probability as the most relevant pixels are restored into the baseline image."""
    return _curve(model, x, m, target, "insertion", steps, baseline, batch_size)


def deletion_insertion_aucs(model: nn.Module, x: torch.Tensor, m: AttributionMap, *, steps: int = 28,
                            baseline: str | float | torch.Tensor = "no-motion") -> dict[str, float | None]:
    """Deletion and insertion AUC of one map (toward/from the constant baseline); lower/higher is better.

    A flat map gets None for both and a "note" (`FLAT_NOTE`) instead of a score."""
    target = m.target if isinstance(m, AttributionMap) else None
    return faithfulness_aucs(model, x, {"map": m}, target=target, steps=steps, baseline=baseline)["map"]


def equal_weight_mean(maps: np.ndarray) -> np.ndarray:
    """Mean of (N, H, W) maps after scaling each to unit positive mass, so every map counts alike.

    Raw Grad-CAM values of different layers differ by orders of magnitude; a plain mean would be the map of
    the loudest layer.  A map with no positive value is left as it is (it adds no positive mass).
    """
    maps = np.asarray(maps, dtype=np.float64)
    positive = np.clip(maps, 0, None).sum(axis=(1, 2), keepdims=True)
    return (maps / np.where(positive > 0, positive, 1.0)).mean(axis=0)


def energy_in_mask(m: AttributionMap | np.ndarray, mask: np.ndarray) -> float:
    """Share of the map's positive attribution that lies inside the boolean `mask` (0 for no positive value)."""
    v = np.clip(_map_values(m).astype(np.float64), 0.0, None)
    mask = _check_mask(mask, v.shape)
    total = v.sum()
    return float(v[mask].sum() / total) if total > 0 else 0.0


def pointing_game(m: AttributionMap | np.ndarray, mask: np.ndarray, tolerance: float = 0.0) -> bool:
    """Hit if the map's maximum lies within `tolerance` pixels (Euclidean) of the mask.

    Ties are broken by the first maximum in row-major order; a map with no positive value is a miss.
    """
    v = _map_values(m)
    mask = _check_mask(mask, v.shape)
    if not np.any(mask) or float(v.max()) <= 0:
        return False
    return bool(_near_mask(mask, tolerance)[np.unravel_index(int(np.argmax(v)), v.shape)])


def random_map(shape: tuple[int, int], seed: int = 0, resolution: int | None = 7) -> np.ndarray:
    """A random non-negative map: uniform noise on a `resolution` x `resolution` grid upsampled bilinearly
    (7 = the AL4/fuse grid, so it is as coarse as a Grad-CAM map), or per-pixel noise if `resolution` is None."""
    rng = np.random.default_rng(seed)
    if resolution is None:
        return rng.random(shape).astype(np.float32)
    low = torch.from_numpy(rng.random((1, 1, resolution, resolution)).astype(np.float32))
    return torch.nn.functional.interpolate(low, size=tuple(shape), mode="bilinear")[0, 0].numpy()


@dataclass
class GroundTruthScore:
    """Mean energy inside the mask and pointing-game hit rate over a set of maps."""

    energy: float
    pointing: float
    n: int


def score_against_mask(maps: list[AttributionMap | np.ndarray], masks: list[np.ndarray],
                       tolerance: float = 0.0) -> GroundTruthScore:
    """Energy-in-mask (mean) and pointing-game hit rate of paired maps and masks."""
    if len(maps) != len(masks) or not maps:
        raise ExplainError(f"need as many maps as masks (at least one), got {len(maps)} and {len(masks)}")
    e = [energy_in_mask(m, k) for m, k in zip(maps, masks)]
    p = [pointing_game(m, k, tolerance) for m, k in zip(maps, masks)]
    return GroundTruthScore(float(np.mean(e)), float(np.mean(p)), len(maps))


def random_map_baseline(masks: list[np.ndarray] | np.ndarray, n_maps: int = 100, seed: int = 0,
                        resolution: int | None = 7, tolerance: float = 0.0) -> GroundTruthScore:
    """What `n_maps` random maps per mask score (the chance level to print next to each method).

    For uniform noise the expected energy equals the mask's area fraction, and the pointing rate the area
    fraction of the tolerance-dilated mask.
    """
    masks = [masks] if isinstance(masks, np.ndarray) and masks.ndim == 2 else list(masks)
    rng = np.random.default_rng(seed)
    maps, paired = [], []
    for mask in masks:
        for s in rng.integers(0, 2**31, size=n_maps):
            maps.append(random_map(mask.shape, int(s), resolution))
            paired.append(mask)
    return score_against_mask(maps, paired, tolerance)


def infidelity_score(model: nn.Module, x: torch.Tensor, m: AttributionMap, *, stdev: float = 0.05,
                     samples: int = 16, seed: int = 0) -> float:
    """Captum infidelity of a map under Gaussian input noise (lower is better).

    The (H, W) map is spread evenly over the three channels, so a channel-summed map keeps its total.
    """
    from captum.metrics import infidelity

    x = check_input(model, x)
    attr = torch.from_numpy(m.values / 3.0).expand(1, 3, *m.values.shape).contiguous()

    def perturb(inputs: torch.Tensor):
        noise = torch.randn_like(inputs) * stdev
        return noise, inputs - noise

    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            return float(infidelity(model, perturb, x, attr, target=m.target, n_perturb_samples=samples)[0])
    finally:
        model.train(was_training)


def sensitivity_score(explain_fn: Callable[[torch.Tensor], AttributionMap], x: torch.Tensor,
                      radius: float = 0.02, samples: int = 8, seed: int = 0,
                      input_range: tuple[float, float] = (0.0, 1.0)) -> float:
    """Captum max-sensitivity: the largest change of a map when x moves within `radius` (lower is better).

    `explain_fn(x)` maps a (1, 3, S, S) input to an AttributionMap, e.g.
    ``lambda x: gradcam(model, x, layer="al2", target=0)`` (fix the target, or the class may flip).
    Perturbed inputs are clamped to `input_range`, the values the model can be fed: pass
    `explain.base.input_range(model)` ([-1, 1] for a signed-input model, whose "no motion" is 0).
    """
    lo, hi = input_range
    from captum.metrics import sensitivity_max

    def fn(inputs: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
        inputs = inputs[0] if isinstance(inputs, tuple) else inputs  # Captum passes a 1-tuple
        out = [torch.from_numpy(explain_fn(inputs[i : i + 1].clamp(lo, hi)).values) for i in range(inputs.shape[0])]
        return torch.stack(out).unsqueeze(1)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return float(sensitivity_max(fn, x, perturb_radius=radius, n_perturb_samples=samples,
                                     max_examples_per_batch=samples)[0])


def _check_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ExplainError(f"mask shape {mask.shape} does not match the map's {shape}")
    return mask.astype(bool)


def _near_mask(mask: np.ndarray, tolerance: float) -> np.ndarray:
    """Pixels within `tolerance` (Euclidean, pixels) of the mask; the mask itself for 0."""
    if tolerance <= 0:
        return mask
    # Exact Euclidean distance of every pixel to the nearest mask pixel (mask pixels are the zeros).
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist <= tolerance
