"""Games benchmarks against OpenSpiel, measured in the same run (Leduc poker, OpenSpiel rules).

1. Time per dilated-entropy MMD iteration: ``games.mmd(form="sequence")`` vs OpenSpiel's Python
   ``mmd_dilated.MMDDilatedEnt.update_sequences`` (target >= 50x).
2. Time per exact exploitability evaluation: ``games.exploitability`` vs OpenSpiel's C++
   ``pyspiel.exploitability`` on a C++ ``TabularPolicy`` built beforehand (target >= 10x).
3. Wall time until the average policy's exploitability is <= 2.6e-4: our CFR+ vs OpenSpiel's C++
   ``CFRPlusSolver``, both alternating and both checking exploitability every 10 iterations.
4. Iterations per second of behavioural MMD for 64 configurations batched in one tensor program vs 64
   sequential runs.

Needs ``pip install open_spiel`` for 1-3 (skipped with a note otherwise). torch uses one thread.
Usage: python benchmarks/bench_games.py ; writes benchmarks/results/games.md.
"""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time  # noqa: E402

from games import cfr, exploitability, leduc_poker, mmd  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
TARGET = 2.6e-4



def _best(fn, repeat=5, number=1):
    return best_time(fn, repeat, number)


def main():
    torch.set_num_threads(1)
    g = leduc_poker()
    lines = ["# Games: Leduc poker against OpenSpiel", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch "
             f"{torch.__version__} (1 thread), numpy {np.__version__}.", ""]
    try:
        import pyspiel
        from open_spiel.python.algorithms import mmd_dilated

        import importlib.metadata as md
        lines.append(f"OpenSpiel {md.version('open_spiel')} (installed for this benchmark; optional extra).")
        have_os = True
    except ImportError:
        lines.append("OpenSpiel is not installed: only our own numbers are reported.")
        have_os = False
    lines += ["", "| measurement | ours | OpenSpiel | ratio (OpenSpiel / ours) |", "|---|---|---|---|"]

    # 1. MMD iteration
    n = 200
    ours_mmd = _best(lambda: mmd(g, 0.05, iterations=n, record_at=[n]), repeat=3) / n
    if have_os:
        og = pyspiel.load_game("leduc_poker")
        solver = mmd_dilated.MMDDilatedEnt(og, 0.05)
        os_mmd = _best(solver.update_sequences, repeat=5)
        lines.append(f"| dilated MMD, time per iteration | {ours_mmd * 1e3:.3f} ms | {os_mmd * 1e3:.1f} ms (Python) | "
                     f"**{os_mmd / ours_mmd:.0f}x** |")
    else:
        lines.append(f"| dilated MMD, time per iteration | {ours_mmd * 1e3:.3f} ms | – | – |")
    print(lines[-1], flush=True)

    # 2. exploitability evaluation
    pol = mmd(g, 0.05, iterations=50).policy
    ours_ex = _best(lambda: exploitability(g, pol), repeat=5, number=20)
    ours_ex_nv = _best(lambda: exploitability(g, pol, validate=False), repeat=5, number=20)
    if have_os:
        from games.efg.openspiel import to_openspiel_policy

        cpp = pyspiel.TabularPolicy(to_openspiel_policy(g, pol, og).to_dict())
        ref = pyspiel.exploitability(og, cpp)
        assert abs(ref - exploitability(g, pol)) < 1e-9, (ref, exploitability(g, pol))
        os_ex = _best(lambda: pyspiel.exploitability(og, cpp), repeat=5, number=3)
        lines.append(f"| exploitability evaluation | {ours_ex * 1e3:.3f} ms ({ours_ex_nv * 1e3:.3f} ms without input "
                     f"validation) | {os_ex * 1e3:.1f} ms (C++) | **{os_ex / ours_ex:.0f}x** |")
    else:
        lines.append(f"| exploitability evaluation | {ours_ex * 1e3:.3f} ms | – | – |")
    print(lines[-1], flush=True)

    # 3. time to exploitability 2.6e-4 with CFR+
    t = time.perf_counter()
    r = cfr(g, 20_000, plus=True, record_at=range(10, 20_001, 10), target=TARGET)
    ours_t, ours_it = time.perf_counter() - t, r.iterations
    if have_os:
        s = pyspiel.CFRPlusSolver(og)
        t = time.perf_counter()
        it = 0
        while True:
            for _ in range(10):
                s.evaluate_and_update_policy()
            it += 10
            e = pyspiel.exploitability(og, s.average_policy())
            if e <= TARGET or it >= 20_000:
                break
        os_t = time.perf_counter() - t
        lines.append(f"| CFR+ wall time to exploitability {TARGET:g} | {ours_t:.2f} s ({ours_it} it., reached "
                     f"{r.average_exploitability:.2e}) | {os_t:.2f} s (C++, {it} it., reached {e:.2e}) | "
                     f"**{os_t / ours_t:.1f}x** |")
    else:
        lines.append(f"| CFR+ wall time to exploitability {TARGET:g} | {ours_t:.2f} s ({ours_it} it.) | – | – |")
    print(lines[-1], flush=True)

    # 4. batched configurations
    B, n = 64, 100
    alphas = list(np.geomspace(0.01, 1.0, B))
    etas = list(np.geomspace(0.05, 2.0, B))
    t = time.perf_counter()
    mmd(g, alphas, eta=etas, form="behavioural", iterations=n, record_at=[n])
    tb = time.perf_counter() - t
    t = time.perf_counter()
    for a, e in zip(alphas[:8], etas[:8]):
        mmd(g, a, eta=e, form="behavioural", iterations=n, record_at=[n])
    ts = (time.perf_counter() - t) / 8 * B
    lines += ["", "Row 3 counts both sides' exploitability checks (every 10 iterations) in the wall time, as a user "
              "running to a target would."]
    lines += ["", "| batched behavioural MMD on Leduc, 64 configurations | config-iterations / s | ratio |",
              "|---|---|---|",
              f"| one batched tensor program (B = 64) | {B * n / tb:,.0f} | **{ts / tb:.1f}x** |",
              f"| 64 sequential runs (timed on 8, scaled) | {B * n / ts:,.0f} | 1 |"]
    print("\n".join(lines[-3:]), flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "games.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
