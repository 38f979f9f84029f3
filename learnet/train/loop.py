"""One fold's training: the training loop, BatchNorm recalibration, the per-epoch validation that chooses
the epoch, and the test subject's predictions."""
from __future__ import annotations

import copy
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..device import amp_dtype, autocast, module_device, to_device
from ..dynamic import uint8_to_input
from ..metrics import scores
from ..model import LEARNet
from .augment import augment_batch
from .progress import no_bar
from .recipe import Recipe


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
    return LEARNet(class_names=list(classes), metadata=metadata, **recipe.preprocessing.to_dict())


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
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    step = _optimiser_step(model, criterion, optimizer, device, amp_dtype(device, amp))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs) if recipe.schedule == "cosine" else None
    train_images = flat.index_select(0, items.to(device)) if recipe.recalibrate_bn else None  # BatchNorm statistics
    bar = tqdm(range(1, epochs + 1), desc=desc, leave=False, disable=no_bar(progress))
    for epoch in bar:
        mean_loss = _train_epoch(model, flat, items, item_targets, recipe, generator, step)
        if scheduler is not None:
            scheduler.step()
        bar.set_postfix(loss=f"{mean_loss:.3f}")
        if on_epoch is not None:
            _call_on_epoch(on_epoch, epoch, model, mean_loss, train_images)
    if recipe.recalibrate_bn:
        recalibrate_batchnorm(model, train_images)
    return model.eval()


def _optimiser_step(model: LEARNet, criterion: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device,
                    half: torch.dtype | None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """One optimiser step on a batch (x, y), returning its loss; autocast to `half` when set."""
    scaler = torch.amp.GradScaler("cuda") if half == torch.float16 else None  # bfloat16 needs no loss scaling

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
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
        return loss

    return step


def _train_epoch(model: LEARNet, flat: torch.Tensor, items: torch.Tensor, item_targets: torch.Tensor,
                 recipe: Recipe, generator: torch.Generator,
                 step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> float:
    """One pass over the training items of `flat` in a random order, augmented; returns the mean loss."""
    model.train()
    device = flat.device
    order = items[torch.randperm(items.numel(), generator=generator)]
    # The loss is summed on the device (float64, the same sums as Python floats) and read once an epoch:
    # a .item() per batch would make the CPU wait for the GPU at every step.
    total, seen = torch.zeros((), dtype=torch.float64, device=device), 0
    for start in range(0, order.numel(), recipe.batch_size):
        idx = order[start : start + recipe.batch_size].to(device)
        x = augment_batch(flat.index_select(0, idx), recipe, generator)
        loss = step(x, item_targets.index_select(0, idx))
        total += loss.detach().double() * idx.numel()
        seen += idx.numel()
    return total.item() / seen


def _call_on_epoch(on_epoch: Callable[[int, LEARNet, float], None], epoch: int, model: LEARNet, mean_loss: float,
                   train_images: torch.Tensor | None) -> None:
    """Hand the model to `on_epoch`, recalibrated on `train_images` when given; training then goes on from the
    BatchNorm statistics it had (the recalibrated ones are for this look only)."""
    if train_images is None:
        on_epoch(epoch, model, mean_loss)
        return
    running = {k: v.clone() for k, v in model.state_dict().items() if "running_" in k or "num_batches" in k}
    on_epoch(epoch, recalibrate_batchnorm(model, train_images), mean_loss)
    model.load_state_dict(running, strict=False)


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
    train_idx, val_idx, test_idx, val_subjects = _split_fold(subjects, fold, recipe, seed)
    labels = [classes[t] for t in targets.tolist()]
    chooser = _EpochChooser(dis, labels, classes, val_idx, test_idx, recipe)
    needs_hook = bool(val_idx) or recipe.oracle_epoch
    model = train_model(dis, targets, train_idx, recipe, classes, fold_seed(seed, fold),
                        on_epoch=chooser if needs_hook else None, progress=progress, desc=f"fold {fold}",
                        device=device, amp=amp)
    probs, epoch = chooser.test_predictions(model)
    return FoldResult(probs, epoch, chooser.log, time.perf_counter() - t0, val_subjects)


def _split_fold(subjects: Sequence[str], fold: str, recipe: Recipe,
                seed: int) -> tuple[list[int], list[int], list[int], list[str]]:
    """(train, validation, test) sample indices of fold `fold`, and the validation subjects: the recipe's number
    of training subjects, drawn with the fold's seed; the test subject is never one of them."""
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
    return train_idx, val_idx, test_idx, val_subjects


class _EpochChooser:
    """The `on_epoch` look at a fold's model: logs each epoch and keeps the best one, scored by UF1 on the
    validation subjects, or (oracle) by accuracy on the test subject; ties keep the earlier epoch."""

    def __init__(self, dis: torch.Tensor, labels: Sequence[str], classes: Sequence[str], val_idx: list[int],
                 test_idx: list[int], recipe: Recipe):
        self.dis, self.labels, self.classes, self.recipe = dis, labels, classes, recipe
        self.val_idx, self.test_idx = val_idx, test_idx
        self.log: list[dict] = []
        self.best: dict = {"score": -1.0, "epoch": recipe.epochs, "state": None, "probs": None}

    def __call__(self, epoch: int, model: LEARNet, loss: float) -> None:
        entry = {"epoch": epoch, "loss": round(loss, 6)}
        labels, classes, best = self.labels, self.classes, self.best
        if self.val_idx:
            probs = predict_proba(model, self.dis, self.val_idx)
            sc = scores([labels[i] for i in self.val_idx], [classes[k] for k in probs.argmax(1)], classes)
            entry["val_uf1"] = sc.uf1
            if sc.uf1 > best["score"]:  # ties keep the earlier epoch
                best.update(score=sc.uf1, epoch=epoch, state=copy.deepcopy(model.state_dict()))
        if self.recipe.oracle_epoch:
            probs = predict_proba(model, self.dis, self.test_idx)
            acc = float(np.mean([classes[k] == labels[i] for k, i in zip(probs.argmax(1), self.test_idx)]))
            entry["test_accuracy"] = acc  # the oracle looks at the test subject: not a valid estimate
            if acc > best["score"]:
                best.update(score=acc, epoch=epoch, probs=probs)
        self.log.append(entry)

    def test_predictions(self, model: LEARNet) -> tuple[np.ndarray, int]:
        """The test subject's probabilities by the chosen epoch's weights (`model` holds the last epoch's)."""
        if self.recipe.oracle_epoch:
            return self.best["probs"], self.best["epoch"]
        if self.val_idx:
            model.load_state_dict(self.best["state"])
            return predict_proba(model, self.dis, self.test_idx), self.best["epoch"]
        return predict_proba(model, self.dis, self.test_idx), self.recipe.epochs
