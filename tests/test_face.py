import cv2
import numpy as np
import pytest

from conftest import moving_clip
from learnet.face import (
    FaceInfo, FaceNotFoundError, align_clip, detect_face, find_face, pixel_transform, similarity_from_eyes, warp_frames,
)
from learnet.template import EYES


def _apply(M, point):
    return M[:, :2] @ np.asarray(point, float) + M[:, 2]


def test_similarity_maps_two_points_exactly():
    src = ((10.0, 20.0), (50.0, 35.0))
    M = similarity_from_eyes(src)
    for p, q in zip(src, EYES):
        np.testing.assert_allclose(_apply(M, p), q, atol=1e-12)
    a, b = M[0, 0], M[1, 0]
    np.testing.assert_allclose(M[:, :2], [[a, -b], [b, a]])  # rotation + uniform scale only
    with pytest.raises(ValueError, match="coincide"):
        similarity_from_eyes(((1, 1), (1, 1)))


def test_detects_the_real_face_and_both_eyes(face_photo):
    boxes, eyes = detect_face(face_photo)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert 140 < x < 170 and 90 < y < 120 and 200 < w < 250  # her face in the 512x600 photo
    assert eyes is not None
    (lx, ly), (rx, ry) = eyes
    assert lx < rx and abs(ly - ry) < 15 and 60 < rx - lx < 110


def test_alignment_puts_the_eyes_on_the_template(face_photo):
    aligned, info = align_clip(np.stack([face_photo] * 3), size=112)
    assert info.found and info.eyes_detected and info.warnings == []
    assert aligned.shape == (3, 112, 112, 3) and aligned.dtype == np.uint8
    for src, target in zip(info.eyes, EYES):
        np.testing.assert_allclose(_apply(info.transform, src), target, atol=1e-9)
    # eyes are darker than the cheeks below them in the aligned crop
    gray = cv2.cvtColor(aligned[0], cv2.COLOR_RGB2GRAY).astype(float)
    eye_row, cheek_row = int(0.40 * 112), int(0.58 * 112)
    assert gray[eye_row - 2 : eye_row + 3, 30:42].mean() < gray[cheek_row - 2 : cheek_row + 3, 30:42].mean()


def test_one_transform_for_the_whole_clip(face_photo):
    # the face drifts 0.5 px per frame; alignment must follow the reference frame only, so the drift survives
    frames = moving_clip(face_photo, n=9, step=0.5)
    aligned, info = align_clip(frames, size=112, reference=0)
    scale = np.sqrt(abs(np.linalg.det(pixel_transform(info, 112)[:, :2])))
    a, b = (cv2.cvtColor(aligned[i], cv2.COLOR_RGB2GRAY).astype(np.float64) for i in (0, 8))
    (dx, dy), _ = cv2.phaseCorrelate(a, b)
    assert dy == pytest.approx(8 * 0.5 * scale, abs=0.5) and abs(dx) < 0.5
    again, info2 = align_clip(frames, size=112, reference=0)
    np.testing.assert_array_equal(info.transform, info2.transform)


@pytest.mark.parametrize("degrees", [8, -12])
def test_rotated_face_is_levelled(face_photo, degrees):
    from learnet.synth.photos import LANDMARKS

    (x1, y1), (x2, y2) = LANDMARKS["grace_hopper"].eyes
    own = np.degrees(np.arctan2(y2 - y1, x2 - x1))  # her head is rolled by -1.8 degrees in the photo
    h, w = face_photo.shape[:2]
    R = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)  # counter-clockwise
    rotated = cv2.warpAffine(face_photo, R, (w, h), borderMode=cv2.BORDER_REPLICATE)
    info = find_face(np.stack([rotated] * 2))
    assert info.found and info.eyes_detected
    assert info.angle == pytest.approx(own - degrees, abs=1.0)


def test_no_face_falls_back_to_a_centre_crop_with_a_warning():
    frames = np.random.default_rng(0).integers(0, 255, size=(3, 60, 100, 3), dtype=np.uint8)
    aligned, info = align_clip(frames, size=32)
    assert not info.found and "centre crop" in info.warnings[0]
    np.testing.assert_allclose(_apply(info.transform, (20, 0)), (0, 0))  # square crop starts at x = 20
    np.testing.assert_allclose(_apply(info.transform, (80, 60)), (1, 1))
    with pytest.raises(FaceNotFoundError, match="no face found"):
        align_clip(frames, require_face=True)


