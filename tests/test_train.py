"""Training (DI cache, augmentation, LOSO, shards, resume, oracle, export) and reports (merging, figures)."""
from __future__ import annotations

import copy
import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from dataset_fixtures import make_manifest
from learnet import datasets as D
from learnet import metrics as M
from learnet import report as R
from learnet import train as T
from learnet.train import loop, loso

FAST = T.Recipe(face_mode="none", epochs=1, batch_size=4)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny batches gain nothing from intra-op threads, and on a busy machine OpenMP threads that wait for each
    # other make every step many times slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """12 clips of 8 frames (64x64 PNG), 4 subjects, 3 classes, as a manifest; labelled samples."""
    root = tmp_path_factory.mktemp("train")
    manifest = make_manifest(root / "data")
    samples = D.read_manifest(manifest)
    label_map = D.get_label_map("auto", samples)
    return {"root": root, "manifest": manifest, "samples": label_map.apply(samples), "label_map": label_map,
            "cache": root / "cache"}


@pytest.fixture(scope="module")
def loso_run(data):
    out = data["root"] / "run"
    report = T.run_loso(data["samples"], data["label_map"], FAST, [0], out, cache_dir=data["cache"], progress=False,
                        echo=lambda m: None)
    return out, report


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------------------------ dynamic images

def test_cached_dynamic_images_are_exactly_the_inference_pipeline(data):
    from learnet.pipeline import preprocess
    from learnet.video import read_image

    samples = data["samples"][:3]
    cache = data["root"] / "cache-di"
    dis, stats = T.load_dynamic_images(samples, FAST, cache, progress=False)
    assert dis.shape == (1, 3, 3, 112, 112) and dis.dtype == torch.uint8
    assert (stats["computed"], stats["cached"]) == (3, 0)
    s = samples[2]  # apex estimated, onset 1 .. offset 6 of 8 frames
    frames = np.stack([read_image(f) for f in s.frames])
    pre = preprocess(frames, face_mode="none", size=112, onset=s.onset, apex=s.apex, offset=s.offset)
    assert np.array_equal(dis[0, 2].permute(1, 2, 0).numpy(), pre.di_uint8)
    again, stats = T.load_dynamic_images(samples, FAST, cache, progress=False)
    assert (stats["computed"], stats["cached"]) == (0, 3) and torch.equal(again, dis)  # PNG cache is lossless


def test_cache_key_changes_with_settings_and_annotation(data):
    s = data["samples"][0]
    base = T.preprocessing_settings(FAST, "onset-offset")
    path = T.cache_path("/c", base, s)
    assert path.parent != T.cache_path("/c", {**base, "di_variant": "authors"}, s).parent
    assert path.parent != T.cache_path("/c", T.preprocessing_settings(FAST, "onset-apex"), s).parent
    moved = T.cache_path("/c", base, replace(s, offset=5))
    assert moved.parent == path.parent and moved.name != path.name
    assert path.name.startswith("synth_p00_clip00-")


def test_dual_phase_gives_two_images_per_sample(data):
    recipe = replace(FAST, window="dual-phase")
    dis, _ = T.load_dynamic_images(data["samples"][:2], recipe, data["cache"], progress=False)
    assert dis.shape[:2] == (2, 2) and not torch.equal(dis[0], dis[1])
    model = T.make_model(recipe, data["label_map"].classes)
    probs = T.predict_proba(model, dis, [0, 1])
    with torch.no_grad():
        per_phase = [torch.softmax(model(dis[p].float() / 255), 1).numpy() for p in range(2)]
    assert np.allclose(probs, (per_phase[0] + per_phase[1]) / 2, atol=1e-6)
    assert model.window == "onset-offset"  # the config never names a window the pipeline cannot run


# ------------------------------------------------------------------------------------------ augmentation etc.

