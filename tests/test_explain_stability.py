"""Key-frame stability: jitter samples, Spearman similarity, a known flip, k = 0 and the per-class table."""
import numpy as np
import pytest

from explain.base import ExplainError
from explain.stability import (
    JitterOutcome,
    StabilityResult,
    jitter_offsets,
    keyframe_stability,
    spearman,
    stability_by_class,
)
from learnet.pipeline import Pipeline
from learnet.video import Clip
from toy_models import step_model


def test_jitter_samples():
    assert jitter_offsets(0) == [(0, 0, 0)] == jitter_offsets(0, "axes")
    assert len(jitter_offsets(1)) == 26 and len(jitter_offsets(2)) == 124
    assert (0, 0, 0) not in jitter_offsets(2)
    assert jitter_offsets(1, "axes") == [(-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1),
                                         (-1, -1, -1), (1, 1, 1)]
    assert len(jitter_offsets(3, "axes")) == 24
    with pytest.raises(ExplainError, match="unknown jitter sample 'some'; choose one of all, axes"):
        jitter_offsets(1, "some")
    with pytest.raises(ExplainError, match="k must be 0 or more frames, got -1"):
        jitter_offsets(-1)


def test_spearman_closed_forms():
    a = np.arange(12.0).reshape(3, 4)
    assert spearman(a, a ** 3) == pytest.approx(1.0)  # monotone transform: same ranks
    assert spearman(a, -a) == pytest.approx(-1.0)
    # ties get average ranks: [0, 0, 1, 2] has ranks [1.5, 1.5, 3, 4] (1-based); Pearson with [1, 2, 3, 4]
    r = np.array([1.5, 1.5, 3, 4]) - 2.5
    assert spearman(np.array([0, 0, 1, 2]), np.arange(4)) == pytest.approx((r * np.arange(-1.5, 2.5)).sum()
                                                                           / np.sqrt((r * r).sum() * 5.0))
    assert spearman(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0
    assert np.isnan(spearman(np.zeros(4), np.arange(4.0)))
    with pytest.raises(ExplainError, match="different sizes"):
        spearman(np.zeros(4), np.zeros(5))


def step_clip() -> Clip:
    """16 frames of 32 px: a square brightens at frame 3 and stays bright."""
    frames = np.full((16, 32, 32, 3), 60, dtype=np.uint8)
    frames[3:, 8:20, 10:22] = 200
    return Clip(frames, 100.0, "step")


def test_known_flip_when_the_onset_passes_the_change():
    """Onset 2, apex 3, offset 12 (window 2..12 holds the step).  Jittered by +-1: onset 3 pools only bright
    frames, a flat DI, so the class flips to "still": the 6 valid triples with d_onset = +1 of the 23 valid
    ones (apex >= onset removes 3).  Every other window sees the same step, scaled: after signed scaling the
    same input, so the same maps."""
    pipe = Pipeline(step_model())
    r = keyframe_stability(pipe, step_clip(), 2, 3, 12, k=1)
    assert r.label == "moved"
    assert (len(r.outcomes), r.skipped) == (23, 3)
    flipped = sorted(o.shift for o in r.outcomes if o.flipped)
    assert flipped == sorted(d for d in jitter_offsets(1) if d[0] == 1 and d[1] >= 0)
    assert all(o.label == "still" for o in r.outcomes if o.flipped)
    assert r.flip_rate == pytest.approx(6 / 23)
    assert all(o.similarity == {"al1": 1.0, "al2": 1.0, "al3": 1.0, "al4": 1.0} for o in r.outcomes if not o.flipped)
    assert r.mean_similarity == 1.0
    assert r.flat == 6 * 4  # the flipped inputs are all zero: flat maps, no ranking
    d = r.to_dict()
    assert (d["tried"], d["skipped"], d["flip_rate"], d["flat_maps"]) == (23, 3, round(6 / 23, 4), 24)


def test_k0_on_the_shipped_model_reruns_identically():
    from learnet.hub import load_model
    from learnet.synth import make_clip

    pipe = Pipeline(load_model(), face_mode="none")
    sc = make_clip("surprise", 1, size=112)
    r = keyframe_stability(pipe, Clip(sc.frames, sc.fps, "synth"), sc.onset, sc.apex, sc.offset, k=0)
    assert len(r.outcomes) == 1 and r.outcomes[0].shift == (0, 0, 0)
    assert r.flip_rate == 0.0 and r.mean_similarity == 1.0
    with pytest.raises(ValueError, match="apex 40 lies outside onset..offset"):
        keyframe_stability(pipe, Clip(sc.frames, sc.fps, "synth"), 2, 40, 20)


def _result(label: str, flips: list[bool], sims: list[float]) -> StabilityResult:
    outcomes = [JitterOutcome((1, 0, 0), (1, 2, 3), label, f, {"al1": s}) for f, s in zip(flips, sims)]
    return StabilityResult((0, 1, 2), label, 1, "all", ("al1",), outcomes)


def test_stability_by_class():
    results = [_result("a", [True, False], [0.5, 0.7]), _result("a", [False, False, False], [1.0, 0.8, 0.9]),
               _result("b", [True], [float("nan")])]
    table = stability_by_class(results, ["a", "a", "b"])
    assert table["a"] == {"clips": 2, "tried": 5, "flip_rate": 0.2, "mean_similarity": round((0.6 + 0.9) / 2, 4)}
    assert table["b"] == {"clips": 1, "tried": 1, "flip_rate": 1.0, "mean_similarity": None}
    with pytest.raises(ExplainError, match="3 stability results but 2 classes"):
        stability_by_class(results, ["a", "b"])


def test_dataset_command_frames_and_stability_tables(tmp_path, capsys):
    """`explain dataset --frames --stability 1` on two step clips: known flips, and IG frame shares that are
    |alpha_t| / sum |alpha| (every changed frame differs from the reference by the same step)."""
    import csv
    import json

    import cv2

    from explain.cli import main
    from learnet.dynamic import rank_pooling_coefficients
    from learnet.hub import save_model

    save_model(step_model(), tmp_path / "model")
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "subject", "clip", "path", "fps", "onset", "apex", "offset", "label", "aus"])
        for i in range(2):
            folder = tmp_path / f"clip{i}"
            folder.mkdir()
            for t, frame in enumerate(step_clip().frames):
                cv2.imwrite(str(folder / f"img{t + 1}.png"), frame)
            w.writerow(["toy", f"s{i}", f"clip{i}", folder, 100, 2, 3, 12, "moved", ""])
    out = tmp_path / "ds"
    code = main([str(a) for a in ["dataset", manifest, "--model", tmp_path / "model", "--out", out, "--formats",
                                  "png", "--dpi", "30", "--frames", "--stability", "1"]])
    stdout = capsys.readouterr().out
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stability"]["moved"] == {"clips": 2, "tried": 46, "flip_rate": round(12 / 46, 4),
                                             "mean_similarity": 1.0}
    assert "moved: key frames jittered: flip rate 0.2609 over 46 tries, mean Grad-CAM rank correlation 1.0" in stdout
    assert (out / "stability.csv").read_text().splitlines()[1:] == ["moved,2,46,0.2609,1.0000",
                                                                     "all,2,46,0.2609,1.0000"]
    frames = summary["frames_by_class"]["moved"]
    alpha = np.abs(rank_pooling_coefficients(11)[1:])  # window 2..12; frame 2 is the reference
    # frames 2..12 lie -1..9 from the apex; the table spans the largest distance both ways
    assert frames["offsets"] == list(range(-9, 10)) and frames["clips"] == [0] * 8 + [2] * 11
    np.testing.assert_allclose(frames["mean_share"][9:], alpha / alpha.sum(), atol=2e-4)
    assert frames["mean_share"][8] == 0.0 and frames["mean_share"][0] is None  # the reference; no such frame
    assert json.loads((out / "run.json").read_text())["stability"] == {"k": 1, "sample": "all"}