def test_mode_none_only_resizes_and_several_faces_warn(face_photo):
    frames = np.stack([face_photo] * 2)
    aligned, info = align_clip(frames, mode="none", size=64)
    assert info.mode == "none" and not info.found and aligned.shape == (2, 64, 64, 3)
    # Pixel indices are pixel centres: the frame's outer edges (-0.5 and W - 0.5) map onto the template's.
    np.testing.assert_allclose(_apply(info.transform, (511.5, 599.5)), (1, 1))
    np.testing.assert_allclose(_apply(info.transform, (-0.5, -0.5)), (0, 0))
    same = align_clip(frames[:, :64, :64], mode="none", size=64)[0]
    assert np.array_equal(same, frames[:, :64, :64])  # a frame already at the crop size comes out unchanged
    small = cv2.resize(face_photo, (256, 300))
    pair = np.concatenate([small, small], axis=1)
    info = find_face(np.stack([pair] * 2))
    assert info.faces_seen == 2 and any("2 faces" in w for w in info.warnings)
    with pytest.raises(ValueError, match="auto, none"):
        find_face(frames, mode="dlib")


def test_warp_blurs_only_the_sampled_region_with_identical_output():
    # Reference: blur the whole frame, then warp (what the crop-limited blur must reproduce bit for bit).
    rng = np.random.default_rng(0)
    frames = np.stack([cv2.GaussianBlur(f, (0, 0), 3) for f in rng.integers(0, 256, (2, 240, 320, 3), np.uint8)])
    for eyes in [((120, 100), (190, 105)), ((5, 10), (60, 2)), ((-60, -30), (5, -25)), ((50, 50), (270, 60))]:
        info = FaceInfo(True, "auto", similarity_from_eyes(eyes))
        for size in (24, 64):
            M = pixel_transform(info, size)
            shrink = 1.0 / np.sqrt(abs(np.linalg.det(M[:, :2])))
            assert shrink > 2  # the blurred path is the one under test
            expected = np.stack([
                cv2.warpAffine(cv2.GaussianBlur(f, (0, 0), 0.5 * (shrink - 1)), M, (size, size),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for f in frames
            ])
            assert np.array_equal(warp_frames(frames, info, size), expected), (eyes, size)


def _dark_discs(centres, radius: int = 9):
    grey = np.full((400, 400), 200, np.uint8)
    for c in centres:
        cv2.circle(grey, c, radius, 60, -1, lineType=cv2.LINE_AA)
    return grey


def test_eye_search_finds_dark_discs_where_eyes_can_be_and_nothing_elsewhere():
    from learnet.face import _find_eyes

    box = (100, 100, 200, 200)  # eyes are sought near (160, 174) and (240, 174)
    for pair in [((163, 172), (236, 175)), ((158, 165), (238, 190))]:  # level, and rolled by 17 degrees
        np.testing.assert_allclose(_find_eyes(_dark_discs(pair), box), pair, atol=0.1)
    assert _find_eyes(_dark_discs([(163, 172)]), box) is None  # one eye is not a pair
    assert _find_eyes(_dark_discs([(176, 174), (224, 174)]), box) is None  # 0.24 of the face apart: too close


# --- real faces at webcam scale: the permitted photos pasted into 640x480 frames -------------------------

def _paste(photo, name, interocular, centre, background=90, mirror=False):
    """`photo` scaled to the given interocular distance with its eye midpoint at `centre` of a 640x480 frame,
    JPEG-compressed like a webcam frame; returns the frame and the annotated eyes moved along."""
    from learnet.synth.photos import LANDMARKS

    eyes = np.asarray(LANDMARKS[name].eyes, float)
    if mirror:
        photo = np.ascontiguousarray(photo[:, ::-1])
        w = photo.shape[1]
        eyes = np.array([[w - 1 - eyes[1, 0], eyes[1, 1]], [w - 1 - eyes[0, 0], eyes[0, 1]]])
    s = interocular / np.linalg.norm(eyes[1] - eyes[0])
    small = cv2.resize(photo, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    shift = np.asarray(centre, float) - s * eyes.mean(axis=0)
    M = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    frame = cv2.warpAffine(small, M, (640, 480), borderMode=cv2.BORDER_CONSTANT, borderValue=(background,) * 3)
    _, jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 60])
    return cv2.imdecode(jpg, cv2.IMREAD_UNCHANGED), s * eyes + shift


