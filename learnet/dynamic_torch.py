"""Dynamic images in torch, differentiable in the frames (the numpy `learnet.dynamic` is the reference).

A dynamic image is linear in the frames, DI = sum_t alpha_t I_t (`learnet.dynamic.rank_pooling_coefficients`),
so d DI / d I_t = alpha_t exactly.  The model does not see the DI itself but its input scaling, an affine map
``x = scale * DI + shift`` whose two numbers come from the DI's own extrema:

- ``"minmax"``: scale = 1 / (max - min), shift = -min / (max - min);
- ``"signed"``: scale = 1 / max|DI|, shift = 0.

`model_input` differentiates through those extrema (``freeze_scale=False``) or holds them at the clip's own
values (``freeze_scale=True``).  Either scaling makes the score invariant to the *amplitude* of the motion
(DI and c * DI give the same input for any c > 0), so through the extrema the frame gradients times the
frames always sum to zero (Euler's theorem for a function of degree 0); with the scale held, the frames ->
input map is the clip's own affine map, which is what `explain.frames` attributes through.

Unlike `learnet.pipeline.Pipeline.input_tensor`, nothing here rounds through the uint8 form that training
caches: the two inputs differ by at most half a uint8 step (0.5 / 255 for minmax, 0.5 / 127 for signed).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .dynamic import DEFAULT_INPUT_SCALING, INPUT_SCALINGS, VARIANTS, rank_pooling_coefficients

_FLAT_MINMAX = 1e-6  # as `learnet.dynamic._minmax`: a range this small (relative) is a flat DI
_FLAT_SIGNED = 1e-12  # as `learnet.dynamic.to_input_uint8`


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown dynamic-image variant {variant!r}; choose one of {', '.join(VARIANTS)}")


def _check_scaling(scaling: str) -> None:
    if scaling not in INPUT_SCALINGS:
        raise ValueError(f"unknown input scaling {scaling!r}; choose one of {', '.join(INPUT_SCALINGS)}")


def rank_pooling_weights(T: int, variant: str = "bilen", *, dtype: torch.dtype = torch.float32,
                         device: torch.device | str | None = None) -> torch.Tensor:
    """alpha_1..alpha_T as a torch tensor (computed in float64 by `rank_pooling_coefficients`, then cast)."""
    return torch.as_tensor(rank_pooling_coefficients(T, variant), dtype=dtype, device=device)


def dynamic_image(frames: torch.Tensor, variant: str = "bilen") -> torch.Tensor:
    """Dynamic image of (T, H, W, C) frames in temporal order -> (H, W, C), differentiable in `frames`.

    Integer frames are taken as float32.  Equals `learnet.dynamic.dynamic_image` to float round-off; like
    it, it pools differences from the first frame, so a static clip gives exactly 0.
    """
    _check_variant(variant)
    if frames.ndim != 4:
        raise ValueError(f"frames must be (T, H, W, C), got shape {tuple(frames.shape)}")
    if not frames.is_floating_point():
        frames = frames.float()
    T = frames.shape[0]
    if T == 1:
        return frames[0]
    alpha = rank_pooling_weights(T, variant, dtype=frames.dtype, device=frames.device)
    first = frames[0]
    di = torch.einsum("t,thwc->hwc", alpha, frames - first)
    if variant == "authors":
        di = di + T * first  # the authors' alpha sums to T
    return di


@dataclass(frozen=True)
class InputScale:
    """The affine map from a raw DI to the model input: ``x = scale * DI + shift`` (floats, fixed)."""

    scaling: str
    scale: float
    shift: float

    def apply(self, di: torch.Tensor) -> torch.Tensor:
        """(H, W, C) DI -> (1, C, H, W) model input under this fixed map."""
        return (di * self.scale + self.shift).permute(2, 0, 1).unsqueeze(0)


def _scale_and_shift(di: torch.Tensor, scaling: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and shift of `scaling` for this DI, as 0-d tensors in the autograd graph (0, 0 for a flat DI,
    which the numpy forms map to an all-zero input)."""
    zero = di.new_zeros(())
    if scaling == "minmax":
        lo, hi = di.min(), di.max()
        span = hi - lo
        flat = float(span.detach()) <= _FLAT_MINMAX * max(1.0, abs(float(hi.detach())), abs(float(lo.detach())))
        return (zero, zero) if flat else (1.0 / span, -lo / span)
    peak = di.abs().max()
    return (zero, zero) if float(peak.detach()) <= _FLAT_SIGNED else (1.0 / peak, zero)


def input_scale(di: torch.Tensor, scaling: str = DEFAULT_INPUT_SCALING) -> InputScale:
    """The clip's own affine input map (its extrema read once, then held fixed)."""
    _check_scaling(scaling)
    scale, shift = _scale_and_shift(di.detach(), scaling)
    return InputScale(scaling, float(scale), float(shift))


def model_input(di: torch.Tensor, scaling: str = DEFAULT_INPUT_SCALING, *, freeze_scale: bool = False) -> torch.Tensor:
    """(H, W, C) raw DI -> (1, C, H, W) model input, differentiable in `di`.

    ``freeze_scale=False`` differentiates through the DI's extrema too (the exact gradient of the scaling);
    ``freeze_scale=True`` treats the scale and shift as constants (see the module docstring).  The values are
    the same either way and equal `learnet.dynamic.to_model_input` of a float DI without its uint8 rounding.
    """
    _check_scaling(scaling)
    if di.ndim != 3:
        raise ValueError(f"a dynamic image must be (H, W, C), got shape {tuple(di.shape)}")
    scale, shift = _scale_and_shift(di, scaling)
    if freeze_scale:
        scale, shift = scale.detach(), shift.detach()
    return (di * scale + shift).permute(2, 0, 1).unsqueeze(0)


def frames_to_input(frames: torch.Tensor, scaling: str = DEFAULT_INPUT_SCALING, variant: str = "bilen", *,
                    freeze_scale: bool = False) -> torch.Tensor:
    """(T, H, W, C) frames -> (1, C, H, W) model input: `dynamic_image` then `model_input`."""
    return model_input(dynamic_image(frames, variant), scaling, freeze_scale=freeze_scale)
