"""Dynamic images by approximate rank pooling (Bilen et al., CVPR 2016).

A clip I_1..I_T becomes one image DI = sum_t alpha_t I_t with

    alpha_t = 2(T - t + 1) - (T + 1)(H_T - H_{t-1}),   H_t = sum_{i<=t} 1/i,  H_0 = 0,

equivalently alpha_t = sum_{j=t..T} (2j - T - 1)/j.  The coefficients sum to zero, so a static clip gives a
flat (all-zero) DI and only motion survives.  Because alpha is linear in three frame sums,

    S0 = sum I_t,  S1 = sum t I_t,  S2 = sum H_{t-1} I_t,
    DI = 2(T + 1) S0 - 2 S1 - (T + 1)(H_T S0 - S2),

the streaming `DynamicImageAccumulator` needs O(1) frames of memory and no advance knowledge of T.

The authors' released code uses (2j - T)/j instead, i.e. Bilen's alpha plus (H_T - H_{t-1}); those sum to T,
so a weighted frame average leaks into the DI.  It is available as ``variant="authors"`` to reproduce their
pipeline, never as the default.

What the network sees (`INPUT_SCALINGS`, recorded in a model's config as ``input_scaling``; each entry holds
its encoding, decoding, range and "no motion" level):
- ``"minmax"`` (the paper's display form): min-max of one DI to [0, 1].  "No motion" lands at a grey level
  that differs from clip to clip (``-min / (max - min)``), and the convolutions' zero padding meets that grey
  as an artificial edge along the image border.
- ``"signed"``: DI / max|DI|, in [-1, 1], so "no motion" is 0 in every clip, the value zero padding adds.
  Stored and cached as uint8 ``128 + 127 * DI / max|DI|`` (no motion = 128 exactly).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

VARIANTS: tuple[str, ...] = ("bilen", "authors")
WINDOWS: tuple[str, ...] = ("onset-offset", "onset-apex", "apex-offset")
_CHUNK = 32  # frames pooled per step by `dynamic_image`
_SIGNED_ZERO, _SIGNED_HALF_RANGE = 128, 127  # uint8 code of "no motion" and of max|DI| in the signed form


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown dynamic-image variant {variant!r}; choose one of {', '.join(VARIANTS)}")


def harmonic_numbers(n: int) -> np.ndarray:
    """H_0..H_n as float64 (H_0 = 0)."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n + 1, dtype=np.float64))])


def rank_pooling_coefficients(T: int, variant: str = "bilen") -> np.ndarray:
    """The T approximate-rank-pooling weights alpha_1..alpha_T (float64).

    ``variant="bilen"`` (default) sums to 0; ``variant="authors"`` reproduces the released LEARNet code and
    sums to T.  T = 1 gives [1] for either variant.
    """
    _check_variant(variant)
    if T < 1:
        raise ValueError(f"a dynamic image needs at least one frame, got T={T}")
    if T == 1:
        return np.ones(1)
    H = harmonic_numbers(T)
    t = np.arange(1, T + 1, dtype=np.float64)
    alpha = 2.0 * (T - t + 1) - (T + 1) * (H[T] - H[t.astype(int) - 1])
    if variant == "authors":
        alpha = alpha + (H[T] - H[t.astype(int) - 1])
    return alpha


def dynamic_image(frames: np.ndarray | Iterable[np.ndarray], variant: str = "bilen") -> np.ndarray:
    """Dynamic image of frames in temporal order, shape (H, W, C) float32.

    ``frames`` is a (T, H, W, C) array or any iterable of (H, W, C) frames (then it is streamed).
    """
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise ValueError(f"frames must be (T, H, W, C), got shape {frames.shape}")
        T = frames.shape[0]
        if T == 1:
            return frames[0].astype(np.float32)
        alpha = rank_pooling_coefficients(T, variant).astype(np.float32)
        # Pool differences from the first frame: the same DI (Bilen's alpha sums to 0), but a static clip
        # gives exactly 0 instead of float32 round-off that min-max scaling would blow up into noise.
        first = frames[0].reshape(-1).astype(np.float32)
        flat = frames.reshape(T, -1)
        di = np.zeros_like(first)
        # Chunks of frames stay in cache, and einsum needs no BLAS threads (which stall on a busy machine):
        # 5-10x faster than one tensordot over the whole float copy of the clip.
        for start in range(0, T, _CHUNK):
            chunk = flat[start : start + _CHUNK].astype(np.float32)
            chunk -= first
            di += np.einsum("t,tn->n", alpha[start : start + _CHUNK], chunk)
        if variant == "authors":
            di += T * first  # the authors' alpha sums to T
        return di.reshape(frames.shape[1:])
    acc = DynamicImageAccumulator(variant)
    for frame in frames:
        acc.update(frame)
    return acc.result()