def _photo(name):
    if name == "astronaut":
        pytest.importorskip("skimage")
    from learnet.synth.photos import load_photo

    return load_photo(name)


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
@pytest.mark.parametrize("interocular, mirror", [(42, False), (60, True), (90, False)])
def test_eye_centres_of_real_faces_at_webcam_scale(name, interocular, mirror):
    frame, truth = _paste(_photo(name), name, interocular, (300, 200), mirror=mirror)
    info = find_face(frame[None])
    assert info.found and info.eyes_detected and info.warnings == []
    error = np.linalg.norm(np.asarray(info.eyes) - truth, axis=1)
    assert error.max() < 0.06 * interocular, error  # the goal: median under 5% of the interocular distance


def _hide_eyes(photo, name):
    """The photo with each eye (and its lids) blurred to skin: a face whose eyes cannot be seen."""
    from learnet.synth.photos import LANDMARKS

    eyes = LANDMARKS[name].eyes
    d = float(np.linalg.norm(np.subtract(eyes[1], eyes[0])))
    mask = np.zeros(photo.shape[:2], np.uint8)
    for x, y in eyes:
        cv2.ellipse(mask, (int(x), int(y)), (int(0.3 * d), int(0.17 * d)), 0, 0, 360, 255, -1)
    blurred = cv2.GaussianBlur(photo, (0, 0), 0.15 * d)
    out = photo.copy()
    out[mask > 0] = blurred[mask > 0]
    return out


def test_hidden_eyes_fall_back_to_the_box_prior(face_photo):
    from learnet.face import _BOX_EYES

    frame, truth = _paste(_hide_eyes(face_photo, "grace_hopper"), "grace_hopper", 70, (320, 220))
    info = find_face(np.stack([frame] * 3))
    assert info.found and not info.eyes_detected
    assert info.warnings == ["eyes not detected; eye positions estimated from the face box"]
    x, y, w, h = info.box
    expected = [(x + fx * w, y + fy * h) for fx, fy in _BOX_EYES]
    np.testing.assert_allclose(info.eyes, expected)
    # The prior is measured on Haar boxes of real faces: within a tenth of the interocular distance here.
    assert np.linalg.norm(np.asarray(info.eyes) - truth, axis=1).max() < 0.1 * 70


def test_a_blink_on_the_reference_frame_aligns_on_a_frame_with_open_eyes(face_photo):
    hidden, _ = _paste(_hide_eyes(face_photo, "grace_hopper"), "grace_hopper", 70, (320, 220))
    open_eyes, truth = _paste(face_photo, "grace_hopper", 70, (320, 220))
    frames = np.stack([hidden, hidden, open_eyes, open_eyes, open_eyes, open_eyes])
    info = find_face(frames, reference=0, candidates=4)
    assert info.found and info.eyes_detected and info.reference_frame == 2  # frames tried: 0, 1, 2, ...
    assert info.warnings == ["eyes not detected on frame 0; aligned on frame 2, where they were"]
    assert np.linalg.norm(np.asarray(info.eyes) - truth, axis=1).max() < 0.06 * 70


def test_the_face_with_visible_eyes_wins_over_a_larger_one_without(face_photo):
    big, _ = _paste(_hide_eyes(face_photo, "grace_hopper"), "grace_hopper", 90, (160, 200))
    small, truth = _paste(face_photo, "grace_hopper", 60, (480, 200))
    frame = np.concatenate([big[:, :320], small[:, 320:]], axis=1)
    boxes, eyes = detect_face(frame)
    assert len(boxes) == 2 and boxes[0][0] > 320 and boxes[1][2] > boxes[0][2]
    assert np.linalg.norm(np.asarray(eyes) - truth, axis=1).max() < 0.06 * 60
    info = find_face(frame[None])
    assert info.eyes_detected and info.warnings == ["2 faces found; using the largest with visible eyes"]


