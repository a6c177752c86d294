"""The one timing helper of the benchmark scripts (run as ``python benchmarks/bench_*.py``, so this
directory is on ``sys.path``)."""
from __future__ import annotations

import time

__all__ = ["best_time"]


def best_time(fn, repeat: int = 3, number: int = 1) -> float:
    """Best of ``repeat`` wall-clock timings of ``number`` calls of ``fn``, in seconds per call."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t) / number)
    return min(times)
