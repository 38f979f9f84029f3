"""Frame attribution: the torch dynamic image, contributions per frame, completeness, synthetic localisation."""
import json

import numpy as np
import pytest
import torch
from torch import nn

from explain.base import ExplainError
from explain.frames import (
    FrameAttribution,
    FrameCurve,
    apex_aligned_shares,
    explain_frames,
    frame_contributions,
    frame_curve_figure,
    frame_curves_figure,
    frame_motion_energy,
)
from learnet import dynamic_torch
from learnet.dynamic import dynamic_image, rank_pooling_coefficients, to_model_input
from learnet.model import LEARNet


def random_frames(T: int = 9, size: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (T, size, size, 3), dtype=np.uint8)


class Linear(nn.Module):
    """A linear two-class 'model' over 16 px inputs: logit_k = <w_k, x> + b_k."""

    class_names = ["a", "b"]
    input_size = 16
    di_variant = "bilen"

    def __init__(self, scaling: str = "minmax", seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(2, 3, 16, 16, generator=g))
        self.b = nn.Parameter(torch.tensor([0.3, -0.2]))
        self.input_scaling = scaling

    def forward(self, x):
        return (x.unsqueeze(1) * self.w).flatten(2).sum(-1) + self.b


def tiny_learnet(scaling: str = "signed", seed: int = 0) -> LEARNet:
    torch.manual_seed(seed)
    return LEARNet(class_names=["negative", "positive", "surprise"], input_size=32, input_scaling=scaling).eval()


@pytest.mark.parametrize("variant", ["bilen", "authors"])
@pytest.mark.parametrize("T", [1, 2, 10, 45])
def test_torch_dynamic_image_equals_numpy(variant, T):
    frames = random_frames(T, seed=T)
    want = dynamic_image(frames, variant)
    got = dynamic_torch.dynamic_image(torch.from_numpy(frames), variant).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_torch_dynamic_image_gradient_is_alpha():
    f = torch.from_numpy(random_frames(7)).float().requires_grad_(True)
    dynamic_torch.dynamic_image(f).sum().backward()
    alpha = rank_pooling_coefficients(7)
    np.testing.assert_allclose(f.grad[:, 0, 0, 0].numpy(), alpha, rtol=1e-6, atol=1e-5)
    assert float(f.grad.sum(0).abs().max()) < 1e-4  # Bilen's alpha sums to 0 at every pixel


def test_model_input_matches_numpy_scalings():
    di = dynamic_image(random_frames(12, seed=3))
    x = dynamic_torch.model_input(torch.from_numpy(di), "minmax")[0].numpy()
    np.testing.assert_allclose(x, to_model_input(di, "minmax").numpy(), atol=1e-6)
    s = dynamic_torch.model_input(torch.from_numpy(di), "signed")[0].numpy()
    np.testing.assert_allclose(s, di.transpose(2, 0, 1) / np.abs(di).max(), atol=1e-6)
    assert abs(s).max() == pytest.approx(1.0)
    # the pipeline's uint8-rounded form is within half a step of it
    assert np.abs(s - to_model_input(di, "signed").numpy()).max() <= 0.5 / 127 + 1e-6
    flat = torch.zeros(16, 16, 3)
    for scaling in ("minmax", "signed"):
        assert float(dynamic_torch.model_input(flat, scaling).abs().max()) == 0.0
    with pytest.raises(ValueError, match="unknown input scaling 'log'"):
        dynamic_torch.model_input(flat, "log")


@pytest.mark.parametrize("scaling", ["minmax", "signed"])
def test_through_the_extrema_frame_terms_sum_to_zero(scaling):
    """The scaling makes the score invariant to motion amplitude (degree 0), so sum_t <I_t, dS/dI_t> = 0."""
    model = tiny_learnet(scaling)
    frames = torch.from_numpy(random_frames(8, size=32, seed=1)).float()
    for freeze in (False, True):
        f = frames.clone().requires_grad_(True)
        model(dynamic_torch.frames_to_input(f, scaling, freeze_scale=freeze))[0, 1].backward()
        total = float((f.grad * (frames - frames[0])).sum())
        if freeze:
            assert abs(total) > 1e-3  # held at the clip's values, the frames do move the score
        else:
            assert abs(total) < 1e-5


@pytest.mark.parametrize("scaling", ["minmax", "signed"])
def test_gradient_x_input_equals_autograd_through_torch_di(scaling):
    model = tiny_learnet(scaling, seed=2)
    frames = random_frames(10, size=32, seed=4)
    got = frame_contributions(model, frames, method="gradient-x-input", target="positive")
    f = torch.from_numpy(frames).float().requires_grad_(True)
    model(dynamic_torch.frames_to_input(f, scaling, freeze_scale=True))[0, 1].backward()
    want = (f.grad * (f.detach() - f.detach()[0])).sum(dim=(1, 2, 3)).double().numpy()
    np.testing.assert_allclose(got.contributions, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())
    assert got.contributions[0] == 0.0  # the window's first frame is the reference
    assert got.method == "gradient-x-input" and got.target_name == "positive"


