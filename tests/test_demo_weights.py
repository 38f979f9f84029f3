"""The shipped demo weights: what the card claims holds on fresh synthetic data, and the examples are right."""
import csv
import json
import math
from pathlib import Path

import pytest

from learnet import metrics
from learnet.datasets import read_manifest
from learnet.hub import DEFAULT_MODEL_DIR, load_model
from learnet.pipeline import Pipeline
from learnet.synth.dataset import write_dataset
from learnet.video import read_frames

EXAMPLES = Path(__file__).resolve().parent.parent / "demo" / "examples"


@pytest.fixture(scope="module")
def model():
    return load_model(DEFAULT_MODEL_DIR)


def test_card_and_config_say_what_the_weights_are(model):
    assert model.class_names == ["negative", "positive", "surprise"]
    # Trained on template-aligned synthetic clips (face mode none); uploads get aligned (auto).
    assert (model.input_size, model.face_mode, model.di_variant) == (112, "auto", "bilen")
    assert model.metadata["trained_face_mode"] == "none"
    card = (DEFAULT_MODEL_DIR / "README.md").read_text()
    assert "Trained on synthetic clips, for demonstrating the toolkit" in card
    assert "bash models/make_demo_weights.sh" in card and "LEARNET_MODEL" in card
    loso = model.metadata["loso"]["overall"]
    training = model.metadata["training"]
    n = training["n_samples"]
    assert loso["uf1"]["n"] == 1 and n == sum(training["class_counts"].values())
    # The pooled LOSO accuracy is a count of right answers over n; with balanced classes the UAR (mean of
    # right / class size) is that same count over n.
    right = loso["accuracy"]["mean"] * n
    assert right == pytest.approx(round(right), abs=1e-6)
    if len(set(training["class_counts"].values())) == 1:
        assert loso["uar"]["mean"] == pytest.approx(loso["accuracy"]["mean"], abs=1e-12)
    assert f"UF1 {loso['uf1']['mean']:.3f}, UAR {loso['uar']['mean']:.3f}, accuracy {loso['accuracy']['mean']:.3f}" in card
    # Calibration: the config's temperature is the one fitted on the LOSO predictions, and the card says so.
    cal = model.metadata["calibration"]
    assert cal["n"] == training["n_samples"]  # every clip once, predicted by the fold that held it out
    assert round(model.temperature, 4) == cal["temperature"] and model.temperature > 0
    assert f"Softmax temperature {model.temperature:.3f}" in card
    assert f"{cal['before']['ece']:.3f} before, {cal['after']['ece']:.3f} after" in card
    # The real-face benchmark rows of the card are the stored figures.
    bench = model.metadata["real_face_benchmark"]
    for route in ("end_to_end", "pre_aligned"):
        r = bench[route]
        again = metrics.scores_from_confusion(r["confusion"]["rows_true_columns_predicted"], r["confusion"]["labels"])
        assert (r["accuracy"], r["uar"], r["uf1"]) == pytest.approx((again.accuracy, again.uar, again.uf1))
        assert f"| {r['accuracy']:.3f} | {r['uar']:.3f} | {r['uf1']:.3f} |" in card


def test_card_figures_hold_on_a_fresh_synthetic_test_set(model, tmp_path):
    # New identities (another seed) the weights never saw: 2 subjects x 3 classes x 3 clips.
    manifest = write_dataset(tmp_path / "fresh", subjects=2, clips_per_class=3, seed=2026)
    pipeline = Pipeline(model, face_mode=model.metadata["trained_face_mode"])  # the clips are pre-aligned
    truth, predicted = [], []
    for sample in read_manifest(manifest):
        clip = read_frames(list(sample.frames), fps=sample.fps)
        prediction = pipeline.predict(clip, onset=sample.onset, apex=sample.apex, offset=sample.offset)
        truth.append(sample.label)
        predicted.append(prediction.label)
    fresh = metrics.scores(truth, predicted, model.class_names)
    assert fresh.n == 18
    # If the card's LOSO accuracy p holds, the number of wrong answers on 18 new clips is Binomial(18, 1 - p).
    # Fail only when the observed count would be that rare with probability below 1 in 1000: the standard
    # error sqrt(p(1 - p)/n) is 0.026 at p = 0.988 (half a clip), and the normal approximation is poor so
    # close to 1, so use the exact tail.  At p = 0.988 that allows 3 wrong clips (P(>= 3) = 0.0012,
    # P(>= 4) = 0.00006), at p = 0.9 it allows 7; after a retrain the bound follows the card.
    p_wrong = 1 - model.metadata["loso"]["overall"]["accuracy"]["mean"]
    allowed = _max_errors(fresh.n, p_wrong, tail=1e-3)
    wrong = fresh.n - int(round(fresh.accuracy * fresh.n))
    assert wrong <= allowed, (wrong, allowed, fresh.confusion)


def _max_errors(n: int, p_wrong: float, tail: float) -> int:
    """The largest k with P(X >= k) >= tail for X ~ Binomial(n, p_wrong): more errors than that are too rare."""
    k = 0
    while k < n and sum(math.comb(n, j) * p_wrong**j * (1 - p_wrong) ** (n - j) for j in range(k + 1, n + 1)) >= tail:
        k += 1
    return k


def test_binomial_error_allowance_closed_form():
    # Binomial(18, 0.012): P(X >= 3) = 1 - 0.988^18 - 18 * 0.012 * 0.988^17 - 153 * 0.012^2 * 0.988^16
    # = 0.00123 >= 1e-3 and P(X >= 4) = 0.000055 < 1e-3, so 3 errors are still plausible, 4 are not.
    assert _max_errors(18, 0.012, 1e-3) == 3
    assert _max_errors(18, 0.0, 1e-3) == 0 and _max_errors(18, 1.0, 1e-3) == 18


def test_cli_predicts_the_example_clips(capsys):
    from learnet.__main__ import main

    rows = list(csv.DictReader((EXAMPLES / "manifest.csv").open()))
    assert len(rows) >= 6
    predicted = []
    for row in rows:  # each with its annotated window, as a user of an annotated clip would run it
        window = [f"--{k}={row[k]}" for k in ("onset", "apex", "offset")]
        # --face-mode none: the clips are rendered already aligned to the template
        assert main(["predict", str(EXAMPLES / row["path"]), *window, "--face-mode", "none", "--json"]) == 0
        predicted += [r["label"] for r in json.loads(capsys.readouterr().out)["results"]]
    assert predicted == [row["label"] for row in rows]
