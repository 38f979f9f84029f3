"""Training LEARNet on dynamic images: leak-free LOSO, sharded runs, and one deployable model.

Protocol.  Leave-one-subject-out (LOSO): one fold per (namespaced) subject; the fold's model never sees its
test subject.  The epoch whose weights are scored is fixed in advance (the epoch budget) or chosen on held-out
*training* subjects (``val_subjects``); both are leak-free.  ``oracle_epoch`` picks, per fold, the epoch that
scored best on the test subject itself, as many published MER results do: it exists to reproduce such
numbers and every output of such a run says "not a valid estimate".

Data.  Each sample's dynamic image (DI) is computed by `learnet.pipeline.preprocess`, the very function
inference uses, from the annotated window, and cached on disk as a PNG keyed by a hash of the preprocessing
settings and of the sample (id, path, onset/apex/offset).  For training all DIs sit in memory as one uint8
tensor; augmentation (small shifts and scales, brightness, optional flips) runs in torch on whole batches, so
feeding the network costs little next to the network itself (see bench/bench_train.py).

Run directory (``--out``; resumable: finished folds are skipped)::

    run.json                          recipe, label map, classes, folds, seeds, data fingerprint
    predictions/seed<S>/<fold>.csv    per-fold predictions (read by learnet.report)
    logs/seed<S>/<fold>.json          per-epoch loss (and validation / oracle scores)
    report.json, report.csv, ...      written once every fold of every seed is done (learnet.report)
    model/                            --all-subjects: save_pretrained folder with config and model card
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from . import __version__
from . import datasets as D
from . import metrics as M
from . import report as R
from .device import DEVICES, amp_dtype, autocast, module_device, resolve_device, to_device
from .dynamic import INPUT_SCALINGS, VARIANTS, to_input_uint8, uint8_to_input
from .face import FACE_MODES
from .model import LEARNet
from .pipeline import preprocess
from .video import ClipError

DUAL_PHASE: tuple[str, str] = ("onset-apex", "apex-offset")
WINDOW_CHOICES: tuple[str, ...] = ("onset-offset", "onset-apex", "apex-offset", "dual-phase")
SCHEDULES: tuple[str, ...] = ("cosine", "constant")
CLASS_WEIGHTS: tuple[str, ...] = ("balanced", "none")


@dataclass(frozen=True)
class Recipe:
    """Everything that decides what a trained model is: preprocessing, optimisation, augmentation, protocol.

    Two runs with the same recipe, data and seed give the same predictions on CPU.
    """

    face_mode: str = "auto"
    window: str = "onset-offset"  # or "dual-phase": both halves, probabilities averaged
    di_variant: str = "bilen"
    input_scaling: str = "minmax"  # "signed": no motion = 0 = the padding value (learnet.dynamic)
    input_size: int = 112
    stabilise: bool = False  # remove head motion frame by frame before pooling (learnet.stabilise)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    class_weights: str = "balanced"
    shift: float = 0.05  # max translation, fraction of the side
    scale: float = 0.05  # max relative zoom in or out
    brightness: float = 0.1  # max additive change, in [0, 1] intensity units; minmax input only (a signed
    # input's constant offset would be motion everywhere)
    flip: bool = False  # horizontal flips swap the face's sides; some MER work finds they hurt
    blur: float = 0.0  # max Gaussian blur sigma (px of the DI): robustness to the resampling a crop went through
    recalibrate_bn: bool = True  # re-estimate BatchNorm statistics on the training DIs after training
    val_subjects: int = 0  # >0: choose the epoch on this many held-out training subjects
    oracle_epoch: bool = False  # choose the epoch on the test subject: NOT a valid estimate

    def __post_init__(self):
        checks = [
            (self.face_mode in FACE_MODES, f"face mode must be one of {', '.join(FACE_MODES)}"),
            (self.window in WINDOW_CHOICES, f"window must be one of {', '.join(WINDOW_CHOICES)}"),
            (self.di_variant in VARIANTS, f"DI variant must be one of {', '.join(VARIANTS)}"),
            (self.input_scaling in INPUT_SCALINGS, f"input scaling must be one of {', '.join(INPUT_SCALINGS)}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}"),
            (self.class_weights in CLASS_WEIGHTS, f"class weights must be one of {', '.join(CLASS_WEIGHTS)}"),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.batch_size >= 1, "batch size must be at least 1"),
            (self.lr > 0, "learning rate must be positive"),
            (self.input_size % 16 == 0 and self.input_size >= 16, "input size must be a positive multiple of 16"),
            (0 <= self.shift < 0.5 and 0 <= self.scale < 0.5 and 0 <= self.brightness < 1 and 0 <= self.blur <= 3,
             "augmentation out of range"),
            (self.val_subjects >= 0, "val subjects must be 0 or more"),
            (not (self.oracle_epoch and self.val_subjects), "choose the epoch either on validation subjects or by oracle"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def applied_brightness(self) -> float:
        """The brightness augmentation actually applied: none on signed input (an offset would be motion)."""
        return self.brightness if self.input_scaling == "minmax" else 0.0

    @property
    def phases(self) -> tuple[str, ...]:
        """The DI windows per sample: one, or the two halves of a dual-phase recipe."""
        return DUAL_PHASE if self.window == "dual-phase" else (self.window,)

    def to_dict(self) -> dict:
        return asdict(self)

    def digest(self) -> str:
        return _digest(self.to_dict())


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


# --------------------------------------------------------------------------------------------------------
# Dynamic images: computed through the inference pipeline, cached on disk, held in memory as uint8


def default_cache_dir() -> Path:
    """`$LEARNET_CACHE`, else `$XDG_CACHE_HOME/learnet` or `~/.cache/learnet`, plus `dynamic-images`."""
    base = os.environ.get("LEARNET_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "learnet"
    return Path(base) / "dynamic-images"


def preprocessing_settings(recipe: Recipe, window: str) -> dict:
    """The settings a cached DI depends on (the toolkit version included: preprocessing code may change)."""
    settings = {"face_mode": recipe.face_mode, "size": recipe.input_size, "di_variant": recipe.di_variant,
                "window": window, "input_scaling": recipe.input_scaling, "learnet": __version__}
    if recipe.stabilise:  # only when on, so caches made before the option existed keep their keys
        settings["stabilise"] = True
    return settings


def cache_path(cache_dir: str | os.PathLike, settings: dict, sample: D.Sample) -> Path:
    """`<cache>/<settings hash>/<sample id>-<sample hash>.png`; the sample hash covers path and annotation."""
    key = {"id": sample.id, "path": sample.path, "frames": len(sample.frames), "onset": sample.onset,
           "apex": sample.apex, "offset": sample.offset}
    return Path(cache_dir) / _digest(settings) / f"{_slug(sample.id)}-{_digest(key)[:10]}.png"


def compute_dynamic_image(sample: D.Sample, settings: dict) -> tuple[np.ndarray, list[str]]:
    """One sample's DI (S, S, 3) uint8 through `learnet.pipeline.preprocess`, and the face warnings."""
    try:
        frames, onset, apex, offset = sample.read_window()
        pre = preprocess(frames, face_mode=settings["face_mode"], size=settings["size"],
                         di_variant=settings["di_variant"], window=settings["window"], onset=onset, apex=apex,
                         offset=offset, stabilise=settings.get("stabilise", False))
    except (ClipError, ValueError) as exc:
        raise D.DatasetError(f"{sample.id} ({sample.source or sample.path}): {exc}") from exc
    return to_input_uint8(pre.di, settings.get("input_scaling", "minmax")), list(pre.face.warnings)


