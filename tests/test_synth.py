"""The synthetic micro-expression generator: envelope, AU fields, masks, separability, determinism, output.

Clips here are small (32-64 px, 12-20 frames) so the whole file runs in seconds; amplitudes scale with size.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from learnet.synth import (
    ACTION_UNITS,
    MASK_FRACTION,
    Nuisances,
    Timing,
    au_combinations,
    class_names,
    displacement_field,
    draw_face,
    envelope,
    make_clip,
    make_photo_clip,
    random_identity,
    write_dataset,
)
from learnet.synth.clips import align_photo
from learnet.synth.render import REFERENCE_SIZE, blink_closure
from learnet.template import LANDMARKS

CLASSES = ("negative", "positive", "surprise")
SMALL = dict(size=64, n_frames=(16, 20))
REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "demo" / "examples"


def _grid(size: int):
    c = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.meshgrid(c, c)


# ---------------------------------------------------------------------------------------------- envelope


def test_envelope_is_a_raised_cosine_from_onset_through_apex_to_offset():
    e = envelope(Timing(n_frames=12, onset=1, apex=5, offset=9))
    assert e.shape == (12,)
    np.testing.assert_allclose(e[[0, 1, 9, 10, 11]], 0.0, atol=1e-12)
    assert e[5] == pytest.approx(1.0)
    # Half way up and down a raised cosine is exactly one half; a quarter of the way, (1 - cos(pi/4)) / 2.
    assert e[3] == pytest.approx(0.5) and e[7] == pytest.approx(0.5)
    assert e[2] == pytest.approx((1 - np.cos(np.pi / 4)) / 2)
    assert np.all(np.diff(e[1:6]) > 0) and np.all(np.diff(e[5:10]) < 0)


def test_timing_must_be_ordered():
    with pytest.raises(ValueError, match="onset < apex < offset"):
        Timing(n_frames=10, onset=4, apex=4, offset=8)


def test_blink_closure_lasts_a_blink_and_only_when_drawn():
    fps = 200.0
    assert not blink_closure(np.random.default_rng(0), 60, fps, probability=0.0).any()
    for seed in range(5):
        c = blink_closure(np.random.default_rng(seed), 400, fps, probability=1.0)
        closed = np.flatnonzero(c > 0)
        assert 0.3 - 1e-9 <= c.max() <= 1.0  # blink depth
        assert closed.size <= 0.18 * fps + 1  # at most 180 ms


# ---------------------------------------------------------------------------------------------- AU fields


@pytest.mark.parametrize("au", sorted(ACTION_UNITS))
def test_action_unit_fields_are_mirror_symmetric(au):
    u, v = _grid(64)
    f = displacement_field([au], u, v)
    mirrored = f[:, ::-1]
    # Mirroring the face flips horizontal motion and keeps vertical motion.
    np.testing.assert_allclose(mirrored[..., 0], -f[..., 0], atol=1e-5)
    np.testing.assert_allclose(mirrored[..., 1], f[..., 1], atol=1e-5)
    assert np.abs(f).max() > 0.3  # every AU moves something


@pytest.mark.parametrize("au, landmark, sign_x, sign_y", [
    (12, "right_mouth_corner", -1, -1),  # lip corner puller: out and up
    (15, "right_mouth_corner", 0, +1),  # lip corner depressor: down
    (4, "right_brow", +1, +1),  # brow lowerer: towards the nose and down
    (1, "right_brow", 0, -1),  # inner brow raiser: up
    (2, "right_brow", 0, -1),
    (5, "right_eye", 0, -1),  # upper lid raiser: the lid goes up (anchor just above the eye centre)
    (17, "chin", 0, -1),  # chin raiser: up
    (26, "chin", 0, +1),  # jaw drop: down
])
def test_action_units_move_their_landmark_the_right_way(au, landmark, sign_x, sign_y):
    x, y = LANDMARKS[landmark]
    y = y - 0.022 if au == 5 else y
    dx, dy = displacement_field([au], np.array([x], np.float32), np.array([y], np.float32))[0]
    assert np.sign(dy) == sign_y and abs(dy) > 0.2
    if sign_x:
        assert np.sign(dx) == sign_x and abs(dx) > 0.1


def test_label_sets_and_errors():
    assert class_names() == CLASSES
    assert class_names("casme2_5c") == ("happiness", "surprise", "disgust", "repression", "others")
    assert (6, 12) in au_combinations("positive")
    with pytest.raises(ValueError, match="choose one of negative, positive, surprise"):
        au_combinations("happy")
    with pytest.raises(ValueError, match="unknown label set"):
        class_names("megc")
    with pytest.raises(ValueError, match="unknown action unit"):
        make_clip("positive", 0, aus=[99], **SMALL)


# ---------------------------------------------------------------------------------------------- clips


def test_clip_fields_peak_and_mask_are_consistent():
    for seed, label in enumerate(CLASSES):
        c = make_clip(label, seed, nuisances=Nuisances.none(), **SMALL)
        T = c.n_frames
        assert c.frames.shape == (T, 64, 64, 3) and c.frames.dtype == np.uint8
        assert 16 <= T <= 20 and 0 <= c.onset < c.apex < c.offset < T
        assert set(c.aus) == set(c.aus) & set(ACTION_UNITS) and c.aus in au_combinations(label)
        magnitude = np.linalg.norm(c.field, axis=-1)
        # Micro scale: the peak displacement is 0.5-3 px at a 128 px face, and it is the field's maximum.
        assert 0.5 <= c.peak_px * REFERENCE_SIZE / c.size <= 3.0
        assert magnitude.max() == pytest.approx(c.peak_px, rel=1e-5)
        np.testing.assert_array_equal(c.mask, magnitude > MASK_FRACTION * c.peak_px)
        assert 0.005 < c.mask.mean() < 0.5
        meta = json.loads(json.dumps(c.metadata()))  # JSON-able, for reports and the UI
        assert meta["aus"] == "+".join(map(str, c.aus)) and meta["mask_pixels"] == int(c.mask.sum())


def test_rendered_motion_is_the_recorded_field():
    # Without nuisances the apex frame is the onset frame warped by the ground-truth field: undoing the
    # recorded displacement explains the apex - onset difference.  (Glasses ride on the nose and do not
    # follow the muscles, so take a face without them.)
    face = next(random_identity(k) for k in range(100) if not random_identity(k).glasses)
    c = make_clip("surprise", 3, identity=face, nuisances=Nuisances.none(), size=96, n_frames=(16, 20))
    onset, apex = c.frames[c.onset].astype(np.float32), c.frames[c.apex].astype(np.float32)
    ys, xs = np.mgrid[0:96, 0:96].astype(np.float32)
    warped = cv2.remap(onset, xs - c.field[..., 0], ys - c.field[..., 1], cv2.INTER_CUBIC,
                       borderMode=cv2.BORDER_REFLECT_101)
    before = np.abs(apex - onset)[c.mask].mean()
    after = np.abs(apex - warped)[c.mask].mean()
    assert before > 1.0 and after < 0.35 * before


def test_motion_mask_holds_the_motion():
    fractions, ratios = [], []
    for seed in range(6):
        c = make_clip(CLASSES[seed % 3], seed, nuisances=Nuisances.none(), **SMALL)
        diff = np.abs(c.frames[c.apex].astype(float) - c.frames[c.onset]).sum(-1)
        fractions.append(diff[c.mask].sum() / diff.sum())
        # With head motion, flicker, noise and compression (no blink) the motion still favours the mask.
        n = make_clip(CLASSES[seed % 3], seed, nuisances=Nuisances(blink_probability=0.0), **SMALL)
        diff = np.abs(n.frames[n.apex].astype(float) - n.frames[n.onset]).sum(-1)
        ratios.append(diff[n.mask].mean() / diff[~n.mask].mean())
    assert min(fractions) > 0.85
    assert np.median(ratios) > 1.5


def test_blinks_close_the_eyes_in_any_class():
    from dataclasses import replace

    from learnet.template import region_masks

    regions = region_masks(64)
    eyes = regions["right_eye"] | regions["left_eye"]
    # No JPEG here: its 8x8 blocks would spread any local change over the blocks it touches.
    nuisances = replace(Nuisances(), jpeg_quality=None)
    for seed, label in enumerate(CLASSES):
        # Every random draw happens whether or not a blink does, so the two clips differ by the blink only.
        with_blink = make_clip(label, seed, nuisances=replace(nuisances, blink_probability=1.0), **SMALL)
        without = make_clip(label, seed, nuisances=replace(nuisances, blink_probability=0.0), **SMALL)
        assert with_blink.nuisances["blink"] is not None and without.nuisances["blink"] is None
        diff = np.abs(with_blink.frames.astype(float) - without.frames).sum(axis=(0, 3))
        assert diff.sum() > 0 and diff[eyes].sum() / diff.sum() > 0.9


def test_same_seed_same_clip_other_seed_other_clip():
    a = make_clip("positive", 11, **SMALL)
    b = make_clip("positive", 11, **SMALL)
    c = make_clip("positive", 12, **SMALL)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert a.jpeg == b.jpeg and a.nuisances == b.nuisances
    assert a.frames.shape != c.frames.shape or not np.array_equal(a.frames, c.frames)


def test_identity_is_deterministic_and_drawn_at_any_size():
    ident = random_identity(5)
    assert ident == random_identity(5) and ident != random_identity(6)
    small = draw_face(ident, 64).face
    large = draw_face(ident, 128).face
    assert small.shape == (64, 64, 3) and small.dtype == np.float32 and 0 <= small.min() and small.max() <= 1
    # The same face at two sizes: the large render, shrunk, matches the small one.
    shrunk = cv2.resize(large, (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk - small).mean() < 0.03


def test_face_embedded_in_a_larger_frame_is_the_same_face():
    alone = make_clip("negative", 4, nuisances=Nuisances.none(), **SMALL)
    framed = make_clip("negative", 4, nuisances=Nuisances.none(), frame_size=96, **SMALL)
    assert framed.frames.shape[1:] == (96, 96, 3)
    crop = framed.frames[:, 16:80, 16:80].astype(float)
    assert np.abs(crop - alone.frames).mean() < 1.0
    np.testing.assert_array_equal(framed.mask, alone.mask)


def test_classes_are_separable_on_held_out_subjects():
    # Nearest class centroid on dynamic images of clips with every nuisance, leave-one-subject-out over 6
    # subjects: the centroids never see the test subject's face.
    from learnet.dynamic import dynamic_image, to_model_input

    feats, labels, subjects = [], [], []
    for subject in range(6):
        for label_index, label in enumerate(CLASSES):
            for k in range(3):
                c = make_clip(label, 1000 * subject + 10 * label_index + k, identity=subject, size=48,
                              n_frames=(16, 20))
                di = to_model_input(dynamic_image(c.frames[c.onset:c.offset + 1])).numpy()
                f = cv2.resize(di.transpose(1, 2, 0), (24, 24), interpolation=cv2.INTER_AREA).ravel()
                f = f - f.mean()
                feats.append(f / np.linalg.norm(f))
                labels.append(label_index)
                subjects.append(subject)
    X, y, subjects = np.stack(feats), np.array(labels), np.array(subjects)
    pred = np.empty_like(y)
    for s in range(6):
        train, test = subjects != s, subjects == s
        centroids = np.stack([X[train & (y == k)].mean(0) for k in range(3)])
        pred[test] = np.argmax(X[test] @ centroids.T, axis=1)
    accuracy = float(np.mean(pred == y))
    assert accuracy >= 0.55, accuracy  # chance is 1/3; LEARNet itself reaches far more (see the model card)


# ---------------------------------------------------------------------------------------------- photo


def test_photo_clip_animates_the_aligned_photo(face_photo):
    neutral = align_photo(face_photo, 64)
    c = make_photo_clip(face_photo, "positive", 0, size=64, n_frames=(16, 20), nuisances=Nuisances.none())
    assert c.face == "photo" and c.subject == "photo" and c.aus in au_combinations("positive")
    # Before the onset nothing moves: the frame is the aligned photo itself.
    np.testing.assert_allclose(c.frames[0].astype(float), neutral * 255, atol=1.0)
    # Explicit eye positions (as learnet.face finds them) give the same crop as automatic detection.
    from learnet.face import find_face

    eyes = find_face(face_photo[None]).eyes
    np.testing.assert_allclose(align_photo(face_photo, 64, eyes=eyes), neutral, atol=1e-6)
    with pytest.raises(ValueError, match="RGB uint8"):
        align_photo(face_photo.astype(np.float32))


# ---------------------------------------------------------------------------------------------- dataset


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "generator.json"}


def test_dataset_round_trips_through_the_manifest_reader(tmp_path):
    from learnet.datasets import read_manifest
    from learnet.synth.dataset import plan_dataset, render_job
    from learnet.video import read_clip, read_image

    out = tmp_path / "synth"
    manifest = write_dataset(out, subjects=2, clips_per_class=1, seed=3, size=32, n_frames=(12, 14))
    samples = read_manifest(manifest)
    assert [s.subject for s in samples] == ["synth/s01"] * 3 + ["synth/s02"] * 3
    assert [s.label for s in samples] == list(CLASSES) * 2
    jobs = plan_dataset(2, 1, 3, size=32, n_frames=(12, 14))
    for sample, job in zip(samples, jobs):
        clip = render_job(job)
        assert sample.clip == job.clip and len(sample.frames) == clip.n_frames and sample.fps == 200.0
        assert (sample.onset, sample.apex, sample.offset) == (clip.onset, clip.apex, clip.offset)
        assert sample.aus == "+".join(map(str, clip.aus)) and not sample.issues
        # The frames on disk are exactly the clip's (its own JPEG bytes), the mask is the clip's mask.
        np.testing.assert_array_equal(read_clip(sample.path).frames, clip.frames)
        mask = read_image(out / sample.extra["mask"])[..., 0] > 127
        np.testing.assert_array_equal(mask, clip.mask)
        assert int(sample.extra["seed"]) == job.seed and float(sample.extra["peak_px"]) > 0


def test_dataset_bytes_depend_on_the_seed_only(tmp_path):
    kw = dict(subjects=1, clips_per_class=1, size=32, n_frames=(12, 12))
    a = _digest(write_dataset(tmp_path / "a", seed=1, **kw).parent)
    b = _digest(write_dataset(tmp_path / "b", seed=1, workers=2, **kw).parent)
    c = _digest(write_dataset(tmp_path / "c", seed=2, **kw).parent)
    assert a == b
    assert a.keys() == c.keys() and a != c
    with pytest.raises(FileExistsError, match="not an empty folder"):
        write_dataset(tmp_path / "a", seed=1, **kw)


def test_mp4_dataset_and_photo_subject(tmp_path, face_photo):
    from learnet.datasets import read_manifest
    from learnet.video import read_clip

    manifest = write_dataset(tmp_path / "v", subjects=0, clips_per_class=1, seed=0, size=32, n_frames=(12, 12),
                             fmt="mp4", photo=face_photo)
    samples = read_manifest(manifest)
    assert [s.subject for s in samples] == ["synth/photo"] * 3 and all(s.is_video for s in samples)
    clip = read_clip(samples[0].path)
    assert clip.frames.shape == (12, 32, 32, 3)


def test_cli_writes_a_dataset_and_refuses_bad_input(tmp_path, capsys):
    from learnet.__main__ import main

    out = tmp_path / "cli"
    code = main(["synth", "--out", str(out), "--subjects", "1", "--clips-per-class", "1", "--size", "32",
                 "--frames", "12", "12", "--seed", "5"])
    assert code == 0 and "wrote 3 clips" in capsys.readouterr().out
    assert (out / "manifest.csv").is_file() and (out / "generator.json").is_file()
    assert main(["synth", "--out", str(out), "--subjects", "1"]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "x"), "--photo", str(tmp_path / "missing.jpg")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "y"), "--subjects", "0"]) == 2
    assert "nothing to generate" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "z"), "--peak", "2", "1"]) == 2
    assert "--peak needs 0 < MIN <= MAX" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- examples


def test_committed_example_clips():
    from learnet.datasets import read_manifest
    from learnet.video import read_clip, read_image

    samples = read_manifest(EXAMPLES / "manifest.csv")
    procedural = [s for s in samples if s.extra["face"] == "procedural"]
    assert sorted(s.label for s in procedural) == sorted(CLASSES * 2)
    for s in samples:
        path = Path(s.path)
        assert path.suffix == ".mp4" and path.stat().st_size < 300_000 and not s.issues
        clip = read_clip(path)
        assert clip.num_frames == int(s.extra["n_frames"]) and 0 <= s.onset < s.apex < s.offset < clip.num_frames
        mask = read_image(EXAMPLES / s.extra["mask"])
        assert mask.shape[:2] == clip.size and 0 < (mask[..., 0] > 127).mean() < 0.5


def test_resting_mouth_moves_the_landmarks_by_its_own_amounts():
    from dataclasses import replace

    base = random_identity(5)
    face = replace(base, smile=0.02, mouth_open=0.024)
    lm0, lm = base.landmarks(), face.landmarks()
    my, (tu, tl) = base.mouth_y, base.lip_thickness
    assert lm0["left_mouth_corner"] == (0.5 + base.mouth_half_width, my)
    assert lm["left_mouth_corner"][1] == pytest.approx(my - 0.002 - 0.02)
    assert lm["right_mouth_corner"][1] == pytest.approx(my - 0.002 - 0.02)
    assert lm["upper_lip"][1] == pytest.approx(my - tu - 0.012)
    assert lm["lower_lip"][1] == pytest.approx(my + tl + 0.012)


def test_parted_lips_show_teeth_and_a_closed_mouth_does_not():
    from dataclasses import replace

    size = 256
    base = replace(random_identity(8), beard=0.0)
    closed = draw_face(base, size=size).face
    parted = draw_face(replace(base, mouth_open=0.03), size=size).face
    # The mouth's centre column, from just above the mouth line to just below it.
    rows = slice(int((base.mouth_y - 0.015) * size), int((base.mouth_y + 0.015) * size))
    col = slice(size // 2 - 4, size // 2 + 4)
    teeth = lambda img: int((img[rows, col].min(axis=2) > 0.75).sum())  # near-white pixels  # noqa: E731
    assert teeth(closed) == 0
    assert teeth(parted) >= 16
    # Elsewhere on the face nothing changes: the forehead is identical.
    assert np.array_equal(closed[: size // 3], parted[: size // 3])


def test_domain_randomisation_draws_resting_mouths_at_its_rates():
    from learnet.synth.variation import Variation, vary_identity

    v = Variation()
    faces = [vary_identity(random_identity(s), np.random.default_rng([s, 3]), v) for s in range(400)]
    smiles = np.array([f.smile for f in faces])
    opened = np.array([f.mouth_open for f in faces])
    # Binomial(400, p): 4.5 standard deviations either side.
    assert abs((smiles != 0).mean() - v.resting_mouth_probability) < 4.5 * np.sqrt(0.6 * 0.4 / 400)
    assert abs((opened != 0).mean() - v.open_mouth_probability) < 4.5 * np.sqrt(0.35 * 0.65 / 400)
    assert smiles.min() >= v.smile[0] and smiles.max() <= v.smile[1]
    assert (smiles < 0).any() and (smiles > 0).any()
    assert opened[opened != 0].min() >= v.mouth_open[0] and opened.max() <= v.mouth_open[1]