def _thread_frames(face_photo):
    """Six frames with the face at different places and sizes, so that mixed-up results would show."""
    places = [(70, (200, 180)), (90, (420, 200)), (60, (320, 160)), (80, (250, 230)), (100, (380, 180)),
              (75, (460, 240))]
    return [_paste(face_photo, "grace_hopper", d, c, background=40 + 30 * i)[0] for i, (d, c) in enumerate(places)]


def test_find_face_from_many_threads_equals_the_sequential_results(face_photo):
    # OpenCV cascades keep per-call scratch state: one shared by threads returned other frames' boxes.
    from concurrent.futures import ThreadPoolExecutor

    frames = _thread_frames(face_photo)
    expected = [find_face(f[None]) for f in frames]
    assert len({info.box for info in expected}) == len(frames)  # every frame has its own answer
    jobs = [i for _ in range(8) for i in range(len(frames))]
    np.random.default_rng(0).shuffle(jobs)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda i: find_face(frames[i][None]), jobs))
    for i, info in zip(jobs, results):
        assert info.box == expected[i].box and info.eyes == expected[i].eyes, i
        np.testing.assert_array_equal(info.transform, expected[i].transform)


# --- exact values at the edges of each step -------------------------------------------------------------

def test_similarity_error_message_and_the_smallest_eye_distance_accepted():
    with pytest.raises(ValueError, match=r"^the two eye points coincide$"):
        similarity_from_eyes(((3.0, 4.0), (3.0, 4.0)))
    M = similarity_from_eyes(((0.0, 0.0), (1e-9, 0.0)))  # exactly the tolerance: still two points
    np.testing.assert_allclose(_apply(M, (0.0, 0.0)), EYES[0], atol=1e-9)
    assert M[0, 0] == pytest.approx((EYES[1][0] - EYES[0][0]) / 1e-9)


def test_face_info_to_dict_is_the_whole_summary():
    info = FaceInfo(True, "auto", np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), box=(1, 2, 30, 40),
                    eyes=((1.5, 2.0), (3.0, 4.25)), eyes_detected=True, angle=12.34567, reference_frame=3,
                    faces_seen=2, warnings=["w"])
    assert info.to_dict() == {
        "found": True, "mode": "auto", "box": [1, 2, 30, 40], "eyes": [[1.5, 2.0], [3.0, 4.25]],
        "eyes_detected": True, "angle_deg": 12.346, "reference_frame": 3, "faces_seen": 2,
        "transform": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "warnings": ["w"],
    }
    empty = FaceInfo(False, "none", np.eye(2, 3)).to_dict()
    assert empty["box"] is None and empty["eyes"] is None and empty["angle_deg"] == 0.0


def test_bad_frames_and_no_face_messages_are_exact():
    with pytest.raises(ValueError, match=r"^frames must be \(T, H, W, 3\), got \(2, 8, 8\)$"):
        align_clip(np.zeros((2, 8, 8), np.uint8))
    # a tall frame: the square crop starts 20 rows down
    frames = np.random.default_rng(1).integers(0, 255, size=(3, 100, 60, 3), dtype=np.uint8)
    info = find_face(frames, candidates=1)  # frames 0 and 1 are tried
    assert info.warnings == ["no face found in 2 frames of the clip; using a centre crop instead"]
    np.testing.assert_allclose(_apply(info.transform, (0, 20)), (0, 0))
    np.testing.assert_allclose(_apply(info.transform, (60, 80)), (1, 1))
    with pytest.raises(FaceNotFoundError, match=r"^no face found in 2 frames of the clip; use a frontal, well-lit "
                                                r"face or face mode 'none' for pre-cropped clips$"):
        find_face(frames, candidates=1, require_face=True)


class _FakeCascade:
    """Stands in for the Haar cascade: returns the given (boxes, neighbours) per pass and records each call."""

    def __init__(self, passes):
        self.passes, self.calls, self.images, self.settings = list(passes), [], [], []

    def detectMultiScale2(self, gray, scaleFactor, minNeighbors, minSize, maxSize):
        self.calls.append((gray.shape, minSize, maxSize))
        self.images.append(gray)
        self.settings.append((scaleFactor, minNeighbors))
        boxes, neighbours = self.passes[len(self.calls) - 1]
        return np.array(boxes, np.int32).reshape(-1, 4), np.array(neighbours, np.int32)


