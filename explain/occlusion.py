"""Occlusion (Zeiler & Fergus, ECCV 2014): the score drop when a window of the input is replaced by a baseline.

For a 112 px dynamic image a 14 px window (an eighth of the face: about an eye or a brow) slid with a 7 px
stride (half overlap) gives 15 x 15 = 225 evaluations, batched.  Each pixel's value is the mean score drop of
the windows covering it; the window spans all three channels, so one channel of Captum's result is the map.
"""
from __future__ import annotations

import torch
from captum.attr import Occlusion

from learnet.model import LEARNet

from .base import AttributionMap, ExplainError, attribution_mode, attribution_target, check_input, register, to_map
from .baselines import make_baseline, no_motion_level


@register("occlusion", title="Occlusion", needs_layer=False)
def occlusion(
    model: LEARNet,
    x: torch.Tensor,
    *,
    target: int | str | None = None,
    contrast: int | str | None = None,
    window: int = 14,
    stride: int = 7,
    baseline: str | float = "no-motion",
    level: float | None = None,
    batch_size: int = 64,
) -> AttributionMap:
    """Occlusion with a `window` x `window` patch moved by `stride` pixels, patches set to `baseline`."""
    x = check_input(model, x)
    size = x.shape[-1]
    if not (1 <= int(stride) <= int(window) <= size):
        raise ExplainError(f"occlusion needs 1 <= stride <= window <= {size}, got window={window}, stride={stride}")
    level = no_motion_level(model) if level is None else float(level)
    base = make_baseline(x, baseline, level=level)
    with attribution_mode(model):
        ex = attribution_target(model, x, target, contrast)
        with torch.no_grad():  # occlusion only evaluates the model; no gradients needed
            attr = Occlusion(ex.net).attribute(
                x, sliding_window_shapes=(3, int(window), int(window)), strides=(3, int(stride), int(stride)),
                baselines=base, target=ex.index, perturbations_per_eval=int(batch_size),
            )
    params = {"window": int(window), "stride": int(stride), "baseline": baseline, "level": level}
    return AttributionMap(to_map(attr, "mean"), "occlusion", None, params=params, **ex.names(model))
