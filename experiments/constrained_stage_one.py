r"""TS-3: how stage-one quality limits TSCAC (``docs/experiments.md#constrained_stage_one``).

The instances and thresholds of TS-2. Stage one is either a controlled prior — the soft-optimal policy
of each auxiliary signal at the temperature giving :math:`J_i(\pi_i) = q\,J_i^{\max}`, for the qualities
``qualities`` — or learned: the exact actor-critic (natural policy gradient with an exact critic,
``npg_iterations`` updates) or the sample-based actor-critic (``sampled_iterations`` updates of ``envs``
sessions per seed, Bernoulli interaction events). Stage two and the :math:`\lambda` search are exact. The
score of a run is :math:`J_0/J_{\rm LP}` when TSCAC found a feasible :math:`\lambda`, and 0 when it found none.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.claims import Claim, Measurement
from mdp import solve_occupancy_lp
from mdp.constrained import (max_signal_values, sampled_stage_one, signal_values,
                             stage_one_policies, thresholds_between, two_stage_actor_critic)
from mdp.envs.recommender import short_video_cmdp
from theory.rates import Interval, mean_ci

TITLE = "Stage-one quality decides whether TSCAC can be feasible"
CAPTION = ("TSCAC's score (J_main / J_LP at the best feasible lambda, 0 when no lambda is feasible) and the "
           "fraction of instances with a feasible lambda, against the stage-one policies: soft priors of "
           "quality q = J_i(pi_i)/J_i^max, the exact actor-critic (NPG) and the sample-based actor-critic. "
           "Mean and 95% CI over instances.")


@dataclass(frozen=True)
class Config:
    Z: int = 4
    """User interests."""
    F: int = 4
    """Fatigue levels."""
    K: int = 6
    """Categories."""
    instances: int = 4
    """Instances per job."""
    beta: float = 0.5
    """Threshold position (as TS-2)."""
    qualities: tuple = (0.73, 0.9, 0.95, 0.99)
    """Soft-prior qualities."""
    npg_iterations: int = 50
    """Exact actor-critic updates."""
    sampled_iterations: int = 100
    """Sample-based actor-critic updates."""
    envs: int = 32
    """Sessions per update."""


CONFIGS = {
    "smoke": Config(Z=3, F=3, K=4, instances=1, qualities=(0.73, 0.99), npg_iterations=10, sampled_iterations=5,
                    envs=8),
    "quick": Config(),
    "full": Config(Z=10, F=10, K=20, instances=10, sampled_iterations=1000, envs=256),
}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(config.instances):
        sv = short_video_cmdp(config.Z, config.F, config.K, seed=rng)
        m, C = sv.model, sv.aux_rewards
        t = thresholds_between(m, C, config.beta)
        J_lp = solve_occupancy_lp(m, C, t).value
        best = max_signal_values(m, C)
        priors = {f"soft q={q}": stage_one_policies(m, C, "soft", quality=q) for q in config.qualities}
        priors["exact actor-critic"] = stage_one_policies(m, C, "npg", iterations=config.npg_iterations)
        sam = sampled_stage_one(m, C, seeds=1, seed=seed * 1000 + i, iterations=config.sampled_iterations,
                                envs=config.envs, horizon=40, actor_lr=10.0, device=device)
        priors["sampled actor-critic"] = sam.policy[0]
        for order, (kind, pri) in enumerate(priors.items()):
            quality = np.array([signal_values(m, C[j:j + 1], pri[j])[1][0] for j in range(len(C))]) / best
            ts = two_stage_actor_critic(m, C, t, priors=pri)
            feas = ts.search[ts.search["feasible"]]
            rows.append(dict(instance=i, prior=kind, order=order, mean_quality=float(quality.mean()),
                             min_quality=float(quality.min()), feasible=ts.feasible,
                             score=ts.value / J_lp if ts.feasible else 0.0, ratio_lp=ts.value / J_lp,
                             smallest_feasible_lam=float(feas["lam"].min()) if len(feas) else np.nan,
                             best_min_ratio=float(ts.search["min_ratio"].max())))
    return pd.DataFrame(rows)


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    q = sorted(config.qualities)
    lo, hi = f"soft q={q[0]}", f"soft q={q[-1]}"
    piv = frame.pivot_table(index=["seed", "instance"], columns="prior", values="score")
    return [Claim.at_least(f"score({hi}) - score({lo})", mean_ci(piv[hi] - piv[lo]), 0.0,
                           description="better stage-one policies move TSCAC toward the LP optimum (notes B4)",
                           reconstructed=True)]


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    out = []
    for kind, sub in frame.sort_values("order").groupby("prior", sort=False):
        n = len(sub)
        out.append(Measurement.of(f"{kind}: instances with a feasible lambda",
                                  Interval.proportion(int(sub.feasible.sum()), n), f"of {n}"))
    return out


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    from experiments.plotting import interval_errorbar

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    kinds = frame.sort_values("order").prior.unique()
    for j, kind in enumerate(kinds):
        sub = frame[frame.prior == kind]
        ci = mean_ci(sub.score)
        err = [[ci.estimate - ci.low], [ci.high - ci.estimate]] if np.isfinite(ci.low) else None
        ax.errorbar([j], [ci.estimate], yerr=err, fmt="o", capsize=3, color="C0")
        ax.plot(np.full(len(sub), j) + 0.15, sub.score, ".", color="grey", alpha=0.6)
        p = Interval.proportion(int(sub.feasible.sum()), len(sub))
        interval_errorbar(ax2, [j], p.estimate, p.low, p.high, fmt="s", capsize=3, color="C1")
    for a in (ax, ax2):
        a.set_xticks(range(len(kinds)), [k.replace(" actor-critic", "\nactor-critic") for k in kinds], fontsize=7,
                     rotation=30)
    ax.set_ylabel("score: J_main / J_LP (0 if infeasible)")
    ax.set_title("TSCAC against stage-one quality")
    ax2.set_ylabel("fraction feasible (Wilson 95%)")
    ax2.set_ylim(-0.05, 1.05)
    ax2.set_title("Some lambda feasible")
    return fig