class DynamicImageAccumulator:
    """Streaming dynamic image: feed frames in order with `update`, read the DI with `result`.

    Keeps the first frame and three float64 running sums of differences from it (S0, S1, S2), so memory
    does not grow with clip length.
    """

    def __init__(self, variant: str = "bilen"):
        _check_variant(variant)
        self.variant = variant
        self.count = 0
        self._harmonic = 0.0  # H_{t-1} for the next frame
        self._first: np.ndarray | None = None
        self._s0: np.ndarray | None = None
        self._s1: np.ndarray | None = None
        self._s2: np.ndarray | None = None

    def update(self, frame: np.ndarray) -> None:
        """Add the next frame (H, W, C), any numeric dtype."""
        f = np.asarray(frame, dtype=np.float64)
        if self._first is None:
            self._first = f.copy()
            self._s0, self._s1, self._s2 = np.zeros_like(f), np.zeros_like(f), np.zeros_like(f)
        elif f.shape != self._first.shape:
            raise ValueError(f"frame {self.count + 1} has shape {f.shape}, earlier frames {self._first.shape}")
        self.count += 1
        t = self.count
        d = f - self._first  # sums of differences: a static clip pools to exactly 0 (see dynamic_image)
        self._s0 += d
        self._s1 += t * d
        self._s2 += self._harmonic * d
        self._harmonic += 1.0 / t

    def result(self) -> np.ndarray:
        """The dynamic image of the frames so far, (H, W, C) float32."""
        if self._first is None:
            raise ValueError("no frames were given: a dynamic image needs at least one frame")
        T, H_T = self.count, self._harmonic
        s0, s1, s2 = self._s0, self._s1, self._s2
        if T == 1:
            return self._first.astype(np.float32)
        di = 2.0 * (T + 1) * s0 - 2.0 * s1 - (T + 1) * (H_T * s0 - s2)
        if self.variant == "authors":
            # extra alpha (H_T - H_{t-1}) applied to the differences, plus its sum (= T) times the first frame
            di += H_T * s0 - s2 + T * self._first
        return di.astype(np.float32)


def _minmax(di: np.ndarray) -> np.ndarray:
    di = np.asarray(di, dtype=np.float32)
    lo, hi = float(di.min()), float(di.max())
    if hi - lo <= 1e-6 * max(1.0, abs(hi), abs(lo)):  # flat DI: no motion; black, not amplified round-off
        return np.zeros_like(di)
    return (di - lo) / (hi - lo)


def to_uint8(di: np.ndarray) -> np.ndarray:
    """Display/storage form: min-max over all pixels and channels to [0, 255] uint8 (flat DI -> zeros)."""
    if di.dtype == np.uint8:
        return di
    return np.round(_minmax(di) * 255.0).astype(np.uint8)


def _minmax_no_motion_level(di: np.ndarray | None) -> float:
    # -min / (max - min) of this DI, clipped to [0, 1]; 0.5 without a DI or for a flat one (no range to scale)
    if di is None:
        return 0.5
    di = np.asarray(di, dtype=np.float64)
    lo, hi = float(di.min()), float(di.max())
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return 0.5
    return float(np.clip(-lo / (hi - lo), 0.0, 1.0))


def _signed_to_uint8(di: np.ndarray) -> np.ndarray:
    di = np.asarray(di, dtype=np.float32)
    peak = float(np.abs(di).max()) if di.size else 0.0
    if peak <= 1e-12:
        return np.full(di.shape, _SIGNED_ZERO, dtype=np.uint8)
    return np.round(_SIGNED_ZERO + _SIGNED_HALF_RANGE * (di / peak)).astype(np.uint8)


@dataclass(frozen=True)
class InputScaling:
    """One way of scaling a dynamic image for the network, with everything that depends on that choice.

    Attributes:
        name: the value of ``input_scaling`` in a model's config.
        range: (low, high) of the model input.
        encode: float DI -> the uint8 stored form (what training caches).
        decode: uint8 tensor in the stored form -> float model input.
        exact: float DI -> float model input without the uint8 rounding, or None to go through `encode`
            (a signed DI always does, so a float DI and its cached form give the same tensor).
        no_motion_level: raw DI (or None when it is not at hand) -> the model-input value of raw DI = 0.
        brightness_augmentation: whether training may add a constant brightness offset: yes for min-max;
            no for signed, where a constant offset would be motion everywhere.
    """

    name: str
    range: tuple[float, float]
    encode: Callable[[np.ndarray], np.ndarray]
    decode: Callable[[torch.Tensor], torch.Tensor]
    exact: Callable[[np.ndarray], np.ndarray] | None
    no_motion_level: Callable[[np.ndarray | None], float]
    brightness_augmentation: bool


