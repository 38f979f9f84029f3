"""Motion-energy curve of a clip and a heuristic onset / apex / offset estimate.

Unannotated clips ("how do I run it on my own video?") have no onset, apex or offset.  A micro-expression is a
brief, local change of the face that returns to neutral, so a simple curve finds it well enough to choose the
frames a dynamic image summarises:

    d_t = cell_t - base_t,   energy_t = mean of the largest `top_fraction` of |d_t - median(d_t)|

over `cell` x `cell` blocks of the grey-level frames (grey levels, 0-255).  Block means average out sensor
noise; subtracting the median difference of each frame cancels global brightness changes (flicker,
auto-exposure), which move every cell alike; keeping only the largest differences keeps a movement of the
brows or a mouth corner from being diluted by the still rest of the face.  The base is the first frame, or
(`detrend`, the default of `estimate_phases`) the straight line from the first to the last frame, which
cancels slow head drift in clips that start and end neutral.

`phases_from_energy` then calls the smoothed maximum the apex and walks outwards to where the curve falls to
`threshold` of the way from the noise floor to the peak: the onset before it, the offset after it.  A peak
that hardly rises above the floor (a static clip) is reported as unreliable and the whole clip is used.

This is a heuristic, not an annotation: it cannot tell an expression from a head movement or a blink, and it
assumes one event per clip.  On 30 synthetic clips with nuisances (learnet.synth; `bench/bench_app.py`
prints the current table) it put the apex within 3 frames of the truth in 25 and every window held the
true apex; the misses were blinks and the faintest expressions (under 1 px of motion).  Feed it
*aligned* frames (`learnet.face.warp_frames`), so that the face, not the background, fills the cells.

Frame rates: nothing here assumes one.  The 3-frame smoothing and the threshold crossings work on a 300 ms
expression whether it spans 9 frames (a 30 fps webcam) or 60 (200 fps, CASME II / SAMM): on synthetic
recordings with half a second of still face either side, the apex lands within one 30 fps frame (33 ms) of
the truth and onset and offset within 70 ms at both rates (tests/test_motion.py).
Everything here is plain numpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# ITU-R BT.601 luma, as OpenCV's RGB2GRAY.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class PhaseEstimate:
    """Onset, apex and offset (0-based frame indices) estimated from a motion-energy curve.

    `energy` is the raw curve and `smoothed` the one the phases were read from (grey levels); `floor` is the
    noise level (the quietest frame other than the reference), `peak` the smoothed maximum and `level` the
    crossing level that delimits onset and offset.  `reliable` is False when the peak does not rise clearly
    above the floor (see `phases_from_energy`): then the whole clip is used with the middle frame as apex, and
    `note` says so.
    """

    onset: int
    apex: int
    offset: int
    energy: np.ndarray
    smoothed: np.ndarray
    floor: float
    peak: float
    level: float
    reliable: bool
    note: str

    @property
    def num_frames(self) -> int:
        return int(self.energy.shape[0])

    def to_dict(self) -> dict:
        """JSON-able summary, the curve included (rounded to 1e-4 grey levels)."""
        return {
            "onset": self.onset, "apex": self.apex, "offset": self.offset,
            "reliable": self.reliable, "note": self.note,
            "floor": round(self.floor, 4), "peak": round(self.peak, 4), "level": round(self.level, 4),
            "energy": [round(float(v), 4) for v in self.energy],
        }


def _grey(frame: np.ndarray) -> np.ndarray:
    f = np.asarray(frame)
    if f.ndim == 2:
        return f.astype(np.float32)
    if f.ndim == 3 and f.shape[2] == 1:
        return f[..., 0].astype(np.float32)
    if f.ndim == 3 and f.shape[2] == 3:
        return f.astype(np.float32) @ _LUMA
    raise ValueError(f"a frame must be (H, W), (H, W, 1) or (H, W, 3), got shape {f.shape}")


def _block_means(grey: np.ndarray, cell: int) -> np.ndarray:
    """Means of the non-overlapping cell x cell blocks (a ragged right/bottom edge is dropped)."""
    h, w = grey.shape[0] // cell, grey.shape[1] // cell
    return grey[: h * cell, : w * cell].reshape(h, cell, w, cell).mean(axis=(1, 3))


def motion_energy(
    frames: np.ndarray,
    *,
    reference: int = 0,
    cell: int = 4,
    top_fraction: float = 0.1,
    remove_global: bool = True,
    detrend: bool = False,
) -> np.ndarray:
    """Per-frame motion energy against a reference frame, in grey levels: (T, ...) frames -> (T,) float64.

    Args:
        frames: (T, H, W, 3) RGB, (T, H, W, 1) or (T, H, W) grey frames, any numeric dtype on a 0-255 scale;
            ideally aligned face crops.
        reference: index of the neutral frame the others are compared with (its own energy is 0).
        cell: side of the square blocks averaged before differencing (noise suppression).
        top_fraction: share of blocks, the most changed ones, averaged into the energy (local motion).
        remove_global: subtract each frame's median block difference (cancels global brightness changes).
        detrend: compare frame t with the blend ``(1 - t/(T-1)) * first + t/(T-1) * last`` instead of the
            reference (which must then be the first frame): cancels slow, linear drift for clips that start
            and end neutral; the first and last frames then have energy 0.
    """
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4) or frames.shape[0] < 2:
        raise ValueError(f"motion energy needs a clip of at least 2 frames (T, H, W[, C]), got shape {frames.shape}")
    n = frames.shape[0]
    if not -n <= reference < n:
        raise ValueError(f"reference frame {reference} is outside the clip's {n} frames")
    cell = int(cell)
    if cell < 1 or frames.shape[1] < cell or frames.shape[2] < cell:
        raise ValueError(f"cell size {cell} does not fit frames of {frames.shape[2]}x{frames.shape[1]} px")
    if not 0.0 < top_fraction <= 1.0:
        raise ValueError(f"top_fraction must lie in (0, 1], got {top_fraction}")
    if detrend and reference % n != 0:
        raise ValueError("detrend compares with the line from the first to the last frame; use reference=0")
    ref = _block_means(_grey(frames[reference]), cell).ravel()
    last = _block_means(_grey(frames[-1]), cell).ravel()
    k = max(1, math.ceil(top_fraction * ref.size))
    energy = np.empty(n, dtype=np.float64)
    for t in range(n):  # one frame at a time: memory stays at a few frames whatever the clip length
        base = ref
        if detrend:
            tau = t / (n - 1)
            base = (1 - tau) * ref + tau * last
        d = _block_means(_grey(frames[t]), cell).ravel() - base
        if remove_global:
            d = d - np.median(d)
        a = np.abs(d)
        energy[t] = float(np.partition(a, a.size - k)[a.size - k :].mean())
    return energy


def smooth(curve: np.ndarray, width: int = 3) -> np.ndarray:
    """Centred moving average of odd `width` with the ends repeated (width 1 returns a copy)."""
    curve = np.asarray(curve, dtype=np.float64)
    width = int(width)
    if width < 1 or width % 2 == 0:
        raise ValueError(f"the smoothing width must be a positive odd number, got {width}")
    if width == 1:
        return curve.copy()
    half = width // 2
    padded = np.concatenate([np.full(half, curve[0]), curve, np.full(half, curve[-1])])
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def phases_from_energy(
    energy: np.ndarray,
    *,
    threshold: float = 0.15,
    width: int = 3,
    min_rise: float = 0.25,
    min_ratio: float = 0.4,
    anchors: tuple[int, ...] = (0,),
) -> PhaseEstimate:
    """Onset, apex and offset from a motion-energy curve (see the module docstring).

    Args:
        energy: (T,) curve from `motion_energy`, T >= 2.
        threshold: crossing level as a fraction of the way from the noise floor to the peak; lower values
            give a wider window (onset earlier, offset later).
        width: smoothing width (odd) applied before reading the phases.
        min_rise, min_ratio: the estimate counts as reliable when the peak rises above the noise floor by at
            least `min_rise` grey levels and by `min_ratio` times the floor (sensor noise alone rises by about
            0.1-0.3 times its floor on a static clip).
        anchors: frames whose energy is 0 by construction, not by quietness (the reference frame; with
            `detrend`, the last frame too); they are left out of the noise floor.
    """
    energy = np.asarray(energy, dtype=np.float64)
    if energy.ndim != 1 or energy.size < 2:
        raise ValueError(f"a motion-energy curve needs at least 2 frames, got shape {energy.shape}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    n = energy.size
    s = smooth(energy, width)
    others = np.delete(energy, sorted({a % n for a in anchors}))
    if others.size == 0:  # a two-frame detrended curve: nothing but anchors
        others = energy
    floor = float(others.min())
    apex = int(np.argmax(s))
    peak = float(s[apex])
    needed = max(min_rise, min_ratio * floor)
    if not peak - floor >= needed:
        note = (f"no clear motion: the motion energy peaks {max(0.0, peak - floor):.2f} grey levels above the "
                f"noise floor of {floor:.2f} (needs {needed:.2f}); using the whole clip with the middle frame as apex")
        return PhaseEstimate(0, (n - 1) // 2, n - 1, energy, s, floor, peak, floor, False, note)
    level = floor + threshold * (peak - floor)
    below = s <= level
    before = np.flatnonzero(below[:apex])
    after = np.flatnonzero(below[apex + 1 :])
    onset = int(before[-1]) if before.size else 0
    offset = apex + 1 + int(after[0]) if after.size else n - 1
    # onset < apex < offset, or apex at a clip end: either way onset < offset, a window of >= 2 frames.
    note = (f"heuristic: motion energy peaks at frame {apex} ({peak - floor:.2f} grey levels above the noise "
            f"floor); onset and offset where it falls to {threshold:.0%} of that rise")
    return PhaseEstimate(onset, apex, offset, energy, s, floor, peak, level, True, note)


def estimate_phases(
    frames: np.ndarray,
    *,
    reference: int = 0,
    cell: int = 4,
    top_fraction: float = 0.1,
    detrend: bool = True,
    threshold: float = 0.15,
    width: int = 3,
    min_rise: float = 0.25,
    min_ratio: float = 0.4,
) -> PhaseEstimate:
    """Heuristic onset / apex / offset of aligned frames: `motion_energy` then `phases_from_energy`.

    Detrending is on by default: clips trimmed around an expression start and end neutral, and comparing each
    frame with the straight line between the first and last frames cancels slow head drift, which would
    otherwise pile up towards the end of the clip and pull the apex there.
    """
    energy = motion_energy(frames, reference=reference, cell=cell, top_fraction=top_fraction, detrend=detrend)
    n = energy.size
    anchors = (reference, n - 1) if detrend else (reference,)
    return phases_from_energy(energy, threshold=threshold, width=width, min_rise=min_rise, min_ratio=min_ratio,
                              anchors=anchors)
