"""Training throughput vs the network's raw forward+backward throughput, at the same batch size.

The training loop (`learnet.train.train_model`: uint8 DIs held in memory, batch gather, augmentation in torch,
loss, backward, Adam step) should reach >= 80% of a bare forward+backward on a ready float batch, i.e. data
handling must not be the bottleneck.  Prints a table: median samples/s of several repeats and the ratio
against the forward+backward baseline measured in the same run.

    python bench/bench_train.py [--batch-size 32] [--samples 256] [--repeats 5] [--threads N]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from learnet.model import LEARNet  # noqa: E402
from learnet.train import Recipe, train_model  # noqa: E402

CLASSES = ["negative", "positive", "surprise"]


def forward_backward(batch_size: int, steps: int, optimizer_step: bool) -> float:
    """Samples/s of forward + backward (+ Adam step) on one fixed float batch: no data handling at all."""
    torch.manual_seed(0)
    model = LEARNet(class_names=CLASSES).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch_size, 3, 112, 112)
    y = torch.randint(0, len(CLASSES), (batch_size,))
    loss_fn = torch.nn.CrossEntropyLoss()
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        if optimizer_step:
            optimizer.step()
    return steps * batch_size / (time.perf_counter() - t0)


def training_loop(dis: torch.Tensor, targets: torch.Tensor, recipe: Recipe) -> float:
    """Samples/s of `train_model`, timed between the ends of epochs 1 and 3 (model set-up excluded)."""
    stamps: list[float] = []
    train_model(dis, targets, range(dis.shape[1]), replace(recipe, epochs=3), CLASSES, seed=0,
                on_epoch=lambda epoch, model, loss: stamps.append(time.perf_counter()), progress=False)
    return 2 * dis.shape[1] / (stamps[2] - stamps[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--samples", type=int, default=256, help="DIs in the in-memory training set")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    dis = torch.randint(0, 256, (1, args.samples, 3, 112, 112), dtype=torch.uint8, generator=g)
    targets = torch.randint(0, len(CLASSES), (args.samples,), generator=g)
    steps = max(1, args.samples // args.batch_size)
    default = Recipe(batch_size=args.batch_size)
    plain = replace(default, shift=0.0, scale=0.0, brightness=0.0)
    flips = replace(default, flip=True)
    cases = [
        ("forward+backward (baseline)", lambda: forward_backward(args.batch_size, steps, False)),
        ("forward+backward+Adam step", lambda: forward_backward(args.batch_size, steps, True)),
        ("train loop, no augmentation", lambda: training_loop(dis, targets, plain)),
        ("train loop, default augmentation", lambda: training_loop(dis, targets, default)),
        ("train loop, augmentation + flips", lambda: training_loop(dis, targets, flips)),
    ]
    results = {name: [] for name, _ in cases}
    for _ in range(args.repeats):  # interleaved, so drifting machine load hits every case alike
        for name, fn in cases:
            results[name].append(fn())
    baseline = results[cases[0][0]]
    print(f"batch {args.batch_size}, {args.samples} DIs of 112x112, {torch.get_num_threads()} torch thread(s), "
          f"median of {args.repeats} interleaved rounds")
    print(f"{'case':36s} {'samples/s':>10s} {'min':>8s} {'max':>8s} {'vs fwd+bwd':>11s}")
    for name, values in results.items():
        # Ratio per round, then the median: rounds share the machine's load at that moment.
        ratio = statistics.median(v / b for v, b in zip(values, baseline))
        print(f"{name:36s} {statistics.median(values):10.1f} {min(values):8.1f} {max(values):8.1f} {ratio:10.0%}")
    ratio = statistics.median(v / b for v, b in zip(results["train loop, default augmentation"], baseline))
    print(f"goal: train loop >= 80% of forward+backward: {'met' if ratio >= 0.8 else 'NOT met'} ({ratio:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