def _cached_dynamic_image(job: tuple[D.Sample, dict, Path]) -> tuple[np.ndarray, list[str], bool]:
    sample, settings, path = job
    if path.is_file():
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        size = settings["size"]
        if image is not None and image.shape == (size, size, 3):
            return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), [], True
    di, warnings = compute_dynamic_image(sample, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.png")
    cv2.imwrite(str(tmp), cv2.cvtColor(di, cv2.COLOR_RGB2BGR))  # PNG: lossless, so cached == computed
    os.replace(tmp, path)  # atomic: parallel shards never read half a file
    return di, warnings, False


def load_dynamic_images(
    samples: Sequence[D.Sample],
    recipe: Recipe,
    cache_dir: str | os.PathLike | None = None,
    *,
    workers: int = 1,
    progress: bool | None = None,
) -> tuple[torch.Tensor, dict]:
    """All DIs as one uint8 tensor (P, N, 3, S, S) (P = 1, or 2 for dual-phase), computing missing ones.

    Returns the tensor and stats: {"computed", "cached", "face_warnings": {message: count}, "cache_dir"}.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    size = recipe.input_size
    out = torch.empty((len(recipe.phases), len(samples), 3, size, size), dtype=torch.uint8)
    stats = {"computed": 0, "cached": 0, "face_warnings": Counter(), "cache_dir": str(cache_dir)}
    for p, window in enumerate(recipe.phases):
        settings = preprocessing_settings(recipe, window)
        folder = cache_dir / _digest(settings)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "settings.json").write_text(json.dumps(settings, indent=2))
        jobs = [(s, settings, cache_path(cache_dir, settings, s)) for s in samples]
        desc = f"dynamic images ({window})"
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                results = pool.map(_cached_dynamic_image, jobs, chunksize=4)
                results = list(tqdm(results, total=len(jobs), desc=desc, disable=_no_bar(progress)))
        else:
            results = [_cached_dynamic_image(j) for j in tqdm(jobs, desc=desc, disable=_no_bar(progress))]
        for i, (di, warnings, hit) in enumerate(results):
            out[p, i] = torch.from_numpy(np.ascontiguousarray(di.transpose(2, 0, 1)))
            stats["cached" if hit else "computed"] += 1
            stats["face_warnings"].update(w.split(";")[0] for w in warnings)
    stats["face_warnings"] = dict(stats["face_warnings"])
    return out, stats


def _no_bar(progress: bool | None) -> bool | None:
    return None if progress is None else not progress  # None: tqdm shows bars only on a terminal


# --------------------------------------------------------------------------------------------------------
# Training


def augment_batch(batch: torch.Tensor, recipe: Recipe, generator: torch.Generator) -> torch.Tensor:
    """uint8 DIs (B, 3, S, S) -> model input (the recipe's scaling) with a random small shift/scale,
    brightness and flip each.

    Geometry uses one `affine_grid` + `grid_sample` for the whole batch (border padding, so no black edges
    that would look like motion); brightness is an additive offset, clamped to [0, 1], for minmax input only.
    """
    x = uint8_to_input(batch, recipe.input_scaling)
    b = x.shape[0]
    if recipe.shift or recipe.scale:
        zoom = 1.0 + (torch.rand(b, generator=generator) * 2 - 1) * recipe.scale
        shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * (2 * recipe.shift)  # grid units span 2
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / zoom
        theta[:, :, 2] = shift
        grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if recipe.applied_brightness:
        offset = (torch.rand(b, generator=generator) * 2 - 1) * recipe.applied_brightness
        x.add_(offset.view(b, 1, 1, 1).to(x.device)).clamp_(0, 1)
    if recipe.flip:
        flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        x[flip] = x[flip].flip(-1)
    if recipe.blur:
        x = blur_batch(x, torch.rand(b, generator=generator) * recipe.blur)
    return x


def blur_batch(x: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Each image of (B, C, H, W) blurred by its own Gaussian sigma (px; 0 leaves it unchanged), separably,
    with replicated borders (a zero border would look like motion)."""
    b, c, h, w = x.shape
    radius = max(1, int(np.ceil(3 * float(sigmas.max()))))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    s = sigmas.to(x.device, x.dtype).clamp_min(1e-3).view(b, 1)
    k = torch.exp(-0.5 * (t.view(1, -1) / s) ** 2)
    k = (k / k.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (B*C, K)
    y = F.pad(x.reshape(1, b * c, h, w), (radius, radius, radius, radius), mode="replicate")
    y = F.conv2d(y, k.view(b * c, 1, 1, -1), groups=b * c)
    y = F.conv2d(y, k.view(b * c, 1, -1, 1), groups=b * c)
    return y.view(b, c, h, w)


def recalibrate_batchnorm(model: LEARNet, images: torch.Tensor, batch_size: int = 64) -> LEARNet:
    """Replace every BatchNorm's running mean/variance by the exact average over `images` (N, 3, S, S) uint8.

    Why: the authors' Keras momentum (0.99, i.e. PyTorch 0.01) makes the running statistics an average over
    the last few hundred steps, which on a small training set still lags the final weights, so eval-mode
    outputs differ from what training optimised.  One no-grad pass with momentum None (a cumulative average)
    fixes that; only BatchNorm layers run in train mode, so dropout does not perturb the statistics.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            model(uint8_to_input(images[start : start + batch_size], model.input_scaling))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return model.eval()


def class_weights(targets: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights n / (C * n_c) over the training targets (0 for a class with no sample)."""
    counts = torch.bincount(targets, minlength=n_classes).double()
    weights = torch.where(counts > 0, targets.numel() / (n_classes * counts.clamp(min=1)), torch.zeros_like(counts))
    return weights.float()


def make_model(recipe: Recipe, classes: Sequence[str], metadata: dict | None = None) -> LEARNet:
    """A fresh LEARNet whose config records the recipe's preprocessing (so inference repeats it)."""
    window = recipe.window if recipe.window != "dual-phase" else "onset-offset"
    return LEARNet(class_names=list(classes), input_size=recipe.input_size, di_variant=recipe.di_variant,
                   face_mode=recipe.face_mode, window=window, input_scaling=recipe.input_scaling,
                   stabilise=recipe.stabilise, metadata=metadata)


def fold_seed(seed: int, fold: str) -> int:
    """A seed for one fold that does not depend on which folds ran before (shards, resumed runs)."""
    return zlib.crc32(f"{seed}/{fold}".encode())


def train_model(
    dis: torch.Tensor,
    targets: torch.Tensor,
    train_idx: Sequence[int],
    recipe: Recipe,
    classes: Sequence[str],
    seed: int,
    *,
    epochs: int | None = None,
    metadata: dict | None = None,
    on_epoch: Callable[[int, LEARNet, float], None] | None = None,
    progress: bool | None = None,
    desc: str = "epochs",
    device: torch.device | str = "cpu",
    amp: bool = True,
) -> LEARNet:
    """Train a fresh LEARNet on the samples `train_idx` of `dis` (P, N, 3, S, S) uint8 with `targets` (N,).

    On `device` (dynamic images moved there once; random numbers still drawn on the CPU, so the CPU run is
    the reference); with `amp` on CUDA, forward and loss run under bfloat16/float16 autocast.

    Every phase DI of a training sample is a training item.  `on_epoch(epoch, model, mean_loss)` runs after
    each epoch (1-based) for validation, on a model whose BatchNorm statistics were recalibrated when the
    recipe asks for it; training resumes afterwards from the state the optimiser left (statistics included).
    """
    torch.manual_seed(seed)  # weights and dropout
    generator = torch.Generator().manual_seed(seed + 1)  # order and augmentation
    epochs = epochs or recipe.epochs
    device = torch.device(device)
    model = make_model(recipe, classes, metadata).to(device)  # initialised on the CPU: same weights anywhere
    phases, n = dis.shape[0], dis.shape[1]
    flat = to_device(dis.reshape(phases * n, *dis.shape[2:]), device)  # a view on CPU: no copy of the DIs
    base = torch.as_tensor(list(train_idx), dtype=torch.long)
    if base.numel() == 0:
        raise ValueError("no training samples")
    items = torch.cat([base + p * n for p in range(phases)])
    item_targets = targets.repeat(phases).to(device)
    weight = class_weights(targets[base], len(classes)) if recipe.class_weights == "balanced" else None
    criterion = nn.CrossEntropyLoss(weight=None if weight is None else weight.to(device))
    half = amp_dtype(device, amp)
    scaler = torch.amp.GradScaler("cuda") if half == torch.float16 else None  # bfloat16 needs no loss scaling
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs) if recipe.schedule == "cosine" else None
    train_images = flat.index_select(0, items.to(device)) if recipe.recalibrate_bn else None  # BatchNorm statistics
    bar = tqdm(range(1, epochs + 1), desc=desc, leave=False, disable=_no_bar(progress))
    for epoch in bar:
        model.train()
        order = items[torch.randperm(items.numel(), generator=generator)]
        # The loss is summed on the device (float64, the same sums as Python floats) and read once an epoch:
        # a .item() per batch would make the CPU wait for the GPU at every step.
        total, seen = torch.zeros((), dtype=torch.float64, device=device), 0
        for start in range(0, order.numel(), recipe.batch_size):
            idx = order[start : start + recipe.batch_size].to(device)
            x = augment_batch(flat.index_select(0, idx), recipe, generator)
            y = item_targets.index_select(0, idx)
            optimizer.zero_grad(set_to_none=True)
            with autocast(device, half):
                loss = criterion(model(x), y)
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            total += loss.detach().double() * idx.numel()
            seen += idx.numel()
        if scheduler is not None:
            scheduler.step()
        mean_loss = total.item() / seen
        bar.set_postfix(loss=f"{mean_loss:.3f}")
        if on_epoch is not None:
            if recipe.recalibrate_bn:
                running = {k: v.clone() for k, v in model.state_dict().items() if "running_" in k or "num_batches" in k}
                on_epoch(epoch, recalibrate_batchnorm(model, train_images), mean_loss)
                model.load_state_dict(running, strict=False)
            else:
                on_epoch(epoch, model, mean_loss)
    if recipe.recalibrate_bn:
        recalibrate_batchnorm(model, train_images)
    return model.eval()


@torch.no_grad()
def predict_proba(model: LEARNet, dis: torch.Tensor, idx: Sequence[int], batch_size: int = 64) -> np.ndarray:
    """Softmax probabilities (len(idx), C), averaged over the DI phases of each sample."""
    model.eval()
    idx = torch.as_tensor(list(idx), dtype=torch.long)
    out = torch.zeros(idx.numel(), model.num_classes)
    for p in range(dis.shape[0]):
        for start in range(0, idx.numel(), batch_size):
            chunk = idx[start : start + batch_size]
            x = uint8_to_input(dis[p].index_select(0, chunk.to(dis.device)), model.input_scaling)
            out[start : start + chunk.numel()] += torch.softmax(model(x.to(module_device(model))), dim=1).cpu()
    return (out / dis.shape[0]).numpy()


@dataclass
class FoldResult:
    """Test-subject probabilities of one fold, the epoch whose weights made them, and the per-epoch log."""

    probabilities: np.ndarray
    epoch: int
    log: list[dict]
    seconds: float
    val_subjects: list[str]


def run_fold(
    dis: torch.Tensor,
    targets: torch.Tensor,
    subjects: Sequence[str],
    fold: str,
    recipe: Recipe,
    classes: Sequence[str],
    seed: int,
    *,
    progress: bool | None = None,
    device: torch.device | str = "cpu",
    amp: bool = True,
) -> FoldResult:
    """Train without subject `fold` and predict it, with the recipe's epoch rule (budget, validation, oracle)."""
    t0 = time.perf_counter()
    test_idx = [i for i, s in enumerate(subjects) if s == fold]
    train_subjects = sorted({s for s in subjects if s != fold})
    val_subjects: list[str] = []
    if recipe.val_subjects:
        if recipe.val_subjects >= len(train_subjects):
            raise ValueError(f"--val-subjects {recipe.val_subjects} leaves no training subject ({len(train_subjects)} in the fold)")
        rng = np.random.default_rng(fold_seed(seed, fold))
        val_subjects = sorted(rng.choice(train_subjects, recipe.val_subjects, replace=False).tolist())
    val_idx = [i for i, s in enumerate(subjects) if s in val_subjects]
    train_idx = [i for i, s in enumerate(subjects) if s != fold and s not in val_subjects]
    labels = [classes[t] for t in targets.tolist()]
    log: list[dict] = []
    best: dict = {"score": -1.0, "epoch": recipe.epochs, "state": None, "probs": None}

    def on_epoch(epoch: int, model: LEARNet, loss: float) -> None:
        entry = {"epoch": epoch, "loss": round(loss, 6)}
        if val_idx:
            probs = predict_proba(model, dis, val_idx)
            sc = M.scores([labels[i] for i in val_idx], [classes[k] for k in probs.argmax(1)], classes)
            entry["val_uf1"] = sc.uf1
            if sc.uf1 > best["score"]:  # ties keep the earlier epoch
                best.update(score=sc.uf1, epoch=epoch, state=copy.deepcopy(model.state_dict()))
        if recipe.oracle_epoch:
            probs = predict_proba(model, dis, test_idx)
            acc = float(np.mean([classes[k] == labels[i] for k, i in zip(probs.argmax(1), test_idx)]))
            entry["test_accuracy"] = acc  # the oracle looks at the test subject: not a valid estimate
            if acc > best["score"]:
                best.update(score=acc, epoch=epoch, probs=probs)
        log.append(entry)

    needs_hook = bool(val_idx) or recipe.oracle_epoch
    model = train_model(dis, targets, train_idx, recipe, classes, fold_seed(seed, fold),
                        on_epoch=on_epoch if needs_hook else None, progress=progress, desc=f"fold {fold}",
                        device=device, amp=amp)
    if recipe.oracle_epoch:
        probs, epoch = best["probs"], best["epoch"]
    elif val_idx:
        model.load_state_dict(best["state"])
        probs, epoch = predict_proba(model, dis, test_idx), best["epoch"]
    else:
        probs, epoch = predict_proba(model, dis, test_idx), recipe.epochs
    return FoldResult(probs, epoch, log, time.perf_counter() - t0, val_subjects)


# --------------------------------------------------------------------------------------------------------
# Run directories


def loso_folds(samples: Sequence[D.Sample]) -> list[str]:
    """One fold per namespaced subject, in natural order."""
    from .video import natural_key

    return sorted({s.subject for s in samples}, key=natural_key)


def parse_shard(spec: str) -> tuple[int, int]:
    """`"i/N"` -> (i, N) with 1 <= i <= N."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec or "")
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"--folds takes i/N with 1 <= i <= N (e.g. 2/8), got {spec!r}")
    return int(m.group(1)), int(m.group(2))


def shard_folds(folds: Sequence[str], index: int, count: int) -> list[str]:
    """Folds of shard `index` of `count` (1-based), dealt round-robin so shards get similar sizes."""
    return list(folds[index - 1 :: count])


def data_fingerprint(samples: Sequence[D.Sample]) -> str:
    """Hash of sample ids, targets and windows: runs on different data never merge."""
    return _digest([(s.id, s.target, s.onset, s.apex, s.offset) for s in samples])


def fold_path(out_dir: Path, kind: str, seed: int, fold: str, suffix: str) -> Path:
    return Path(out_dir) / kind / f"seed{seed}" / f"{_slug(fold)}{suffix}"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run_description(samples: Sequence[D.Sample], label_map: D.LabelMap, recipe: Recipe, seeds: Sequence[int],
                    sources: Sequence[str] = ()) -> dict:
    """The `run.json` of a run: what was trained, on what, how it is to be read."""
    return {
        "learnet_version": __version__,
        "protocol": "loso",
        "recipe": recipe.to_dict(),
        "recipe_hash": recipe.digest(),
        "label_map": label_map.to_dict(),
        "classes": list(label_map.classes),
        "folds": loso_folds(samples),
        "seeds": sorted(set(seeds)),
        "data_hash": data_fingerprint(samples),
        "n_samples": len(samples),
        "datasets": dict(sorted(Counter(s.dataset for s in samples).items())),
        "class_counts": {c: sum(s.target == c for s in samples) for c in label_map.classes},
        "preprocessing": [preprocessing_settings(recipe, w) for w in recipe.phases],
        "sources": list(sources),
    }


def prepare_run_dir(out_dir: str | os.PathLike, run: dict) -> dict:
    """Create the run directory, or check that an existing one holds the same run (then resume it).

    Seeds may be added to an existing run; anything else that differs is an error.
    """
    out_dir = Path(out_dir)
    path = out_dir / R.RUN_FILE
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old.get("recipe_hash") != run["recipe_hash"]:
            diff = [f"{k} {old['recipe'].get(k)!r} -> {v!r}" for k, v in run["recipe"].items() if old["recipe"].get(k) != v]
            raise ValueError(f"{out_dir} holds a run with another recipe ({'; '.join(diff) or 'version'}); use a new --out")
        for key, what in (("classes", "classes"), ("data_hash", "data (samples, labels or windows)")):
            if old.get(key) != run[key]:
                raise ValueError(f"{out_dir} holds a run on other {what}; use a new --out")
        seeds = sorted(set(old["seeds"]) | set(run["seeds"]))
        if seeds == old["seeds"]:
            return old
        run = {**old, "seeds": seeds}
    _write_atomic(path, json.dumps(run, indent=2) + "\n")
    return run


def _prediction_rows(samples, idx, result: FoldResult, classes, seed: int) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["seed", "fold", "sample_id", "dataset", "subject", "label", "prediction", "epoch"] + [f"p:{c}" for c in classes])
    for k, i in enumerate(idx):
        s = samples[i]
        probs = result.probabilities[k]
        w.writerow([seed, s.subject, s.id, s.dataset, s.subject, s.target, classes[int(np.argmax(probs))], result.epoch]
                   + [f"{p:.6f}" for p in probs])
    return buf.getvalue()


def run_loso(
    samples: Sequence[D.Sample],
    label_map: D.LabelMap,
    recipe: Recipe,
    seeds: Sequence[int],
    out_dir: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike | None = None,
    shard: tuple[int, int] = (1, 1),
    workers: int = 1,
    sources: Sequence[str] = (),
    progress: bool | None = None,
    echo: Callable[[str], None] = print,
    device: torch.device | str = "cpu",
    amp: bool = True,
) -> dict | None:
    """Run (this shard of) LOSO for every seed into `out_dir`; skip folds already done.

    The dynamic images go to `device` once for all folds; `amp` is mixed precision on CUDA (`train_model`).

    `samples` must carry targets (`label_map.apply`).  Returns the report once every fold of every seed in
    the directory is done, else None (merge shards with `learnet.report`).
    """
    samples = list(samples)
    if any(s.target is None for s in samples):
        raise ValueError("samples need targets: apply a label map first")
    classes = list(label_map.classes)
    run = prepare_run_dir(out_dir, run_description(samples, label_map, recipe, seeds, sources))
    folds = run["folds"]
    if len(folds) < 2:
        raise ValueError(f"LOSO needs at least 2 subjects; the data has {len(folds)}")
    mine = shard_folds(folds, *shard)
    todo = [(seed, f) for seed in seeds for f in mine if not fold_path(out_dir, R.PREDICTIONS_DIR, seed, f, ".csv").exists()]
    done = len(seeds) * len(mine) - len(todo)
    if done:
        echo(f"resuming: {done} of {len(seeds) * len(mine)} folds already done in {out_dir}")
    if todo:
        dis, stats = load_dynamic_images(samples, recipe, cache_dir, workers=workers, progress=progress)
        _echo_di_stats(stats, echo)
        dis = to_device(dis, torch.device(device))
        targets = torch.tensor([classes.index(s.target) for s in samples])
        subjects = [s.subject for s in samples]
        for seed, fold in tqdm(todo, desc="LOSO folds", disable=_no_bar(progress)):
            result = run_fold(dis, targets, subjects, fold, recipe, classes, seed, progress=progress,
                              device=device, amp=amp)
            idx = [i for i, s in enumerate(subjects) if s == fold]
            log = {"seed": seed, "fold": fold, "epoch": result.epoch, "seconds": round(result.seconds, 2),
                   "n_train": len(samples) - len(idx), "n_test": len(idx), "val_subjects": result.val_subjects,
                   "epochs": result.log}
            if recipe.oracle_epoch:
                log["validity"] = R.ORACLE_WARNING
            _write_atomic(fold_path(out_dir, "logs", seed, fold, ".json"), json.dumps(log, indent=1) + "\n")
            _write_atomic(fold_path(out_dir, R.PREDICTIONS_DIR, seed, fold, ".csv"),
                          _prediction_rows(samples, idx, result, classes, seed))
            right = sum(classes[int(np.argmax(p))] == samples[i].target for p, i in zip(result.probabilities, idx))
            tqdm.write(f"seed {seed} {fold}: {right}/{len(idx)} right (epoch {result.epoch}, {result.seconds:.1f} s)",
                       file=sys.stderr)
    merged = R.merge_runs([out_dir])
    if not merged.complete:
        left = sum(map(len, merged.missing.values()))
        echo(f"shard {shard[0]}/{shard[1]} done; {left} fold(s) of this run remain; merge with "
             f"`python -m learnet report {out_dir} ...` when all shards are done")
        return None
    report = R.build_report(merged)
    R.write_report(report, out_dir, overwrite=True)  # a run folder's own report, refreshed as folds finish
    return report


def _echo_di_stats(stats: dict, echo: Callable[[str], None]) -> None:
    echo(f"dynamic images: {stats['computed']} computed, {stats['cached']} from the cache ({stats['cache_dir']})")
    for message, count in stats["face_warnings"].items():
        echo(f"warning: {count} sample(s): {message}")


# --------------------------------------------------------------------------------------------------------
# One deployable model


def model_card_text(run: dict, recipe: Recipe, seed: int, epochs: int, loso: dict | None) -> str:
    """Markdown for the model card: data, label map, preprocessing, recipe, and the LOSO figures of this recipe."""
    lm = run["label_map"]
    counts = ", ".join(f"{c} {n}" for c, n in run["class_counts"].items())
    datasets = ", ".join(f"{d} ({n})" for d, n in run["datasets"].items())
    aug = (f"shift {recipe.shift}, scale {recipe.scale}, brightness {recipe.applied_brightness}, "
           f"flips {'on' if recipe.flip else 'off'}")
    lines = [
        "## Training",
        "",
        f"- Data: {run['n_samples']} samples from {len(run['folds'])} subjects: {datasets}.",
        f"- Label map: `{lm['name']}` ({lm.get('description') or 'custom'}); classes and counts: {counts}.",
        f"- Preprocessing: face mode `{recipe.face_mode}`, window `{recipe.window}`, dynamic-image variant "
        f"`{recipe.di_variant}`, input scaling `{recipe.input_scaling}`, {recipe.input_size} px, computed with "
        "`learnet.pipeline.preprocess` as at inference.",
        f"- Recipe: {epochs} epochs, batch {recipe.batch_size}, Adam lr {recipe.lr} (weight decay "
        f"{recipe.weight_decay}, {recipe.schedule} schedule), class weights {recipe.class_weights}, augmentation "
        f"{aug}, seed {seed}"
        + ("; BatchNorm statistics re-estimated on the training DIs after training" if recipe.recalibrate_bn else "")
        + f"; trained on all subjects (`learnet` {__version__}).",
        "",
        "## Evaluation (leave-one-subject-out, same recipe)",
        "",
    ]
    if loso is None:
        lines.append("No LOSO run of this recipe was found, so these weights come without an accuracy estimate. "
                     "Run `python -m learnet train` without `--all-subjects` into the same `--out` first.")
    else:
        o = loso["overall"]
        fmt = lambda k: M.format_mean_std(o[k]["mean"], o[k]["std"], o[k]["n"])  # noqa: E731
        lines += [
            f"- UF1 {fmt('uf1')}, UAR {fmt('uar')}, accuracy {fmt('accuracy')} over {len(loso['seeds'])} seed(s), "
            f"{loso['n_folds']} folds, {loso['n_samples']} samples (predictions of all folds pooled).",
            f"- Protocol: {loso['validity']}.",
        ]
        lines += [f"- **Warning: {note}.**" for note in loso["notes"]]
        for d, v in loso.get("per_dataset", {}).items():
            lines.append(f"- {d}: UF1 {v['uf1']['mean']:.3f}, UAR {v['uar']['mean']:.3f} ({v['n']} samples)")
    return "\n".join(lines) + "\n"


def run_all_subjects(
    samples: Sequence[D.Sample],
    label_map: D.LabelMap,
    recipe: Recipe,
    seed: int,
    out_dir: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike | None = None,
    workers: int = 1,
    sources: Sequence[str] = (),
    push_to_hub: str | None = None,
    progress: bool | None = None,
    echo: Callable[[str], None] = print,
    device: torch.device | str = "cpu",
    amp: bool = True,
) -> Path:
    """Train one model on every subject and write a `save_pretrained` folder `out_dir/model`.

    The model card quotes the LOSO figures found in `out_dir` for the same recipe and data (if any).  With
    a validation recipe, the epoch budget is the median epoch the LOSO folds chose.  `push_to_hub` (a repo id)
    uploads the folder; nothing touches the network otherwise.
    """
    if recipe.window == "dual-phase":
        raise ValueError("a dual-phase model needs two dynamic images per clip, which learnet.pipeline does not "
                         "compute; export with --window onset-offset, onset-apex or apex-offset")
    samples = list(samples)
    classes = list(label_map.classes)
    run = prepare_run_dir(out_dir, run_description(samples, label_map, recipe, [seed], sources))
    merged = R.merge_runs([out_dir])
    loso = R.build_report(merged) if merged.rows else None
    epochs = recipe.epochs
    if recipe.val_subjects:
        chosen = [json.loads(p.read_text())["epoch"] for p in sorted((Path(out_dir) / "logs").glob("seed*/*.json"))]
        if chosen:
            epochs = int(np.median(chosen))
            echo(f"training for {epochs} epochs, the median epoch chosen on validation subjects in the LOSO folds")
    card = model_card_text(run, recipe, seed, epochs, loso)
    metadata = {
        "model_card": card,
        "training": {"recipe": recipe.to_dict(), "epochs": epochs, "seed": seed, "label_map": label_map.name,
                     "datasets": run["datasets"], "class_counts": run["class_counts"], "n_samples": len(samples),
                     "subjects": len(run["folds"]), "learnet_version": __version__},
        "loso": None if loso is None else {"overall": loso["overall"], "validity": loso["validity"],
                                           "notes": loso["notes"], "n_folds": loso["n_folds"]},
    }
    dis, stats = load_dynamic_images(samples, recipe, cache_dir, workers=workers, progress=progress)
    _echo_di_stats(stats, echo)
    targets = torch.tensor([classes.index(s.target) for s in samples])
    model = train_model(dis, targets, range(len(samples)), recipe, classes, fold_seed(seed, "all-subjects"),
                        epochs=epochs, metadata=metadata, progress=progress, desc="all subjects",
                        device=device, amp=amp).cpu()  # saved from the CPU: the same files from any device
    from .hub import save_model

    folder = save_model(model, Path(out_dir) / "model")
    echo(f"wrote {folder} ({', '.join(classes)}; {len(samples)} samples)")
    if push_to_hub:
        url = model.push_to_hub(push_to_hub, commit_message=f"LEARNet trained on {label_map.name} with learnet {__version__}")
        echo(f"pushed to {url}")
    return folder


# --------------------------------------------------------------------------------------------------------
# Command line


def load_samples(args: argparse.Namespace) -> tuple[list[D.Sample], list[str]]:
    """Read every dataset named on the command line; returns the samples and a description of the sources."""
    samples: list[D.Sample] = []
    sources: list[str] = []
    for path in args.manifest or []:
        samples += D.read_manifest(path)
        sources.append(f"manifest {path}")
    for flag, reader in (("casme2", D.read_casme2), ("samm", D.read_samm), ("smic", D.read_smic),
                         ("casme_sq", D.read_casme_sq)):
        folder = getattr(args, flag)
        if folder:
            samples += reader(folder)
            sources.append(f"{flag} {folder}")
    if not sources:
        raise ValueError("no data given: pass --manifest CSV and/or --casme2/--samm/--smic/--casme-sq FOLDER")
    return samples, sources


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in re.split(r"[,\s]+", text.strip()) if s]
    except ValueError:
        raise ValueError(f"--seeds takes whole numbers separated by commas, got {text!r}") from None
    if not seeds:
        raise ValueError("--seeds is empty")
    return sorted(set(seeds))


def recipe_from_args(args: argparse.Namespace) -> Recipe:
    return Recipe(
        face_mode=args.face_mode, window=args.window, di_variant=args.di_variant,
        input_scaling=args.input_scaling, stabilise=args.stabilise, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, schedule=args.schedule,
        class_weights=args.class_weights, shift=args.shift, scale=args.scale, brightness=args.brightness,
        flip=args.flip, blur=args.blur, recalibrate_bn=not args.no_bn_recalibration, val_subjects=args.val_subjects,
        oracle_epoch=args.oracle_epoch,
    )


def check_run_outputs(out_dir: str | os.PathLike, seeds: Sequence[int], all_subjects: bool,
                      overwrite: bool = False) -> None:
    """Refuse, before any work, what would overwrite a model or mix seeds in one run folder.

    `--all-subjects` trains one model with one seed: it must be a seed of the run's LOSO figures (else the
    folder's run.json would list a seed without folds, and the model card would quote other seeds' figures),
    and an existing `RUN_DIR/model` is replaced only with `overwrite`.
    """
    out_dir = Path(out_dir)
    if not all_subjects:
        return
    if len(seeds) > 1:
        raise ValueError(f"--all-subjects trains one model; give one --seed, not {','.join(map(str, seeds))}")
    run_file = out_dir / R.RUN_FILE
    if run_file.is_file():
        run_seeds = json.loads(run_file.read_text(encoding="utf-8")).get("seeds", [])
        if run_seeds and seeds[0] not in run_seeds:
            raise ValueError(f"{out_dir} holds a run of seed {', '.join(map(str, run_seeds))}; --all-subjects --seed "
                             f"{seeds[0]} would mix seeds in one run folder: use --seed {run_seeds[0]} or another --out")
    model = out_dir / "model"
    if model.exists() and not overwrite:
        raise ValueError(f"{model} already holds a model; pass --overwrite to replace it, or use another --out")


def _cmd_train(args: argparse.Namespace) -> int:
    echo = lambda msg: print(msg, file=sys.stderr)  # noqa: E731  (stdout keeps the one result line)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = recipe_from_args(args)
    seeds = _parse_seeds(args.seeds)
    shard = parse_shard(args.folds)
    device = resolve_device(args.device)  # before any work: a missing GPU is a one-line error, not a late crash
    if args.all_subjects and shard != (1, 1):
        raise ValueError("--all-subjects trains one model on everyone; it takes no --folds")
    check_run_outputs(args.out, seeds, args.all_subjects, args.overwrite)
    samples, sources = load_samples(args)
    label_map = D.get_label_map(args.label_map, samples)
    problems = D.validate(samples, label_map)
    if problems:
        for p in problems[:20]:
            echo(f"  {p}")
        if len(problems) > 20:
            echo(f"  ... and {len(problems) - 20} more")
        if not args.skip_invalid:
            raise ValueError(f"{len(problems)} problem(s) in the data (listed above); fix them or pass "
                             "--skip-invalid to leave those samples out")
        bad = {p.sample for p in problems}
        samples = [s for s in samples if s.id not in bad]
        echo(f"left out {len(bad)} sample(s) with problems")
    samples = label_map.apply(samples)
    if not samples:
        raise ValueError(f"no samples left under label map {label_map.name}")
    echo(f"label map {label_map.name}: " + D.summarize(samples, label_map).replace("\n", "; "))
    if recipe.oracle_epoch:
        echo(f"WARNING: --oracle-epoch picks each fold's epoch on its test subject: {R.ORACLE_WARNING}")
    if args.dry_run:
        print(f"dry run: {len(samples)} samples, {len(loso_folds(samples))} LOSO folds, recipe {recipe.digest()}")
        return 0
    cache = args.cache_dir or default_cache_dir()
    if device.type != "cpu":
        echo(f"training on {device}" + ("" if args.no_amp or device.type != "cuda" else " with mixed precision"))
    hardware = {"device": device, "amp": not args.no_amp}
    if args.all_subjects:
        folder = run_all_subjects(samples, label_map, recipe, seeds[0], args.out, cache_dir=cache,
                                  workers=args.workers, sources=sources, push_to_hub=args.push_to_hub, echo=echo,
                                  **hardware)
        print(f"model written to {folder}")
        return 0
    if args.push_to_hub:
        raise ValueError("--push-to-hub needs --all-subjects (LOSO fold models are not published)")
    report = run_loso(samples, label_map, recipe, seeds, args.out, cache_dir=cache, shard=shard,
                      workers=args.workers, sources=sources, echo=echo, **hardware)
    if report is not None:
        print(f"{R.summary_line(report)} -> {args.out}")
    else:
        print(f"shard {shard[0]}/{shard[1]} finished -> {args.out}")
    return 0


def register_cli(subparsers) -> None:
    """Add the `train` subcommand to `python -m learnet`."""
    d = Recipe()
    p = subparsers.add_parser(
        "train", help="train LEARNet: leak-free LOSO evaluation, or one model on all subjects",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train LEARNet on dynamic images.  By default: leave-one-subject-out (LOSO) with a fixed\n"
                    "epoch budget; per-fold predictions and a report go to --out (resumable).  --all-subjects\n"
                    "then trains one deployable model with the same recipe into RUN_DIR/model, a save_pretrained\n"
                    "folder whose model card quotes the LOSO figures.",
        epilog="examples:\n"
               "  python -m learnet train --manifest synth/manifest.csv --face-mode none --out runs/synth\n"
               "  python -m learnet train --casme2 /data/CASME2/Cropped --face-mode none --label-map casme2_5c "
               "--out runs/casme2\n"
               "  python -m learnet train --casme2 /data/CASME2/Cropped --face-mode none --label-map casme2_5c "
               "--out runs/casme2 --all-subjects",
    )
    data = p.add_argument_group("data")
    data.add_argument("--manifest", action="append", metavar="CSV", help="manifest CSV (repeatable)")
    data.add_argument("--casme2", metavar="DIR", help="CASME II release folder (raw or Cropped)")
    data.add_argument("--samm", metavar="DIR", help="SAMM folder")
    data.add_argument("--smic", metavar="DIR", help="SMIC folder (or its HS folder)")
    data.add_argument("--casme-sq", dest="casme_sq", metavar="DIR", help="CAS(ME)^2 folder (with rawpic/)")
    data.add_argument("--label-map", default="auto",
                      help=f"{', '.join(D.LABEL_MAPS)}, identity, a .json file, or auto (the datasets' usual map; "
                           "identity for manifests) [auto]")
    data.add_argument("--skip-invalid", action="store_true", help="leave out samples validate() finds problems with")
    pre = p.add_argument_group("preprocessing (recorded in the model config)")
    pre.add_argument("--face-mode", choices=FACE_MODES, default=d.face_mode,
                     help=f"auto: detect and align; none: clips are aligned face crops [{d.face_mode}]")
    pre.add_argument("--window", choices=WINDOW_CHOICES, default=d.window,
                     help=f"frames the dynamic image summarises; dual-phase: both halves, averaged [{d.window}]")
    pre.add_argument("--di-variant", choices=VARIANTS, default=d.di_variant,
                     help=f"bilen (correct) or authors (released-code compat) [{d.di_variant}]")
    pre.add_argument("--input-scaling", choices=INPUT_SCALINGS, default=d.input_scaling,
                     help="minmax: the DI min-max scaled to [0, 1] (the paper's form); signed: DI / max|DI| in "
                          f"[-1, 1], so no motion is 0, the convolutions' padding value [{d.input_scaling}]")
    pre.add_argument("--stabilise", action="store_true",
                     help="remove head motion frame by frame (rigid registration to the onset frame) before "
                          "pooling, so the dynamic image keeps the local, facial motion [off]")
    pre.add_argument("--cache-dir", default=None, help=f"dynamic-image cache [{default_cache_dir()}]")
    pre.add_argument("--workers", type=int, default=1, help="processes computing dynamic images [1]")
    pre.add_argument("--threads", type=int, default=None,
                     help="torch threads for training [torch's default: one per core]; use 1 per job when "
                          "several jobs share a machine")
    pre.add_argument("--device", default="auto", metavar="|".join(DEVICES),
                     help="where to train: auto (CUDA, else Apple MPS, else CPU), cpu, cuda[:N] or mps [auto]")
    pre.add_argument("--no-amp", action="store_true",
                     help="train in float32 on CUDA too (default there: bfloat16/float16 mixed precision)")
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=int, default=d.epochs, help=f"epoch budget [{d.epochs}]")
    opt.add_argument("--batch-size", type=int, default=d.batch_size, help=f"[{d.batch_size}]")
    opt.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate [{d.lr}]")
    opt.add_argument("--weight-decay", type=float, default=d.weight_decay, help=f"[{d.weight_decay}]")
    opt.add_argument("--schedule", choices=SCHEDULES, default=d.schedule, help=f"[{d.schedule}]")
    opt.add_argument("--class-weights", choices=CLASS_WEIGHTS, default=d.class_weights,
                     help=f"balanced: inverse class frequency in the loss [{d.class_weights}]")
    opt.add_argument("--seeds", "--seed", default="0", help="seed or comma-separated seeds (one LOSO per seed) [0]")
    opt.add_argument("--no-bn-recalibration", action="store_true",
                     help="keep BatchNorm's running statistics as training left them (default: re-estimate them "
                          "on the training DIs after training, which the slow Keras momentum makes necessary)")
    aug = p.add_argument_group("augmentation (on batches, in torch)")
    aug.add_argument("--shift", type=float, default=d.shift, help=f"max shift, fraction of the side [{d.shift}]")
    aug.add_argument("--scale", type=float, default=d.scale, help=f"max zoom in/out [{d.scale}]")
    aug.add_argument("--brightness", type=float, default=d.brightness, help=f"max brightness offset [{d.brightness}]")
    aug.add_argument("--flip", action="store_true", help="random horizontal flips (off: they swap face sides)")
    aug.add_argument("--blur", type=float, default=d.blur,
                     help="max Gaussian blur sigma in px of the dynamic image, drawn per sample: robustness to "
                          f"how the crop was resampled [{d.blur:g}]")
    proto = p.add_argument_group("protocol and output")
    proto.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory (resumable)")
    proto.add_argument("--val-subjects", type=int, default=d.val_subjects, metavar="K",
                       help="choose the epoch on K held-out training subjects per fold (leak-free) [0: fixed budget]")
    proto.add_argument("--oracle-epoch", action="store_true",
                       help="choose the epoch on the test subject, as some papers do: NOT a valid estimate; outputs say so")
    proto.add_argument("--folds", default="1/1", metavar="i/N", help="run shard i of N of the folds (e.g. a SLURM array) [1/1]")
    proto.add_argument("--all-subjects", action="store_true", help="train one model on every subject; writes RUN_DIR/model")
    proto.add_argument("--overwrite", action="store_true", help="with --all-subjects: replace an existing RUN_DIR/model")
    proto.add_argument("--push-to-hub", metavar="ORG/NAME", help="with --all-subjects: upload the model (network)")
    proto.add_argument("--dry-run", action="store_true", help="read and validate the data, print counts, train nothing")
    p.set_defaults(func=_cmd_train)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m learnet.train ...` (same as `python -m learnet train ...`)."""
    parser = argparse.ArgumentParser(prog="python -m learnet.train")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
