"""Head-motion stabilisation: a drifting still face gives a flat dynamic image, a local motion survives."""
import cv2
import numpy as np
import pytest

from learnet.abstention import motion_evidence
from learnet.face import FaceInfo, warp_frames
from learnet.pipeline import preprocess
from learnet.stabilise import estimate_head_motion, stabilising_transforms


def _texture(size: int = 160, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 2.0)
    base = (base - base.min()) / (base.max() - base.min()) * 200 + 20
    return np.repeat(base[..., None], 3, 2)


def _drifting_clip(shift_per_frame=(0.1, -0.07), frames: int = 24, blob: float = 0.0) -> np.ndarray:
    """A textured square translated by a sub-pixel amount per frame; `blob` px moves one small patch too."""
    img = _texture()
    out = []
    for t in range(frames):
        dx, dy = shift_per_frame[0] * t, shift_per_frame[1] * t
        frame = cv2.warpAffine(img, np.float32([[1, 0, dx], [0, 1, dy]]), (160, 160), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REFLECT)
        if blob:
            ys, xs = np.mgrid[0:160, 0:160].astype(np.float32)
            g = np.exp(-((xs - 100) ** 2 + (ys - 60) ** 2) / (2 * 8.0 ** 2)) * blob * t / (frames - 1)
            frame = cv2.remap(frame, xs - g, ys, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        out.append(frame)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def test_estimated_motion_recovers_a_known_drift():
    clip = _drifting_clip()
    info = FaceInfo(found=False, mode="none", transform=np.array([[1 / 160, 0, 0], [0, 1 / 160, 0]]))
    aligned = warp_frames(clip, info, 160)
    motion = estimate_head_motion(aligned, reference=0)
    assert motion.shape == (24, 2, 3)
    np.testing.assert_allclose(motion[0], np.eye(2, 3), atol=1e-6)
    # Skin at p in frame 0 sits at p + t * (0.1, -0.07) in frame t.
    np.testing.assert_allclose(motion[-1, :, 2], [0.1 * 23, -0.07 * 23], atol=0.05)
    np.testing.assert_allclose(motion[-1, :, :2], np.eye(2), atol=2e-3)


def test_stabilising_transform_composes_the_inverse_motion():
    crop = np.array([[2.0, 0.0, -10.0], [0.0, 2.0, -4.0]])
    motion = np.array([[[1.0, 0.0, 3.0], [0.0, 1.0, -1.0]]])
    # Undoing a shift of (3, -1) crop px after the crop map: x -> 2x - 10 - 3, y -> 2y - 4 + 1.
    np.testing.assert_allclose(stabilising_transforms(crop, motion)[0], [[2, 0, -13], [0, 2, -3]])


def test_stabilised_dynamic_image_keeps_local_motion_and_drops_drift():
    still = _drifting_clip()
    moving = _drifting_clip(blob=1.5)
    plain = np.abs(preprocess(still, face_mode="none", size=112).di).mean()
    steady = np.abs(preprocess(still, face_mode="none", size=112, stabilise=True).di).mean()
    local = preprocess(moving, face_mode="none", size=112, stabilise=True)
    # What is left of a 2.3 px drift is interpolation error: measured 22x weaker.
    assert steady < plain / 10
    # The local motion stays where it happened (around (100, 60) of 160 -> (70, 42) of 112).
    energy = np.abs(local.di).mean(axis=2)
    ys, xs = np.unravel_index(np.argmax(cv2.GaussianBlur(energy, (0, 0), 3)), energy.shape)
    assert (abs(xs - 70) <= 8, abs(ys - 42) <= 8) == (True, True)
    yy, xx = np.mgrid[0:112, 0:112]
    near = (xx - 70) ** 2 + (yy - 42) ** 2 < 10 ** 2
    assert energy[near].mean() > 3 * energy[~near].mean()
    assert local.timings["stabilise"] > 0
