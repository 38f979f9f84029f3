"""Cluster runs: the SLURM array script, a LOSO shard killed mid-run and resumed, and sharded `explain dataset`.

A pre-empted task is a process killed without warning (SIGKILL, what SLURM sends after its grace period), so
the tests kill a real `learnet train` subprocess once its first fold file exists, run it again, and check
that the merged report is the one an uninterrupted run writes.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dataset_fixtures import make_manifest, write_drifting_clip
from explain.cli import main as explain_main
from learnet.hub import save_model
from learnet.model import LEARNet
from learnet.pipeline import Pipeline
from learnet.video import read_clip

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "slurm_loso.sh"
FOLDS = 4  # make_manifest: 4 subjects


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cluster")
    return {"root": root, "manifest": make_manifest(root / "data"), "cache": root / "cache"}


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), **extra)
    return env


def _train_args(data: dict, epochs: int) -> list[str]:
    return ["--face-mode", "none", "--epochs", str(epochs), "--batch-size", "4", "--cache-dir", str(data["cache"])]


def _train(data: dict, out: Path, epochs: int, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "learnet", "train", "--manifest", str(data["manifest"]), "--out", str(out),
           "--threads", "1", *_train_args(data, epochs), *extra]
    return subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)


def _report(out: Path) -> dict:
    """The merged report without what names the run folder."""
    report = json.loads((out / "report.json").read_text())
    report.pop("sources")
    return report


def _fold_files(out: Path) -> list[Path]:
    return sorted((out / "predictions").rglob("*.csv")) if (out / "predictions").is_dir() else []


@pytest.fixture(scope="module")
def uninterrupted(data) -> dict:
    """Reports of runs that were never interrupted: 1 and 12 epochs."""
    reports = {}
    for epochs in (1, 12):
        out = data["root"] / f"whole{epochs}"
        done = _train(data, out, epochs)
        assert done.returncode == 0, done.stderr
        reports[epochs] = _report(out)
    return reports


def test_slurm_array_script_shards_and_report_merges(data, uninterrupted):
    out = data["root"] / "array"
    for task in (1, 2):
        done = subprocess.run(
            ["bash", str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=600,
            env=_env(MANIFEST=str(data["manifest"]), OUT=str(out), SLURM_ARRAY_TASK_ID=str(task),
                     SLURM_ARRAY_TASK_COUNT="2", SLURM_CPUS_PER_TASK="1", PYTHON=sys.executable,
                     LEARNET_DEVICE="cpu", LEARNET_TRAIN_ARGS=" ".join(_train_args(data, 1))))
        assert done.returncode == 0, done.stderr
        # round-robin: shard 1 holds folds p00, p02; shard 2 p01, p03
        assert len(_fold_files(out)) == 2 * task
    assert done.stdout.strip().startswith("UF1 ")  # the last shard completes the run: its own report
    merged = subprocess.run([sys.executable, "-m", "learnet", "report", str(out)], cwd=ROOT, env=_env(),
                            capture_output=True, text=True, timeout=300)
    assert merged.returncode == 0, merged.stderr
    assert _report(out) == uninterrupted[1]


def test_script_needs_a_manifest():
    done = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "MANIFEST: set MANIFEST to the manifest CSV" in done.stderr


def test_a_killed_shard_resumes_to_the_uninterrupted_report(data, uninterrupted):
    out = data["root"] / "preempted"
    cmd = [sys.executable, "-m", "learnet", "train", "--manifest", str(data["manifest"]), "--out", str(out),
           "--threads", "1", *_train_args(data, 12)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not _fold_files(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be interrupted: " + proc.stderr.read().decode()
        os.killpg(proc.pid, signal.SIGKILL)  # pre-emption: no clean-up, no chance to finish the fold
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stderr.close()
    finished = _fold_files(out)
    assert 1 <= len(finished) < FOLDS
    assert not (out / "report.json").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no half-written fold left behind
    done = _train(data, out, 12)
    assert done.returncode == 0, done.stderr
    assert f"resuming: {len(finished)} of {FOLDS} folds already done" in done.stderr
    assert len(_fold_files(out)) == FOLDS
    assert _report(out) == uninterrupted[12]


# ------------------------------------------------------------------------------ explain dataset in shards

CLASSES = ["negative", "positive", "surprise"]


def test_explain_dataset_shards_merge_into_the_whole_summary(tmp_path, capsys):
    torch.manual_seed(1)
    model = LEARNet(class_names=CLASSES, face_mode="none")
    save_model(model, tmp_path / "model")
    pipeline = Pipeline(model)
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "subject", "clip", "path", "fps", "onset", "apex", "offset", "label", "aus"])
        for i in range(5):  # labelled as predicted, so every sample is explained
            clip = write_drifting_clip(tmp_path / "clips" / f"clip{i}", seed=i)
            w.writerow(["toy", f"s{i}", f"clip{i}", clip, 200, 0, 3, 7, pipeline.predict(read_clip(clip)).label, ""])
    common = ["dataset", str(manifest), "--model", str(tmp_path / "model"), "--formats", "png", "--dpi", "30",
              "--device", "cpu"]
    assert explain_main(common + ["--out", str(tmp_path / "whole")]) == 0
    sharded = tmp_path / "sharded"
    for i, n_cached in ((1, 3), (2, 5)):  # shard 1 of 2 takes samples 0, 2, 4; shard 2 takes 1, 3
        capsys.readouterr()
        assert explain_main(common + ["--out", str(sharded), "--shard", f"{i}/2"]) == 0
        said = capsys.readouterr().out
        assert f"shard {i}/2: {3 if i == 1 else 2} sample(s) processed, 0 from cache, 0 skipped" in said
        assert len(list((sharded / "cache").glob("*.npz"))) == n_cached
        assert not (sharded / "summary.json").exists()
    assert explain_main(common + ["--out", str(sharded)]) == 0
    assert "(0 misclassified, 0 skipped, 5 from cache)" in capsys.readouterr().out
    whole, merged = (json.loads((d / "summary.json").read_text()) for d in (tmp_path / "whole", sharded))
    assert whole.pop("from_cache") == 0 and merged.pop("from_cache") == 5
    assert merged == whole and whole["explained"] == 5
    with np.load(tmp_path / "whole" / "class_means.npz") as a, np.load(sharded / "class_means.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key
    assert explain_main(common + ["--out", str(sharded), "--shard", "3/2"]) == 2
    assert capsys.readouterr().err == "error: --shard takes i/N with 1 <= i <= N (e.g. 2/8), got '3/2'\n"
