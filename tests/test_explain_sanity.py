"""Sanity checks (model-parameter randomisation): similarity measures, randomised copies, the check, the CLI."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from explain.base import ExplainError
from explain.sanity import (
    CASCADE, CONTROL, edge_map, independent_steps, parse_methods, randomised_copies, rank_average, sanity_check,
    similarity, spearman, ssim, summarise, verdicts,
)
from learnet.hub import save_model
from learnet.model import LEARNet

CLASSES = ["negative", "positive", "surprise"]


@pytest.fixture(scope="module")
def tiny() -> LEARNet:
    """A 64 px LEARNet whose BatchNorms hold non-default statistics, as a trained model's do (so that their
    re-initialisation is visible)."""
    torch.manual_seed(0)
    model = LEARNet(class_names=CLASSES, input_size=64).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    return model


@pytest.fixture(scope="module")
def blobs() -> torch.Tensor:
    """A (1, 3, 64, 64) input in [0, 1]: one bright and one dark Gaussian blob on grey."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    x = 0.5 + 0.4 * torch.exp(-((xx - 0.3) ** 2 + (yy - 0.6) ** 2) / 0.02)
    x = x - 0.3 * torch.exp(-((xx - 0.7) ** 2 + (yy - 0.3) ** 2) / 0.01)
    x = x.expand(1, 3, 64, 64).clone()
    x[:, 1] *= 0.9
    return x


@pytest.fixture(scope="module")
def run(tiny, blobs):
    return sanity_check(tiny, blobs, ["gradcam:al1,al2,al3,al4", "guided-backprop", "edge"], seed=0)


# ---------------------------------------------------------------------------------------------------------
# similarity


def test_ssim_of_constant_maps_is_the_closed_form():
    c1 = (0.01 * 1.0) ** 2
    for a, b in ((0.2, 0.7), (0.0, 1.0), (0.5, 0.5)):
        expected = (2 * a * b + c1) / (a * a + b * b + c1)
        assert ssim(np.full((9, 9), a), np.full((9, 9), b)) == pytest.approx(expected, rel=1e-12)


def test_ssim_of_a_map_with_itself_is_one_and_with_its_reversal_below_zero():
    v = np.random.default_rng(0).random((20, 20))
    assert ssim(v, v) == pytest.approx(1.0, abs=1e-12)
    assert ssim(v, 1.0 - v) < 0  # means alike, structure reversed


def test_ssim_equals_scikit_image_default():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(3)
    a, b = rng.random((40, 40)), rng.random((40, 40)) * 0.5 + 0.2
    b[10:20, 5:30] = a[10:20, 5:30]
    expected = metrics.structural_similarity(a, b, data_range=1.0)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-10)


def test_ssim_rejects_a_window_larger_than_the_map():
    with pytest.raises(ExplainError, match=r"SSIM's window \(7\) must be odd and fit in the map \(5, 5\)"):
        ssim(np.zeros((5, 5)), np.zeros((5, 5)))


def test_spearman_ties_share_their_average_rank():
    assert rank_average(np.array([3.0, 1.0, 2.0, 2.0])).tolist() == [4.0, 1.0, 2.5, 2.5]
    # ranks [1, 2.5, 2.5, 4] vs [1, 2, 3, 4]: covariance 4.5, variances 4.5 and 5
    assert spearman(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(
        4.5 / np.sqrt(4.5 * 5))
    v = np.random.default_rng(1).random((6, 6))
    assert spearman(v, np.exp(3 * v)) == pytest.approx(1.0)  # any increasing transform
    assert spearman(v, -v) == pytest.approx(-1.0)


def test_spearman_of_a_flat_map():
    v = np.random.default_rng(2).random((5, 5))
    assert spearman(v, np.zeros((5, 5))) == 0.0
    assert spearman(np.zeros((5, 5)), np.zeros((5, 5))) == 1.0
    s = similarity(np.pad(v, 2), np.zeros((9, 9)))  # 9 x 9: SSIM's 7 x 7 window fits
    assert (s["spearman"], s["flat"], s["original_flat"]) == (0.0, 1, 0)


def test_spearman_equals_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 5, (12, 12)).astype(float), rng.random((12, 12))
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a.ravel(), b.ravel())[0], abs=1e-12)


