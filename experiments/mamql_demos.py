r"""B2 (``docs/experiments.md#mamql_demos``): MAMQL against behaviour cloning, independent IQ-Learn and
tabular MA-AIRL on the paper's metric, against the number of demonstrated trajectories.

The Gems-like two-agent grid game (:func:`games.markov.instances.gems_game`, a reconstruction of the paper's
Gems domain), soft-Nash experts at temperature :math:`T`, :math:`N \in \{1, 3, 10, 30, 100\}` trajectories
per data set and ``datasets`` independent data sets per :math:`N`; every learner sees the same data sets, and
all data sets of all sizes are fitted in one batched program per learner. Learners: MAMQL offline
(behaviour-cloned opponents, the :math:`\chi^2` term mixed with the uniform reference so that the objective
is bounded; see :mod:`games.markov.mamql`), independent IQ-Learn (no marginalisation, no model), tabular MA-AIRL
and BC.

Metrics, per data set:

* **normalised return** (the paper's headline metric, "average reward"): the learned joint policy's true
  return, evaluated exactly in the game and summed over agents, normalised between uniform play (0) and the
  experts (1);
* **transfer**: the recovered marginal rewards re-optimised (soft Nash at :math:`T`) under *changed
  dynamics* (slip probability ``slip_new`` instead of the game's 0.1), scored with the true rewards there and
  normalised between uniform play (0) and the true reward's soft Nash under the same changed dynamics (1)
  (:func:`games.markov.recovery.transfer_returns`);
* **scale-controlled transfer**: the same, after each agent's recovered reward is multiplied by
  :math:`\sigma(\bar r_i)/\sigma(\hat r_i)`, :math:`\sigma` the root mean square over :math:`(s, a)` of the
  reward's residual after its best potential-shaping-plus-constant fit in the demonstrations' dynamics
  (:func:`games.markov.recovery.scale_normalised_rewards`). Rescaling by :math:`c` at temperature :math:`T` is
  re-optimising at :math:`T/c`, so this measures transfer at a temperature matched to each reward's scale and
  is invariant to :math:`\hat r\to k\hat r`; the **scale ratio** :math:`\sigma(\hat r_i)/\sigma(\bar r_i)`
  (mean over agents) is recorded with it. It separates *which* reward is recovered from *how large* it is,
  since a larger reward re-optimised at a fixed :math:`T` plays closer to greedy;
* occupancy-weighted **total variation** to the expert (bounded, and independent of how a learner smooths
  actions it never saw), and the Pearson correlation of the recovered reward modulo shaping.

Claims (reconstructed; the paper reports MAMQL ahead of MA-AIRL and imitation baselines in average reward,
sample efficiency and reward recovery, "often by more than 2-5x"): MAMQL's normalised return at least each
baseline's, averaged over the data sizes (paired by data set); at the largest :math:`N` its reward's
Pearson correlation modulo shaping at least MA-AIRL's, its transfer at least the other reward
learners', and its scale-controlled transfer at least MA-AIRL's (there and averaged over :math:`N`).
Limits: one small game (``size = 2`` at quick scale), tabular learners with the model known; the paper's factor
of 2-5 is not tested, only the direction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.claims import Claim, Measurement
from experiments.frames import converged_measurement
from games.markov.baselines import behaviour_cloning, independent_iq_learn, ma_airl
from games.markov.demonstrations import sample_demonstrations
from games.markov.instances import gems_game
from games.markov.mamql import mamql
from games.markov.recovery import recovery_metrics, scale_normalised_rewards, transfer_returns
from games.markov.solvers import soft_nash
from theory.rates import mean_ci

TITLE = "B2: MAMQL and baselines against the number of demonstrations (return, transfer)"
CAPTION = ("Gems-like two-agent grid game, soft-Nash experts at T = 0.3, N trajectories per data set (the same "
           "data sets for every learner). Left: true return of the learned joint policy, normalised between "
           "uniform play (0) and the experts (1). Middle: the recovered reward re-optimised under changed "
           "dynamics (slip 0.3), normalised between uniform play and the true reward's optimum there. Right: "
           "occupancy-weighted total variation to the expert. Mean over data sets with 95% t-intervals.")

METHODS = ("mamql", "independent_iq", "ma_airl", "bc")


@dataclass(frozen=True)
class Config:
    size: int = 2
    """Grid side (S = size^4 joint states)."""
    temperature: float = 0.3
    """Expert and learner temperature."""
    episodes: tuple = (1, 3, 10, 30, 100)
    """Numbers of demonstrated trajectories N."""
    horizon: int = 20
    """Steps per trajectory."""
    datasets: int = 10
    """Independent data sets per N (batched)."""
    alpha: float = 10.0
    """chi-squared regulariser."""
    lbfgs_iterations: int = 2000
    """L-BFGS iteration budget per fit."""
    tol: float = 1e-6
    """Stopping test of the IQ-Learn fits (max-norm gradient; the occupancy weights sum to one)."""
    airl_rounds: int = 30
    """MA-AIRL discriminator/generator rounds."""
    slip_new: float = 0.3
    """Slip probability of the changed dynamics for the transfer test."""


CONFIGS = {"smoke": Config(episodes=(1, 10), datasets=2, lbfgs_iterations=300, airl_rounds=5),
           "quick": Config(),
           "full": Config(size=3, horizon=30, datasets=20, airl_rounds=100)}
SEEDS = {"smoke": 1, "quick": 1, "full": 1}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    mg = gems_game(config.size)
    new = gems_game(config.size, slip=config.slip_new)
    T = config.temperature
    expert = soft_nash(mg, T, homotopy=2).policies
    keys = [(N, k) for N in config.episodes for k in range(config.datasets)]
    demos = [sample_demonstrations(mg, expert, N, config.horizon, seed=100_000 * seed + 1000 * N + k)
             for N, k in keys]
    it, tol = config.lbfgs_iterations, config.tol
    learners = {
        "mamql": lambda: mamql(mg, demos, T, alpha=config.alpha, online=False, max_iter=it, tol=tol,
                               device=device),
        "independent_iq": lambda: independent_iq_learn(mg, demos, T, alpha=config.alpha, max_iter=it, tol=tol,
                                                       device=device),
        "ma_airl": lambda: ma_airl(mg, demos, T, rounds=config.airl_rounds, device=device),
        "bc": lambda: behaviour_cloning(mg, demos),
    }
    rows = []
    for name in METHODS:
        res = learners[name]()
        nan = np.full(len(keys), np.nan)
        if res.marginal_reward is not None:
            transfer, t_conv = transfer_returns(new, res.marginal_reward, T, homotopy=2)
            scaled, ratio = scale_normalised_rewards(mg, expert, res.marginal_reward)
            transfer_s, s_conv = transfer_returns(new, scaled, T, homotopy=2)
            ratio = ratio.mean(0)
        else:
            transfer, transfer_s, ratio = nan, nan, nan
            t_conv = s_conv = np.full(len(keys), True)
        for j, m in enumerate(recovery_metrics(mg, expert, res)):
            N, k = keys[j]
            rows.append(dict(method=name, episodes=N, dataset=k, residual=res.residual, converged=res.converged,
                             transfer=float(transfer[j]), transfer_converged=bool(t_conv[j]),
                             transfer_scaled=float(transfer_s[j]), transfer_scaled_converged=bool(s_conv[j]),
                             scale_ratio=float(ratio[j]), **m))
    return pd.DataFrame(rows)


def _auc_diff(frame, col, a, b):
    """Paired by data set index: mean over N of (a - b), one value per data set index."""
    P = frame.pivot_table(index=["dataset", "episodes"], columns="method", values=col)
    return mean_ci((P[a] - P[b]).groupby(level="dataset").mean())


def _diff_at(frame, col, a, b, N):
    sub = frame[frame.episodes == N]
    P = sub.pivot(index="dataset", columns="method", values=col)
    return mean_ci(P[a] - P[b])


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    top = frame.episodes.max()
    airl_return = ("regime: tabular MA-AIRL trains its generator on exact model occupancies (unlimited environment "
                   "interaction) and is soft-optimal for its own reward, so its return exceeds the T-soft experts' "
                   "(normalised > 1 at large N) while it imitates worst (largest TV); MAMQL here is offline")
    raw = _diff_at(frame, "transfer", "mamql", "ma_airl", top)
    matched = _diff_at(frame, "transfer_scaled", "mamql", "ma_airl", top)
    ratio = frame[frame.episodes == top].groupby("method").scale_ratio.mean()
    airl_transfer = (f"metric, measured: re-optimising at a fixed T rewards reward scale; modulo shaping MA-AIRL's "
                     f"reward is {ratio['ma_airl']:.2f}x the true reward's scale, MAMQL's {ratio['mamql']:.2f}x "
                     f"(chi^2 shrinks it); at matched scale the gap is {matched.estimate:+.4f} "
                     f"[{matched.low:+.4f}, {matched.high:+.4f}] instead of {raw.estimate:+.4f} (scale-controlled "
                     f"transfer claims)")
    return [
        Claim.at_least("normalised return: MAMQL minus BC (mean over N)", _auc_diff(frame, "normalised_return",
                       "mamql", "bc"), 0.0, reconstructed=True,
                       description="paper: higher average reward than imitation baselines, more sample-efficient"),
        Claim.at_least("normalised return: MAMQL minus independent IQ-Learn (mean over N)",
                       _auc_diff(frame, "normalised_return", "mamql", "independent_iq"), 0.0, reconstructed=True,
                       description="marginalisation with a model beats per-agent IQ-Learn on return"),
        Claim.at_least("normalised return: MAMQL minus MA-AIRL (mean over N)",
                       _auc_diff(frame, "normalised_return", "mamql", "ma_airl"), 0.0, reconstructed=True,
                       description="paper: higher average reward than MA-AIRL", cause=airl_return),
        Claim.at_least(f"Pearson modulo shaping: MAMQL minus MA-AIRL (N = {top})",
                       _diff_at(frame, "shaped_pearson", "mamql", "ma_airl", top), 0.0, reconstructed=True,
                       description="paper: better reward recovery than MA-AIRL (shaping- and scale-invariant)",
                       cause="too few data sets at this scale to separate the methods"),
        Claim.at_least(f"transfer to changed dynamics: MAMQL minus MA-AIRL (N = {top})",
                       _diff_at(frame, "transfer", "mamql", "ma_airl", top), 0.0, reconstructed=True,
                       description="paper: better reward recovery than MA-AIRL, tested by re-optimising the "
                                   "recovered reward under changed dynamics", cause=airl_transfer),
        Claim.at_least(f"scale-controlled transfer: MAMQL minus MA-AIRL (N = {top})", matched, 0.0,
                       reconstructed=True,
                       description="the transfer claim with each recovered reward rescaled to the true reward's "
                                   "scale modulo shaping (re-optimising at a matched temperature)",
                       cause="too few data sets at this scale to separate the methods once scale is matched"),
        Claim.at_least("scale-controlled transfer: MAMQL minus MA-AIRL (mean over N)",
                       _auc_diff(frame, "transfer_scaled", "mamql", "ma_airl"), 0.0, reconstructed=True,
                       description="the same, paired by data set and averaged over the data sizes",
                       cause="too few data sets at this scale to separate the methods once scale is matched"),
        Claim.at_least(f"transfer to changed dynamics: MAMQL minus independent IQ-Learn (N = {top})",
                       _diff_at(frame, "transfer", "mamql", "independent_iq", top), 0.0, reconstructed=True,
                       description="marginalisation with the model recovers a more transferable reward",
                       cause="too few data sets at this scale to separate the methods"),
    ]


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    out = []
    for N, sub in frame.groupby("episodes"):
        for name in METHODS:
            s = sub[sub.method == name]
            out.append(Measurement.of(f"{name}, N = {N}: normalised return", mean_ci(s.normalised_return)))
            if s.transfer.notna().all():
                out.append(Measurement.of(f"{name}, N = {N}: transfer", mean_ci(s.transfer)))
                out.append(Measurement.of(f"{name}, N = {N}: scale-controlled transfer", mean_ci(s.transfer_scaled)))
                out.append(Measurement.of(f"{name}, N = {N}: reward scale ratio (recovered / true, modulo shaping)",
                                          mean_ci(s.scale_ratio)))
            out.append(Measurement.of(f"{name}, N = {N}: policy TV", mean_ci(s.tv)))
    fits = frame[frame.method.isin(["mamql", "independent_iq"])]
    t = frame[frame.transfer.notna()].rename(columns={"converged": "_c", "transfer_converged": "converged"})
    ts = frame[frame.transfer.notna()].rename(columns={"converged": "_c", "transfer_scaled_converged": "converged"})
    return out + [converged_measurement(fits, "IQ-Learn fits (MAMQL, independent) that met their stopping test"),
                  converged_measurement(t, "transfer soft-Nash solves that met their stopping test"),
                  converged_measurement(ts, "scale-controlled transfer soft-Nash solves that met their stopping test")]


def _curve(ax, frame, col, logy=False):
    for j, name in enumerate(METHODS):
        sub = frame[frame.method == name]
        if sub[col].isna().all():
            continue
        cis = [mean_ci(v) for _, v in sub.groupby("episodes")[col]]
        x = np.array(sorted(sub.episodes.unique()))
        m = np.array([c.estimate for c in cis])
        lo, hi = np.array([c.low for c in cis]), np.array([c.high for c in cis])
        if np.isfinite(lo).all():
            ax.fill_between(x, lo, hi, color=f"C{j}", alpha=0.2)
        ax.plot(x, m, "o-", color=f"C{j}", label=name.replace("_", " "))
    ax.set_xscale("log")
    ax.set_xlabel("trajectories N")


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.3))
    _curve(axes[0], frame, "normalised_return")
    axes[0].set_ylabel("normalised return")
    axes[0].legend(fontsize=7)
    _curve(axes[1], frame, "transfer")
    axes[1].set_ylabel("transfer (changed dynamics)")
    _curve(axes[2], frame, "tv")
    axes[2].set_ylabel("policy TV to the expert")
    fig.tight_layout()
    return fig