def test_face_boxes_passes_order_weak_detections_and_scale(monkeypatch):
    import learnet.face as face

    def run(shape, passes, gray=None):
        fake = _FakeCascade(passes)
        monkeypatch.setattr(face, "_cascade", lambda name: fake)
        gray = np.zeros(shape, np.uint8) if gray is None else gray
        return face._face_boxes(gray), fake.calls, fake

    # exactly the strong count ends the search after the large faces; one fewer searches the small ones too
    boxes, calls, fake = run((300, 400), [([(10, 20, 100, 100)], [10])])
    assert fake.settings == [(1.1, 3)]
    assert boxes == [(10, 20, 100, 100)] and calls == [((300, 400), (90, 90), (300, 300))]
    boxes, calls, _ = run((300, 400), [([(10, 20, 100, 100)], [9]), ([(200, 30, 50, 50)], [9])])
    assert boxes == [(10, 20, 100, 100), (200, 30, 50, 50)]
    assert [c[1:] for c in calls] == [((90, 90), (300, 300)), ((45, 45), (121, 121))]
    # largest area first (not by position, not by aspect); weaker than 0.35 of the strongest dropped
    boxes, _, _ = run((300, 400), [([], []), ([(5, 5, 60, 30), (50, 50, 100, 100), (1, 1, 200, 200)], [4, 4, 1])])
    assert boxes == [(50, 50, 100, 100), (5, 5, 60, 30)]
    # exactly 0.35 of the strongest is kept
    boxes, _, _ = run((300, 400), [([(0, 0, 90, 90), (200, 0, 95, 95)], [20, 7])])
    assert boxes == [(200, 0, 95, 95), (0, 0, 90, 90)]
    # a tiny frame: no size under 24 px is searched
    _, calls, _ = run((50, 70), [([], []), ([], [])])
    assert [c[1:] for c in calls] == [((24, 24), (50, 50)), ((24, 24), (24, 24))]
    assert run((50, 70), [([], []), ([], [])])[0] == []
    # frames over 480 px are searched on an area-averaged copy (half size for 960), and the boxes scaled back
    gray = np.random.default_rng(0).integers(0, 256, (720, 960), np.uint8)
    boxes, calls, fake = run((720, 960), [([(11, 21, 101, 101)], [12])], gray)
    assert calls[0][0] == (360, 480) and boxes == [(22, 42, 202, 202)]
    gray = gray[:480, :640]  # 3/4 size
    boxes, calls, fake = run((480, 640), [([(12, 21, 99, 99)], [12])], gray)
    assert calls[0][0] == (360, 480) and boxes == [(16, 28, 132, 132)]
    smaller = cv2.resize(gray, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    assert np.array_equal(fake.images[0], cv2.equalizeHist(smaller))


def test_eye_search_does_not_depend_on_contrast():
    from learnet.face import _find_eyes

    box, pair = (100, 100, 200, 200), ((163, 172), (236, 175))
    faint = np.full((400, 400), 200, np.uint8)
    for c in pair:
        cv2.circle(faint, c, 9, 199, -1)  # one grey level darker: the normalised blob map is the same
    np.testing.assert_allclose(_find_eyes(faint, box), pair, atol=0.3)


def test_eye_search_prefers_a_level_pair_and_keeps_the_iris_near_the_eye():
    from learnet.face import _find_eyes

    box = (100, 100, 200, 200)
    # two equal blobs on the right, one level with the left eye, one 18 px higher (a brow): the level pair wins
    discs = _dark_discs([(163, 174), (237, 174), (237, 156)])
    (lx, ly), (rx, ry) = _find_eyes(discs, box)
    assert abs(lx - 163) < 0.5 and abs(ly - 174) < 0.5 and abs(rx - 237) < 0.5 and abs(ry - 174) < 2
    # a black dot 15 px below a pale eye (a mole; 5 px of the 128 px face search, 7.8 px here, is the reach of
    # the iris search): the eye centre stays on the eye
    grey = _dark_discs([(163, 174)])
    cv2.circle(grey, (237, 174), 9, 120, -1, lineType=cv2.LINE_AA)
    cv2.circle(grey, (237, 189), 3, 0, -1, lineType=cv2.LINE_AA)
    np.testing.assert_allclose(_find_eyes(grey, box), ((163, 174), (237, 174)), atol=1.0)


def test_refine_is_the_parabola_vertex_clipped_to_half_a_pixel():
    from learnet.face import _refine

    def parabola(vx, vy):
        yy, xx = np.mgrid[-1:2, -1:2].astype(np.float32)
        return np.pad(-((xx - vx) ** 2) - (yy - vy) ** 2 + 10, 1, mode="constant", constant_values=-100)

    assert _refine(parabola(0.25, -0.125), 2, 2) == pytest.approx((2.25, 1.875), abs=1e-6)
    assert _refine(parabola(1.2, -1.2), 2, 2) == (2.5, 1.5)  # a peak cut by its window's edge
    assert _refine(parabola(-1.2, 1.2), 2, 2) == (1.5, 2.5)
    plateau = np.full((5, 5), 3.0, np.float32)
    assert _refine(plateau, 2, 2) == (2.0, 2.0)  # flat: no curvature, no shift
    assert _refine(parabola(0.25, 0.25), 0, 0) == (0.0, 0.0)  # at the border: no neighbours to fit


def test_warp_with_head_motion_blurs_only_the_sampled_region_with_identical_output():
    from learnet.stabilise import stabilising_transforms

    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (3, 240, 320, 3), np.uint8)
    info = FaceInfo(True, "auto", similarity_from_eyes(((120, 100), (190, 105))))
    size = 24
    motion = np.tile(np.eye(2, 3, dtype=np.float32), (3, 1, 1))
    motion[1, :, 2] = (1.5, -0.75)  # crop pixels
    c, s = np.cos(0.01), np.sin(0.01)
    motion[2] = [[c, -s, -2.0], [s, c, 1.0]]
    M = pixel_transform(info, size)
    shrink = 1.0 / np.sqrt(abs(np.linalg.det(M[:, :2])))
    assert shrink > 2
    per_frame = stabilising_transforms(M, motion)
    expected = np.stack([
        cv2.warpAffine(cv2.GaussianBlur(f, (0, 0), 0.5 * (shrink - 1)), T, (size, size), flags=cv2.INTER_CUBIC,
                       borderMode=cv2.BORDER_REPLICATE) for f, T in zip(frames, per_frame)
    ])
    assert np.array_equal(warp_frames(frames, info, size, motion=motion), expected)


