"""Devices: resolving --device, mixed precision only on CUDA, and a CPU path identical with or without it.

There is no GPU where these tests run; the CUDA cases are checked by what `resolve_device` and `amp_dtype`
answer when torch reports a GPU (monkeypatched), never by computing on one.
"""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dataset_fixtures import make_manifest
from learnet import datasets as D
from learnet import device as DV
from learnet import train as T

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(DV, "_mps_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_auto_is_the_cpu_without_a_gpu(no_gpu):
    assert DV.resolve_device("auto") == torch.device("cpu")
    assert DV.resolve_device(None) == torch.device("cpu")
    assert DV.resolve_device(" CPU ") == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch, two_gpus):
    assert DV.resolve_device("auto") == torch.device("cuda")
    assert DV.resolve_device("cuda:1") == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(DV, "_mps_available", lambda: True)
    assert DV.resolve_device("auto") == torch.device("mps")
    assert DV.resolve_device("mps") == torch.device("mps")


def test_unavailable_devices_are_one_line_errors(no_gpu, two_gpus, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DV.DeviceError) as e:
        DV.resolve_device("cuda")
    assert str(e.value) == (f"device cuda is not available: this torch ({torch.__version__}) is a CPU-only build; "
                            "use --device cpu or auto")
    with pytest.raises(DV.DeviceError, match=r"^device mps is not available: it needs Apple silicon"):
        DV.resolve_device("mps")
    with pytest.raises(DV.DeviceError) as e:
        DV.resolve_device("tpu")
    assert str(e.value) == "unknown device 'tpu': choose auto, cpu, cuda, mps (or cuda:N)"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(DV.DeviceError) as e:
        DV.resolve_device("cuda:2")
    assert str(e.value) == "device cuda:2 is not available: this machine has 2 CUDA device(s) (cuda:0..cuda:1)"


def test_device_from_env(monkeypatch, no_gpu):
    monkeypatch.setenv(DV.DEVICE_ENV, "cpu")
    assert DV.device_from_env() == torch.device("cpu")
    monkeypatch.setenv(DV.DEVICE_ENV, "")
    assert DV.device_from_env() == torch.device("cpu")  # empty: the default, auto
    monkeypatch.setenv(DV.DEVICE_ENV, "cuda")
    with pytest.raises(DV.DeviceError, match="^device cuda is not available"):
        DV.device_from_env()


def test_mixed_precision_only_on_cuda(monkeypatch):
    assert DV.amp_dtype(torch.device("cpu")) is None
    assert DV.amp_dtype(torch.device("mps")) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert DV.amp_dtype(torch.device("cuda")) is torch.bfloat16
    assert DV.amp_dtype(torch.device("cuda"), enabled=False) is None  # --no-amp
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert DV.amp_dtype(torch.device("cuda", 1)) is torch.float16  # older GPUs: float16 with loss scaling


def test_cpu_helpers_are_no_ops():
    t = torch.arange(6, dtype=torch.uint8)
    assert DV.to_device(t, torch.device("cpu")) is t  # no copy of the cached dynamic images
    with DV.autocast(torch.device("cpu"), None):
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32
    assert DV.module_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert DV.module_device(torch.nn.ReLU()) == torch.device("cpu")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("device")
    manifest = make_manifest(root / "data")
    samples = D.read_manifest(manifest)
    label_map = D.get_label_map("auto", samples)
    return root, manifest, label_map.apply(samples), label_map


def test_amp_flag_changes_nothing_on_the_cpu(tiny):
    root, _, samples, label_map = tiny
    recipe = T.Recipe(face_mode="none", epochs=2, batch_size=4, blur=1.0, flip=True)
    dis, _ = T.load_dynamic_images(samples, recipe, root / "cache", progress=False)
    targets = torch.tensor([label_map.classes.index(s.target) for s in samples])
    train = list(range(8))
    a = T.train_model(dis, targets, train, recipe, label_map.classes, 5, progress=False)
    b = T.train_model(dis, targets, train, recipe, label_map.classes, 5, progress=False, device="cpu", amp=False)
    for (name, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb), name
    pa, pb = T.predict_proba(a, dis, range(8, 12)), T.predict_proba(b, dis, range(8, 12))
    assert pa.tobytes() == pb.tobytes()


def _train_cli(manifest: Path, out: Path, cache: Path, *extra: str) -> list[dict]:
    cmd = [sys.executable, "-m", "learnet", "train", "--manifest", str(manifest), "--face-mode", "none",
           "--epochs", "1", "--batch-size", "4", "--threads", "1", "--cache-dir", str(cache), "--out", str(out),
           *extra]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = []
    for path in sorted((out / "predictions").rglob("*.csv")):
        with path.open(newline="") as f:
            rows += list(csv.DictReader(f))
    return rows


def test_train_cli_with_and_without_device_cpu_predicts_identically(tiny):
    root, manifest, _, _ = tiny
    plain = _train_cli(manifest, root / "plain", root / "cache-cli")
    cpu = _train_cli(manifest, root / "cpu", root / "cache-cli", "--device", "cpu", "--no-amp")
    assert len(plain) == 12 and plain == cpu  # every probability, to the printed 6 decimals


def test_cli_refuses_a_missing_gpu_in_one_line(tiny):
    root, manifest, _, _ = tiny
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = subprocess.run([sys.executable, "-m", "learnet", "train", "--manifest", str(manifest), "--face-mode",
                           "none", "--out", str(root / "never"), "--device", "cuda"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: device cuda is not available: ")
    assert done.stderr.count("\n") == 1 and not (root / "never").exists()
    done = subprocess.run([sys.executable, "-m", "learnet", "predict", "x.mp4", "--device", "tpu"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (2, "error: unknown device 'tpu': choose auto, cpu, cuda, mps "
                                                 "(or cuda:N)\n")
