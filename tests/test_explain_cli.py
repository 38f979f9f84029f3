"""`python -m explain figure|dataset` end to end on tiny generated clips and a random model folder."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dataset_fixtures import write_drifting_clip
from explain.cli import main, parse_method_spec
from explain.base import ExplainError
from learnet.hub import load_model, save_model
from learnet.model import LEARNet
from learnet.pipeline import Pipeline
from learnet.video import read_clip
from toy_models import LinearScore

CLASSES = ["negative", "positive", "surprise"]
S = 112


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("explain_cli")
    torch.manual_seed(1)
    save_model(LEARNet(class_names=CLASSES, face_mode="none"), root / "model")
    for i in range(3):
        write_drifting_clip(root / "clips" / f"clip{i}", seed=i)
    return root


def _run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_method_specs():
    spec = parse_method_spec("gradcam:al1,AL2")
    assert (spec.method, spec.layers, spec.params) == ("gradcam", ("al1", "al2"), {})
    assert parse_method_spec("ig:steps=16,baseline=black").params == {"steps": 16, "baseline": "black"}
    assert parse_method_spec("guided").layers == ("head",)
    assert parse_method_spec("integrated-gradients").label() == "ig"
    with pytest.raises(ExplainError, match="valid methods: gradcam, guided, ig, smoothgrad, occlusion"):
        parse_method_spec("gradcampp:al1")
    with pytest.raises(ExplainError, match="valid layers: al1, al2, al3, al4, fuse, head"):
        parse_method_spec("gradcam:al1,al7")
    with pytest.raises(ExplainError, match="takes no layer"):
        parse_method_spec("ig:al1")


def test_figure_command_writes_figure_sidecar_and_regions(workspace, capsys, tmp_path):
    clips = [workspace / "clips" / "clip0", workspace / "clips" / "clip1"]
    out = tmp_path / "fig.png"
    argv = ["figure", *clips, "--model", workspace / "model", "--methods", "gradcam:al1,al2,al3,al4",
            "ig:steps=4", "--out", out, "--out", tmp_path / "fig.svg", "--dpi", "50"]
    code, stdout, _ = _run(argv, capsys)
    assert code == 0 and "2 clip(s) x 5 map(s)" in stdout
    assert out.is_file() and (tmp_path / "fig.svg").is_file()
    side = json.loads((tmp_path / "fig.json").read_text())
    assert side["methods"] == ["gradcam:al1,al2,al3,al4", "ig:steps=4"]
    assert side["model"]["source"] == str(workspace / "model") and side["model"]["class_names"] == CLASSES
    assert set(side["versions"]) >= {"python", "torch", "captum", "matplotlib", "numpy", "learnet"}
    assert len(side["rows"]) == 2
    row = side["rows"][0]
    assert [m["layer"] for m in row["maps"]] == ["al1", "al2", "al3", "al4", None]
    assert row["maps"][4]["params"]["steps"] == 4
    # Min-max input: no motion is where a zero DI value lands, -min / (max - min) of this clip's DI.
    pre = Pipeline(load_model(workspace / "model")).preprocess(read_clip(clips[0]))
    lo, hi = float(pre.di.min()), float(pre.di.max())
    assert row["no_motion_level"] == pytest.approx(-lo / (hi - lo), rel=1e-6) and lo < 0 < hi
    assert row["maps"][4]["params"]["level"] == row["no_motion_level"]  # the clip's exact no-motion level
    assert row["prediction"]["label"] in CLASSES and "timings_s" not in row["prediction"]
    # A map with positive attribution shares all of it over the regions; one without has none to share.
    assert len(row["regions"]) == len(row["maps"])
    for meta, (title, shares) in zip(row["maps"], row["regions"].items()):
        expected = 1.0 if meta["raw_max"] > 0 else 0.0
        assert sum(shares.values()) == pytest.approx(expected, abs=1e-9), title
    with open(tmp_path / "fig_regions.csv") as f:
        table = list(csv.reader(f))
    assert len(table) == 1 + 2 * 5 + 1  # header, 2 clips x 5 maps, area row
    assert (tmp_path / "fig_regions.tex").read_text().startswith(r"\begin{tabular}")
    # Existing outputs are kept unless --overwrite; then same inputs give the same bytes (figure and sidecar).
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, _, err = _run(argv, capsys)
    assert code == 2 and err == (f"error: {out} exists; pass --overwrite to replace it (and its .json, "
                                 "_regions.csv and _regions.tex), or choose another --out\n")
    assert _run(argv + ["--overwrite"], capsys)[0] == 0
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first
    assert side["width"] == "double" and side["width_in"] == 7.16 and side["letters"] is False
    png = cv2.imread(str(out))
    assert png.shape[1] == round(7.16 * 50)  # the default printed width: IEEE double column


def test_figure_widths_letters_and_truetype_pdf(workspace, capsys, tmp_path):
    clip = workspace / "clips" / "clip0"
    base = ["figure", clip, "--model", workspace / "model", "--methods", "gradcam:al1,al2,al3,al4", "ig:steps=4"]
    code, _, _ = _run(base + ["--width", "single", "--letters", "--out", tmp_path / "s.pdf", "--out",
                              tmp_path / "s.png", "--dpi", "100"], capsys)
    assert code == 0
    side = json.loads((tmp_path / "s.json").read_text())
    assert (side["width"], side["width_in"], side["letters"]) == ("single", 3.5, True)
    assert cv2.imread(str(tmp_path / "s.png")).shape[1] == 350
    if shutil.which("pdffonts"):
        fonts = subprocess.run(["pdffonts", str(tmp_path / "s.pdf")], capture_output=True, text=True,
                               check=True).stdout.splitlines()[2:]
        assert fonts and all("CID TrueType" in f for f in fonts), fonts
    code, _, err = _run(base + ["--width", "2.5x", "--out", tmp_path / "w.pdf"], capsys)
    assert code == 2 and err == "error: unknown figure width '2.5x'; use single, double or a width in inches\n"


def test_flat_maps_are_reported_as_flat_not_scored():
    from explain.base import AttributionMap
    from explain.faithfulness import FLAT_NOTE, deletion_curve, faithfulness_aucs, is_flat

    g = torch.Generator().manual_seed(3)
    net = LinearScore(torch.rand(1, 1, 8, 8, generator=g) * 0.1).eval()
    x = torch.rand(1, 3, 8, 8, generator=g)
    ramp = np.arange(64, dtype=np.float32).reshape(8, 8)
    maps = {
        "zero": AttributionMap(np.zeros((8, 8), np.float32), "gradcam", "al2", 0, "a"),
        "constant": np.full((8, 8), 0.3),
        "round-off": np.full((8, 8), 2.0) + np.eye(8) * 1e-7,  # float32 ripple of an upsampled constant
        "negative only": AttributionMap(-1 - ramp, "ig", None, 0, "a"),  # no positive evidence at all
        "ramp": ramp,
    }
    assert [is_flat(m) for m in maps.values()] == [True, True, True, True, False]
    aucs = faithfulness_aucs(net, x, maps, target=0, steps=4, baseline=0.0)
    flat = {"deletion_auc": None, "insertion_auc": None, "note": "map is flat: no positive evidence"}
    assert FLAT_NOTE == flat["note"]
    assert [aucs[k] for k in ("zero", "constant", "round-off", "negative only")] == [flat] * 4
    assert aucs["ramp"]["deletion_auc"] == pytest.approx(
        deletion_curve(net, x, ramp, target=0, steps=4, baseline=0.0).auc, abs=1e-9)
    # all flat: nothing runs through the model; a signed (contrastive) map keeps its negative evidence
    assert faithfulness_aucs(net, x, {"zero": np.zeros((8, 8))}, target=0) == {"zero": flat}
    contrast = AttributionMap(-1 - ramp, "gradcam", "head", 0, "a", contrast=1, contrast_name="b")
    assert not is_flat(contrast)
    with pytest.raises(ExplainError, match=r"^expected a 2-D \(H, W\) map, got shape \(8,\)$"):
        faithfulness_aucs(net, x, {"zero": np.zeros((8, 8)), "bad": np.zeros(8)}, target=0)


def test_figure_command_prints_flat_maps_as_flat(workspace, capsys, tmp_path, monkeypatch):
    import explain.bundle as bundle

    real = bundle.run_methods

    def one_flat(*args, **kwargs):  # AL2's ReLU removed everything, as on some of the demo clips
        maps = real(*args, **kwargs)
        maps[1].values[:] = 0
        return maps

    monkeypatch.setattr(bundle, "run_methods", one_flat)
    code, stdout, _ = _run(["figure", workspace / "clips" / "clip1", "--model", workspace / "model", "--methods",
                            "gradcam:al1,al2", "--out", tmp_path / "f.pdf", "--faithfulness"], capsys)
    assert code == 0 and "clip1 Grad-CAM AL2: map is flat: no positive evidence\n" in stdout
    assert "clip1 Grad-CAM AL1: deletion AUC" in stdout
    row = json.loads((tmp_path / "f.json").read_text())["rows"][0]
    assert row["faithfulness"]["Grad-CAM AL2"] == {"deletion_auc": None, "insertion_auc": None,
                                                   "note": "map is flat: no positive evidence"}


def test_figure_never_overwrites_a_file_it_did_not_write(workspace, capsys, tmp_path):
    clip = workspace / "clips" / "clip0"
    base = ["figure", clip, "--model", workspace / "model", "--methods", "gradcam:al1", "--dpi", "30"]
    mine = tmp_path / "mine.pdf"
    mine.write_bytes(b"%PDF my paper")
    code, _, err = _run(base + ["--out", mine], capsys)
    assert code == 2 and err.startswith(f"error: {mine} exists; pass --overwrite")
    assert mine.read_bytes() == b"%PDF my paper" and not (tmp_path / "mine.json").exists()
    # A training run's report.json beside --out RUN/report.pdf is not a sidecar: refused even with --overwrite.
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.json").write_text('{"validity": "leak-free"}')
    for extra in ([], ["--overwrite"]):
        code, _, err = _run(base + ["--out", run / "report.pdf", *extra], capsys)
        assert code == 2 and err == (f"error: {run / 'report.json'} exists and was not written by `explain "
                                     "figure`; choose another --out name\n")
    assert (run / "report.json").read_text() == '{"validity": "leak-free"}' and not (run / "report.pdf").exists()


def test_figure_command_contrast_and_errors(workspace, capsys, tmp_path):
    clip = workspace / "clips" / "clip2"
    code, stdout, _ = _run(["figure", clip, "--model", workspace / "model", "--methods", "gradcam:head",
                            "--target", "positive", "--contrast", "negative", "--out", tmp_path / "c.pdf",
                            "--faithfulness"], capsys)
    assert code == 0 and "clip2 Grad-CAM last conv: deletion AUC" in stdout
    row = json.loads((tmp_path / "c.json").read_text())["rows"][0]
    meta = row["maps"][0]
    assert (meta["target_name"], meta["contrast_name"]) == ("positive", "negative")
    aucs = row["faithfulness"]["Grad-CAM last conv"]
    # The CLI's AUCs are the library's on the same clip, map and no-motion baseline (the library's curves are
    # checked against closed forms in test_explain_regions.py).
    from explain.cli import parse_method_spec, run_methods
    from explain.faithfulness import deletion_insertion_aucs
    from learnet.hub import load_model
    from learnet.pipeline import Pipeline
    from learnet.video import read_clip

    model = load_model(workspace / "model")
    pipeline = Pipeline(model)
    pre = pipeline.preprocess(read_clip(clip))
    x, level = pipeline.input_tensor(pre), pipeline.no_motion_level(pre)
    (m,) = run_methods(model, x, [parse_method_spec("gradcam:head")], target="positive", contrast="negative",
                       level=level)
    expected = deletion_insertion_aucs(model, x, m, baseline=level)
    assert aucs == pytest.approx(expected, abs=1e-6)
    base = ["figure", clip, "--model", workspace / "model", "--out", tmp_path / "x.pdf"]
    code, _, err = _run(base + ["--methods", "lime"], capsys)
    assert code == 2 and err.startswith("error: unknown attribution method 'lime'; valid methods: gradcam")
    code, _, err = _run(base + ["--methods", "gradcam:al9"], capsys)
    assert code == 2 and "valid layers: al1, al2, al3, al4, fuse, head" in err
    code, _, err = _run(base + ["--target", "joy"], capsys)
    assert code == 2 and "classes are: negative, positive, surprise" in err
    code, _, err = _run(["figure", clip, "--model", workspace / "model", "--out", tmp_path / "x.jpg"], capsys)
    assert code == 2 and ".pdf, .svg or .png" in err
    code, _, err = _run(["figure", tmp_path / "missing", "--model", workspace / "model"], capsys)
    assert code == 2 and err == f"error: the clip {tmp_path / 'missing'} does not exist\n"


def test_dataset_command_class_means_ground_truth_and_resume(workspace, capsys, tmp_path):
    model = load_model(workspace / "model")
    pipeline = Pipeline(model)
    predicted = [pipeline.predict(read_clip(workspace / "clips" / f"clip{i}")).label for i in range(3)]
    wrong = next(c for c in CLASSES if c != predicted[2])
    full = tmp_path / "full_mask.png"
    cv2.imwrite(str(full), np.full((128, 128), 255, np.uint8))  # the whole face: energy and pointing are 1
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "subject", "clip", "path", "fps", "onset", "apex", "offset", "label", "aus", "mask"])
        for i, label in enumerate([predicted[0], predicted[1], wrong]):
            w.writerow(["toy", f"s{i}", f"clip{i}", workspace / "clips" / f"clip{i}", 200, 0, 3, 7, label, "", full])
    out = tmp_path / "ds"
    argv = ["dataset", manifest, "--model", workspace / "model", "--out", out, "--formats", "png", "--dpi", "40"]
    code, stdout, _ = _run(argv, capsys)
    assert code == 0
    assert "explained 2 correctly classified of 3 samples (1 misclassified, 0 skipped, 0 from cache)" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["explained"] == 2 and sum(summary["counts"].values()) == 2
    means = np.load(out / "class_means.npz")
    classes = list(summary["counts"])
    assert sorted(means.files) == sorted(f"{c}/{layer}" for c in classes for layer in ("al1", "al2", "al3", "al4"))
    for key in means.files:  # means of sum-normalised maps sum to 1 (or 0 if every map was empty)
        assert means[key].shape == (S, S) and means[key].sum() == pytest.approx(1.0, abs=1e-4) or not means[key].any()
    with open(out / "regions.csv") as f:
        assert len(list(csv.reader(f))) == 1 + 4 * len(classes) + 1
    gt = summary["ground_truth"]
    assert gt["mean of maps"]["n"] == 2 and gt["random map"]["energy"] == pytest.approx(1.0)
    assert gt["mean of maps"]["energy"] == pytest.approx(1.0) and gt["mean of maps"]["pointing"] == 1.0
    for name in ("al1", "al2", "al3", "al4"):
        if gt[name]["energy"] > 0:
            assert gt[name]["energy"] == pytest.approx(1.0) and gt[name]["pointing"] == 1.0
    assert (out / "class_means.png").is_file() and (out / "regions.png").is_file()
    assert len(list((out / "cache").glob("*.npz"))) == 3
    # Resume: every sample comes from the cache.
    code, stdout, _ = _run(argv, capsys)
    assert code == 0 and "3 from cache" in stdout
    code, _, err = _run(argv + ["--layers", "al1"], capsys)
    assert code == 2 and "another run" in err
    code, _, err = _run(["dataset", manifest, "--model", workspace / "model", "--out", tmp_path / "o",
                         "--layers", "al1,al0"], capsys)
    assert code == 2 and "valid layers" in err


def test_help_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "explain", "figure", "--help"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, timeout=120)
    assert done.returncode == 0 and "gradcam:al1,al2,al3,al4" in done.stdout and "--contrast" in done.stdout
