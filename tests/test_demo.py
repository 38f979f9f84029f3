"""The demo page: handlers called directly (values, warnings, error sentences) and the served app driven by
gradio_client over 127.0.0.1."""
from __future__ import annotations

import json
import re
import socket
import warnings
import zipfile
from pathlib import Path

import cv2
import gradio as gr
import numpy as np
import pytest
import torch

from demo import build_demo, launch_options
from demo.handlers import DemoHandlers
from demo.text import LIMITATIONS, model_panel
from demo.ui import restore_examples
from learnet.face import find_face
from learnet.hub import load_model, save_model
from learnet.model import LEARNet
from learnet.pipeline import Pipeline
from learnet.template import REGION_NAMES
from learnet.video import ClipLimits, read_clip, write_video

CLASSES = ["negative", "positive", "surprise"]
EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "demo" / "examples").glob("*.mp4"))
PNG = b"\x89PNG\r\n\x1a\n"
FAST = {"ig_steps": 4, "faithfulness_steps": 2}  # explanation cost for the many-call unit tests


# ---- clips and model --------------------------------------------------------------------------------------

def face_frames(face: np.ndarray, *, n: int = 14, width: int = 192, height: int = 224, onset: int = 3,
                apex: int = 7, offset: int = 11, peak_px: float = 2.0) -> np.ndarray:
    """(n, height, width, 3) frames of a real face whose brows rise by up to `peak_px` (raised cosine)."""
    img = cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    band = np.exp(-(((yy - 0.36 * height) / (0.06 * height)) ** 2) - (((xx - 0.5 * width) / (0.25 * width)) ** 2))
    t = np.arange(n, dtype=np.float64)
    env = np.where(t <= apex, 0.5 - 0.5 * np.cos(np.pi * (t - onset) / (apex - onset)),
                   0.5 + 0.5 * np.cos(np.pi * (t - apex) / (offset - apex)))
    env[(t < onset) | (t > offset)] = 0.0
    return np.stack([
        cv2.remap(img, xx, yy + np.float32(peak_px * e) * band.astype(np.float32), cv2.INTER_LINEAR,
                  borderMode=cv2.BORDER_REPLICATE)
        for e in env
    ])


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The demo's setting (demo.settings.THREADS); restored afterwards for the other test modules."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_model(LEARNet(class_names=CLASSES), tmp_path_factory.mktemp("model") / "learnet-test")


@pytest.fixture(scope="session")
def model(model_dir) -> LEARNet:
    return load_model(model_dir)


@pytest.fixture(scope="session")
def generated_clip(tmp_path_factory, face_photo) -> Path:
    """A 14-frame real-face clip whose brows rise from frame 3 to the apex at 7 and are back at 11."""
    return write_video(tmp_path_factory.mktemp("clips") / "brow raise.mp4", face_frames(face_photo), 30)


@pytest.fixture(scope="session")
def clip_path(generated_clip) -> Path:
    """An example clip of demo/examples when there is one, else the generated clip."""
    return EXAMPLES[0] if EXAMPLES else generated_clip


@pytest.fixture
def handlers(model, tmp_path) -> DemoHandlers:
    return DemoHandlers(model, workdir=tmp_path / "results", **FAST)