def test_augment_batch_closed_forms():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    none = T.Recipe(shift=0, scale=0, brightness=0)
    assert torch.equal(T.augment_batch(x, none, g), x.float() / 255)
    bright = T.augment_batch(x, T.Recipe(shift=0, scale=0, brightness=0.2), g)
    delta = bright - x.float() / 255
    inside = (bright > 0) & (bright < 1)  # unclamped pixels move by one offset per sample
    for b in range(4):
        d = delta[b][inside[b]]
        assert d.max() - d.min() < 1e-6 and abs(float(d[0])) <= 0.2
    flipped = T.augment_batch(x, T.Recipe(shift=0, scale=0, brightness=0, flip=True), torch.Generator().manual_seed(1))
    for b in range(4):
        assert torch.equal(flipped[b], x[b].float() / 255) or torch.equal(flipped[b], x[b].flip(-1).float() / 255)
    geo = T.Recipe(shift=0.1, scale=0.1, brightness=0)
    a = T.augment_batch(x, geo, torch.Generator().manual_seed(5))
    assert torch.equal(a, T.augment_batch(x, geo, torch.Generator().manual_seed(5)))  # reproducible
    assert a.shape == (4, 3, 16, 16) and 0 <= a.min() and a.max() <= 1 and not torch.equal(a, x.float() / 255)


def test_augment_batch_signed_input_centres_no_motion_and_skips_brightness():
    x = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 3, 1, 1).repeat(2, 1, 4, 4)
    recipe = T.Recipe(shift=0, scale=0, brightness=0.3, input_scaling="signed")
    out = T.augment_batch(x, recipe, torch.Generator().manual_seed(0))
    # (u - 128) / 127; a brightness offset would be motion everywhere, so signed input gets none
    np.testing.assert_allclose(out[:, :, 0, 0].numpy(), [[-128 / 127, 0.0, 1.0]] * 2, rtol=1e-6)
    assert T.make_model(recipe, ["a", "b"]).input_scaling == "signed"
    with pytest.raises(ValueError, match="input scaling must be one of minmax, signed"):
        T.Recipe(input_scaling="zscore")


def test_batchnorm_recalibration_is_the_exact_data_average():
    from learnet.model import LEARNet

    torch.manual_seed(0)
    model = LEARNet(class_names=["a", "b", "c"])
    model.train()
    images = torch.randint(0, 256, (10, 3, 112, 112), dtype=torch.uint8)
    model(images.float() / 255)  # one training step's worth of lagging statistics (momentum 0.01)
    bn = model.pair1.al1.bn
    T.recalibrate_batchnorm(model, images, batch_size=5)
    assert not model.training and bn.momentum == pytest.approx(0.01)  # the layer's own momentum is back
    # AL1's BatchNorm input for every image, computed by hand: its mean over both batches of 5 is the new
    # running mean (momentum None = cumulative average of the per-batch means, equal batches).
    captured = []
    handle = bn.register_forward_hook(lambda m, inp, out: captured.append(inp[0]))
    with torch.no_grad():
        model(images.float() / 255)
    handle.remove()
    expected = captured[0].mean(dim=(0, 2, 3))
    assert torch.allclose(bn.running_mean, expected, rtol=1e-4, atol=1e-6)
    # The eval forward is unchanged by a second recalibration on the same data (a fixed point).
    before = model(images[:2].float() / 255)
    T.recalibrate_batchnorm(model, images, batch_size=5)
    assert torch.allclose(model(images[:2].float() / 255), before, atol=1e-5)


def test_class_weights_inverse_frequency():
    w = T.class_weights(torch.tensor([0, 0, 0, 1]), 3)
    assert w.tolist() == pytest.approx([4 / 9, 4 / 3, 0.0])


def test_shards_partition_the_folds(data):
    one = data["samples"][0]
    subjects = [replace(one, subject=f"d/s{i}") for i in (10, 2, 1, 2)]
    assert T.loso_folds(subjects) == ["d/s1", "d/s2", "d/s10"]  # natural order, one fold per subject
    folds = [f"d/s{i}" for i in range(1, 8)]
    shards = [T.shard_folds(folds, i, 3) for i in (1, 2, 3)]
    assert shards[0] == ["d/s1", "d/s4", "d/s7"]
    assert sorted(sum(shards, [])) == sorted(folds)
    assert T.parse_shard("2/8") == (2, 8)
    for bad in ("0/3", "4/3", "a/b", ""):
        with pytest.raises(ValueError, match="--folds takes i/N"):
            T.parse_shard(bad)