def test_each_thread_loads_the_cascade_once_and_a_missing_one_is_named():
    from concurrent.futures import ThreadPoolExecutor

    from learnet.face import _FACE_CASCADE, _cascade

    mine = _cascade(_FACE_CASCADE)
    assert _cascade(_FACE_CASCADE) is mine
    with ThreadPoolExecutor(max_workers=1) as pool:
        theirs = pool.submit(lambda: (_cascade(_FACE_CASCADE), _cascade(_FACE_CASCADE))).result()
    assert theirs[0] is theirs[1] and theirs[0] is not mine
    with pytest.raises(RuntimeError, match=r"^OpenCV's Haar cascade no_such\.xml is missing; install "
                                           r"opencv-python-headless>=4\.10,<5$"):
        _cascade("no_such.xml")


def test_refine_on_a_whole_parabola_map_borders_included():
    from learnet.face import _refine

    h, w, (vx, vy) = 5, 6, (1.25, 1.25)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    blob = -((xx - vx) ** 2) - (yy - vy) ** 2
    for cy in range(h):
        for cx in range(w):
            ex = cx + np.clip(vx - cx, -0.5, 0.5) if 0 < cx < w - 1 else cx
            ey = cy + np.clip(vy - cy, -0.5, 0.5) if 0 < cy < h - 1 else cy
            assert _refine(blob, cx, cy) == pytest.approx((ex, ey), abs=1e-12), (cx, cy)


def _noise_clip(T, h=120, w=160, seed=3):
    return np.random.default_rng(seed).integers(0, 256, (T, h, w, 3), np.uint8)


