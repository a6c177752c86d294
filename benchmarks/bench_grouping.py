"""Action-grouping benchmark: the (seed x N) batched learner against a per-seed loop, same run.

Both sides call :func:`mdp.grouping_learning.grouping_losses` on the E7 instance (S = 10, A = 64, gamma = 0.9, 7 nested
levels, N in {64, ..., 16384}, T in {5, 20, inf}, Bernoulli rewards): once with all seeds in one torch program,
once seed by seed. The exact evaluation of the played policies (a cached LAPACK solve per distinct policy) is
inside both timings. Usage: python benchmarks/bench_grouping.py [--quick]. Writes benchmarks/results/grouping.md.
"""
from __future__ import annotations

import argparse
import math
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import best_time  # noqa: E402

from mdp.generators import hierarchical_mdp  # noqa: E402
from mdp.grouping_learning import grouping_losses  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"


def main(quick: bool) -> None:
    import torch

    torch.set_num_threads(1)
    seeds = 20 if quick else 100
    h = hierarchical_mdp(seed=0)
    Ns, Ts = (64, 256, 1024, 4096, 16384), (5, 20, math.inf)

    def batched():
        return grouping_losses(h.model, h.groupings, Ns, Ts, seeds=seeds, seed=0, rewards="bernoulli")

    def loop():
        return [grouping_losses(h.model, h.groupings, Ns, Ts, seeds=1, seed=s, rewards="bernoulli")
                for s in range(seeds)]

    t_b = best_time(batched, repeat=3)
    t_l = best_time(loop, repeat=1 if not quick else 2)
    lines = ["# Action grouping: batched seeds vs seed by seed", "",
             f"Machine: {platform.machine()}, 2 cores, Python {platform.python_version()}, torch {torch.__version__}, "
             f"threads 1. E7 instance (S = 10, A = 64, 7 levels, 5 sample sizes, T in {{5, 20, inf}}), {seeds} seeds; "
             "best of 3 (batched) / best of 1-2 (loop) in one run.", "",
             "| mode | wall s | runs/s (seed x level x N x T) |", "|---|---|---|"]
    runs = seeds * 7 * len(Ns) * len(Ts)
    lines.append(f"| batched ({seeds} seeds in one program) | {t_b:.3f} | {runs / t_b:.4g} |")
    lines.append(f"| seed by seed | {t_l:.3f} | {runs / t_l:.4g} |")
    lines += ["", f"Speed-up of batching: {t_l / t_b:.1f}x", ""]
    OUT.mkdir(exist_ok=True)
    (OUT / "grouping.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    main(p.parse_args().quick)
