r"""Hybrid RL: offline data make optimism unnecessary and optimistic learning cheaper.

Design: ``docs/experiments.md#actor_critic_hybrid``.

On the combination lock, offline trajectories come from the behaviour policy
:math:`\mu = m\,\pi^* + (1-m)\,\text{uniform}`; its single-policy concentrability :math:`c^*` is computed
exactly from occupancies. Over a grid of :math:`N_{\text{off}}` and :math:`m`, we run the non-optimistic
actor-critic (critic initialised with the offline data) and the optimistic one, and record the
per-episode sub-optimality of the last quarter of the run. The paper's condition for the
non-optimistic actor-critic is :math:`N_{\text{off}} \gtrsim c^* d H^4/\varepsilon^2`: more offline data
is needed when the behaviour covers :math:`\pi^*` worse (larger :math:`c^*`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.claims import Claim, sample_cause
from mdp.actor_critic import behaviour_policy, collect_offline_data, concentrability, optimistic_actor_critic
from mdp.generators import combination_lock
from theory.rates import mean_ci

TITLE = "Offline data replace optimism: the hybrid actor-critic"
CAPTION = ("Late per-episode sub-optimality (exact) of the non-optimistic (left) and optimistic (right) "
           "actor-critic against the number of offline trajectories, one line per behaviour mixture m "
           "(concentrability c* in the legend); combination lock, reconstructed algorithm.")


@dataclass(frozen=True)
class Config:
    H: int = 6
    """Horizon (S = H + 1)."""
    A: int = 5
    """Actions."""
    episodes: int = 1500
    """Online episodes T."""
    seeds: int = 4
    """Seeds batched per run."""
    n_off: tuple = (0, 10, 50, 250)
    """Offline trajectory counts."""
    mixes: tuple = (0.2, 0.5, 0.9)
    """Behaviour mixtures m (weight of pi*)."""


CONFIGS = {
    "smoke": Config(H=4, A=3, episodes=100, seeds=2, n_off=(0, 20), mixes=(0.5,)),
    "quick": Config(),
    "full": Config(episodes=5000, seeds=16, n_off=(0, 5, 10, 20, 50, 100, 250, 1000),
                   mixes=(0.1, 0.2, 0.35, 0.5, 0.7, 0.9)),
}
SEEDS = {"smoke": 1, "quick": 1, "full": 2}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    m = combination_lock(H=config.H, A=config.A, seed=seed)
    rows = []
    late = max(1, config.episodes // 4)
    for mix in config.mixes:
        beh = behaviour_policy(m, mix)
        c_star = concentrability(m, beh)
        for n_off in config.n_off:
            data = collect_offline_data(m, beh, n_off, seed=seed + 17) if n_off > 0 else None
            for optimism in (False, True):
                res = optimistic_actor_critic(m, config.episodes, config.seeds, seed=seed, optimism=optimism,
                                              offline_data=data, device=device, progress=False)
                gap = res.v_star - res.values[:, -late:].mean(1)
                for b, g in enumerate(gap):
                    rows.append(dict(mix=mix, c_star=c_star, n_off=n_off, optimism=optimism, run=b,
                                     late_gap=float(g), regret=float(res.regret[b, -1])))
    return pd.DataFrame(rows)


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    out = []
    lo, hi = min(config.n_off), max(config.n_off)
    best_mix = max(config.mixes)
    non = frame[(~frame.optimism) & (frame.mix == best_mix)]
    drop = non[non.n_off == lo].late_gap.to_numpy() - non[non.n_off == hi].late_gap.to_numpy()
    out.append(Claim.at_least(f"non-optimistic gap reduction, N_off {lo} -> {hi} (m={best_mix})", mean_ci(drop),
                              0.0, reconstructed=True, cause=sample_cause(mean_ci(drop), 0.0, len(drop)),
                              description="late sub-optimality without offline data "
                              "minus with the most data (offline data replace optimism: positive)"))
    opt = frame[(frame.optimism) & (frame.mix == best_mix)]
    dreg = opt[opt.n_off == lo].regret.to_numpy() - opt[opt.n_off == hi].regret.to_numpy()
    out.append(Claim.at_least(f"optimistic regret reduction, N_off {lo} -> {hi} (m={best_mix})", mean_ci(dreg),
                              0.0, reconstructed=True, cause=sample_cause(mean_ci(dreg), 0.0, len(dreg)),
                              description="hybrid gain: regret without minus with "
                              "offline data (positive)"))
    if len(config.mixes) >= 2 and hi > 0:
        worst = min(config.mixes)
        w = frame[(~frame.optimism) & (frame.n_off == hi)]
        diff = w[w.mix == worst].late_gap.to_numpy() - w[w.mix == best_mix].late_gap.to_numpy()
        out.append(Claim.at_least(f"worse coverage needs more data (N_off={hi})", mean_ci(diff), 0.0,
                                  reconstructed=True, cause=sample_cause(mean_ci(diff), 0.0, len(diff)),
                              description="late gap at the smallest mixture (largest "
                                  "c*) minus at the largest (the data threshold grows with c*: >= 0)"))
    return out


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, optimism in zip(axes, (False, True)):
        sub = frame[frame.optimism == optimism]
        for mix, g in sub.groupby("mix"):
            stats = g.groupby("n_off").late_gap
            mean, sem = stats.mean(), stats.sem().fillna(0.0)
            x = np.maximum(mean.index.to_numpy(float), 1.0)
            ax.errorbar(x, mean.values, yerr=1.96 * sem.values, fmt="o-", ms=3, capsize=2,
                        label=f"m={mix:g} (c*={g.c_star.iloc[0]:.3g})")
        ax.set_xscale("log")
        ax.set_xlabel("offline trajectories N_off (0 drawn at 1)")
        ax.set_title("non-optimistic actor-critic" if not optimism else "optimistic actor-critic")
    axes[0].set_ylabel("late per-episode sub-optimality")
    axes[0].legend(fontsize=7)
    return fig