@pytest.mark.parametrize("scaling", ["minmax", "signed"])
@pytest.mark.parametrize("method", ["ig", "gradient-x-input"])
def test_linear_model_closed_form_and_exact_completeness(scaling, method):
    model = Linear(scaling)
    frames = random_frames(9, seed=5).astype(np.float32)
    a = frame_contributions(model, frames, method=method, target="b", steps=4)
    di = dynamic_image(frames)
    scale = 1 / (di.max() - di.min()) if scaling == "minmax" else 1 / np.abs(di).max()
    w = model.w[1].detach().numpy().transpose(1, 2, 0)
    want = scale * rank_pooling_coefficients(9) * np.einsum("thwc,hwc->t", frames - frames[0], w)
    np.testing.assert_allclose(a.contributions, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())
    assert a.delta == pytest.approx(0.0, abs=1e-4)  # a linear score: IG and gradient x input are exact
    assert a.contributions.sum() == pytest.approx(a.score - a.baseline_score, rel=1e-5)


def test_ig_completeness_on_learnet():
    model = tiny_learnet("minmax", seed=3)
    frames = random_frames(12, size=32, seed=6)
    a = frame_contributions(model, frames, method="ig", steps=64)
    gap = a.score - a.baseline_score
    assert abs(gap) > 1e-3
    assert abs(a.delta) < 0.02 * abs(gap)
    assert a.contributions.sum() - gap == pytest.approx(a.delta, abs=1e-9)


def test_window_key_frames_and_shares():
    model = Linear("signed")
    frames = random_frames(12, seed=7)
    a = frame_contributions(model, frames, method="gradient-x-input", window=slice(3, 9), first_frame=100,
                            apex=105)
    assert (a.onset, a.apex, a.offset, a.window) == (100, 105, 111, (103, 108))
    assert list(a.frames) == list(range(100, 112))
    c = a.contributions
    assert np.all(c[:4] == 0) and np.all(c[9:] == 0) and np.all(c[4:9] != 0)  # frame 3 is the reference
    assert a.share_inside(103, 108) == pytest.approx(1.0)
    assert a.share_inside(104, 104) == pytest.approx(abs(c[4]) / np.abs(c).sum())
    assert a.shares().sum() == pytest.approx(1.0)
    d = a.to_dict()
    assert d["window"] == [103, 108] and len(d["contributions"]) == 12
    back = FrameAttribution.from_dict(json.loads(json.dumps(d)))
    np.testing.assert_allclose(back.contributions, c, atol=5e-7)
    assert back.to_dict() == d


def test_errors():
    model = Linear()
    frames = random_frames(5)
    with pytest.raises(ExplainError, match="unknown frame attribution method 'occlusion'; choose one of ig, "
                                           "gradient-x-input"):
        frame_contributions(model, frames, method="occlusion")
    with pytest.raises(ExplainError, match="a window of at least 2 frames, got 2..2"):
        frame_contributions(model, frames, window=slice(2, 3))
    with pytest.raises(ExplainError, match="unknown class 'c'"):
        frame_contributions(model, frames, target="c")


def _attr(first: int, apex: int, c: list[float]) -> FrameAttribution:
    return FrameAttribution(np.array(c, dtype=float), first, "ig", 0, "a", 0.0, 0.0, 0.0, first, apex,
                            first + len(c) - 1, (first, first + len(c) - 1))


def test_apex_aligned_shares_closed_form():
    a = _attr(10, 11, [1, 3, 0, -4])  # shares 1/8, 3/8, 0, 4/8 at apex offsets -1, 0, 1, 2
    b = _attr(0, 2, [0, 2, 2])  # shares 0, 1/2, 1/2 at offsets -2, -1, 0
    offsets, mean, count = apex_aligned_shares([a, b], radius=2)
    assert list(offsets) == [-2, -1, 0, 1, 2]
    assert list(count) == [1, 2, 2, 1, 1]
    np.testing.assert_allclose(mean, [0.0, (1 / 8 + 1 / 2) / 2, (3 / 8 + 1 / 2) / 2, 0.0, 0.5])


def test_frame_curve_figure_draws_one_bar_per_frame():
    a = _attr(5, 8, [0, 1, -2, 3, 1, 0])
    fig = frame_curve_figure(a, np.linspace(0, 1, 8), energy_first_frame=4, fps=200)
    bars, curve = fig.axes
    assert len(bars.containers[0]) == 6 and len(curve.lines[0].get_xdata()) == 8
    assert curve.lines[0].get_xdata()[0] == 4
    assert bars.get_xlabel() == "frame (5.0 ms each)"
    assert len(frame_curve_figure(a).axes) == 1
    two = frame_curves_figure([FrameCurve(a, title="x"), FrameCurve(a, np.ones(6))], width="double")
    assert len(two.axes) == 4 and two.get_figwidth() == pytest.approx(7.16)
    assert two.axes[0].get_title() == "x: frame contributions (IG)" and not two.axes[1].axison
    with pytest.raises(ExplainError, match="needs at least one clip"):
        frame_curves_figure([])


