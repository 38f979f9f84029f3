"""Clip -> face -> dynamic image -> prediction, and the command line on top of it."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import moving_clip
from learnet.__main__ import main
from learnet.dynamic import dynamic_image, to_model_input, to_uint8
from learnet.face import warp_frames
from learnet.hub import save_model
from learnet.model import LEARNet
from learnet.pipeline import Pipeline, preprocess
from learnet.video import Clip, write_video

CLASSES = ["negative", "positive", "surprise"]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def face_clip(face_photo) -> np.ndarray:
    return moving_clip(face_photo[::2, ::2], n=10, step=0.4)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(1)
    return save_model(LEARNet(class_names=CLASSES), tmp_path_factory.mktemp("model") / "m")


def test_preprocess_pools_the_aligned_window(face_clip):
    pre = preprocess(face_clip, onset=1, apex=5, offset=8, window="onset-apex")
    assert (pre.onset, pre.apex, pre.offset) == (1, 5, 8)
    assert pre.aligned.shape == (8, 112, 112, 3)  # onset..offset
    assert pre.window == slice(1, 6)
    expected = dynamic_image(warp_frames(face_clip[1:6], pre.face, 112))
    np.testing.assert_allclose(pre.di, expected, rtol=1e-6, atol=1e-3)
    np.testing.assert_array_equal(pre.di_uint8, to_uint8(pre.di))
    assert pre.face.found and pre.face.reference_frame == 1
    assert set(pre.timings) == {"face", "dynamic_image"}


def test_preprocess_dynamic_image_of_a_ramp_clip_by_hand():
    # Without face alignment, frame t (0-based) is 10 t on the left half and 0 on the right.  The onset-apex
    # window 1..5 holds T = 5 frames rising by 10 per frame; sum_t alpha_t t = T(T^2 - 1)/12 = 10, so the DI is
    # 10 * 10 = 100 on the left and 0 on the right, and its display form is 255 / 0.
    t = np.arange(10, dtype=np.uint8)[:, None, None, None]
    mask = np.zeros((1, 112, 112, 3), np.uint8)
    mask[:, :, :56] = 1
    clip = 10 * t * mask
    pre = preprocess(clip, face_mode="none", onset=1, apex=5, offset=8, window="onset-apex")
    assert pre.window == slice(1, 6)
    # (columns 55-56 are left out: face mode "none" resamples the frame through the crop transform, which
    # blends the two columns at the edge)
    np.testing.assert_allclose(pre.di[:, :55], 100.0, rtol=1e-5)
    np.testing.assert_allclose(pre.di[:, 57:], 0.0, atol=1e-4)
    assert (pre.di_uint8[:, :55] == 255).all() and (pre.di_uint8[:, 57:] == 0).all()
    # the apex-offset half, frames 5..8 (T = 4: T(T^2 - 1)/12 = 5) -> 50
    late = preprocess(clip, face_mode="none", onset=1, apex=5, offset=8, window="apex-offset")
    np.testing.assert_allclose(late.di[:, :55], 50.0, rtol=1e-5)


def test_pipeline_reads_preprocessing_from_the_config(face_clip):
    model = LEARNet(class_names=CLASSES, face_mode="none", window="apex-offset")
    pipeline = Pipeline(model)
    assert (pipeline.face_mode, pipeline.window) == ("none", "apex-offset")
    pred = pipeline.predict(Clip(face_clip, 200.0, "test"))
    assert pred.preprocessed.face.mode == "none" and pred.preprocessed.window == slice(4, 10)
    assert Pipeline(model, face_mode="auto").face_mode == "auto"


def test_prediction_probabilities_and_keyframes(face_clip, model_dir):
    from learnet.hub import load_model

    model = load_model(model_dir)
    pred = Pipeline(model, keyframe_size=96).predict(Clip(face_clip, 200.0, "test"))
    assert list(pred.probabilities) == CLASSES
    assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert pred.label == max(pred.probabilities, key=pred.probabilities.get)
    x = to_model_input(pred.preprocessed.di_uint8)[None]
    with torch.no_grad():
        direct = torch.softmax(model(x), 1)[0].tolist()
    assert list(pred.probabilities.values()) == pytest.approx(direct, abs=1e-6)
    assert set(pred.keyframes) == {"onset", "apex", "offset"}
    assert pred.keyframes["apex"].shape == (96, 96, 3)
    assert {"face", "dynamic_image", "model"} <= set(pred.timings)
    json.dumps(pred.to_dict())  # JSON-able


def test_cli_dynamic_image_and_predict(face_clip, model_dir, tmp_path, capsys):
    clip_path = write_video(tmp_path / "clip.avi", face_clip, fps=30)
    out = tmp_path / "di.png"
    assert main(["dynamic-image", str(clip_path), "-o", str(out), "--face-mode", "none"]) == 0
    di = cv2.imread(str(out))
    assert di.shape == (112, 112, 3) and di.min() == 0 and di.max() == 255
    capsys.readouterr()
    assert main(["predict", str(clip_path), "--model", str(model_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == str(model_dir)
    (result,) = report["results"]
    assert result["clip"] == str(clip_path) and set(result["probabilities"]) == set(CLASSES)


def test_cli_errors_are_one_line_and_nonzero(tmp_path, model_dir):
    (tmp_path / "notes.txt").write_text("hello")
    result = subprocess.run(
        [sys.executable, "-m", "learnet", "predict", str(tmp_path / "notes.txt"), "--model", str(model_dir)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: notes.txt is not a supported clip")
    assert "Traceback" not in result.stderr


def test_streaming_dynamic_image_matches_the_in_memory_one(face_clip, tmp_path):
    from learnet.pipeline import stream_dynamic_image
    from learnet.video import ClipError

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(face_clip):
        cv2.imwrite(str(folder / f"img{i + 1}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    di, face = stream_dynamic_image(folder, onset=2, offset=7)
    pre = preprocess(face_clip, onset=2, offset=7)
    np.testing.assert_array_equal(face.transform, pre.face.transform)
    np.testing.assert_allclose(di, pre.di, rtol=1e-5, atol=1e-2)
    with pytest.raises(ClipError, match="fewer than 2 frames"):
        stream_dynamic_image(folder, onset=9)


def test_a_given_face_detection_is_reused(face_clip, monkeypatch):
    from learnet import pipeline as pipeline_module
    from learnet.face import find_face

    face = find_face(face_clip)
    monkeypatch.setattr(pipeline_module, "find_face", lambda *a, **k: pytest.fail("detected again"))
    pre = preprocess(face_clip, face=face)
    np.testing.assert_array_equal(pre.face.transform, face.transform)