def quiet(fn, *args, **kwargs):
    """Call a handler; gr.Warning outside a request is a Python warning: collect them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    return out, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


# ---- handlers ---------------------------------------------------------------------------------------------

def test_predict_matches_the_pipeline_on_the_estimated_window(handlers, model, clip_path):
    (probs, keyframes, di, plot, on, ap, off, summary), _ = quiet(handlers.predict, str(clip_path))
    clip = read_clip(clip_path)
    n = clip.num_frames
    assert list(probs) == CLASSES and sum(probs.values()) == pytest.approx(1.0, abs=1e-6)
    onset, apex, offset = on, ap, off
    assert 0 <= onset < apex < offset <= n - 1
    # Same numbers as the library on the same window and the page's one face detection (on the first
    # frame, shared with the motion curve): the page adds nothing to the prediction.
    face = find_face(clip.frames, mode=model.face_mode, reference=0)
    ref = Pipeline(model).predict(clip, onset=onset, apex=apex, offset=offset, face=face)
    for name in CLASSES:
        assert probs[name] == pytest.approx(ref.probabilities[name], abs=1e-6)
    assert [c for _, c in keyframes] == [f"onset (frame {onset})", f"apex (frame {apex})", f"offset (frame {offset})"]
    assert all(img.shape == (224, 224, 3) and img.dtype == np.uint8 for img, _ in keyframes)
    np.testing.assert_array_equal(keyframes[1][0], ref.keyframes["apex"])
    assert di.shape == (224, 224, 3)
    np.testing.assert_array_equal(di[::2, ::2], ref.preprocessed.di_uint8)  # nearest-neighbour x2
    assert plot.ndim == 3 and plot.shape[2] == 3 and plot.std() > 0
    assert f"**{ref.label}**" in summary and "motion heuristic" in summary


def test_generated_clip_window_brackets_the_true_apex(handlers, generated_clip):
    (_, _, _, _, on, ap, off, _), _ = quiet(handlers.predict, str(generated_clip))
    assert on <= 7 <= off and abs(ap - 7) <= 1  # face_frames: apex at frame 7


def test_manual_window_is_used_and_checked(handlers, clip_path):
    out, _ = quiet(handlers.predict, str(clip_path), auto_window=False, onset=1, apex=4, offset=9)
    assert list(out[4:7]) == [1, 4, 9]
    assert "chosen by hand" in out[7] and "pools frames 1-9" in out[7]
    n = read_clip(clip_path).num_frames
    with pytest.raises(gr.Error, match=rf"0 <= onset <= apex <= offset <= {n - 1} \(this clip has {n} frames\)"):
        handlers.predict(str(clip_path), auto_window=False, onset=2, apex=1, offset=n + 5)


def test_settings_reach_the_pipeline(handlers, model, clip_path):
    out, _ = quiet(handlers.predict, str(clip_path), auto_window=False, onset=0, apex=5, offset=10,
                   variant="authors", window="onset-apex", align=False)
    ref = Pipeline(model, face_mode="none", di_variant="authors", window="onset-apex").predict(
        read_clip(clip_path), onset=0, apex=5, offset=10)
    assert out[0]["surprise"] == pytest.approx(ref.probabilities["surprise"], abs=1e-6)
    assert "pools frames 0-5" in out[7] and "alignment off" in out[7]
    with pytest.raises(gr.Error, match="Unknown dynamic-image variant 'median'"):
        handlers.predict(str(clip_path), variant="median")


def test_explain_outputs_and_report(handlers, clip_path, model):
    preds, _ = quiet(handlers.predict, str(clip_path))
    (cams, inputs, chart, table, files), _ = quiet(handlers.attributions, str(clip_path),
                                                   methods=["SmoothGrad", "Occlusion"], background="apex frame")
    assert [c.split(" ")[0] for _, c in cams] == ["AL1", "AL2", "AL3", "AL4"]
    # each caption: the map's peak in attribution density (x a uniform map), or that it is flat
    assert all(re.fullmatch(r"AL\d (peak \d+\.\d×|flat)", c) for _, c in cams), [c for _, c in cams]
    assert [c.split(" ")[0] for _, c in inputs] == ["IG", "SmoothGrad", "Occlusion"]
    assert all(img.shape == (224, 224, 3) and img.dtype == np.uint8 for img, _ in cams + inputs)
    assert chart.ndim == 3 and chart.shape[2] == 3
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [r.split("|")[1].strip() for r in rows] == ["AL1", "AL2", "AL3", "AL4", "IG", "SmoothGrad",
                                                       "Occlusion", "random 7x7 map"]
    assert len(files) == 1 and files[0].endswith("-learnet-report.json")
    downloads, _ = quiet(handlers.figure, str(clip_path), methods=["Occlusion", "SmoothGrad"], background="apex frame")
    pdf, png, report = (Path(f) for f in downloads)
    assert str(report) == files[0]  # the figure reuses the explanation (same maps, same report)
    assert pdf.read_bytes()[:5] == b"%PDF-" and png.read_bytes()[:8] == PNG
    assert pdf.name == f"{Path(clip_path).stem.replace(' ', '-')}-learnet-figure-apex.pdf"
    # Asked again, the figure is not redrawn over the files a download may be reading.
    stamps = [p.stat().st_mtime_ns for p in (pdf, png)]
    again, _ = quiet(handlers.figure, str(clip_path), methods=["Occlusion", "SmoothGrad"], background="apex frame")
    assert again == downloads and [p.stat().st_mtime_ns for p in (pdf, png)] == stamps
    r = json.loads(report.read_text())
    assert r["model"]["source"] == "learnet-test"  # the weights' folder name, not the server's path
    assert r["prediction"]["probabilities"] == preds[0]
    assert r["model"]["class_names"] == CLASSES and r["model"]["parameters"] == 1_865_539
    assert [e["layer"] for e in r["explanations"]] == ["al1", "al2", "al3", "al4", None, None, None]
    curves = r["faithfulness"]["maps"]
    flat_maps = {name for name, v in curves.items() if v.get("note")}
    for e, name in zip(r["explanations"], ["AL1", "AL2", "AL3", "AL4", "IG", "SmoothGrad", "Occlusion"]):
        assert list(e["regions"]) == list(REGION_NAMES)
        # Shares of the positive part sum to one; only a map reported as flat may have none (or, if constant,
        # shares equal to the regions' areas).
        total = sum(e["regions"].values())
        if name not in flat_maps:
            assert total == pytest.approx(1.0, abs=1e-6), name
        else:
            assert total == 0.0 or e["regions"] == pytest.approx(r["region_area_shares"]), name
    ig = r["explanations"][4]
    assert ig["method"] == "ig" and ig["params"]["steps"] == FAST["ig_steps"] and ig["delta"] is not None
    assert sum(r["region_area_shares"].values()) == pytest.approx(1.0)
    curves = r["faithfulness"]["maps"]
    assert set(curves) == {"AL1", "AL2", "AL3", "AL4", "IG", "SmoothGrad", "Occlusion", "random 7x7 map"}
    # Each map's AUCs are the library's, map by map, on the same input, map and no-motion baseline (the curves
    # are checked against closed forms in test_explain_regions.py); a flat map is reported as flat, not scored.
    from explain.faithfulness import deletion_insertion_aucs, faithfulness_aucs, random_map

    a = handlers.analyse(handlers.clip_path(str(clip_path), None), handlers._settings(True, 0, 0, 0, None, None, None))
    e = handlers.attribute_analysis(a, handlers._check_explain_options(["Occlusion", "SmoothGrad"], "apex frame"))
    assert e.report_path == report  # the cached explanation that wrote the report
    x, level = a.pipeline.input_tensor(a.prediction.preprocessed), a.pipeline.no_motion_level(a.prediction.preprocessed)
    steps = FAST["faithfulness_steps"]
    expected = {m.title.replace("Grad-CAM ", ""): deletion_insertion_aucs(model, x, m, steps=steps, baseline=level)
                for m in e.bundle.maps}
    chance = {"random 7x7 map": random_map(tuple(x.shape[-2:]), seed=0, resolution=7)}
    expected |= faithfulness_aucs(model, x, chance, target=e.bundle.maps[0].target, steps=steps, baseline=level)
    flat = {"deletion_auc": None, "insertion_auc": None, "note": "map is flat: no positive evidence"}
    for name, v in curves.items():
        if expected[name] == flat:
            assert v == flat, name
        else:  # the report rounds to 4 decimals
            assert v == pytest.approx(expected[name], abs=1e-4 + 1e-9), name
    assert r["motion"]["onset"] == preds[4] and len(r["motion"]["energy"]) == read_clip(clip_path).num_frames


def test_concurrent_explanations_match_sequential_ones(model, clip_path, face_photo, tmp_path):
    """Two analyses at once (the demo's concurrency) must not mix their hooks: each borrows its own model."""
    from concurrent.futures import ThreadPoolExecutor

    other = write_video(tmp_path / "other.mp4", face_frames(face_photo, peak_px=3.0)[::-1].copy(), 30)
    h = DemoHandlers(model, workdir=tmp_path / "r", workers=2, **FAST)
    analyses = [quiet(h.analyse, Path(p), h._settings(True, 0, 0, 0, None, None, None))[0] for p in (clip_path, other)]
    expected = [[m.values for m in h.attribute_analysis(a).bundle.layer_maps] for a in analyses]
    h._cache.clear()
    with ThreadPoolExecutor(2) as pool:
        for _ in range(3):
            h._cache.clear()
            got = list(pool.map(lambda a: [m.values for m in h.attribute_analysis(a).bundle.layer_maps], analyses))
            for g, e in zip(got, expected):
                for gm, em in zip(g, e):
                    np.testing.assert_allclose(gm, em, rtol=1e-5, atol=1e-7)


def test_examples_are_listed_with_manifest_labels_and_fill_every_output(model, clip_path, tmp_path):
    import shutil

    from demo.ui import example_clips

    folder = tmp_path / "examples"
    folder.mkdir()
    shutil.copy(clip_path, folder / "surprise_1.mp4")
    (folder / "notes.txt").write_text("not a clip")
    (folder / "manifest.csv").write_text(
        "dataset,subject,clip,path,fps,onset,apex,offset,label,aus\n"
        "synthetic,s01,surprise_1,surprise_1.mp4,200,3,7,11,surprise,1+2\n")
    paths, labels = example_clips(folder)
    assert paths == [str(folder / "surprise_1.mp4")] and labels == ["surprise (AUs 1+2) - surprise_1"]
    demo = build_demo(model=model, examples_dir=folder, workdir=tmp_path / "r")
    datasets = [b for b in demo.blocks.values() if isinstance(b, gr.Dataset)]
    assert len(datasets) == 1 and datasets[0].sample_labels == labels
    out, _ = quiet(demo.handlers.example, paths[0])
    assert len(out) == 8 + 5  # every output of predict and explain; the figure waits for its button
    assert [Path(f).suffix for f in out[-1]] == [".json"]
    assert "alignment off" in out[7]  # examples are rendered aligned
    # Gradio serves the example from a copy in its cache; if anything deletes it, the sweep puts it back
    copies = demo.handlers.example_copies
    assert list(copies.values()) == paths and Path(next(iter(copies))).read_bytes() == Path(paths[0]).read_bytes()
    Path(next(iter(copies))).unlink()
    demo.handlers.quota.sweep()
    assert restore_examples(copies) == 1 and Path(next(iter(copies))).read_bytes() == Path(paths[0]).read_bytes()
    assert restore_examples(copies) == 0


def test_examples_do_not_change_the_settings_of_the_next_clip(handlers, clip_path, generated_clip, tmp_path):
    handlers.register_examples([str(clip_path)])
    copy = tmp_path / "copy of the example.mp4"  # Gradio serves examples from copies in its cache
    copy.write_bytes(Path(clip_path).read_bytes())
    assert handlers.is_example(str(copy)) and not handlers.is_example(str(generated_clip))
    # (zip, automatic window, onset, apex, offset, alignment)
    zip_, auto, *sliders, align = handlers.video_changed(str(copy), True)
    assert zip_ is None and auto is True and align is False  # an example: alignment off, the zip dropped
    assert all(u["value"] == 0 for u in sliders)
    assert handlers.video_changed(str(generated_clip), True)[-1] is True  # the user's setting is back
    assert handlers.video_changed(str(generated_clip), False)[-1] is False  # and kept when they chose off
    assert handlers.video_changed(str(generated_clip), None)[-1] is handlers.default_align
    video, auto, *_, align = handlers.zip_changed(str(tmp_path / "frames.zip"), True)
    assert video is None and auto is True and align is True  # a zip drops the video
    nothing = handlers.video_changed(None, True)  # cleared (e.g. by a zip): nothing else changes
    assert nothing == (gr.update(),) * 6 and handlers.zip_changed(None, False) == (gr.update(),) * 6
    cleared = handlers.cleared_outputs()
    assert len(cleared) == 10 and cleared[0] is None and "after **Analyse**" in cleared[4]


def test_a_new_clip_resets_the_window_controls(handlers, clip_path, tmp_path):
    n = read_clip(clip_path).num_frames
    auto, *sliders = handlers.clip_changed(str(clip_path))
    assert auto is True and all(u["value"] == 0 and u["maximum"] == n - 1 for u in sliders)
    _, *unknown = handlers.clip_changed(None)  # cleared input: the limit's range
    assert unknown[0]["maximum"] == handlers.limits.max_frames - 1


def test_results_on_disk_are_bounded(handlers, monkeypatch):
    monkeypatch.setattr("demo.settings.KEEP_RESULTS", 2)
    folders = [handlers._result_folder("a clip.mp4") for _ in range(3)]
    assert [f.name for f in folders] == ["000001-a-clip", "000002-a-clip", "000003-a-clip"]
    assert sorted(p.name for p in handlers.workdir.iterdir()) == ["000002-a-clip", "000003-a-clip"]


def test_zip_of_frames(handlers, face_photo, tmp_path):
    frames = face_frames(face_photo)
    archive = tmp_path / "frames.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i, f in enumerate(frames):
            z.writestr(f"clip/img{i + 1}.png", cv2.imencode(".png", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes())
    out, _ = quiet(handlers.predict, None, str(archive))
    assert "14 frames, 192x224 px, 200 fps" in out[7]  # folders and zips default to 200 fps


# ---- charts ---------------------------------------------------------------------------------------------------

def test_motion_chart_shades_the_window_used():
    from demo.charts import LIGHT, motion_chart
    from learnet.motion import phases_from_energy

    est = phases_from_energy([0, 0.5, 0.5, 1, 3, 6, 10, 6, 3, 1, 0.5, 0.5], width=1)
    img = motion_chart(est, (est.onset, est.apex, est.offset), 30.0, manual=False)
    assert img.shape == (200, 560, 3) and img.dtype == np.uint8
    # Plot area: x from 56 to 546 px for frames 0..11; the shade spans onset 3 .. offset 9 = 6/11 of it
    # (267 px), less the three 2 px phase lines drawn over it and their anti-aliased edges.
    shaded = np.all(np.abs(img[53].astype(int) - LIGHT) <= 2, axis=1).sum()
    assert 267 - 16 <= shaded <= 267


def test_motion_chart_keeps_the_phase_labels_inside():
    from demo.charts import PHASE_COLOURS, motion_chart
    from learnet.motion import phases_from_energy

    est = phases_from_energy([0, 0.5, 0.5, 1, 3, 6, 10, 6, 3, 1, 0.5, 0.5], width=1)
    img = motion_chart(est, (0, 6, 11), 30.0, manual=True)  # offset on the last frame, onset on the first
    label_band = img[20:50].astype(int)
    for name in ("onset", "offset"):
        ink = np.all(np.abs(label_band - PHASE_COLOURS[name]) <= 40, axis=2)
        cols = np.flatnonzero(ink.any(axis=0))
        assert cols.max() - cols.min() > 30 and cols.min() >= 2 and cols.max() <= img.shape[1] - 3, name


def test_region_chart_shows_shares_relative_to_area():
    from demo.charts import region_table_chart

    shares = np.array([[0.05, 0.15, 0.30, 0.50], [0.40, 0.30, 0.20, 0.10], [0, 0, 0, 0]])
    area = [0.05, 0.10, 0.25, 0.60]
    img = region_table_chart(["AL1", "IG", "AL4"], ["mouth", "nose", "chin", "other"], shares, reference=area,
                             flat=[False, False, True])
    # transposed: regions down, maps across (then the area column), so the table stays narrow
    assert img.shape == (40 + 34 + 24 * 4 + 8, 74 + 48 * 4 + 8, 3)
    ratio = shares[:2] / np.array(area)  # AL1: 1.0 1.5 1.2 0.83x; IG: 8 3 0.8 0.17x
    for j in range(2):  # cell corners: darker (lower luminance) for a larger share relative to the area
        lum = [img[74 + 24 * i + 4, 74 + 48 * j + 4].astype(float) @ [0.299, 0.587, 0.114] for i in range(4)]
        big = ratio[j] > 1.0 + 1e-9
        assert max(np.array(lum)[big]) < min(np.array(lum)[~big])
        assert np.argsort(lum)[0] == np.argmax(ratio[j])
    # a flat map's column and the area column are plain grey: no share is coloured as evidence
    for j in (2, 3):
        assert all(tuple(img[74 + 24 * i + 4, 74 + 48 * j + 4]) == (245, 245, 245) for i in range(4))


# ---- bad input: a sentence, never a traceback ---------------------------------------------------------------

def write_bytes(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_bad_inputs_give_sentences(handlers, tmp_path, face_photo):
    cases = [
        ((None, None), "Upload a video, record one with the webcam, or give a zip of frames first"),
        ((write_bytes(tmp_path / "broken.mp4", b"\x00\x01 not a video" * 50), None),
         "broken.mp4 could not be opened as a video"),
        ((write_bytes(tmp_path / "notes.txt", b"hello"), None), "notes.txt is not a clip"),
        ((write_bytes(tmp_path / "empty.mp4", b""), None), r"empty.mp4 is empty \(0 bytes\)"),
        ((str(write_video(tmp_path / "still.mp4", face_frames(face_photo)[:1], 30)), None),
         "still.mp4 has a single frame"),
        ((None, write_bytes(tmp_path / "nothing.zip", b"PK\x05\x06" + b"\x00" * 18)),
         "the zip nothing.zip holds no image frames"),
        ((None, write_bytes(tmp_path / "fake.zip", b"not a zip")), "fake.zip is not a valid zip archive"),
    ]
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), face_photo)
    cases.append(((str(photo), None), "face.png is a single image"))
    for (video, frames_zip), message in cases:
        with pytest.raises(gr.Error, match=message) as info:
            handlers.predict(video, frames_zip)
        assert str(tmp_path) not in info.value.message  # the user sees file names, not server paths


def test_limits_on_length_and_size(model, clip_path, tmp_path):
    n = read_clip(clip_path).num_frames
    short = DemoHandlers(model, limits=ClipLimits(max_frames=n - 1), workdir=tmp_path)
    with pytest.raises(gr.Error, match=rf"has {n} frames, above this demo's limit of {n - 1}; trim it"):
        short.predict(str(clip_path))
    small = DemoHandlers(model, limits=ClipLimits(max_file_bytes=1024), workdir=tmp_path)
    with pytest.raises(gr.Error, match=r"above this demo's limit of 1 KB"):
        small.predict(str(clip_path))
    v = small.validate(str(clip_path), None, True, 0, 0, 0, "bilen", "onset-offset", True)
    assert len(v) == 9 and v[0]["is_valid"] is False and "1 KB" in v[0]["message"]
    assert all(x["is_valid"] for x in v[1:])
    assert short.validate(None, None)[0]["message"].startswith("Upload a video")


def test_huge_frames_are_downscaled_with_a_warning(handlers, face_photo, tmp_path):
    small = face_frames(face_photo, n=6, onset=1, apex=3, offset=5)
    big = np.stack([cv2.resize(f, (832, 960), interpolation=cv2.INTER_LINEAR) for f in small])
    path = write_video(tmp_path / "big.mp4", big, 30)
    out, warned = quiet(handlers.predict, str(path))
    assert "Frames downscaled to a long side of 640 px." in warned
    assert "555x640 px" in out[7]  # portrait kept: 832x960 -> 555x640


def test_no_face_several_faces_and_greyscale_are_warnings(handlers, face_photo, tmp_path):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (8, 96, 128, 3), dtype=np.uint8)
    out, warned = quiet(handlers.predict, str(write_video(tmp_path / "noise.mp4", noise, 30)))
    assert any("No face found" in w and "centre crop" in w for w in warned)
    assert "not found: centre crop" in out[7]

    frames = face_frames(face_photo, width=160, height=192)
    pair = np.concatenate([frames, frames], axis=2)  # two faces side by side
    _, warned = quiet(handlers.predict, str(write_video(tmp_path / "pair.mp4", pair, 30)))
    assert any("2 faces found; using the largest" in w for w in warned)

    grey = np.repeat(cv2.cvtColor(frames.reshape(-1, 160, 3), cv2.COLOR_RGB2GRAY).reshape(14, 192, 160, 1), 3, axis=3)
    out, warned = quiet(handlers.predict, None, _zip(tmp_path / "grey.zip", grey))
    assert any("greyscale" in w for w in warned) and "greyscale" in out[7]


