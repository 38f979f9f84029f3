"""The shipped demo weights: what the card claims holds on fresh synthetic data, and the examples are right."""
import csv
import json
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
    assert loso["uf1"]["n"] == 1 and 0.0 <= loso["uf1"]["mean"] <= 1.0
    assert f"UF1 {loso['uf1']['mean']:.3f}" in card
    assert model.metadata["photo_check"]["n"] == 30


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
    card_uf1 = model.metadata["loso"]["overall"]["uf1"]["mean"]
    # 18 clips: allow the sampling error of a small set, but not a different model
    assert fresh.n == 18
    assert fresh.uf1 >= card_uf1 - 0.2, (fresh.uf1, card_uf1, fresh.confusion)


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
