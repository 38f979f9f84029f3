"""Motion-energy curve and the heuristic onset/apex/offset estimate: closed forms and a real-face clip."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from learnet.motion import estimate_phases, motion_energy, phases_from_energy, smooth


def patch_clip(amplitudes, *, size=32, patch=(8, 16, 8, 16), base=100.0, ramp=0.0) -> np.ndarray:
    """Grey frames (T, size, size) of value `base`; the 8x8 `patch` (y0, y1, x0, x1, on 4 px cells) brightens
    by amplitudes[t]; `ramp` adds t * ramp to every pixel (a global exposure drift)."""
    y0, y1, x0, x1 = patch
    frames = np.full((len(amplitudes), size, size), base, dtype=np.float64)
    for t, a in enumerate(amplitudes):
        frames[t, y0:y1, x0:x1] += a
        frames[t] += ramp * t
    return frames


BUMP = np.array([0, 1, 3, 6, 10, 6, 3, 1, 0, 0], dtype=np.float64)


def test_local_patch_energy_has_closed_form():
    # 64 cells of 4x4, top 10% -> the 7 largest; the patch covers 4 of them and the median difference is 0,
    # so energy_t = 4 * a_t / 7 exactly.
    e = motion_energy(patch_clip(BUMP), cell=4, top_fraction=0.1)
    np.testing.assert_allclose(e, 4 * BUMP / 7, atol=1e-5)
    # With top_fraction 4/64 only the patch cells count: the energy is the brightening itself.
    np.testing.assert_allclose(motion_energy(patch_clip(BUMP), top_fraction=4 / 64), BUMP, atol=1e-5)


def test_global_brightness_change_is_cancelled_only_with_median_removal():
    frames = patch_clip(np.zeros(6), ramp=2.5)  # exposure drift, no local motion
    np.testing.assert_allclose(motion_energy(frames), 0.0, atol=1e-5)
    np.testing.assert_allclose(motion_energy(frames, remove_global=False), 2.5 * np.arange(6), atol=1e-4)
    # A local bump on top of the drift is measured as if the drift were not there.
    np.testing.assert_allclose(motion_energy(patch_clip(BUMP, ramp=2.5)), 4 * BUMP / 7, atol=1e-4)


def test_detrend_removes_linear_drift_and_keeps_the_bump():
    n = len(BUMP)
    drift = 3.0 * np.arange(n)  # the patch alone drifts: the median removal cannot see it, detrending can
    frames = patch_clip(BUMP + drift)
    np.testing.assert_allclose(motion_energy(frames, detrend=True), 4 * BUMP / 7, atol=1e-4)
    plain = motion_energy(frames)
    assert plain[-1] == pytest.approx(4 * drift[-1] / 7, abs=1e-4)  # without it the drift piles up at the end
    assert int(np.argmax(plain)) == n - 1


def test_grey_and_rgb_inputs_agree():
    grey = patch_clip(BUMP).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=3)
    expected = motion_energy(grey)
    np.testing.assert_allclose(motion_energy(rgb), expected, atol=1e-4)
    np.testing.assert_allclose(motion_energy(grey[..., None]), expected, atol=1e-6)


def test_smooth_is_a_centred_moving_average_with_repeated_ends():
    np.testing.assert_allclose(smooth([0, 0, 3, 0, 0], 3), [0, 1, 1, 1, 0])
    np.testing.assert_allclose(smooth([3, 0, 0], 3), [2, 1, 0])
    np.testing.assert_allclose(smooth([1, 5, 2], 1), [1, 5, 2])
    with pytest.raises(ValueError, match="positive odd number"):
        smooth([1, 2, 3], 2)


def test_phases_from_a_known_curve():
    curve = [0, 0.5, 0.5, 1, 3, 6, 10, 6, 3, 1, 0.5, 0.5]
    est = phases_from_energy(curve, threshold=0.15, width=1)
    # floor 0.5 (frame 0 is the reference), level 0.5 + 0.15 * 9.5 = 1.925: last frame below it before the
    # apex is 3, first after it is 9.
    assert (est.onset, est.apex, est.offset) == (3, 6, 9)
    assert est.reliable
    assert est.floor == 0.5 and est.peak == 10.0
    assert est.level == pytest.approx(1.925)
    assert "frame 6" in est.note
    wide = phases_from_energy(curve, threshold=0.04, width=1)  # level 0.88: the window widens to frames 2..10
    assert (wide.onset, wide.apex, wide.offset) == (2, 6, 10)


def test_apex_at_the_end_keeps_a_valid_window():
    est = phases_from_energy([0, 1, 1, 2, 5, 9], width=1)
    assert est.apex == 5 and est.offset == 5 and est.onset < est.offset


def test_a_static_noisy_clip_is_reported_unreliable_and_uses_the_whole_clip(face_photo):
    rng = np.random.default_rng(0)
    base = cv2.resize(face_photo, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float64)
    frames = np.clip(base + rng.normal(0, 2.0, (40, 64, 64, 3)), 0, 255).astype(np.uint8)
    est = estimate_phases(frames)
    assert not est.reliable
    assert (est.onset, est.apex, est.offset) == (0, 19, 39)
    assert est.note.startswith("no clear motion")
    d = est.to_dict()
    assert d["reliable"] is False and len(d["energy"]) == 40


def brow_raise_clip(face: np.ndarray, onset: int, apex: int, offset: int, n: int, peak_px: float = 1.5,
                    drift_px: float = 0.0) -> np.ndarray:
    """A 96 px face crop whose upper face moves up by up to `peak_px` (raised-cosine envelope), plus an
    optional slow rigid drift to the right."""
    img = cv2.resize(face, (96, 96), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:96, 0:96].astype(np.float32)
    weight = np.exp(-(((yy - 30) / 10) ** 2) - (((xx - 48) / 30) ** 2)).astype(np.float32)  # brow band
    t = np.arange(n, dtype=np.float64)
    env = np.where(t <= apex, 0.5 - 0.5 * np.cos(np.pi * (t - onset) / (apex - onset)),
                   0.5 + 0.5 * np.cos(np.pi * (t - apex) / (offset - apex)))
    env[(t < onset) | (t > offset)] = 0.0
    frames = []
    for i in range(n):
        map_x = xx - np.float32(drift_px * i / (n - 1))
        map_y = yy + np.float32(peak_px * env[i]) * weight
        frames.append(cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return np.stack(frames)


@pytest.mark.parametrize("drift_px", [0.0, 0.8])
def test_real_face_brow_raise_is_found(face_photo, drift_px):
    onset, apex, offset, n = 6, 17, 30, 36
    rng = np.random.default_rng(1)
    clean = brow_raise_clip(face_photo, onset, apex, offset, n, drift_px=drift_px).astype(np.float64)
    frames = np.clip(clean + rng.normal(0, 1.0, clean.shape), 0, 255).astype(np.uint8)
    est = estimate_phases(frames)
    assert est.reliable
    assert abs(est.apex - apex) <= 1
    assert onset - 1 <= est.onset <= onset + 4  # the crossing level sits a little after the true onset
    assert offset - 4 <= est.offset <= offset + 1


def test_bad_input_is_refused_with_a_sentence():
    with pytest.raises(ValueError, match="at least 2 frames"):
        motion_energy(np.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match="cell size 16 does not fit frames of 8x8 px"):
        motion_energy(np.zeros((3, 8, 8)), cell=16)
    with pytest.raises(ValueError, match="reference frame 5 is outside the clip's 3 frames"):
        motion_energy(np.zeros((3, 8, 8)), reference=5)
    with pytest.raises(ValueError, match="use reference=0"):
        motion_energy(np.zeros((3, 8, 8)), reference=1, detrend=True)
    with pytest.raises(ValueError, match=r"threshold must lie in \(0, 1\)"):
        phases_from_energy([0, 1, 0], threshold=1.5)
    with pytest.raises(ValueError, match="a frame must be"):
        motion_energy(np.zeros((3, 8, 8, 2)))


# ---- frame rates: a 30 fps webcam and a 200 fps research camera ------------------------------------------

def _recording(label: str, seed: int, fps: float, expression_frames: int, neutral_s: float = 0.5):
    """A synthetic micro-expression (learnet.synth, no nuisances) inside `neutral_s` seconds of still face on
    each side, with sensor noise (sigma 1.5 grey levels) on every frame: what a camera at `fps` records.
    Returns grey 64 px frames (the page's motion-scan size) and the true onset, apex, offset."""
    from learnet.synth.clips import make_clip
    from learnet.synth.render import Nuisances

    c = make_clip(label, seed, fps=fps, n_frames=(expression_frames, expression_frames), nuisances=Nuisances.none())
    pad = round(neutral_s * fps)
    grey = np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (64, 64), interpolation=cv2.INTER_AREA)
                     for f in c.frames]).astype(np.float32)
    frames = np.concatenate([np.repeat(grey[:1], pad, 0), grey, np.repeat(grey[-1:], pad, 0)])
    frames += np.random.default_rng(seed).normal(0, 1.5, frames.shape).astype(np.float32)
    return np.clip(frames, 0, 255), c.onset + pad, c.apex + pad, c.offset + pad