def _zip(path: Path, frames: np.ndarray) -> str:
    with zipfile.ZipFile(path, "w") as z:
        for i, f in enumerate(frames):
            z.writestr(f"f{i:03d}.png", cv2.imencode(".png", f[..., ::-1])[1].tobytes())
    return str(path)


def test_unexpected_failures_become_one_sentence(handlers, clip_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("learnet.scan.estimate_phases", boom)
    with pytest.raises(gr.Error, match=r"failed unexpectedly \(RuntimeError: simulated failure\)"):
        handlers.predict(str(clip_path))


def test_missing_model_is_explained(tmp_path, clip_path):
    demo = build_demo(tmp_path / "no-such-model", examples_dir=None, workdir=tmp_path)
    h = demo.handlers
    assert h.model is None and "neither a model folder nor a Hub repo id" in h.model_error
    with pytest.raises(gr.Error, match="No model is loaded, so nothing can be classified: .*no-such-model"):
        h.predict(str(clip_path))
    assert "No model is loaded" in model_panel(None, h.model_error)
    # A Hub id that cannot be fetched (offline, not cached): the page opens and says why.
    hub = build_demo("learnet-org/not-cached@v1", examples_dir=None, workdir=tmp_path).handlers
    assert hub.model is None
    assert "could not fetch learnet-org/not-cached@v1 from the Hugging Face Hub" in hub.model_error


def test_model_panel_and_limitations(model):
    panel = model_panel(model)
    assert f"`{Path(model.source).name}`" in panel and str(Path(model.source).parent) not in panel
    assert "negative, positive, surprise" in panel
    assert "1,865,539 trainable parameters" in panel and "variant `bilen`" in panel
    assert "not a lie" in LIMITATIONS.replace("**", "") and "synthetic" in LIMITATIONS


def test_app_module_uses_the_model_from_the_environment(monkeypatch, model_dir):
    import importlib
    import sys

    monkeypatch.setenv("LEARNET_MODEL", str(model_dir))
    monkeypatch.setattr("demo.settings._threads_set", False)
    monkeypatch.delitem(sys.modules, "app", raising=False)
    cv2_threads = cv2.getNumThreads()
    app = importlib.import_module("app")
    cv2.setNumThreads(cv2_threads)  # app.py set it for the process; the other test modules keep theirs
    assert isinstance(app.demo, gr.Blocks)
    assert app.demo.handlers.model.source == str(model_dir)
    assert torch.get_num_threads() == 1  # demo.settings.THREADS, set by app.py before building the page
    options = launch_options()
    assert options["max_file_size"] == 50 * 2**20 and options["css"]


# ---- the served app, driven by gradio_client ------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(model_dir, tmp_path_factory):
    demo = build_demo(model_dir, examples_dir=None, workdir=tmp_path_factory.mktemp("served"))
    demo.handlers.ig_steps, demo.handlers.faithfulness_steps = FAST["ig_steps"], FAST["faithfulness_steps"]
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(),
                            quiet=True, **launch_options())
    yield demo, url
    demo.close()