def test_frames_tried_in_a_clip_and_their_warnings(face_photo):
    frames = _noise_clip(10, 600, 512)
    # frames tried: the reference 0, then 1, 3, 5, 7 (4 spread over the clip); a face only on frame 7
    frames[7] = face_photo
    info = find_face(frames)
    assert info.found and info.mode == "auto" and info.reference_frame == 7 and info.eyes_detected
    assert info.warnings == ["no face on frame 0; aligned on frame 7 instead"]
    assert not find_face(frames, candidates=3).found  # 0, 2, 4, 6
    frames[7], frames[1] = frames[0], face_photo
    assert find_face(frames).reference_frame == 1
    assert find_face(frames, reference=1).warnings == []


def test_a_face_without_eyes_on_another_frame_than_the_reference(face_photo):
    hidden, _ = _paste(_hide_eyes(face_photo, "grace_hopper"), "grace_hopper", 70, (320, 220))
    frames = _noise_clip(3, 480, 640)
    frames[1] = hidden
    info = find_face(frames)  # tries frames 0 and 1
    assert info.found and not info.eyes_detected and info.reference_frame == 1
    assert info.warnings == ["no face on frame 0; aligned on frame 1 instead",
                             "eyes not detected; eye positions estimated from the face box"]


def test_reference_frame_is_clipped_to_the_clip_and_kept_in_every_mode():
    frames = _noise_clip(4)
    assert find_face(frames, reference=-5).reference_frame == 0
    assert find_face(frames, reference=99).reference_frame == 3
    info = find_face(frames, reference=2)
    assert info.found is False and info.mode == "auto" and info.reference_frame == 2
    info = find_face(frames, mode="none", reference=2)
    assert info.found is False and info.mode == "none" and info.reference_frame == 2
    # defaults: 5 frames tried, a 112 px crop aligned on frame 0
    assert find_face(_noise_clip(10)).warnings == ["no face found in 5 frames of the clip; using a centre crop instead"]
    aligned, info = align_clip(frames)
    assert aligned.shape == (4, 112, 112, 3) and info.reference_frame == 0
    assert align_clip(frames, reference=1)[1].reference_frame == 1
    with pytest.raises(ValueError, match=r"^frames must be \(T, H, W, 3\), got \(2, 8, 8, 4\)$"):
        align_clip(np.zeros((2, 8, 8, 4), np.uint8))


def test_align_clip_logs_each_warning(caplog):
    with caplog.at_level("WARNING", logger="learnet.face"):
        align_clip(_noise_clip(6), size=16)
    assert [r.getMessage() for r in caplog.records] == [
        "no face found in 5 frames of the clip; using a centre crop instead"]


def test_which_face_the_warning_names(face_photo):
    big, _ = _paste(face_photo, "grace_hopper", 90, (160, 200))
    small, _ = _paste(face_photo, "grace_hopper", 60, (480, 200))
    info = find_face(np.concatenate([big[:, :320], small[:, 320:]], axis=1)[None])
    assert info.faces_seen == 2 and info.warnings == ["2 faces found; using the largest"]


