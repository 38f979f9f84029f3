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