def padded_synthetic_clip(label: str, seed: int, pad: int = 20):
    """A synthetic expression with `pad` still frames (fresh sensor noise, sigma 1) before and after it.

    Head drift and blinks are off because the padding repeats the first and last frames; noise, tremor,
    flicker and JPEG stay on.
    """
    from learnet.synth import Nuisances, make_clip

    clip = make_clip(label, seed, size=112, nuisances=Nuisances(head_drift_px=0.0, head_rotation_deg=0.0,
                                                                 blink_probability=0.0))
    rng = np.random.default_rng(seed)

    def still(frame, k):
        noisy = frame[None].astype(np.float32) + rng.normal(0.0, 1.0, (k, *frame.shape))
        return np.clip(noisy, 0, 255).round().astype(np.uint8)

    frames = np.concatenate([still(clip.frames[0], pad), clip.frames, still(clip.frames[-1], pad)])
    return frames, clip.onset + pad, clip.apex + pad, clip.offset + pad


def test_synthetic_contributions_sit_inside_onset_offset():
    """Shipped weights, IG over whole padded clips: the share of |contribution| on the true onset..offset.

    Measured (3 seeds per class): mean share 0.77 where those frames are 47% of each clip; the weakest clip
    0.43 (47% of its frames are inside).  The early frames' large rank-pooling weights amplify their noise.
    """
    from learnet.hub import load_model

    model = load_model()
    shares, inside = [], []
    for label in ("negative", "positive", "surprise"):
        for seed in range(3):
            frames, onset, apex, offset = padded_synthetic_clip(label, seed)
            a = frame_contributions(model, frames, method="ig", target=label, apex=apex, steps=16)
            shares.append(a.share_inside(onset, offset))
            inside.append((offset - onset + 1) / len(frames))
    print(f"share of |IG frame contribution| inside onset..offset: {np.round(shares, 3).tolist()}, "
          f"mean {np.mean(shares):.3f} (frames inside: mean {np.mean(inside):.3f})")
    assert np.mean(shares) >= 0.65
    assert np.mean(shares) - np.mean(inside) >= 0.2


def test_explain_frames_on_a_pipeline_clip():
    from learnet.pipeline import Pipeline
    from learnet.video import Clip

    model = tiny_learnet("signed")
    frames = random_frames(14, size=32, seed=8)
    pipe = Pipeline(model, face_mode="none", window="onset-apex")
    pre = pipe.predict(Clip(frames, 100.0, "random"), onset=2, apex=7, offset=12).preprocessed
    a = explain_frames(model, pre, method="gradient-x-input")
    assert (a.onset, a.apex, a.offset, a.window, a.first_frame) == (2, 7, 12, (2, 7), 2)
    assert np.all(a.contributions[6:] == 0)
    assert len(frame_motion_energy(pre)) == 11
    with pytest.raises(ExplainError, match="not pooled with the 'authors' coefficients"):
        explain_frames(model, pre, variant="authors")


def test_figure_command_writes_the_frame_curve(tmp_path, capsys):
    """`explain figure --frames`: FILE_frames.png beside the figure and a frames record per clip.  A square that
    brightens at frame 3 and stays: every changed frame differs from the reference by the same step, so the
    contributions are proportional to alpha_t and sum to the score gap up to the IG delta."""
    import cv2

    from explain.cli import main
    from learnet.hub import save_model

    save_model(tiny_learnet("signed", seed=5), tmp_path / "model")
    folder = tmp_path / "step"
    folder.mkdir()
    for t in range(14):
        frame = np.full((32, 32, 3), 60, np.uint8)
        if t >= 3:
            frame[8:20, 10:22] = 200
        cv2.imwrite(str(folder / f"img{t + 1}.png"), frame)
    png = tmp_path / "fig.png"
    (tmp_path / "fig_frames.png").write_bytes(b"mine")
    argv = [str(a) for a in ["figure", folder, "--model", tmp_path / "model", "--out", png, "--face-mode", "none",
                             "--onset", 2, "--apex", 4, "--offset", 11, "--frames", "--dpi", "40"]]
    assert main(argv) == 2
    assert "fig_frames.png exists; pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "fig_frames.png").read_bytes() == b"mine" and not png.exists()
    assert main(argv + ["--overwrite"]) == 0
    side = json.loads((tmp_path / "fig.json").read_text())
    assert side["frames"] == "ig" and side["frame_outputs"] == [str(tmp_path / "fig_frames.png")]
    rec = side["rows"][0]["frames"]
    assert (rec["onset"], rec["apex"], rec["offset"], rec["window"], rec["fps"]) == (2, 4, 11, [2, 11], 200.0)
    c = np.array(rec["contributions"])
    alpha = rank_pooling_coefficients(10)
    np.testing.assert_allclose(c[1:], alpha[1:] * c[1] / alpha[1], rtol=1e-4, atol=1e-6)
    assert c[0] == 0.0 and len(rec["motion_energy"]) == 10
    assert c.sum() == pytest.approx(rec["score"] - rec["baseline_score"] + rec["delta"], abs=1e-5)
    assert cv2.imread(str(tmp_path / "fig_frames.png")) is not None