def test_recipe_rejects_bad_settings():
    with pytest.raises(ValueError, match="window must be one of onset-offset, onset-apex, apex-offset, dual-phase"):
        T.Recipe(window="middle")
    with pytest.raises(ValueError, match="either on validation subjects or by oracle"):
        T.Recipe(val_subjects=2, oracle_epoch=True)


RECIPE_ERRORS = [  # each setting just out of range, with the one-line error it must give
    ({"face_mode": "dlib"}, "face mode must be one of auto, none, got 'dlib'"),
    ({"di_variant": "rank"}, "DI variant must be one of bilen, authors, got 'rank'"),
    ({"input_scaling": "zscore"}, "input scaling must be one of minmax, signed, got 'zscore'"),
    ({"schedule": "step"}, "schedule must be one of cosine, constant"),
    ({"class_weights": "sqrt"}, "class weights must be one of balanced, none"),
    ({"epochs": 0}, "epochs must be at least 1"),
    ({"batch_size": 0}, "batch size must be at least 1"),
    ({"lr": 0.0}, "learning rate must be positive"),
    ({"input_size": 100}, "input size must be a positive multiple of 16, got 100"),
    ({"input_size": 0}, "input size must be a positive multiple of 16, got 0"),
    ({"shift": -0.01}, "augmentation out of range"),
    ({"shift": 0.5}, "augmentation out of range"),
    ({"scale": -0.01}, "augmentation out of range"),
    ({"scale": 0.5}, "augmentation out of range"),
    ({"brightness": -0.01}, "augmentation out of range"),
    ({"brightness": 1.0}, "augmentation out of range"),
    ({"blur": -0.1}, "augmentation out of range"),
    ({"blur": 3.01}, "augmentation out of range"),
    ({"val_subjects": -1}, "val subjects must be 0 or more"),
    ({"val_subjects": 1, "oracle_epoch": True}, "choose the epoch either on validation subjects or by oracle"),
]


@pytest.mark.parametrize("settings, message", RECIPE_ERRORS)
def test_recipe_errors_name_the_setting(settings, message):
    with pytest.raises(ValueError) as error:
        T.Recipe(**settings)
    assert str(error.value) == message


def test_recipe_accepts_every_boundary_value():
    edges = [T.Recipe(epochs=1, batch_size=1, lr=0.5, input_size=16, shift=0, scale=0, brightness=0, blur=0),
             T.Recipe(shift=0.49, scale=0.49, brightness=0.99, blur=3.0, val_subjects=1),
             T.Recipe(oracle_epoch=True), T.Recipe(val_subjects=0)]
    assert [r.epochs for r in edges] == [1, 30, 30, 30] and edges[1].blur == 3.0 and edges[2].oracle_epoch
    assert T.Recipe(face_mode="none", di_variant="authors", input_scaling="signed", schedule="constant",
                    class_weights="none").input_scaling == "signed"


# ------------------------------------------------------------------------------------------ LOSO runs

def test_loso_run_writes_one_prediction_per_sample_and_a_report(loso_run, data):
    out, report = loso_run
    rows = [r for p in sorted((out / "predictions" / "seed0").glob("*.csv")) for r in read_csv(p)]
    assert sorted(r["sample_id"] for r in rows) == sorted(s.id for s in data["samples"])
    for r in rows:  # each sample predicted by the fold that held out its subject
        assert r["fold"] == r["subject"] and r["epoch"] == "1"
        probs = [float(r[f"p:{c}"]) for c in ("negative", "positive", "surprise")]
        assert sum(probs) == pytest.approx(1, abs=1e-5) and r["prediction"] == ("negative", "positive", "surprise")[int(np.argmax(probs))]
    assert report["n_samples"] == 12 and report["n_folds"] == 4 and report["complete"]
    assert report["validity"] == "leak-free: fixed budget of 1 epochs" and report["notes"] == []
    assert np.sum(report["confusion"]) == 12
    for name in ("report.json", "report.csv", "subjects.csv", "report_row.tex", "confusion.pdf", "confusion.png"):
        assert (out / name).stat().st_size > 0
    text = (out / "run.json").read_text()
    run = json.loads(text)
    assert text == json.dumps(run, indent=2) + "\n"  # indented for people who open it
    assert run["folds"] == ["synth/p00", "synth/p01", "synth/p02", "synth/p03"]
    assert run["class_counts"] == {"negative": 4, "positive": 4, "surprise": 4}