# ---------------------------------------------------------------------------------------------------------
# randomised copies


def _changed(a: torch.nn.Module, b: torch.nn.Module) -> set[str]:
    sa, sb = a.state_dict(), b.state_dict()
    return {k.rsplit(".", 2)[0] for k in sa if not torch.equal(sa[k], sb[k]) and "num_batches" not in k}


def test_cascade_accumulates_from_the_logits_down_and_leaves_the_model_alone(tiny):
    before = {k: v.clone() for k, v in tiny.state_dict().items()}
    steps = [name for name, _ in CASCADE]
    for k, (name, net) in enumerate(randomised_copies(tiny, CASCADE, cascade=True, seed=0)):
        assert name == steps[k]
        changed = _changed(tiny, net)
        expected = {p for _, paths in CASCADE[: k + 1] for p in paths}
        # every re-initialised block differs from the trained one, no other module does
        assert {c for c in changed if not any(c == p or c.startswith(p + ".") for p in expected)} == set()
        assert all(any(c == p or c.startswith(p + ".") for c in changed) for p in expected)
    assert all(torch.equal(before[k], v) for k, v in tiny.state_dict().items())


def test_independent_randomisation_changes_one_block_at_a_time(tiny):
    names = []
    for name, net in randomised_copies(tiny, independent_steps(), cascade=False, seed=0):
        names.append(name)
        paths = dict(CASCADE)[name]
        changed = _changed(tiny, net)
        assert changed and all(any(c == p or c.startswith(p + ".") for p in paths) for c in changed)
    assert names == ["al1", "al2", "al3", "al4"]
    with pytest.raises(ExplainError, match="unknown sanity step 'al5'; valid steps: logits, head, al4, al3, al2, "
                                           "al1, stem"):
        independent_steps(["al5"])


# ---------------------------------------------------------------------------------------------------------
# the check


def test_step_zero_is_the_trained_model_itself(run):
    rows = [r for r in run.rows() if r["test"] == "cascade" and r["step"] == 0]
    assert len(rows) == 6 and all(r["spearman"] == 1.0 and r["ssim"] == pytest.approx(1.0) for r in rows)


def test_edge_control_ignores_the_weights_at_every_step(run, blobs):
    rows = [r for r in run.rows() if r["method"] == CONTROL]
    assert len(rows) == 1 + len(CASCADE) + 4
    assert all(r["spearman"] == 1.0 and r["ssim"] == pytest.approx(1.0) for r in rows)
    np.testing.assert_array_equal(run.original[CONTROL], edge_map(blobs))


def test_gradcam_al4_drops_and_guided_backprop_stays(run):
    summary = summarise(run.rows())
    curve = {m: [r["spearman"] for r in sorted(summary, key=lambda r: r["step"])
                 if r["test"] == "cascade" and r["method"] == m][1:] for m in ("Grad-CAM AL4", "Guided backprop")}
    assert len(curve["Grad-CAM AL4"]) == len(CASCADE)
    # Grad-CAM of AL4 loses its ranking at the first re-initialisation and stays far from it on average
    assert curve["Grad-CAM AL4"][0] < 0.5 and np.mean(curve["Grad-CAM AL4"]) < 0.6
    # guided backpropagation keeps reconstructing the input whatever the weights (Adebayo et al.'s failure)
    assert min(curve["Guided backprop"]) > 0.85
    v = verdicts(summary)
    assert v["Guided backprop"]["verdict"] == "FAIL" and v[CONTROL]["verdict"] == "control"


def test_edge_map_is_the_sobel_magnitude():
    x = torch.zeros(1, 3, 8, 8)
    x[..., 4:] = 1.0  # a vertical step: |gx| = 4 per channel on the two columns beside it
    e = edge_map(x)
    assert e[:, 3].tolist() == [12.0] * 8 and e[:, 4].tolist() == [12.0] * 8
    assert e[:, :3].sum() == 0 and e[:, 5:].sum() == 0