@pytest.mark.parametrize("fps, expression_frames", [(30, 14), (200, 64)])  # ~300 ms either way
def test_phases_in_seconds_at_webcam_and_research_frame_rates(fps, expression_frames):
    for label in ("negative", "positive", "surprise"):
        for seed in (0, 1):
            frames, onset, apex, offset = _recording(label, seed, fps, expression_frames)
            e = estimate_phases(frames)
            assert e.reliable, (label, seed, e.note)
            assert e.onset <= apex <= e.offset  # the window holds the true apex
            assert abs(e.apex - apex) / fps <= 1 / 30 + 1e-9  # within one webcam frame
            assert abs(e.onset - onset) / fps <= 0.07 and abs(e.offset - offset) / fps <= 0.07
            assert e.offset - e.onset + 1 >= 3  # a dynamic image of the expression, not of a frame pair


def test_a_still_webcam_face_is_no_expression_at_30_fps():
    frames, *_ = _recording("positive", 0, 30, 14)
    still = np.repeat(frames[:1], 60, 0) + np.random.default_rng(7).normal(0, 1.5, (60, 64, 64)).astype(np.float32)
    e = estimate_phases(np.clip(still, 0, 255))
    assert not e.reliable and (e.onset, e.apex, e.offset) == (0, 29, 59)