def test_shards_in_separate_dirs_merge_to_the_full_run(loso_run, data):
    full, _ = loso_run
    dirs = []
    for i in (1, 2):
        d = data["root"] / f"shard{i}"
        result = T.run_loso(data["samples"], data["label_map"], FAST, [0], d, cache_dir=data["cache"],
                            shard=(i, 2), progress=False, echo=lambda m: None)
        assert result is None  # half the folds: no report yet
        dirs.append(d)
    assert len(list((dirs[0] / "predictions" / "seed0").glob("*.csv"))) == 2
    merged = R.report_runs(dirs, data["root"] / "merged")
    whole = json.loads((full / "report.json").read_text())
    assert merged["per_seed"] == whole["per_seed"]  # per-fold seeds: a fold's result does not depend on the shard
    assert (data["root"] / "merged" / "report_row.tex").read_text() == (full / "report_row.tex").read_text()


def test_resume_skips_finished_folds_and_refuses_another_recipe(loso_run, data, monkeypatch):
    out, _ = loso_run
    calls = []
    monkeypatch.setattr(loso, "run_fold", lambda *a, **k: calls.append(a))
    messages = []
    report = T.run_loso(data["samples"], data["label_map"], FAST, [0], out, cache_dir=data["cache"],
                        progress=False, echo=messages.append)
    assert calls == [] and report["complete"] and messages[0].startswith("resuming: 4 of 4 folds already done")
    with pytest.raises(ValueError, match=r"holds a run with another recipe \(epochs 1 -> 2\); use a new --out"):
        T.run_loso(data["samples"], data["label_map"], replace(FAST, epochs=2), [0], out, cache_dir=data["cache"],
                   progress=False, echo=lambda m: None)
    with pytest.raises(ValueError, match="holds a run on other data"):
        T.run_loso(data["samples"][:-1], data["label_map"], FAST, [0], out, cache_dir=data["cache"],
                   progress=False, echo=lambda m: None)


def test_oracle_runs_say_not_a_valid_estimate_everywhere(data):
    out = data["root"] / "oracle"
    recipe = replace(FAST, epochs=2, oracle_epoch=True)
    report = T.run_loso(data["samples"], data["label_map"], recipe, [0], out, cache_dir=data["cache"],
                        progress=False, echo=lambda m: None)
    assert report["validity"] == R.ORACLE_WARNING and R.ORACLE_WARNING in report["notes"]
    assert "not a valid estimate" in (out / "report_row.tex").read_text()
    assert all("not a valid estimate" in r["validity"] for r in read_csv(out / "report.csv"))
    assert all("not a valid estimate" in r["validity"] for r in read_csv(out / "subjects.csv"))
    assert "NOT A VALID ESTIMATE" in R.summary_line(report)
    log = json.loads(next((out / "logs" / "seed0").glob("*.json")).read_text())
    assert log["validity"] == R.ORACLE_WARNING and [e["epoch"] for e in log["epochs"]] == [1, 2]
    accuracies = [e["test_accuracy"] for e in log["epochs"]]
    assert log["epoch"] == 1 + int(np.argmax(accuracies))  # the best test epoch, earliest on ties


def test_inner_validation_chooses_epoch_on_training_subjects_only(data):
    out = data["root"] / "val"
    recipe = replace(FAST, epochs=2, val_subjects=1)
    T.run_loso(data["samples"], data["label_map"], recipe, [0], out, cache_dir=data["cache"], progress=False,
               echo=lambda m: None)
    for path in sorted((out / "logs" / "seed0").glob("*.json")):
        log = json.loads(path.read_text())
        assert len(log["val_subjects"]) == 1 and log["fold"] not in log["val_subjects"]
        assert log["n_train"] == 9 and all("test_accuracy" not in e for e in log["epochs"])
        uf1 = [e["val_uf1"] for e in log["epochs"]]
        assert log["epoch"] == 1 + int(np.argmax(uf1))
    assert json.loads((out / "report.json").read_text())["validity"].startswith("leak-free: epoch chosen on 1 held-out")


