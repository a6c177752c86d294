"""Multi-objective benchmark: hypervolume implementations, batched policy evaluation, C-MORL time to 99 %.

1. Hypervolume of fronts with 10-1000 non-dominated points in 2-6 objectives: the package's
   ``hypervolume`` (moocore underneath, plus its input checks) against ``moocore.hypervolume`` called
   directly and ``pymoo.indicators.hv.HV`` (if installed), same fronts, same run; values must agree.
2. Exact evaluation of B policies x m objectives: ``evaluate_policies`` (one batched torch solve) against a
   loop of ``mdp.policy_evaluation`` (one LAPACK solve per policy).
3. C-MORL (barrier solver) on random 2- and 3-objective MO-MDPs: wall time and hypervolume fraction of the
   exact stochastic front, against linear scalarisation at the same budget.
Usage: python benchmarks/bench_multiobjective.py [--quick]
Writes benchmarks/results/multiobjective.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mdp.multiobjective import (cmorl, convex_coverage_set, evaluate_policies, hypervolume,  # noqa: E402
                                linear_scalarisation, random_momdp, stochastic_front_hypervolume)
from mdp.planning import policy_evaluation  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"


def _front(n, m, rng):
    """``n`` points on the positive unit sphere (mutually non-dominated)."""
    X = np.abs(rng.normal(size=(n, m)))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _time(fn, reps):
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def bench_hypervolume(sizes, dims, rng):
    import moocore

    try:
        from pymoo.indicators.hv import HV
    except ImportError:  # pragma: no cover
        HV = None
    rows = []
    for m in dims:
        for n in sizes:
            F = _front(n, m, rng)
            ref = np.zeros(m)
            reps = 3 if n * m < 3000 else 1
            t_ours, v_ours = _time(lambda: hypervolume(F, ref), reps)
            t_moo, v_moo = _time(lambda: moocore.hypervolume(F, ref=ref, maximise=True), reps)
            if HV is not None:
                ind = HV(ref_point=-ref)
                t_pymoo, v_pymoo = _time(lambda: ind(-F), reps)
            else:
                t_pymoo, v_pymoo = np.nan, np.nan
            rows.append((m, n, t_ours, t_moo, t_pymoo, abs(v_ours - v_moo) / v_moo, abs(v_ours - v_pymoo) / v_moo))
    return rows


def bench_evaluation(rng):
    import torch

    rows = []
    for S, B, k in ((20, 64, 2), (50, 256, 3), (100, 256, 3)):
        m = random_momdp(S, 4, k, 0.9, seed=int(rng.integers(1 << 30)))
        pis = rng.dirichlet(np.ones(4), size=(B, S))
        evaluate_policies(m, pis[:2])
        t_b, G = _time(lambda: evaluate_policies(m, pis), 3)
        t_l, G2 = _time(lambda: np.array([m.mu @ policy_evaluation(m, p) for p in pis]), 3)
        rows.append((S, B, k, t_b, t_l, float(np.abs(G.numpy() - G2).max()), torch.get_num_threads()))
    return rows


def bench_cmorl(cases, seeds):
    rows = []
    for k, S in cases:
        for seed in range(seeds):
            m = random_momdp(S, 4, k, 0.9, seed=seed)
            V = convex_coverage_set(m).vertices
            z = V.min(0) - 0.1 * (V.max(0) - V.min(0))
            exact = stochastic_front_hypervolume(V, z)
            t = time.perf_counter()
            res = cmorl(m, seed=seed, ref=z, solver="barrier")
            wall = time.perf_counter() - t
            ls = linear_scalarisation(m, int(res.budget[-1]), ref=z, solver="barrier")
            rows.append((k, S, seed, wall, res.hypervolume[-1] / exact, ls.hypervolume[-1] / exact))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer sizes and seeds")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    sizes = [10, 100] if args.quick else [10, 100, 1000]
    hv = bench_hypervolume(sizes, [2, 3, 4, 6] if not args.quick else [2, 3], rng)
    ev = bench_evaluation(rng)
    cm = bench_cmorl([(2, 50), (3, 10)] if not args.quick else [(2, 20)], 1 if args.quick else 3)
    lines = ["# Multi-objective benchmark", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads 1. "
             "Times are the best of up to 3 repetitions, measured in one run.", "",
             "## Hypervolume (fronts on the unit sphere, reference 0)", "",
             "| m | points | ours (s) | moocore (s) | pymoo (s) | ours / moocore | pymoo / ours | rel. diff moocore |"
             " rel. diff pymoo |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m, n, a, b, c, d1, d2 in hv:
        lines.append(f"| {m} | {n} | {a:.2e} | {b:.2e} | {c:.2e} | {a / b:.2f} | {c / a:.2f} | {d1:.1e} "
                     f"| {d2:.1e} |")
    lines += ["", "## Exact evaluation of B policies x m objectives", "",
              "| S | B | m | batched torch (s) | per-policy loop (s) | speed-up | max abs diff |",
              "|---|---|---|---|---|---|---|"]
    for S, B, k, tb, tl, diff, _ in ev:
        lines.append(f"| {S} | {B} | {k} | {tb:.2e} | {tl:.2e} | {tl / tb:.1f}x | {diff:.1e} |")
    lines += ["", "## C-MORL (barrier solver, defaults) on random MO-MDPs, A = 4, gamma = 0.9", "",
              "| m | S | seed | wall (s) | C-MORL HV / exact | LS (same budget) HV / exact |",
              "|---|---|---|---|---|---|"]
    for k, S, seed, wall, f1, f2 in cm:
        lines.append(f"| {k} | {S} | {seed} | {wall:.1f} | {f1:.4f} | {f2:.4f} |")
    OUT.mkdir(exist_ok=True)
    (OUT / "multiobjective.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
