r"""B4 (``docs/experiments.md#mamql_opponents``): ablation of the opponent model in MAMQL's marginalisation.

One random general-sum game (:math:`S = 8`, :math:`A_i = 3`, Dirichlet(0.1) transition rows, so
the joint action largely decides the next state), soft-Nash experts at temperature 1,
:math:`N = 100` trajectories of 50 steps per data set (seeds batched). The marginal MDP of each agent is
built with the other agents' *current learned* Boltzmann policies (online MAMQL), their behaviour-cloned
policies (offline MAMQL), the uniform policy, or the true expert policies (an oracle). Everything else
is equal (offline objective, :math:`\alpha = 5`).

Expectation (a hypothesis; a reconstruction): consistent opponents (learned or cloned)
recover the reward better than a wrong (uniform) opponent model; the oracle bounds what is possible.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.claims import Claim, Measurement
from experiments.frames import converged_measurement
from games.markov.demonstrations import sample_demonstrations
from games.markov.instances import random_markov_game
from games.markov.mamql import mamql
from games.markov.recovery import recovery_metrics
from games.markov.solvers import soft_nash
from theory.rates import mean_ci

TITLE = "B4: the opponent model in MAMQL's marginalisation"
CAPTION = ("Random general-sum game (S = 8, A = 3, Dirichlet(0.1) transitions), 100 trajectories per data set. "
           "Policy TV and Pearson "
           "correlation modulo shaping of MAMQL whose marginal MDPs use the learned, behaviour-cloned, uniform "
           "or true (oracle) opponent policies. Bars: mean over data sets; error bars: 95% t-intervals.")

MODELS = ("learned", "bc", "uniform", "expert")

_TABULAR = ("tabular regime: the likelihood fixes the policy, and any critic with that policy implies T log pi_hat "
            "up to shaping in its own model, so modulo the true shaping the opponent model moves the reward by "
            "~1e-4 and the policy by ~1e-5")


@dataclass(frozen=True)
class Config:
    episodes: int = 100
    """Trajectories per data set."""
    horizon: int = 50
    """Steps per trajectory."""
    datasets: int = 6
    """Independent data sets (seeds), batched."""
    alpha: float = 5.0
    """chi-squared regulariser."""
    game_seed: int = 1
    """Seed of the random game."""
    concentration: float = 0.1
    """Dirichlet parameter of the transitions (small: the joint action decides the next state)."""


CONFIGS = {"smoke": Config(episodes=30, datasets=2), "quick": Config(), "full": Config(datasets=20)}
SEEDS = {"smoke": 1, "quick": 1, "full": 1}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    mg = random_markov_game(8, (3, 3), seed=config.game_seed, concentration=config.concentration)
    expert = soft_nash(mg, 1.0).policies
    demos = [sample_demonstrations(mg, expert, config.episodes, config.horizon, seed=10_000 * seed + k)
             for k in range(config.datasets)]
    rows = []
    for model in MODELS:
        res = mamql(mg, demos, 1.0, alpha=config.alpha, online=False, opponents=model, rounds=20,
                    expert_policies=expert, device=device)
        for k, m in enumerate(recovery_metrics(mg, expert, res)):
            rows.append(dict(opponents=model, dataset=k, residual=res.residual, converged=res.converged, **m))
    return pd.DataFrame(rows)


def _diff(frame, col, a, b):
    P = frame.pivot(index="dataset", columns="opponents", values=col)
    return mean_ci(P[a] - P[b])


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    return [
        Claim.at_least("Pearson modulo shaping: learned minus uniform opponents",
                       _diff(frame, "shaped_pearson", "learned", "uniform"), 0.0, reconstructed=True,
                       description="a consistent opponent model recovers the reward better than a wrong one",
                       cause=_TABULAR),
        Claim.at_least("Pearson modulo shaping: behaviour-cloned minus uniform opponents",
                       _diff(frame, "shaped_pearson", "bc", "uniform"), 0.0, reconstructed=True,
                       description="offline marginalisation with cloned opponents beats a wrong opponent model",
                       cause=_TABULAR),
        Claim.at_most("policy TV: learned minus uniform opponents", _diff(frame, "tv", "learned", "uniform"), 0.0,
                      reconstructed=True, description="the opponent model also shapes the learned policy",
                      cause=_TABULAR),
    ]


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    out = [Measurement.of(f"Pearson modulo shaping, {m} opponents",
                          mean_ci(frame[frame.opponents == m].shaped_pearson)) for m in MODELS]
    return out + [Measurement.of(f"policy TV, {m} opponents", mean_ci(frame[frame.opponents == m].tv))
                  for m in MODELS] + [converged_measurement(frame, "MAMQL fits that met their stopping test")]


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    x = np.arange(len(MODELS))
    for ax, col, lab in ((axes[0], "tv", "policy TV"), (axes[1], "shaped_pearson", "Pearson modulo shaping")):
        cis = [mean_ci(frame[frame.opponents == m][col]) for m in MODELS]
        m = np.array([c.estimate for c in cis])
        err = np.array([[c.estimate - c.low, c.high - c.estimate] for c in cis]).T
        err = np.where(np.isfinite(err), err, 0.0)
        ax.bar(x, m, yerr=err, capsize=3, color=[f"C{i}" for i in range(len(MODELS))])
        ax.set_xticks(x, MODELS)
        ax.set_ylabel(lab)
        ax.set_xlabel("opponent model")
    fig.tight_layout()
    return fig
