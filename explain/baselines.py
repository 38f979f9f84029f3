"""Reference inputs ("baselines") for integrated gradients, occlusion and deletion/insertion curves.

A dynamic image (DI) is a weighted sum of frames whose weights sum to zero, so a static clip gives DI = 0
everywhere: "no motion" is the value 0 of the raw DI.  The model does not see the raw DI but its input scaling
(`learnet.dynamic.INPUT_SCALINGS`).  With `signed` scaling (DI / max|DI| in [-1, 1]) no motion is exactly 0.
With the paper's `minmax` scaling to [0, 1], a pixel without motion lands at ``-min / (max - min)`` of that
clip's DI, its *no-motion level*; motion is signed and roughly symmetric, so that level sits near mid-grey, and
the default "no motion" baseline is the middle of the input range, or the exact level when the raw DI is at
hand (`no_motion_level`).  Black (the bottom of the range) is *not* "no motion" for the model: it is the strongest
darkening seen in the clip.  (A perfectly flat DI has no range to scale; `to_uint8` then returns zeros, a
display convention rather than a motion level.)  Blurred keeps the coarse layout of the DI
and removes the fine motion edges Grad-CAM and IG point at.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from learnet import dynamic

from .base import ExplainError, input_scaling_of

BASELINES: tuple[str, ...] = ("no-motion", "black", "blurred")


def no_motion_level(model: torch.nn.Module, di: np.ndarray | None = None) -> float:
    """The model-input value of "no motion" (raw DI = 0) for `model`'s input scaling: exact from the raw DI
    `di`; without it the middle of the input range, 0 for a signed-input model (exact), 0.5 for min-max (near
    a real clip's level)."""
    return input_scaling_of(model).no_motion_level(di)


def zero_level(di: np.ndarray, scaling: str = dynamic.DEFAULT_INPUT_SCALING) -> float:
    """`learnet.dynamic.no_motion_level` under its earlier name, kept because `explain.zero_level` is public."""
    return dynamic.no_motion_level(di, scaling)


def no_motion_baseline(x: torch.Tensor, level: float = 0.5) -> torch.Tensor:
    """A constant image at `level` (the no-motion level; see the module docstring), shaped like `x`."""
    if not -1.0 <= level <= 1.0:
        raise ExplainError(f"the no-motion level must lie in [-1, 1] (the widest input range), got {level}")
    return torch.full_like(x, float(level))


def black_baseline(x: torch.Tensor) -> torch.Tensor:
    """All zeros, shaped like `x` (the classic image baseline)."""
    return torch.zeros_like(x)


def blurred_baseline(x: torch.Tensor, sigma: float = 8.0) -> torch.Tensor:
    """`x` blurred by a separable Gaussian of `sigma` pixels (reflect padding, so borders keep their level)."""
    if sigma <= 0:
        raise ExplainError(f"blur sigma must be positive, got {sigma}")
    radius = max(1, int(math.ceil(3 * sigma)))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)  # reflect padding needs pad < size
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    y = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    y = F.pad(y, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def make_baseline(x: torch.Tensor, kind: str | float = "no-motion", *, level: float = 0.5,
                  sigma: float = 8.0) -> torch.Tensor:
    """Baseline by name: "no-motion" (constant `level`), "black", "blurred" (Gaussian `sigma`), or a number
    (a constant image of that value)."""
    if isinstance(kind, (int, float)) and not isinstance(kind, bool):
        return no_motion_baseline(x, float(kind))
    key = str(kind).strip().lower().replace("_", "-")
    if key in ("no-motion", "constant", "static"):
        return no_motion_baseline(x, level)
    if key == "black":
        return black_baseline(x)
    if key == "blurred":
        return blurred_baseline(x, sigma)
    raise ExplainError(f"unknown baseline {kind!r}; valid baselines: {', '.join(BASELINES)} or a number in the model's input range ([0, 1] for min-max, [-1, 1] for signed input)")