def test_validation_scores_come_from_held_out_training_subjects_only(data, monkeypatch):
    # Record which samples each step touches: training, the per-epoch validation score, the test prediction.
    dis, _ = T.load_dynamic_images(data["samples"], FAST, data["cache"], progress=False)
    classes = data["label_map"].classes
    targets = torch.tensor([classes.index(s.target) for s in data["samples"]])
    subjects = [s.subject for s in data["samples"]]
    scored, trained = [], []
    real_predict, real_train = T.predict_proba, T.train_model
    def predict_and_record(model, dis, idx, **kw):
        probs = real_predict(model, dis, idx, **kw)
        scored.append((list(idx), probs))
        return probs

    monkeypatch.setattr(loop, "predict_proba", predict_and_record)
    monkeypatch.setattr(loop, "train_model", lambda d, t, idx, *a, **kw: (trained.append(list(idx)), real_train(d, t, idx, *a, **kw))[1])
    recipe = replace(FAST, epochs=2, val_subjects=1)
    result = T.run_fold(dis, targets, subjects, "synth/p01", recipe, classes, 0, progress=False)
    of = lambda idx: sorted({subjects[i] for i in idx})  # noqa: E731
    val = result.val_subjects
    assert len(val) == 1 and val[0] in {"synth/p00", "synth/p02", "synth/p03"}  # a training subject, not p01
    assert len(scored) == 3  # epoch 1, epoch 2, then the test subject with the chosen epoch's weights
    for (idx, probs), entry in zip(scored[:2], result.log):
        # every validation score is over all samples of the validation subject and nothing else, and the
        # logged UF1 is the score of exactly those predictions
        assert idx == [i for i, s in enumerate(subjects) if s in val]
        expected = M.scores([classes[targets[i]] for i in idx], [classes[k] for k in probs.argmax(1)], classes)
        assert entry["val_uf1"] == expected.uf1
    assert of(scored[2][0]) == ["synth/p01"]
    np.testing.assert_array_equal(result.probabilities, scored[2][1])
    assert of(trained[0]) == sorted({"synth/p00", "synth/p02", "synth/p03"} - set(val))  # held out of training


def test_trained_model_carries_batchnorm_statistics_of_its_training_images(data):
    # train_model must end with a BatchNorm recalibration on exactly the training DIs (all phases): the
    # statistics then equal a fresh recalibration, bit for bit (the weights, not the old statistics, decide
    # them).  The models handed to on_epoch must be recalibrated too.
    from learnet.model import LEARNet

    recipe = replace(FAST, window="dual-phase", epochs=2)
    samples = data["samples"]
    dis, _ = T.load_dynamic_images(samples, recipe, data["cache"], progress=False)
    classes = data["label_map"].classes
    targets = torch.tensor([classes.index(s.target) for s in samples])
    train_idx = [0, 2, 3, 5, 7, 8, 11]
    images = torch.cat([dis[0, train_idx], dis[1, train_idx]])

    def stats(model):
        return {k: v.clone() for k, v in model.state_dict().items() if "running_" in k or "num_batches" in k}

    def assert_recalibrated(model: LEARNet) -> None:
        fresh = T.recalibrate_batchnorm(copy.deepcopy(model), images)
        for key, value in stats(fresh).items():
            assert torch.equal(model.state_dict()[key], value), key

    epochs_seen = []

    def on_epoch(epoch, model, loss):
        assert_recalibrated(model)
        epochs_seen.append(epoch)

    model = T.train_model(dis, targets, train_idx, recipe, classes, 5, on_epoch=on_epoch, progress=False)
    assert epochs_seen == [1, 2] and not model.training
    assert_recalibrated(model)
    assert int(model.pair1.al1.bn.num_batches_tracked) == 1  # one pass of 14 images in one batch of 64
    # without recalibration the statistics are the lagging training averages (momentum 0.01): not equal
    raw = T.train_model(dis, targets, train_idx, replace(recipe, recalibrate_bn=False), classes, 5, progress=False)
    assert not torch.equal(raw.pair1.al1.bn.running_mean,
                           T.recalibrate_batchnorm(copy.deepcopy(raw), images).pair1.al1.bn.running_mean)