INPUT_SCALINGS: dict[str, InputScaling] = {
    "minmax": InputScaling(
        "minmax", (0.0, 1.0), encode=to_uint8, decode=lambda u: u.float().div_(255.0), exact=_minmax,
        no_motion_level=_minmax_no_motion_level, brightness_augmentation=True,
    ),
    "signed": InputScaling(
        "signed", (-1.0, 1.0), encode=_signed_to_uint8,
        decode=lambda u: u.float().sub_(_SIGNED_ZERO).div_(_SIGNED_HALF_RANGE),
        exact=None, no_motion_level=lambda di=None: 0.0, brightness_augmentation=False,
    ),
}


DEFAULT_INPUT_SCALING = "minmax"  # the paper's form; a model config without `input_scaling` predates "signed"


def get_input_scaling(name: str) -> InputScaling:
    """The `INPUT_SCALINGS` entry called `name`; the error lists the valid names."""
    try:
        return INPUT_SCALINGS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown input scaling {name!r}; choose one of {', '.join(INPUT_SCALINGS)}") from None


def to_input_uint8(di: np.ndarray, scaling: str = DEFAULT_INPUT_SCALING) -> np.ndarray:
    """The uint8 form of what the model sees, as cached for training: `to_uint8` for "minmax"; for "signed",
    128 + 127 * DI / max|DI| (a flat DI gives 128 everywhere: no motion)."""
    return get_input_scaling(scaling).encode(di)


def uint8_to_input(images: torch.Tensor, scaling: str = DEFAULT_INPUT_SCALING) -> torch.Tensor:
    """uint8 tensor in the stored form of `scaling` -> float model input ([0, 1] or [-1, 1])."""
    return get_input_scaling(scaling).decode(images)


def to_model_input(di: np.ndarray, scaling: str = DEFAULT_INPUT_SCALING) -> torch.Tensor:
    """(H, W, 3) DI, float or uint8 -> (3, H, W) float32 tensor, what LEARNet takes.

    A uint8 DI is taken to be in the stored form of `scaling` (`to_input_uint8`; for "minmax" that is the
    displayed DI); a float DI is scaled first, so both paths give the same tensor up to the uint8 rounding.
    """
    s = get_input_scaling(scaling)
    if di.dtype != np.uint8:
        if s.exact is not None:  # min-max: already in [0, 1], no rounding
            return torch.from_numpy(np.ascontiguousarray(s.exact(di).transpose(2, 0, 1)))
        di = s.encode(di)
    return s.decode(torch.from_numpy(np.ascontiguousarray(di.transpose(2, 0, 1))))


def no_motion_level(di: np.ndarray, scaling: str = DEFAULT_INPUT_SCALING) -> float:
    """The model-input value of a pixel without motion (raw DI = 0): 0 for "signed"; for "minmax"
    -min / (max - min) of this DI, clipped to [0, 1] (0.5 for a flat DI, which has no range to scale)."""
    return get_input_scaling(scaling).no_motion_level(di)


def frame_window(
    n_frames: int,
    onset: int | None = None,
    apex: int | None = None,
    offset: int | None = None,
    window: str = "onset-offset",
) -> slice:
    """The frames (0-based, inclusive ends) a dynamic image summarises.

    Missing onset/offset default to the clip's ends, a missing apex to the middle of onset..offset.
    ``"onset-apex"`` and ``"apex-offset"`` are the two halves used by dual-phase dynamic images.
    """
    if window not in WINDOWS:
        raise ValueError(f"unknown frame window {window!r}; choose one of {', '.join(WINDOWS)}")
    if n_frames < 1:
        raise ValueError("the clip has no frames")
    onset = 0 if onset is None else int(onset)
    offset = n_frames - 1 if offset is None else int(offset)
    if not 0 <= onset < offset < n_frames:
        raise ValueError(
            f"need 0 <= onset < offset < {n_frames} (frames in the clip), got onset={onset}, offset={offset}"
        )
    apex = (onset + offset) // 2 if apex is None else int(apex)
    if not onset <= apex <= offset:
        raise ValueError(f"apex {apex} lies outside onset..offset ({onset}..{offset})")
    if window == "onset-offset":
        return slice(onset, offset + 1)
    if window == "onset-apex":
        return slice(onset, max(apex, onset + 1) + 1)  # a DI needs two frames
    return slice(min(apex, offset - 1), offset + 1)
