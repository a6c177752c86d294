"""VR-Halpern against Halpern on least squares: oracle calls and wall time to eps = 1e-3, same run.

Usage: ``python benchmarks/bench_halpern.py``; writes ``benchmarks/results/halpern.md``.
The call ratio should grow like sqrt(n) (x2 per x4 in n).
"""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from theory import halpern, vr_halpern  # noqa: E402
from theory.operators import random_least_squares  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"


def main():
    lines = ["# VR-Halpern vs Halpern (least squares, d = 20, eps = 1e-3)", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"numpy {np.__version__}. Median over 3 seeds; residual checked once per epoch (n calls).", "",
             "| n | Halpern calls | VR-Halpern calls | call ratio | Halpern s | VR-Halpern s | time ratio |",
             "|---|---|---|---|---|---|---|"]
    for n in (256, 1024, 4096):
        stats = {"halpern": [], "vr": []}
        for seed in range(3):
            op = random_least_squares(n, seed=seed)
            for key, solver in (("halpern", halpern), ("vr", vr_halpern)):
                op.reset_calls()
                t = time.perf_counter()
                res = solver(op, np.zeros(op.dim), eps=1e-3, max_calls=10**9, seed=seed)
                stats[key].append((res.calls_to(1e-3), time.perf_counter() - t))
        hc, ht = np.median(stats["halpern"], axis=0)
        vc, vt = np.median(stats["vr"], axis=0)
        lines.append(f"| {n} | {hc:.3g} | {vc:.3g} | {hc / vc:.2f} | {ht:.3f} | {vt:.3f} | {ht / vt:.2f} |")
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "halpern.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