def test_method_errors():
    with pytest.raises(ExplainError, match="unknown attribution method 'gradcampp'"):
        parse_methods(["gradcampp"])
    with pytest.raises(ExplainError, match=r"ig works on the input and takes no layer \('ig:al1'\)"):
        parse_methods(["ig:al1"])


# ---------------------------------------------------------------------------------------------------------
# command line


def _clip(folder: Path, n: int = 6) -> Path:
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.random((10, 10, 3)).astype(np.float32), (72, 72), interpolation=cv2.INTER_CUBIC)
    folder.mkdir(parents=True)
    for t in range(n):
        frame = cv2.warpAffine(base, np.float32([[1, 0, -0.5 * t], [0, 1, 0]]), (64, 64),
                               borderMode=cv2.BORDER_REFLECT)
        cv2.imwrite(str(folder / f"img{t + 1}.png"), (frame * 255).astype(np.uint8))
    return folder


def test_cli_writes_tables_figure_and_verdicts(tiny, tmp_path, capsys):
    from explain.cli import main

    save_model(LEARNet(class_names=CLASSES, input_size=64, face_mode="none"), tmp_path / "model")
    clip = _clip(tmp_path / "clip")
    out = tmp_path / "out"
    argv = ["sanity", str(clip), "--model", str(tmp_path / "model"), "--methods", "gradcam:al4", "edge",
            "--out", str(out), "--formats", "png", "--dpi", "40"]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "edge (control)" in stdout and "control" in stdout
    with open(out / "sanity.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * (1 + len(CASCADE) + 4)  # 2 maps x (original + cascade + 4 independent steps)
    assert {r["randomised"] for r in rows} == {"original", *dict(CASCADE)}
    report = json.loads((out / "sanity.json").read_text())
    assert report["verdicts"]["edge (control)"]["spearman"] == 1.0
    assert (out / "sanity.png").stat().st_size > 0
    assert main(argv) == 2  # never replaces an earlier run silently
    assert capsys.readouterr().err.strip() == (f"error: {out / 'sanity.csv'} exists; pass --overwrite to replace "
                                               "it, or choose another --out")


# ---------------------------------------------------------------------------------------------------------
# cross-check with Quantus (not in requirements-dev.txt: it requires opencv-python, whose cv2 would replace the
# headless build's; run with quantus installed in a separate virtual environment, see the README)


def test_similarities_equal_quantus_mprt_on_the_same_maps(tiny, blobs):
    quantus = pytest.importorskip("quantus")
    from quantus.functions.similarity_func import ssim as quantus_ssim

    from explain.sanity import guided_backprop, unit_abs

    recorded: list[np.ndarray] = []

    def explain_func(model, inputs, targets, **kwargs):  # our method, on whatever copy Quantus randomised
        out = np.stack([guided_backprop(model, torch.as_tensor(v[None]), int(t)) for v, t in zip(inputs, targets)])
        recorded.append(out[:, None])
        return recorded[-1]

    metric = quantus.MPRT(layer_order="top_down", seed=42, disable_warnings=True, display_progressbar=False)
    scores = metric(model=tiny, x_batch=blobs.numpy(), y_batch=np.array([0]), a_batch=None,
                    explain_func=explain_func, device="cpu")
    # recorded[0] is Quantus's a_batch, then the original model again, then one map per randomised layer
    assert len(recorded) == len(scores) + 1 and list(scores)[:3] == ["original", "classifier", "fc"]
    for k, (layer, values) in enumerate(scores.items()):
        # 1e-6: Quantus first divides the float32 maps by their maximum, which can merge or split near-ties
        assert spearman(np.abs(recorded[0]), np.abs(recorded[k + 1])) == pytest.approx(values[0], abs=1e-6), layer
    a, b = unit_abs(recorded[0][0, 0]), unit_abs(recorded[-1][0, 0])
    assert ssim(a, b, data_range=float(np.ptp(np.concatenate([a, b])))) == pytest.approx(quantus_ssim(a, b), abs=1e-9)