def test_a_look_at_each_epoch_changes_no_training(data):
    # on_epoch sees a model with recalibrated statistics, but training goes on from its own: the losses handed
    # to it are the same with and without recalibration, and the final model equals one trained with no look.
    dis, _ = T.load_dynamic_images(data["samples"], FAST, data["cache"], progress=False)
    classes = data["label_map"].classes
    targets = torch.tensor([classes.index(s.target) for s in data["samples"]])
    recipe = replace(FAST, epochs=2)
    looks, models = {}, {}
    for recalibrate in (True, False):
        seen = []
        models[recalibrate] = T.train_model(dis, targets, range(9), replace(recipe, recalibrate_bn=recalibrate), classes,
                                            5, on_epoch=lambda e, m, loss: seen.append((e, loss)), progress=False)
        looks[recalibrate] = seen
    assert [e for e, _ in looks[True]] == [1, 2] and looks[True] == looks[False]
    assert all(isinstance(loss, float) and loss > 0 for _, loss in looks[False])
    plain = T.train_model(dis, targets, range(9), recipe, classes, 5, progress=False)
    for key, value in plain.state_dict().items():
        assert torch.equal(models[True].state_dict()[key], value), key


def test_balanced_class_weights_change_the_loss_only_on_unbalanced_training_sets(data):
    dis, _ = T.load_dynamic_images(data["samples"], FAST, data["cache"], progress=False)
    classes = data["label_map"].classes
    targets = torch.tensor([classes.index(s.target) for s in data["samples"]])

    def losses(idx, weights):
        seen = []
        T.train_model(dis, targets, idx, replace(FAST, class_weights=weights, recalibrate_bn=False), classes, 2,
                      on_epoch=lambda e, m, loss: seen.append(loss), progress=False)
        return seen[0]

    everyone = list(range(12))  # 4 samples a class: every weight n / (C n_c) is 1
    assert losses(everyone, "balanced") == pytest.approx(losses(everyone, "none"), rel=1e-6)
    few = [i for i in everyone if targets[i] != 1] + [int((targets == 1).nonzero()[0])]  # 4, 1, 4
    assert losses(few, "balanced") != pytest.approx(losses(few, "none"), rel=1e-3)


def test_training_is_deterministic(data):
    dis, _ = T.load_dynamic_images(data["samples"], FAST, data["cache"], progress=False)
    targets = torch.tensor([data["label_map"].classes.index(s.target) for s in data["samples"]])
    subjects = [s.subject for s in data["samples"]]
    a = T.run_fold(dis, targets, subjects, "synth/p01", FAST, data["label_map"].classes, 3, progress=False)
    b = T.run_fold(dis, targets, subjects, "synth/p01", FAST, data["label_map"].classes, 3, progress=False)
    c = T.run_fold(dis, targets, subjects, "synth/p01", FAST, data["label_map"].classes, 4, progress=False)
    assert np.array_equal(a.probabilities, b.probabilities) and not np.array_equal(a.probabilities, c.probabilities)


# ------------------------------------------------------------------------------------------ deployable model

def test_all_subjects_export_with_card_and_same_preprocessing(loso_run, data, monkeypatch):
    from learnet.hub import load_model
    from learnet.model import LEARNet
    from learnet.pipeline import Pipeline
    from learnet.video import read_clip

    out, report = loso_run
    pushed = []
    monkeypatch.setattr(LEARNet, "push_to_hub", lambda self, repo, **kw: pushed.append(repo) or f"hub/{repo}")
    folder = T.run_all_subjects(data["samples"], data["label_map"], FAST, 0, out, cache_dir=data["cache"],
                                progress=False, echo=lambda m: None)
    assert pushed == []  # no network unless asked
    config = json.loads((folder / "config.json").read_text())
    assert config["class_names"] == ["negative", "positive", "surprise"]
    assert (config["face_mode"], config["window"], config["di_variant"], config["input_size"]) == ("none", "onset-offset", "bilen", 112)
    card = config["metadata"]["model_card"]
    uf1 = report["overall"]["uf1"]["mean"]
    assert f"UF1 {uf1:.3f}" in card and "Label map: `identity`" in card and "12 samples from 4 subjects" in card
    assert "leak-free: fixed budget of 1 epochs" in card
    assert f"UF1 {uf1:.3f}" in (folder / "README.md").read_text()  # rendered by the model card template
    model = load_model(folder)
    s = data["samples"][0]
    pre = Pipeline(model).preprocess(read_clip(s.path), onset=s.onset, apex=s.apex, offset=s.offset)
    dis, _ = T.load_dynamic_images([s], FAST, data["cache"], progress=False)
    assert np.array_equal(pre.di_uint8, dis[0, 0].permute(1, 2, 0).numpy())  # inference sees the training DI
    T.run_all_subjects(data["samples"], data["label_map"], FAST, 0, out, cache_dir=data["cache"],
                       push_to_hub="org/learnet-test", progress=False, echo=lambda m: None)
    assert pushed == ["org/learnet-test"]
    with pytest.raises(ValueError) as error:
        T.run_all_subjects(data["samples"], data["label_map"], replace(FAST, window="dual-phase"), 0,
                           data["root"] / "dual", progress=False, echo=lambda m: None)
    assert str(error.value) == ("a dual-phase model needs two dynamic images per clip, which learnet.pipeline does not "
                                "compute; export with --window onset-offset, onset-apex or apex-offset")


