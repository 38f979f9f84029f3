"""Head-motion stabilisation: register every aligned frame to the reference frame before rank pooling.

The face is aligned once per clip (`learnet.face`), so a head that drifts by a pixel during the clip moves
every edge of the crop, and the dynamic image then outlines the whole face: that global motion is as large as
a micro-expression and says nothing about it.  Here each frame's rigid motion relative to the reference
frame (the onset) is estimated on the aligned crop with OpenCV's ECC image alignment (Evangelidis & Psarakis,
2008; rotation + translation), and the frames are warped again from the source with that motion removed, in
one interpolation.  A micro-expression moves a few small regions, so it barely pulls the global estimate;
what remains in the dynamic image is the local motion.
"""
from __future__ import annotations

import cv2
import numpy as np

_ECC_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-5)
_BORDER = 0.08  # of the crop side, left out of the registration
_MAX_SHIFT = 0.1  # of the crop side: a larger estimate is a failure (the face left), not head drift


def _grey(frame: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.GaussianBlur(g, (0, 0), 1.0)  # ECC converges from further away on a slightly smoothed image


def estimate_head_motion(aligned: np.ndarray, reference: int = 0) -> np.ndarray:
    """Rigid motion of every aligned frame relative to `reference`: (T, 2, 3) maps from reference-crop pixels
    to the same skin's pixels in frame t (identity for the reference).

    Frames are registered in order outwards from the reference, each starting from its neighbour's estimate.
    A frame that does not converge, or whose estimate is implausibly large, keeps its neighbour's motion.
    """
    frames = np.asarray(aligned)
    T, size = frames.shape[0], frames.shape[1]
    motion = np.tile(np.eye(2, 3, dtype=np.float32), (T, 1, 1))
    template = _grey(frames[reference])
    # The crop's outer band holds replicated border pixels that do not move with the head: leave it out.
    band = max(1, round(_BORDER * size))
    mask = np.zeros((size, size), np.uint8)
    mask[band:-band, band:-band] = 1
    for order in (range(reference + 1, T), range(reference - 1, -1, -1)):
        guess = np.eye(2, 3, dtype=np.float32)
        for t in order:
            warp = guess.copy()
            try:
                _, warp = cv2.findTransformECC(template, _grey(frames[t]), warp, cv2.MOTION_EUCLIDEAN,
                                               _ECC_CRITERIA, mask, 1)
            except cv2.error:  # no convergence (e.g. a blink on a featureless crop): keep the neighbour's
                warp = guess
            if np.abs(warp[:, 2]).max() > _MAX_SHIFT * size:
                warp = guess
            motion[t] = guess = warp
    return motion


def stabilising_transforms(crop_transform: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Per-frame source -> crop maps (T, 2, 3) that undo `motion` on top of one crop transform (2, 3).

    Stabilised frame t at crop pixel p reads the skin that was at p in the reference frame: frame t's crop at
    motion_t(p), i.e. the source at crop_transform^-1(motion_t(p)).
    """
    crop = np.vstack([crop_transform, [0.0, 0.0, 1.0]])
    out = np.empty((len(motion), 2, 3), dtype=np.float64)
    for t, m in enumerate(motion):
        inverse = np.vstack([cv2.invertAffineTransform(m.astype(np.float64)), [0.0, 0.0, 1.0]])
        out[t] = (inverse @ crop)[:2]
    return out
