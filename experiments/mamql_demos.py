r"""B2 (``docs/experiments.md#mamql_demos``): MAMQL reward and policy recovery against the number of
demonstrated trajectories.

One random general-sum game (:math:`S = 8`, :math:`A_i = 3`), soft-Nash experts at temperature 1,
:math:`N` trajectories of 50 steps per data set; one data set per seed, all seeds in one batched torch
program. MAMQL (tabular reconstruction, offline: behaviour-cloned opponents, :math:`\alpha = 5`).

Expectations: more data, better recovery. The occupancy-weighted KL of a smoothed maximum-likelihood
policy falls like :math:`1/N` (parametric rate); the shaping-invariant Pearson correlation rises with
:math:`N`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.core import Claim, Measurement
from experiments.frames import converged_measurement
from games.mamql import mamql, recovery_metrics
from games.markov_game import sample_demonstrations, soft_nash
from games.markov_games import random_markov_game
from theory.rates import fit_loglog_slope, mean_ci
from theory.results import NotConvergedWarning

TITLE = "B2: MAMQL recovery against the number of demonstrations"
CAPTION = ("One random general-sum game (S = 8, A = 3), N trajectories of 50 steps. Left: policy KL(pi_E || pi) "
           "(dashed: slope -1). Right: raw and shaping-invariant Pearson correlation of the recovered marginal "
           "reward with the true one. Mean over data sets (seeds) with 95% t-intervals.")


@dataclass(frozen=True)
class Config:
    episodes: tuple = (10, 100, 1000)
    """Numbers of demonstrated trajectories N."""
    horizon: int = 50
    """Steps per trajectory."""
    datasets: int = 6
    """Independent data sets (seeds), batched."""
    alpha: float = 5.0
    """chi-squared regulariser."""
    game_seed: int = 0
    """Seed of the random game."""


CONFIGS = {"smoke": Config(episodes=(10, 100), datasets=2), "quick": Config(),
           "full": Config(episodes=(10, 30, 100, 300, 1000, 3000), datasets=20)}
SEEDS = {"smoke": 1, "quick": 1, "full": 1}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    mg = random_markov_game(8, (3, 3), seed=config.game_seed)
    expert = soft_nash(mg, 1.0).policies
    rows = []
    for N in config.episodes:
        demos = [sample_demonstrations(mg, expert, N, config.horizon, seed=10_000 * seed + 100 * k + 7)
                 for k in range(config.datasets)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotConvergedWarning)
            res = mamql(mg, demos, 1.0, alpha=config.alpha, online=False, device=device)
        for k, m in enumerate(recovery_metrics(mg, expert, res)):
            rows.append(dict(episodes=N, dataset=k, residual=res.residual, converged=res.converged, **m))
    return pd.DataFrame(rows)


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    Y = frame.pivot(index="dataset", columns="episodes", values="kl")
    P = frame.pivot(index="dataset", columns="episodes", values="shaped_pearson")
    gain = P[P.columns.max()] - P[P.columns.min()]
    return [
        Claim.within("policy KL ~ N^-1 (log-log slope)", fit_loglog_slope(Y.columns.to_numpy(), Y.to_numpy()),
                     -1.0, -1.0, slack=0.15, reconstructed=True,
                     description="parametric rate of a (regularised) maximum-likelihood policy; slack for the "
                                 "smoothing bias at small N"),
        Claim.at_least("Pearson modulo shaping: largest N minus smallest N", mean_ci(gain), 0.0,
                       reconstructed=True, description="more demonstrations recover the reward better"),
    ]


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    out = []
    for N, sub in frame.groupby("episodes"):
        out.append(Measurement.of(f"raw Pearson, N = {N}", mean_ci(sub.pearson)))
        out.append(Measurement.of(f"Pearson modulo shaping, N = {N}", mean_ci(sub.shaped_pearson)))
    return out + [converged_measurement(frame, "MAMQL fits that met their stopping test")]


def _band(ax, frame, col, label, logy=False):
    g = frame.groupby("episodes")[col]
    cis = [mean_ci(v) for _, v in g]
    x = np.array(sorted(frame.episodes.unique()))
    m = np.array([c.estimate for c in cis])
    lo = np.array([c.low for c in cis])
    hi = np.array([c.high for c in cis])
    if np.isfinite(lo).all():
        ax.fill_between(x, np.maximum(lo, 1e-12) if logy else lo, hi, alpha=0.25)
    ax.plot(x, m, "o-", label=label)
    return x, m


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.3))
    x, m = _band(axes[0], frame, "kl", "MAMQL", logy=True)
    axes[0].plot(x, m[0] * (x / x[0]) ** -1.0, "k--", lw=1, label="slope -1")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("trajectories N")
    axes[0].set_ylabel("policy KL")
    axes[0].legend(fontsize=7)
    _band(axes[1], frame, "pearson", "raw Pearson")
    _band(axes[1], frame, "shaped_pearson", "Pearson modulo shaping")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("trajectories N")
    axes[1].set_ylabel("correlation with true reward")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig
