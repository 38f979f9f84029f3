"""The real-face motion model, its photos and their annotations."""
from __future__ import annotations

import numpy as np
import pytest

from learnet.synth import photos as P
from learnet.synth import realface as R

pytest.importorskip("skimage")  # the astronaut photo ships with scikit-image (a dev dependency)

# A face with round numbers: eyes 100 px apart and level, so "up" is -y and directions are easy to state.
FACE = P.Landmarks(
    eyes=((250.0, 200.0), (350.0, 200.0)),
    brow_inner=((280.0, 165.0), (320.0, 165.0)),
    brow_middle=((250.0, 158.0), (350.0, 158.0)),
    brow_outer=((220.0, 168.0), (380.0, 168.0)),
    nose_tip=(300.0, 265.0),
    mouth_corners=((265.0, 310.0), (335.0, 310.0)),
    upper_lip=(300.0, 302.0),
    lower_lip=(300.0, 322.0),
    chin=(300.0, 370.0),
    cheeks=((240.0, 265.0), (360.0, 265.0)),
)


def test_wendland_kernel_values():
    r = np.array([0.0, 0.5, 1.0, 2.0])
    # (1 - r)^4 (4r + 1): 1 at the centre, 0.0625 * 3 at r = 1/2, 0 at and beyond the support.
    assert R.wendland(r).tolist() == [1.0, 0.1875, 0.0, 0.0]


@pytest.mark.parametrize("label", R.CLASSES)
def test_field_hits_handles_exactly_holds_anchors_and_vanishes_far_away(label):
    model = R.class_motion(label, FACE, amplitude_px=2.0)
    handles = np.array([h.point for h in model.handles])
    assert model.at(handles) == pytest.approx(np.array([h.displacement for h in model.handles]), abs=1e-9)
    assert np.abs(model.at(np.array([a.point for a in model.anchors]))).max() < 1e-9
    far = np.array([[0.0, 0.0], [639.0, 479.0], [300.0, 479.0], [40.0, 200.0], [600.0, 60.0]])
    assert model.at(far).tolist() == [[0.0, 0.0]] * len(far)
    grid = model.grid((640, 480))
    assert grid.shape == (480, 640, 2) and grid.dtype == np.float32
    assert grid[0].max() == 0.0 and grid[:, 0].min() == 0.0 == grid[:, 0].max()


def test_main_handle_amplitude_in_pixels():
    for label, name in (("positive", "mouth_corners"), ("surprise", "brow_middle"), ("negative", "brow_inner")):
        model = R.class_motion(label, FACE, amplitude_px=1.7)
        points = getattr(FACE, name)
        assert np.linalg.norm(model.at(np.array(points)), axis=1) == pytest.approx([1.7, 1.7], abs=1e-9)


def test_class_directions():
    # Image y grows downwards: "up" is negative dy.  Side 0 is image-left (subject's right).
    pos = R.class_motion("positive", FACE, 2.0)
    (l, r) = pos.at(np.array(FACE.mouth_corners))
    assert l[1] < 0 and r[1] < 0  # corners up ...
    assert l[0] < 0 < r[0]  # ... and out, away from the midline
    assert l[0] == pytest.approx(-2.0 / np.sqrt(2)) and l[1] == pytest.approx(-2.0 / np.sqrt(2))  # 45 degrees nominal
    assert (pos.at(np.array(FACE.cheeks))[:, 1] < 0).all()  # cheeks up
    sur = R.class_motion("surprise", FACE, 2.0)
    for name in ("brow_inner", "brow_middle", "brow_outer"):
        assert (sur.at(np.array(getattr(FACE, name)))[:, 1] < -1.0).all()
    lids = sur.at(np.array([[250.0, 190.0], [350.0, 190.0]]))  # 0.1 IOD above the eye centres
    assert lids[:, 1] == pytest.approx([-0.7, -0.7])  # the lid lift, 0.35 of the brows' amplitude
    neg = R.class_motion("negative", FACE, 2.0)
    (l, r) = neg.at(np.array(FACE.brow_inner))
    assert l[1] > 0 and r[1] > 0  # inner brows down ...
    assert l[0] > 0 > r[0]  # ... and towards each other
    assert (neg.at(np.array(FACE.mouth_corners))[:, 1] > 0).all()  # mouth corners down


def test_random_variation_keeps_directions_and_bounds_asymmetry():
    for seed in range(20):
        model = R.class_motion("positive", FACE, 2.0, np.random.default_rng(seed))
        d = model.at(np.array(FACE.mouth_corners))
        size = np.linalg.norm(d, axis=1)
        assert ((size >= 2.0 * 0.7 - 1e-9) & (size <= 2.0 * 1.3 + 1e-9)).all()
        assert size.sum() == pytest.approx(4.0)  # the side gains are 1 + a and 1 - a
        assert (d[:, 1] < 0).all() and d[0, 0] < 0 < d[1, 0]


@pytest.mark.parametrize("kind", R.ENVELOPES)
def test_envelope_zero_before_onset_one_at_apex(kind):
    env = R.Envelope(kind, onset=0.05, rise=0.08, hold=0.02, fall=0.1, shape=2.5)
    t = np.linspace(0.0, 0.0499, 20)
    assert env(t).tolist() == [0.0] * 20
    assert float(env(env.apex)) == pytest.approx(1.0)
    if kind == "gamma":
        assert float(env(env.offset)) == pytest.approx(0.02, abs=0.002)
    else:
        assert float(env(env.apex + 0.01)) == 1.0  # the hold
        assert float(env(env.offset)) == pytest.approx(0.0, abs=1e-12)
    inside = env(np.linspace(env.onset, env.apex, 50))
    assert (np.diff(inside) >= 0).all()  # rises monotonically to the apex