def test_warp_blurs_only_when_shrinking_more_than_twice():
    rng = np.random.default_rng(4)
    frames = rng.integers(0, 256, (1, 128, 128, 3), np.uint8)
    info = find_face(frames, mode="none")
    M = pixel_transform(info, 64)  # exactly half size: no blur
    expected = cv2.warpAffine(frames[0], M, (64, 64), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(warp_frames(frames, info, 64)[0], expected)


@pytest.mark.parametrize("shrink, angle, where", [(2.5, 0.0, (60, 60)), (3.0, 0.3, (80, 60)), (6.0, -0.2, (60, 110)),
                                                  (12.0, 0.4, (230, 40)), (12.0, -0.5, (50, 200))])
def test_warp_of_raw_noise_equals_blurring_the_whole_frame(shrink, angle, where):
    # raw (unsmoothed) noise: every pixel the blur reaches shows in the result
    from learnet.stabilise import stabilising_transforms

    frames = np.random.default_rng(5).integers(0, 256, (3, 420, 480, 3), np.uint8)
    size = 20
    a = np.exp(1j * angle) / (shrink * size)  # template units per source pixel
    b = -a * complex(*where)
    info = FaceInfo(True, "auto", np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]]))
    M = pixel_transform(info, size)
    blurred = [cv2.GaussianBlur(f, (0, 0), 0.5 * (shrink - 1)) for f in frames]
    expected = np.stack([cv2.warpAffine(f, M, (size, size), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REPLICATE) for f in blurred])
    assert np.array_equal(warp_frames(frames, info, size), expected)
    for motion_angle in (0.0, 0.2):  # pure shifts, then with a rotation
        c, s = np.cos(motion_angle), np.sin(motion_angle)
        motion = np.array([np.eye(2, 3), [[1, 0, 2.5], [0, 1, -1.5]], [[c, -s, -1.0], [s, c, 2.0]]], np.float32)
        expected = np.stack([cv2.warpAffine(f, T, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
                             for f, T in zip(blurred, stabilising_transforms(M, motion))])
        assert np.array_equal(warp_frames(frames, info, size, motion=motion), expected), motion_angle


@pytest.mark.parametrize("where", [(-150, 50), (50, -150), (350, 50), (50, 300)])
def test_warp_of_a_crop_outside_the_frame_blurs_the_whole_frame(where):
    frames = np.random.default_rng(6).integers(0, 256, (1, 120, 160, 3), np.uint8)
    size, shrink = 16, 3.0
    info = FaceInfo(True, "auto", np.array([[1 / (shrink * size), 0, -where[0] / (shrink * size)],
                                            [0, 1 / (shrink * size), -where[1] / (shrink * size)]]))
    M = pixel_transform(info, size)
    expected = cv2.warpAffine(cv2.GaussianBlur(frames[0], (0, 0), 1.0), M, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(warp_frames(frames, info, size)[0], expected)


def _discs_image(spec, shape=(300, 300)):
    """Grey 200 with dark discs ((x, y), radius, grey), drawn at quarter-pixel precision."""
    grey = np.full(shape, 200, np.uint8)
    for (x, y), r, v in spec:
        cv2.circle(grey, (int(4 * x), int(4 * y)), int(4 * r), v, -1, lineType=cv2.LINE_AA, shift=2)
    return grey


def test_eye_pair_choice_spacing_windows_and_catchlight():
    from learnet.face import _find_eyes

    # a 128 px box: the resampled face is the box itself; eyes are sought near (138.4, 147.4) and (189.6, 147.4),
    # in windows of +-12.8 px, and a pair spaced 0.40 of the face (51.2 px) is preferred
    box = (100, 100, 128, 128)

    def right_eye(spec):
        (lx, ly), (rx, ry) = _find_eyes(_discs_image(spec), box)
        return rx, ry

    left = ((138, 147), 5, 60)
    # two equal blobs on the right: the one spaced more like eyes wins, whether nearer or farther
    assert right_eye([left, ((186, 147), 5, 60), ((201, 147), 5, 60)]) == pytest.approx((186, 147), abs=0.5)
    assert right_eye([left, ((178, 147), 5, 60), ((193, 147), 5, 60)]) == pytest.approx((193, 147), abs=0.5)
    # the darkest blob on the right is too close to the left eye (28 px, under 0.28 of the face): the next one
    assert right_eye([((150, 147), 5, 60), ((178, 147), 6, 20), ((200, 147), 5, 80)]) == pytest.approx((200, 147), abs=0.2)
    # eyes at the edges of their windows (left eye at the right edge, right eye at the bottom edge) are found
    np.testing.assert_allclose(_find_eyes(_discs_image([((151, 147), 5, 60), ((190, 159), 5, 60)]), box),
                               ((151, 147), (190, 159)), atol=0.2)
    # a 4 px catchlight amid the iris is erased before the iris centre is sought
    grey = _discs_image([left, ((190, 147), 5, 40)])
    grey[145:149, 188:192] = 255
    np.testing.assert_allclose(_find_eyes(grey, box), ((138, 147), (190, 147)), atol=0.2)


def test_a_face_box_past_the_frame_edge_reads_the_edge_pixels_repeated():
    from learnet.face import _find_eyes

    full = _dark_discs([(163, 172), (236, 175)])  # background 200 all round: repeating the edge changes nothing
    box = (100, 100, 200, 200)  # reaches x = 300
    assert _find_eyes(full[:, :252].copy(), box) == _find_eyes(full, box)
