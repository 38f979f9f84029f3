"""Abstention: no face, or no motion above the dynamic image's own noise floor."""
import numpy as np
import pytest

from learnet.abstention import MIN_MOTION_SCORE, NO_FACE, NO_MOTION, abstention, motion_evidence
from learnet.dynamic import dynamic_image


def test_flat_dynamic_image_scores_zero():
    e = motion_evidence(np.zeros((112, 112, 3), np.float32))
    assert (e.score, e.peak) == (0.0, 0.0)
    assert not e.has_motion


@pytest.mark.parametrize("sigma", [0.5, 5.0, 80.0])
def test_white_noise_stays_below_the_threshold_at_any_level(sigma):
    rng = np.random.default_rng(int(sigma * 10))
    e = motion_evidence(rng.normal(0, sigma, (112, 112)).astype(np.float32))
    # The noise estimate recovers the level; the score is a Gaussian tail, about 2.8 whatever the level.
    assert e.noise == pytest.approx(sigma, rel=0.08)
    assert 2.0 < e.score < 4.0 < MIN_MOTION_SCORE


def test_a_moving_edge_stands_out_of_the_noise():
    # A dark bar drifting down by 2 px over 20 frames, in sensor noise of 2 grey levels.
    rng = np.random.default_rng(3)
    frames = np.full((20, 112, 112), 180.0)
    for t in range(20):
        top = 50 + 2.0 * t / 19
        rows = np.arange(112)[:, None]
        frames[t] -= 100 * np.clip(np.minimum(rows - top, top + 6 - rows) + 0.5, 0, 1)
    frames += rng.normal(0, 2, frames.shape)
    di = dynamic_image(np.clip(frames, 0, 255).astype(np.uint8)[..., None].repeat(3, -1))
    e = motion_evidence(di)
    assert e.score > 3 * MIN_MOTION_SCORE


def test_abstention_reasons():
    moving = motion_evidence(np.pad(np.ones((20, 20)), 46) * 100)
    still = motion_evidence(np.zeros((112, 112)))
    assert abstention("auto", False, moving) == NO_FACE
    assert abstention("none", False, moving) is None  # no detection is asked for in mode none
    assert abstention("auto", True, still) == NO_MOTION
    assert abstention("auto", True, moving) is None
    with pytest.raises(ValueError, match="at least 8x8"):
        motion_evidence(np.zeros((4, 4)))


def test_pipeline_answers_black_and_faceless_clips_with_an_abstention():
    import torch

    from learnet.model import LEARNet
    from learnet.pipeline import Pipeline
    from learnet.video import Clip

    torch.manual_seed(0)
    model = LEARNet(class_names=["negative", "positive", "surprise"], input_scaling="signed", temperature=2.0)
    black = Clip(np.zeros((12, 96, 128, 3), np.uint8), fps=200.0, source="black")
    for mode, reason in (("none", NO_MOTION), ("auto", NO_FACE)):
        pred = Pipeline(model, face_mode=mode).predict(black)
        d = pred.to_dict()
        assert (pred.abstention, pred.result, d["result"], d["label"]) == (reason, reason, reason, None)
        assert d["abstained"] and not d["probabilities_meaningful"]
        assert d["top_class"] in model.class_names
        assert sum(d["probabilities"].values()) == pytest.approx(1.0)
    # The temperature divides the logits before the softmax.
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        expected = torch.softmax(model.eval()(x) / 2.0, dim=1)
        assert torch.allclose(model.probabilities(x), expected)