def test_model_card_without_loso_says_so(data):
    run = T.run_description(data["samples"], data["label_map"], FAST, [0])
    text = T.model_card_text(run, FAST, 0, 1, None)
    assert "No LOSO run of this recipe was found" in text and "negative 4, positive 4, surprise 4" in text


# ------------------------------------------------------------------------------------------ CLI

def test_cli_dry_run_errors_and_skip_invalid(data, tmp_path, capsys):
    assert T.main(["--manifest", str(data["manifest"]), "--face-mode", "none", "--out", str(tmp_path / "r"),
                   "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("dry run: 12 samples, 4 LOSO folds")
    assert T.main(["--out", str(tmp_path / "r")]) == 2
    assert "error: no data given: pass --manifest CSV" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    rows = data["manifest"].read_text().splitlines()
    rows[1] = rows[1].replace(",1,4,6,", ",1,4,60,")
    bad.write_text("\n".join(rows).replace("clips/", str(data["manifest"].parent / "clips") + "/") + "\n")
    assert T.main(["--manifest", str(bad), "--out", str(tmp_path / "r"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"{bad} line 2: synth/p00/clip00: offset 60 lies outside the clip (8 frames, last index 7)" in err
    assert err.strip().endswith("error: 1 problem(s) in the data (listed above); fix them or pass --skip-invalid "
                                "to leave those samples out")
    assert T.main(["--manifest", str(bad), "--out", str(tmp_path / "r"), "--dry-run", "--skip-invalid"]) == 0
    assert capsys.readouterr().out.startswith("dry run: 11 samples")
    assert T.main(["--manifest", str(data["manifest"]), "--out", str(tmp_path / "r"), "--seeds", "1,x"]) == 2
    assert "--seeds takes whole numbers" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        T.main(["--help"])
    assert exit_info.value.code == 0 and "--oracle-epoch" in capsys.readouterr().out


def test_cli_end_to_end_and_report_command(data, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["--manifest", str(data["manifest"]), "--face-mode", "none", "--epochs", "1", "--batch-size", "4",
            "--cache-dir", str(data["cache"]), "--out", str(out)]
    assert T.main(args + ["--folds", "1/2"]) == 0
    assert capsys.readouterr().out.strip() == f"shard 1/2 finished -> {out}"
    assert R.main([str(out)]) == 2
    assert "2 of 4 folds have no predictions yet (e.g. seed 0: synth/p01, synth/p03)" in capsys.readouterr().err
    assert T.main(args + ["--folds", "2/2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("UF1 ") and line.endswith(f"(1 seed, 4 folds, 12 samples) -> {out}")
    assert R.main([str(out), "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "confusion.png").is_file()


# ------------------------------------------------------------------------------------------ reports by hand

def _hand_run(root: Path, rows_by_file: dict, oracle: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    run = {"recipe": {"epochs": 3, "oracle_epoch": oracle, "val_subjects": 0}, "recipe_hash": "r", "data_hash": "d",
           "classes": ["neg", "pos"], "folds": ["a/s1", "b/s2"], "seeds": [0, 1], "label_map": {"name": "two"}}
    (root / "run.json").write_text(json.dumps(run))
    for (seed, fold), rows in rows_by_file.items():
        path = root / "predictions" / f"seed{seed}" / f"{fold.replace('/', '_')}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["seed", "fold", "sample_id", "dataset", "subject", "label", "prediction", "epoch", "p:neg", "p:pos"])
            for k, (true, pred) in enumerate(rows):
                w.writerow([seed, fold, f"{fold}/c{k}", fold[0], fold, true, pred, 3,
                            0.9 if pred == "neg" else 0.1, 0.1 if pred == "neg" else 0.9])
    return root


HAND = {
    (0, "a/s1"): [("neg", "neg"), ("neg", "pos"), ("pos", "pos")],
    (0, "b/s2"): [("pos", "pos"), ("neg", "neg")],
    (1, "a/s1"): [("neg", "neg"), ("neg", "neg"), ("pos", "pos")],
    (1, "b/s2"): [("pos", "pos"), ("neg", "neg")],
}


def test_report_hand_computed(tmp_path):
    run = _hand_run(tmp_path / "run", HAND)
    report = R.report_runs([run])
    # seed 0: neg TP 2 FN 1 -> F1 0.8; pos TP 2 FP 1 -> 0.8; UAR (2/3 + 1)/2; accuracy 4/5.  Seed 1: all right.
    o = report["overall"]
    assert o["uf1"] == pytest.approx({"mean": 0.9, "std": np.sqrt(0.02), "n": 2})
    assert o["uar"]["mean"] == pytest.approx((5 / 6 + 1) / 2) and o["accuracy"]["mean"] == pytest.approx(0.9)
    assert report["confusion"] == [[5, 1], [0, 4]]
    assert report["per_dataset"]["a"]["uf1"]["mean"] == pytest.approx((2 / 3 + 1) / 2)
    assert report["per_subject"]["0"]["b/s2"] == {"n": 2, "accuracy": 1.0, "uf1": 1.0, "uar": 1.0}
    assert (run / "report_row.tex").read_text().splitlines()[1] == \
        r"LEARNet & 0.900 $\pm$ 0.141 & 0.917 $\pm$ 0.118 & 0.900 $\pm$ 0.141 \\"
    rows = read_csv(run / "report.csv")
    assert [r["scope"] for r in rows] == ["all", "a", "b"] and rows[0]["uf1_mean"] == "0.900000"
    assert len(read_csv(run / "subjects.csv")) == 4
    png = (run / "confusion.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (run / "confusion.pdf").read_bytes()[:5] == b"%PDF-"


def test_report_merges_shard_dirs_and_flags_incomplete_runs(tmp_path):
    whole = R.report_runs([_hand_run(tmp_path / "whole", HAND)])
    a = _hand_run(tmp_path / "a", {k: v for k, v in HAND.items() if k[1] == "a/s1"})
    b = _hand_run(tmp_path / "b", {k: v for k, v in HAND.items() if k[1] == "b/s2"})
    merged = R.report_runs([a, b], tmp_path / "ab")
    assert merged["overall"] == whole["overall"] and merged["sources"] == [str(a), str(b)]
    with pytest.raises(ValueError, match=r"2 of 4 folds have no predictions yet \(e.g. seed 0: b/s2\)"):
        R.report_runs([a])
    partial = R.report_runs([a], allow_incomplete=True)
    assert partial["notes"] == ["incomplete: 2 of 4 folds missing"] and not partial["complete"]
    assert r"$^\dagger$" in (a / "report_row.tex").read_text()
    other = _hand_run(tmp_path / "other", HAND)
    run = json.loads((other / "run.json").read_text())
    (other / "run.json").write_text(json.dumps({**run, "recipe_hash": "changed"}))
    with pytest.raises(ValueError, match=r"holds a different run than .*\(its training recipe differs\)"):
        R.merge_runs([a, other])


def test_report_oracle_hand_run(tmp_path):
    report = R.report_runs([_hand_run(tmp_path / "o", HAND, oracle=True)])
    tex = (tmp_path / "o" / "report_row.tex").read_text()
    assert tex.splitlines()[1].startswith(r"LEARNet$^\dagger$ & 0.900") and f"% $^\\dagger$ {R.ORACLE_WARNING}" in tex
    assert report["validity"] == R.ORACLE_WARNING
    with pytest.raises(FileNotFoundError, match="is not a learnet run directory"):
        R.read_run(tmp_path / "nothing")
    shutil.rmtree(tmp_path / "o")
