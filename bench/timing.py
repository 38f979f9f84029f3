"""Timing helper shared by the benchmark scripts."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], runs: int, warm_up: bool = True) -> float:
    """Median wall time of `runs` calls of `fn`, after one untimed warm-up call (imports, caches)."""
    if warm_up:
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_times(fns: dict[str, Callable[[], object]], runs: int, warm_up: int = 1) -> dict[str, list[float]]:
    """Wall times of `runs` rounds in which every function runs once, in turn, after `warm_up` untimed calls
    of each (oneDNN prepares its kernels per input shape on the first calls; 3 covers that).

    Alternating the contenders spreads slow drifts of a shared machine (other jobs, CPU frequency) over all
    of them, which back-to-back blocks of runs do not: use it when the ratio between them is the result.
    """
    for fn in fns.values():
        for _ in range(warm_up):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times