def test_gamma_envelope_closed_form():
    env = R.Envelope("gamma", onset=0.0, rise=0.1, shape=2.0)
    # (s / rise)^k exp(k (1 - s / rise)) at s = rise / 2: 0.25 e.
    assert float(env(0.05)) == pytest.approx(0.25 * np.e)


def test_clip_is_deterministic_full_frame_and_neutral_before_onset():
    a = R.make_clip("surprise", "astronaut", seed=4, n_frames=(16, 16))
    b = R.make_clip("surprise", "astronaut", seed=4, n_frames=(16, 16))
    assert a.frames.shape == (16, 480, 640, 3) and a.frames.dtype == np.uint8
    assert np.array_equal(a.frames, b.frames)
    assert a.intensity[: a.onset].max(initial=0.0) == 0.0 and a.onset >= 1 and a.intensity.max() > 0.5
    assert a.intensity[a.apex] == pytest.approx(a.intensity.max())
    lo, hi = R.AMPLITUDE_IOD
    assert lo * a.landmarks.interocular <= a.amplitude_px <= hi * a.landmarks.interocular
    assert 40.0 <= a.landmarks.interocular <= 110.0
    other = R.make_clip("negative", "astronaut", seed=4, n_frames=(16, 16))
    assert not np.array_equal(a.frames[0], other.frames[0])  # one random stream per class


def test_amplitude_range_is_half_to_three_pixels_at_128():
    lo, hi = R.AMPLITUDE_IOD
    assert lo * R.TEMPLATE_IOD_128 == pytest.approx(0.5, abs=0.01)
    assert hi * R.TEMPLATE_IOD_128 == pytest.approx(3.0, abs=0.01)


def test_thirty_fps_clip_shows_the_same_time_course_in_fewer_frames():
    c = R.make_clip("positive", "grace_hopper", seed=2, fps=30.0, n_frames=(16, 16))
    assert c.fps == 30.0 and len(c.frames) == 16
    assert c.apex - c.onset <= 6  # a rise of 40-160 ms is at most 5 frames at 30 fps


def test_probes():
    black = R.probe_clip("black", 0, n_frames=5)
    assert black.frames.shape == (5, 480, 640, 3) and black.frames.max() == 0
    noise = R.probe_clip("noise", 0, n_frames=3)
    assert noise.frames.std() > 60  # uniform over 0..255: std 73.9
    static = R.probe_clip("static-face", 0, n_frames=4)
    diff = static.frames[1].astype(float) - static.frames[0].astype(float)
    assert static.intensity.max() == 0.0 and 1.0 <= diff.std() / np.sqrt(2) <= 3.2  # sensor noise only
    with pytest.raises(ValueError, match="unknown probe 'grey'"):
        R.probe_clip("grey", 0)


@pytest.mark.parametrize("name", P.PHOTO_NAMES)
def test_annotations_inside_photo_and_ordered(name):
    photo = P.load_photo(name)
    marks = P.LANDMARKS[name]
    h, w = photo.shape[:2]
    for x, y in marks.points().values():
        assert 0 <= x < w and 0 <= y < h
    (lx, ly), (rx, ry) = marks.eyes
    assert lx < rx and abs(ly - ry) < 0.2 * (rx - lx)
    for pair in (marks.brow_inner, marks.brow_middle, marks.brow_outer, marks.mouth_corners, marks.cheeks):
        assert pair[0][0] < pair[1][0]
    assert marks.brow_outer[0][0] < marks.brow_inner[0][0] and marks.brow_inner[1][0] < marks.brow_outer[1][0]
    # Top to bottom: brows, eyes, nose tip, upper lip, lower lip, chin.
    ys = [marks.brow_middle[0][1], ly, marks.nose_tip[1], marks.upper_lip[1], marks.lower_lip[1], marks.chin[1]]
    assert ys == sorted(ys)


def test_mirror_variant_keeps_identity_geometry_and_order():
    marks = P.LANDMARKS["grace_hopper"]
    m = marks.mirrored(512)
    assert m.eyes == ((512 - 1 - 304.0, 186.0), (512 - 1 - 223.5, 188.5))
    assert m.interocular == pytest.approx(marks.interocular)
    assert m.mirrored(512) == marks


def test_place_photo_scales_and_centres_the_face():
    v = P.Variant(iod_px=30.0, centre=(300.0, 200.0), background="flat", fill=(10, 20, 30))
    frame, marks, M = P.place_photo(P.load_photo("astronaut"), P.LANDMARKS["astronaut"], v)
    assert frame.shape == (480, 640, 3)
    assert marks.interocular == pytest.approx(30.0)
    assert marks.face_centre == pytest.approx((300.0, 200.0))
    # Scale 30 / 43.1: the 512 px photo spans x 144-500, y 116-472, so the frame's corners are background.
    assert frame[240, 639].tolist() == frame[5, 5].tolist() == [10, 20, 30]
    assert frame[200, 300].tolist() != [10, 20, 30]
    with pytest.raises(ValueError, match="unknown photo 'lena'"):
        P.load_photo("lena")
