"""The shipped card's real-face benchmark figures, re-checked on a few re-rendered clips.

The card records every benchmark clip's answer (`metadata.real_face_benchmark.clips`); rendering is
deterministic, so re-rendering a class-balanced handful and predicting them again must give the same labels and
nearly the same confidences.  The aggregate rows of the card are re-derived from the recorded clips too.
"""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from learnet import metrics
from learnet.hub import load_model

pytest.importorskip("skimage", reason="the benchmark's second photo ships with scikit-image (requirements-dev)")
REPO = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("bench_realface", REPO / "bench" / "bench_realface.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_realface"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def card():
    model = load_model(None)
    bench = model.metadata.get("real_face_benchmark")
    assert bench, "the shipped config must record the real-face benchmark (models/finalize_demo_card.py card)"
    return model, bench


def test_card_rows_follow_from_the_recorded_clips(card):
    model, bench = card
    clips = bench["clips"]
    truth = [name.split("_")[-2] for name in clips]
    for route in ("end_to_end", "pre_aligned"):
        predicted = [c[route]["label"] for c in clips.values()]
        s = metrics.scores(truth, predicted, model.class_names)
        assert (bench[route]["n"], bench[route]["accuracy"], bench[route]["uar"]) == (len(clips), s.accuracy, s.uar)
        wrong = [c[route]["top_probability"] for c, t in zip(clips.values(), truth) if c[route]["label"] != t]
        if wrong:
            assert bench[route]["mean_top_probability_wrong"] == pytest.approx(np.mean(wrong), abs=1e-3)


def test_a_few_rerendered_clips_give_the_recorded_answers(card, tmp_path):
    model, bench = card
    B = _bench()
    settings = bench["settings"]
    specs = B.clip_specs(settings["clips_per_class"], settings["seed"], mirror=not settings["no_mirror"])
    specs = specs[:6]  # one clip per class of each photo
    rows, probes = B.render(specs, tmp_path, settings["fps"], settings["crf"], settings["seed"])
    B.evaluate(model, rows, probes, tmp_path)
    for row in rows:
        recorded = bench["clips"][row["clip"]]
        for route in ("end_to_end", "pre_aligned"):
            assert row[route]["label"] == recorded[route]["label"], (row["clip"], route)
            assert row[route]["abstention"] == recorded[route]["abstention"], (row["clip"], route)
            assert row[route]["top_probability"] == pytest.approx(recorded[route]["top_probability"], abs=0.02)
    answers = {p["probe"]: p["end_to_end"]["abstention"] or p["end_to_end"]["label"] for p in probes}
    assert answers == bench["probes"]
    abstentions = ("no face found", "no micro-expression found")
    assert {answers["black"], answers["noise"], answers["no-face"]} <= set(abstentions)  # never a class
