"""SmoothGrad (Smilkov et al., 2017): the input gradient averaged over noisy copies of the input.

Captum's `NoiseTunnel` defaults to a noise standard deviation of 1.0, which for an input in [0, 1] buries
the dynamic image; Smilkov et al. recommend 10-20 % of the input range, so the default here is 0.15.  The
noise is drawn from a fixed seed inside a forked RNG, so maps are reproducible and the caller's random state
is untouched.
"""
from __future__ import annotations

import torch
from captum.attr import NoiseTunnel, Saliency

from learnet.model import LEARNet

from .base import (
    AttributionMap,
    ExplainError,
    attribution_mode,
    attribution_target,
    check_input,
    input_range,
    register,
    to_map,
)


@register("smoothgrad", title="SmoothGrad", needs_layer=False, aliases=("smooth-grad",))
def smoothgrad(
    model: LEARNet,
    x: torch.Tensor,
    *,
    target: int | str | None = None,
    contrast: int | str | None = None,
    samples: int = 25,
    stdev: float | None = None,
    batch_size: int | None = 25,
    absolute: bool = True,
    seed: int = 0,
) -> AttributionMap:
    """Mean gradient over `samples` copies of x plus N(0, stdev^2) noise (absolute values by default).

    `stdev` defaults to 15% of the input range (0.15 for min-max input, 0.3 for signed).

    With ``absolute=False`` (or a contrastive map, where the sign is the point) the signed gradient is kept.
    """
    x = check_input(model, x)
    if stdev is None:
        low, high = input_range(model)
        stdev = 0.15 * (high - low)
    if int(samples) < 1 or not stdev > 0:
        raise ExplainError(f"SmoothGrad needs samples >= 1 and stdev > 0, got samples={samples}, stdev={stdev}")
    absolute = bool(absolute) and contrast is None
    with attribution_mode(model):
        ex = attribution_target(model, x, target, contrast)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            attr = NoiseTunnel(Saliency(ex.net)).attribute(
                x, nt_type="smoothgrad", nt_samples=int(samples), nt_samples_batch_size=batch_size,
                stdevs=float(stdev), target=ex.index, abs=absolute,
            )
    params = {"samples": int(samples), "stdev": float(stdev), "absolute": absolute, "seed": seed,
              "channels": "sum"}
    return AttributionMap(to_map(attr), "smoothgrad", None, params=params, **ex.names(model))
