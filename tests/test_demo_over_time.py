"""The page's "over time" panel: frame contributions and the key-frame stability line, with a known flip."""
import zipfile

import cv2
import gradio as gr
import numpy as np
import pytest

from demo import over_time
from demo.endpoints import ExplainRequest
from demo.handlers import DemoHandlers
from toy_models import step_model


@pytest.fixture(scope="module")
def step_page(tmp_path_factory):
    """A re-headed random LEARNet (class "moved" on any motion, "still" on none) and a zip of 16 frames of 32 px
    in which a square brightens at frame 3 and stays bright."""
    root = tmp_path_factory.mktemp("over_time")
    model = step_model()
    path = root / "step.zip"
    with zipfile.ZipFile(path, "w") as z:
        for t in range(16):
            frame = np.full((32, 32, 3), 60, np.uint8)
            if t >= 3:
                frame[8:20, 10:22] = 200
            z.writestr(f"img{t + 1:02d}.png", cv2.imencode(".png", frame)[1].tobytes())
    return DemoHandlers(model, workdir=root / "work"), str(path)


def test_stability_line_and_curve_with_a_known_flip(step_page):
    """Window 2..12 by hand.  Of the 8 jitters (each key frame by +-1, then all three), the two that move the
    onset to 3 pool only bright frames: a flat dynamic image, class "still".  The others pool the same step,
    the same signed input: maps identical (rank correlation 1)."""
    h, path = step_page
    request = ExplainRequest(frames_zip=path, auto_window=False, onset=2, apex=3, offset=12, align=False)
    image, line = over_time.over_time(h, request)
    assert image.ndim == 3 and image.shape[2] == 3 and image.shape[1] > 900
    assert line.startswith("**Stability:** key frames moved by ±1 frame (8 tries): the class changed in 2; "
                           "Grad-CAM rank correlation with the unmoved maps 1.00 (1 = same). **Frames:** the largest "
                           "contribution to moved is frame 3 (apex 3)")


def test_errors_are_one_sentence(step_page):
    h, path = step_page
    request = ExplainRequest(frames_zip=path, auto_window=False, onset=9, apex=3, offset=12, align=False)
    with pytest.raises(gr.Error, match="must satisfy 0 <= onset <= apex <= offset"):
        over_time.over_time(h, request)


def test_the_page_has_the_panel_and_no_new_endpoint(step_page):
    from demo.ui import build_demo

    h, _ = step_page
    demo = build_demo(model=h.model, examples_dir=None, workdir=h.workdir)
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    assert {"over-time-button", "frame-curve", "stability-line"} <= ids
    names = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert names == {"predict", "explain", "figure"}
