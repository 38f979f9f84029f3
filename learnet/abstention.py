"""When a prediction must not be presented as an answer: no face, or no motion above the noise floor.

A classifier always outputs some class, with a softmax that can be confident about a black frame.  Two cheap
checks come before the answer:

- **no face found**: face mode "auto" found no face, so the crop is a guess (a centre crop);
- **no micro-expression found**: the dynamic image holds no motion that stands above its own noise floor.

The motion check needs no model and no annotation.  The dynamic image of a static clip is sensor noise only
(rank-pooling coefficients sum to zero, so the still face cancels), and that noise is white: nearly as strong
in the DI's finest detail as anywhere.  Motion of facial features is spatially coherent instead: it survives
a Gaussian blur that averages the noise away.  So

    noise  = robust std of the DI's high-pass residual (DI - 3x3 box mean), rescaled to the DI's own noise
    score  = 99.5th percentile of |blurred DI - its median| / (noise x the blur's noise gain)

is about 3 for pure noise whatever its level (a Gaussian tail), and grows with the motion's contrast.  A clip
is called motionless below `MIN_MOTION_SCORE`; a DI that is zero to within 1e-3 grey levels (a black or frozen
clip) scores 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

NO_FACE = "no face found"
NO_MOTION = "no micro-expression found"
ABSTENTIONS: tuple[str, ...] = (NO_FACE, NO_MOTION)

MIN_MOTION_SCORE = 6.0  # white noise scores 2.5-3.5, noise resampled from a large frame 4-5; `motion_evidence`
_BLUR_SIGMA = 2.0  # px of the aligned crop: a feature's motion is several pixels wide
# Std of a 3x3 box high-pass and of a Gaussian blur applied to unit white noise (analytic).
_HIGHPASS_GAIN = float(np.sqrt((1 - 1 / 9) ** 2 + 8 / 81))
_FLAT = 1e-3  # grey levels: below this everywhere the DI is flat (black or frozen clip)


def _blur_gain(sigma: float) -> float:
    k = cv2.getGaussianKernel(int(2 * round(4 * sigma) + 1), sigma).ravel()
    return float(np.sqrt(np.sum(np.outer(k, k) ** 2)))


@dataclass(frozen=True)
class MotionEvidence:
    """How much structured motion a dynamic image holds.

    `score` is the blurred DI's 99.5th-percentile deviation in units of its own noise after the same blur
    (about 3 for noise alone); `noise` the per-pixel noise of the raw DI (its grey units); `peak` the
    blurred DI's 99.5th-percentile absolute deviation (same units).
    """

    score: float
    noise: float
    peak: float

    @property
    def has_motion(self) -> bool:
        return self.score >= MIN_MOTION_SCORE

    def to_dict(self) -> dict:
        """JSON-able summary."""
        return {"score": round(self.score, 3), "noise": round(self.noise, 4), "peak": round(self.peak, 4),
                "threshold": MIN_MOTION_SCORE, "has_motion": self.has_motion}


def motion_evidence(di: np.ndarray) -> MotionEvidence:
    """Score the structured motion in a raw dynamic image (H, W) or (H, W, C), float, any scale."""
    d = np.asarray(di, dtype=np.float32)
    if d.ndim == 3:
        d = d.mean(axis=2)
    if d.ndim != 2 or min(d.shape) < 8:
        raise ValueError(f"need a dynamic image of at least 8x8 pixels, got shape {np.shape(di)}")
    residual = d - cv2.blur(d, (3, 3), borderType=cv2.BORDER_REFLECT)
    noise = 1.4826 * float(np.median(np.abs(residual - np.median(residual)))) / _HIGHPASS_GAIN
    smooth = cv2.GaussianBlur(d, (0, 0), _BLUR_SIGMA, borderType=cv2.BORDER_REFLECT)
    peak = float(np.percentile(np.abs(smooth - np.median(smooth)), 99.5))
    if peak < _FLAT:
        return MotionEvidence(0.0, noise, peak)
    # A DI with no measurable noise (synthetic, or compression that froze the still parts) but real
    # structure scores high; the floor keeps the ratio finite.
    floor = max(noise, 1e-3 * peak) * _blur_gain(_BLUR_SIGMA)
    return MotionEvidence(peak / floor, noise, peak)


def abstention(face_mode: str, face_found: bool, evidence: MotionEvidence) -> str | None:
    """The reason not to present a class (`NO_FACE` or `NO_MOTION`), or None when the answer stands."""
    if face_mode == "auto" and not face_found:
        return NO_FACE
    if not evidence.has_motion:
        return NO_MOTION
    return None
