"""Constrained MDPs: TSCAC's stage two and lambda search, the Lagrangian and the occupancy LP, same run.

Short-video CMDP with S = 100 (9 interests x 11 fatigue levels + "left"), A = 20 categories and k = 1, 3, 5
auxiliary signals, thresholds at beta = 0.5. Timed: one LP solve (cvxpy + Clarabel, including cvxpy's
problem construction, as a user calls it); the Lemma's closed form at one lambda (elementwise, given the
advantages); one exact stage-two solve (the fixed point pi <- closed form(A^pi) at one lambda); the full
lambda search of two_stage_actor_critic (given the stage-one priors, which are timed separately); and the
Lagrangian to a 1e-3 relative duality gap. Best of 3 (LP: 5; closed form: 20) for calls under 3 s, after one
warm-up LP (cvxpy's first solve pays for its imports).
OpenBLAS is pinned to one thread: on a busy 2-core machine SciPy's threaded LU solves of 100 x 100 systems
slow down by an order of magnitude.
Usage: python benchmarks/bench_constrained.py [--constraints 1 3 5]
Writes benchmarks/results/constrained.md.

``--priors N`` instead measures the choice of TSCAC's stage-one prior (the evidence behind
``mdp.constrained.two_stage.DEFAULT_PRIOR_TEMPERATURE`` and ``DEFAULT_PRIOR_SPREAD``): N short-video instances
(Z = 4, F = 4, K = 6, three signals, as the constrained_stage_one experiment) per threshold position beta,
instances whose constraints no policy meets skipped; for every prior (the exact actor-critic tempered at tau,
mixed with epsilon of the uniform policy, and the soft prior of quality 0.99) the fraction of instances on
which TSCAC's lambda search finds a feasible policy and its value against the exact occupancy LP (0 when
infeasible; and the mean over the feasible instances). Writes benchmarks/results/constrained_priors.md.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mdp import policy_evaluation, solve_occupancy_lp  # noqa: E402
from mdp.constrained import (closed_form_policy, lagrangian, stage_one_policies, stage_two,  # noqa: E402
                             thresholds_between, two_stage_actor_critic)
from mdp.envs.recommender import short_video_cmdp  # noqa: E402
from mdp.operators import q_values  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
SIGNALS = (("like", 0.05), ("follow", 0.004), ("share", 0.01), ("comment", 0.008), ("forward", 0.006))


def timed(fn, repeat=3):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        best = min(best, dt)
        if dt > 3.0:
            break
    return best, out


PRIORS = (("npg", 1.0, 0.0), ("npg", 2.0, 0.0), ("npg", 4.0, 0.0), ("npg", 1.0, 0.1), ("npg", 1.0, 0.3),
          ("soft", 0.99, None))


def prior_table(instances: int, betas=(0.5, 0.65), seed: int = 0) -> list[str]:
    """Feasibility rate and J/J_LP of TSCAC for each stage-one prior in :data:`PRIORS` (module docstring)."""
    from tqdm import tqdm

    from mdp.occupancy import InfeasibleConstraintsError
    lines = [f"# TSCAC's stage-one prior: feasibility and value against the LP ({instances} short-video instances "
             "per beta, Z = 4, F = 4, K = 6, 3 signals)", "",
             "| beta | prior | instances | feasible | mean J/J_LP (0 if infeasible) | mean J/J_LP when feasible | "
             "worst best-min-ratio |", "|---|---|---|---|---|---|---|"]
    for beta in betas:
        rng = np.random.default_rng(seed)
        rows = {p: [] for p in PRIORS}
        for _ in tqdm(range(instances), desc=f"priors beta={beta}"):
            sv = short_video_cmdp(4, 4, 6, seed=rng)
            m, C = sv.model, sv.aux_rewards
            t = thresholds_between(m, C, beta)
            try:
                J_lp = solve_occupancy_lp(m, C, t).value
            except InfeasibleConstraintsError:
                continue
            for p in PRIORS:
                pri = (stage_one_policies(m, C, "npg", temperature=p[1], spread=p[2]) if p[0] == "npg"
                       else stage_one_policies(m, C, "soft", quality=p[1]))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ts = two_stage_actor_critic(m, C, t, priors=pri)
                rows[p].append((ts.feasible, ts.value / J_lp, float(ts.search["min_ratio"].max())))
        for p, v in rows.items():
            v = np.array(v, dtype=float)
            name = f"exact actor-critic, tau = {p[1]:g}, eps = {p[2]:g}" if p[0] == "npg" else f"soft q = {p[1]}"
            f = v[:, 0] > 0
            lines.append(f"| {beta} | {name} | {len(v)} | {f.mean():.2f} | {np.where(f, v[:, 1], 0).mean():.3f} | "
                         f"{v[f, 1].mean() if f.any() else float('nan'):.3f} | {v[:, 2].min():.3f} |")
            print(lines[-1], flush=True)
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--constraints", type=int, nargs="+", default=[1, 3, 5])
    ap.add_argument("--priors", type=int, default=0, help="measure the stage-one prior choice on N instances")
    args = ap.parse_args(argv)
    if args.priors:
        lines = prior_table(args.priors)
        OUT.mkdir(exist_ok=True)
        (OUT / "constrained_priors.md").write_text("\n".join(lines) + "\n")
        return
    lines = ["# Constrained MDPs: TSCAC vs the Lagrangian vs the occupancy LP (S = 100, A = 20)", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy "
             f"{np.__version__}, OpenBLAS threads {os.environ['OPENBLAS_NUM_THREADS']}. Short-video CMDP, "
             "thresholds at beta = 0.5, soft stage-one priors of quality 0.95.", "",
             "| k | LP s | closed form s | stage two (fixed point) s | lambda search s | stage one s | "
             "Lagrangian s (iters) | LP / closed form | LP / stage two | LP / lambda search | Lagrangian / LP | "
             "TSCAC J/J_LP (feasible) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    warm = short_video_cmdp(Z=2, F=2, K=2, seed=0)            # cvxpy's first solve pays its import and setup
    solve_occupancy_lp(warm.model, warm.aux_rewards, thresholds_between(warm.model, warm.aux_rewards, 0.5))
    for k in args.constraints:
        sv = short_video_cmdp(Z=9, F=11, K=20, seed=k, aux=SIGNALS[:k])
        m, C = sv.model, sv.aux_rewards
        t = thresholds_between(m, C, 0.5)
        t_lp, lp = timed(lambda: solve_occupancy_lp(m, C, t), repeat=5)
        t_one, pri = timed(lambda: stage_one_policies(m, C, "soft", quality=0.95), repeat=1)
        lam = 1.0
        V = policy_evaluation(m, pri[0])
        A = q_values(m.P_flat, m.R, m.gamma, V) - V[:, None]
        t_cf, _ = timed(lambda: closed_form_policy(pri, A, lam), repeat=20)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_st, _ = timed(lambda: stage_two(m, pri, lam, warn=False))
            t_search, ts = timed(lambda: two_stage_actor_critic(m, C, t, priors=pri), repeat=1)
            t_lag, lag = timed(lambda: lagrangian(m, C, t, iterations=20000, step_size=10.0, tol=1e-3,
                                                        dual_step="sqrt"), repeat=1)
        feas = f"{ts.value / lp.value:.4f} ({'yes' if ts.feasible else 'no'})"
        lines.append(f"| {k} | {t_lp:.3f} | {t_cf:.2e} | {t_st:.3f} | {t_search:.2f} | {t_one:.2f} | {t_lag:.2f} "
                     f"({lag.iterations}{'' if lag.converged else ', not converged'}) | {t_lp / t_cf:.0f} | "
                     f"{t_lp / t_st:.1f} | {t_lp / t_search:.2f} | {t_lag / t_lp:.1f} | {feas} |")
        print(lines[-1], flush=True)
    lines += ["", "Goal (issue): the closed-form stage two at least 100x faster than one LP solve, and the lambda "
              "search faster than the LP. The closed form alone (given advantages) meets the first by a wide "
              "margin. An exact stage-two solve also needs the main critic at every fixed-point step (one "
              "policy evaluation each, warm-started along the search), and the search runs 14-20 such solves: "
              "read the 'LP / lambda search' column for whether the second goal is met at this size. Stage "
              "one (soft priors by bisection on the temperature) is timed separately and is the dominant "
              "cost of TSCAC here."]
    OUT.mkdir(exist_ok=True)
    (OUT / "constrained.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