def test_client_predicts_and_explains(served, clip_path, tmp_path):
    from gradio_client import Client, handle_file

    demo, url = served
    client = Client(url, verbose=False, download_files=str(tmp_path))
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/predict", "/explain", "/figure"} <= set(api)
    assert api["/predict"]["parameters"][0]["parameter_name"] == "video"

    label, keyframes, di, plot, onset, apex, offset, summary = client.predict(handle_file(str(clip_path)),
                                                                              api_name="/predict")
    assert all(isinstance(v, (int, float)) for v in (onset, apex, offset))
    assert label["label"] in CLASSES and {c["label"] for c in label["confidences"]} == set(CLASSES)
    assert len(keyframes) == 3 and all(Path(k["image"]).read_bytes()[:8] == PNG for k in keyframes)
    assert keyframes[1]["caption"] == f"apex (frame {int(apex)})"
    assert Path(di).read_bytes()[:8] == PNG and Path(plot).read_bytes()[:8] == PNG
    assert int(onset) < int(apex) < int(offset) and label["label"] in summary

    cams, inputs, chart, table, files = client.predict(handle_file(str(clip_path)), api_name="/explain")
    assert [c["caption"].split(" ")[0] for c in cams] == [f"AL{i}" for i in range(1, 5)]
    assert all(Path(c["image"]).read_bytes()[:8] == PNG for c in cams + inputs)
    assert Path(chart).read_bytes()[:8] == PNG and "deletion AUC" in table
    assert [Path(f).suffix for f in files] == [".json"]
    files = client.predict(handle_file(str(clip_path)), api_name="/figure")
    suffixes = sorted(Path(f).suffix for f in files)
    assert suffixes == [".json", ".pdf", ".png"]
    report = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())
    assert report["prediction"]["label"] == label["label"]


