r"""The actor's price: the regret gap to a greedy learner grows with :math:`\log|A|`.

Design: ``docs/experiments.md#actor_critic_actions``.

The bound's :math:`dH^5\log|A|/\varepsilon^2` term is what the mirror-descent actor pays for tracking
a moving critic. On combination locks with a growing number of actions we measure the regret of
OptAC-RS minus that of UCBVI (greedy on the same critic) and fit it against :math:`\sqrt{\log|A|}`.
Bigger action sets also make exploration harder for both, so this is a qualitative check.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.claims import Claim
from mdp.actor_critic import optimistic_actor_critic, ucbvi
from mdp.generators import combination_lock
from theory.rates import mean_ci

TITLE = "The actor's regret overhead grows with log|A|"
CAPTION = ("Final regret of OptAC-RS and UCBVI (left) and their difference (right) against the number of "
           "actions on combination locks (H = 4), mean ± 95% CI over seeds (reconstructed algorithm).")


@dataclass(frozen=True)
class Config:
    H: int = 4
    """Horizon."""
    actions: tuple = (2, 4, 8, 16)
    """Action-set sizes."""
    episodes: int = 2000
    """T."""
    seeds: int = 6
    """Seeds batched per run."""


CONFIGS = {
    "smoke": Config(H=3, actions=(2, 4), episodes=100, seeds=2),
    "quick": Config(),
    "full": Config(H=5, actions=(2, 4, 8, 16, 32), episodes=20_000, seeds=16),
}
SEEDS = {"smoke": 1, "quick": 1, "full": 2}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    rows = []
    for A in config.actions:
        m = combination_lock(H=config.H, A=A, seed=seed)
        ac = optimistic_actor_critic(m, config.episodes, config.seeds, seed=seed, device=device, progress=False)
        gr = ucbvi(m, config.episodes, config.seeds, seed=seed, device=device, progress=False)
        for b in range(config.seeds):
            rows.append(dict(A=A, run=b, optac=float(ac.regret[b, -1]), ucbvi=float(gr.regret[b, -1]),
                             gap=float(ac.regret[b, -1] - gr.regret[b, -1])))
    return pd.DataFrame(rows)


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    slopes = []
    for _, g in frame.groupby(["seed", "run"]):
        xs = np.sqrt(np.log(g.A.to_numpy(float)))
        slopes.append(np.polyfit(xs, g.gap.to_numpy(), 1)[0])
    return [Claim.at_least("regret gap vs sqrt(log A) slope", mean_ci(slopes), 0.0, reconstructed=True,
                           cause="sample: the slope over the quick scale's seeds has an interval containing 0",
                           description="slope of (OptAC-RS - UCBVI) final regret against sqrt(log|A|): the "
                           "actor's extra sqrt(log A) factor makes it positive")]


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    for col, label in (("optac", "OptAC-RS"), ("ucbvi", "UCBVI")):
        g = frame.groupby("A")[col]
        ax.errorbar(g.mean().index, g.mean().values, yerr=1.96 * g.sem().fillna(0).values, fmt="o-", capsize=3,
                    label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("actions |A|")
    ax.set_ylabel(f"regret after {config.episodes} episodes")
    ax.legend(fontsize=7)
    g = frame.groupby("A").gap
    xs = np.sqrt(np.log(g.mean().index.to_numpy(float)))
    ax2.errorbar(xs, g.mean().values, yerr=1.96 * g.sem().fillna(0).values, fmt="o-", capsize=3)
    ax2.set_xlabel("sqrt(log |A|)")
    ax2.set_ylabel("regret(OptAC-RS) − regret(UCBVI)")
    ax2.set_title("The actor's overhead")
    return fig