def test_client_gets_sentences_for_bad_input_and_the_server_keeps_serving(served, clip_path, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError, ValidationError

    _, url = served
    client = Client(url, verbose=False, download_files=str(tmp_path))
    text = tmp_path / "notes.txt"
    text.write_text("not a clip")
    with pytest.raises(ValidationError, match="notes.txt is not a clip"):  # refused before the queue
        client.predict(handle_file(str(text)), api_name="/predict")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x01 not a video" * 50)
    with pytest.raises(AppError, match="broken.mp4 could not be opened as a video"):
        client.predict(handle_file(str(broken)), api_name="/predict")
    label = client.predict(handle_file(str(clip_path)), api_name="/predict")[0]
    assert label["label"] in CLASSES


def test_model_panel_leaves_structured_metadata_to_the_card(model):
    model = LEARNet(class_names=CLASSES, metadata={"model_card": "## Training\nUF1 0.9", "loso": {"uf1": 0.9},
                                                   "source_commit": "abc123"})
    panel = model_panel(model)
    assert "## Training\nUF1 0.9" in panel and "abc123" in panel and "{'uf1'" not in panel and "Loso" not in panel


# ---- bounded memory and disk, unique output files ---------------------------------------------------------

def test_sized_cache_keeps_the_newest_entries_within_its_byte_budget():
    from demo.memory import SizedCache, nbytes

    mb = np.zeros(2**20, np.uint8)
    assert nbytes({"a": mb, "b": [mb, mb[:10]]}) == 2**20 + 64 + 64 + 1 + 1  # each array once, views by base
    cache = SizedCache(3 * 2**20)
    for key in "abc":
        assert cache.put(key, np.zeros(2**20 - 200, np.uint8)) == 0
    assert cache.find("a") is not None  # now the most recent
    assert cache.put("d", np.zeros(2**20 - 200, np.uint8)) == 1
    assert "b" not in cache and [k in cache for k in "acd"] == [True, True, True]
    assert cache.put("huge", np.zeros(4 * 2**20, np.uint8)) == 0 and "huge" not in cache  # never kept
    assert cache.bytes == 3 * (2**20 - 200)


def test_caches_hold_results_not_decoded_frames(model, generated_clip, tmp_path):
    h = DemoHandlers(model, workdir=tmp_path / "r", **FAST)
    quiet(h.predict, str(generated_clip))
    quiet(h.attributions, str(generated_clip))
    frames = read_clip(generated_clip).frames  # 14 x 224 x 192 x 3: 1.8 MB
    kinds = {key[0]: value for key, (value, _) in h._cache._items.items()}
    assert set(kinds) == {"scan", "analysis", "explanation"}
    scan = kinds["scan"]
    assert not hasattr(scan.clip, "frames") and (scan.clip.num_frames, scan.clip.size) == (14, (224, 192))
    assert kinds["analysis"].prediction.preprocessed.aligned.shape == (0, 112, 112, 3)
    assert h._cache.bytes < frames.nbytes  # three results together hold less than the clip's frames
    # No cache at all: every call computes again and gives the same answer.
    none = DemoHandlers(model, workdir=tmp_path / "n", cache_bytes=0, **FAST)
    first, _ = quiet(none.predict, str(generated_clip))
    again, _ = quiet(none.predict, str(generated_clip))
    assert len(none._cache) == 0 and first[0] == again[0] and first[4:7] == again[4:7]


def test_outputs_are_png_files_under_unique_names(tmp_path):
    from demo.storage import images_as_files

    image = np.arange(24 * 32 * 3, dtype=np.uint8).reshape(24, 32, 3)
    out = images_as_files((image, [(image, "a"), (image, "b")], {"x": 1}, "text"), tmp_path)
    paths = [out[0], out[1][0][0], out[1][1][0]]
    assert len(set(paths)) == 3  # the same picture three times: three files, none rewritten by another
    for p in paths:
        np.testing.assert_array_equal(cv2.imread(p)[..., ::-1], image)
    assert [c for _, c in out[1]] == ["a", "b"] and out[2:] == ({"x": 1}, "text")


def test_disk_quota_deletes_old_files_then_the_oldest_until_under_quota(tmp_path):
    import os
    import time

    from demo.storage import DiskQuota

    now = time.time()
    ours, gradio = tmp_path / "results", tmp_path / "gradio"
    (ours / "000001-a").mkdir(parents=True)
    gradio.mkdir()

    def make(path, size, age):
        path.write_bytes(b"x" * size)
        os.utime(path, (now - age, now - age))
        return str(path)

    make(ours / "000001-a" / "ancient.json", 100, 7200)  # past the age limit
    make(ours / "000001-a" / "old.png", 400, 300)
    uploads = {make(gradio / "upload.mp4", 500, 200), make(gradio / "recent.mp4", 300, 10)}
    example = make(gradio / "example.mp4", 900, 9000)  # a cached example: never deleted
    quota = DiskQuota(900, 3600, [ours], file_sets=lambda: [uploads], keep=lambda: {example})
    result = quota.sweep()
    # 1300 bytes: the ancient file goes by age (1200 left), old.png to get under 900 (800 left)
    assert (result.files, result.bytes, result.deleted, result.freed) == (4, 1300, 2, 500)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["example.mp4", "recent.mp4", "upload.mp4"]
    assert not (ours / "000001-a").exists()  # emptied result folders go too
    quota.max_bytes = 400
    assert quota.sweep().deleted == 1 and uploads == {str(gradio / "recent.mp4")}  # the set forgets it


def test_an_abstention_is_shown_instead_of_a_class(handlers, clip_path):
    a, _ = quiet(handlers.analyse, Path(clip_path), handlers._settings(True, 0, 0, 0, None, None, None))
    a.prediction.abstention = "no face found"  # what learnet's pipeline sets when it abstains
    out = handlers.predict_outputs(a)
    assert out[0] == "no face found"
    assert out[7].startswith("**no face found**: the class probabilities are not meaningful (negative ")
    a.prediction.abstention = None
    assert handlers.predict_outputs(a)[0] == a.prediction.probabilities


def test_user_errors_are_one_log_line_without_traceback(served, tmp_path, capfd, caplog):
    import logging

    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    _, url = served
    client = Client(url, verbose=False, download_files=str(tmp_path))
    broken = tmp_path / "cut.mp4"
    broken.write_bytes(b"\x00\x01 not a video" * 50)
    capfd.readouterr()
    with caplog.at_level(logging.INFO, logger="learnet.demo"):
        with pytest.raises(AppError, match="cut.mp4 could not be opened as a video"):
            client.predict(handle_file(str(broken)), api_name="/predict")
    lines = [r.getMessage() for r in caplog.records if r.name == "learnet.demo"]
    assert lines == ["refused: cut.mp4 could not be opened as a video (corrupt file or unsupported format)"]
    assert "Traceback" not in capfd.readouterr().err


def test_invalid_file_payload_gets_a_real_error_and_config_has_no_server_paths(served, model_dir):
    import httpx

    _, url = served
    rest = [None, True, 0, 0, 0, "bilen", "onset-offset", False, [], "dynamic image"]
    for api in ("explain", "predict", "figure"):
        n = 9 if api == "predict" else 11
        r = httpx.post(f"{url.rstrip('/')}/gradio_api/call/{api}", json={"data": ["not a file", *rest][:n]}, timeout=60)
        assert r.status_code == 400 and "validation error for FileData" in r.json()["detail"]
    config = httpx.get(f"{url.rstrip('/')}/config", timeout=60).text
    assert model_dir.name in config and str(model_dir.parent) not in config
