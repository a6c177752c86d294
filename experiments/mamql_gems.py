r"""B3 (``docs/experiments.md#mamql_gems``): MAMQL against behaviour cloning, independent IQ-Learn and
tabular MA-AIRL on the Gems-like grid game.

The Gems-like two-agent grid game (:func:`games.markov.instances.gems_game`, a reconstruction of the paper's
Gems domain: agent-specific gem values, a collision penalty, slippery moves), soft-Nash experts at
temperature :math:`T`, :math:`N` demonstrated trajectories per data set (data sets batched). Learners:
MAMQL online (learned opponents) and offline (cloned opponents), independent IQ-Learn (no marginalisation,
no model), tabular MA-AIRL and BC. Metrics: occupancy-weighted policy TV, Pearson correlation of the
recovered marginal reward modulo shaping, and the true return of the learned joint policy normalised
between the uniform policy (0) and the experts (1).

The paper reports MAMQL ahead of MA-AIRL and imitation baselines "often by more than 2-5x"; the claims below
test the direction of that statement on this reconstruction.

**Convergence** (every fit's stopping test is counted in a measurement, never silenced). The offline fits
(MAMQL offline, independent IQ-Learn) maximise a fixed, coercive objective; at quick scale they meet the
stopping test (max-norm gradient :math:`\le 10^{-7}`) after about 1,000 L-BFGS iterations, so the budget is
2,000 (150 stopped them at residuals of about :math:`10^{-3}`). The margin is thin: fitted alone, data set 0
exhausts L-BFGS's 3,000 evaluations at a residual of :math:`1.4\times 10^{-7}` (batched with the others it meets
the test). The cause is conditioning, not rounding: the likelihood is invariant to a per-state level of
:math:`\bar Q`, which only the :math:`\chi^2` term fixes, with a curvature along smooth potentials of order
:math:`(1-\gamma)^2\rho_R/(2\alpha)`; the objective still gains about :math:`10^{-9}` over the last 2,700
evaluations, far above float64 rounding. Since :math:`\hat r` is affine in that level, eliminating it by a
linear solve would remove the slow direction (not done). Online MAMQL (learned opponents, policy
reference, :func:`games.markov.mamql.mamql`) repeats exact fits with the regulariser's reference occupancy
:math:`\rho_\pi` refreshed between rounds, and its stopping test also asks the joint policy to move by at
most :math:`10^{-7}` between rounds. That loop converges slowly: measured on the quick data sets (300
iterations a round), the move is 0.43, 0.30, 0.15, 0.10, 0.06 after rounds 2, 10, 20, 30, 40, about
:math:`3/k` (40 rounds: 35 s of CPU). A heuristic for why the loop is slow: on a demonstrated state's
undemonstrated action (:math:`\rho_E(s,a) = 0`) the round-:math:`(k+1)` stationarity condition, neglecting
the :math:`\gamma\bar P\bar V` coupling, reads
:math:`d_E(s)\,\pi_{k+1}(a|s) = -d_{\pi_k}(s)\,\pi_k(a|s)\,\hat r_{k+1}(s,a)/(4\alpha)`,
so each round only shrinks :math:`\pi(a|s)` by the factor :math:`|\hat r|/(4\alpha)`, and the implied reward
approaches its fixed point :math:`\hat r = -4\alpha\,d_E/d_\pi` geometrically at the rate
:math:`1/(1 + T/(4\alpha))` (0.9926 here; the measured policy move above decays faster early on). No
budget affordable at quick scale meets the test (3 rounds are run), and the test is not loosened: online
MAMQL's fits are reported as not converged, and the claims that use them say so in their cause.
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
from games.markov.recovery import recovery_metrics
from games.markov.solvers import soft_nash
from theory.rates import mean_ci

TITLE = "B3: MAMQL and baselines on the Gems-like grid game"
CAPTION = ("Gems-like two-agent grid game, soft-Nash experts. Policy total variation to the expert (lower is "
           "better), Pearson correlation of the recovered marginal reward modulo shaping, and the learned joint "
           "policy's true return normalised between uniform play (0) and the experts (1). Bars: mean over data "
           "sets; error bars: 95% t-intervals.")

METHODS = ("mamql", "mamql_offline", "independent_iq", "ma_airl", "bc")


@dataclass(frozen=True)
class Config:
    size: int = 3
    """Grid side (S = size^4 joint states)."""
    temperature: float = 0.3
    """Expert and learner temperature."""
    episodes: int = 100
    """Trajectories per data set."""
    horizon: int = 30
    """Steps per trajectory."""
    datasets: int = 3
    """Independent data sets (seeds), batched."""
    alpha: float = 10.0
    """chi-squared regulariser."""
    lbfgs_iterations: int = 2000
    """L-BFGS iteration budget per fit (an upper bound: L-BFGS stops at its gradient tolerance; the offline
    fits at quick scale need about 1,000 to meet the 1e-7 stopping test, 150 did not)."""
    online_rounds: int = 3
    """Opponent-update rounds of online MAMQL."""
    airl_rounds: int = 30
    """MA-AIRL discriminator/generator rounds."""


CONFIGS = {"smoke": Config(size=2, episodes=20, horizon=10, datasets=2, lbfgs_iterations=50, online_rounds=2,
                           airl_rounds=5),
           "quick": Config(),
           "full": Config(size=4, episodes=300, datasets=10, online_rounds=10,
                          airl_rounds=100)}
SEEDS = {"smoke": 1, "quick": 1, "full": 1}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    mg = gems_game(config.size)
    T = config.temperature
    expert = soft_nash(mg, T, homotopy=2).policies
    demos = [sample_demonstrations(mg, expert, config.episodes, config.horizon, seed=10_000 * seed + k)
             for k in range(config.datasets)]
    it = config.lbfgs_iterations
    learners = {
        "mamql": lambda: mamql(mg, demos, T, alpha=config.alpha, online=True, rounds=config.online_rounds,
                               max_iter=it, device=device),
        "mamql_offline": lambda: mamql(mg, demos, T, alpha=config.alpha, online=False, max_iter=it, device=device),
        "independent_iq": lambda: independent_iq_learn(mg, demos, T, alpha=config.alpha, max_iter=it, device=device),
        "ma_airl": lambda: ma_airl(mg, demos, T, rounds=config.airl_rounds, device=device),
        "bc": lambda: behaviour_cloning(mg, demos),
    }
    rows = []
    for name in METHODS:
        res = learners[name]()
        for k, m in enumerate(recovery_metrics(mg, expert, res)):
            rows.append(dict(method=name, dataset=k, residual=res.residual, converged=res.converged, **m))
    return pd.DataFrame(rows)


def _diff(frame, col, a, b):
    P = frame.pivot(index="dataset", columns="method", values=col)
    return mean_ci(P[a] - P[b])


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    return [
        Claim.at_least("Pearson modulo shaping: MAMQL minus MA-AIRL",
                       _diff(frame, "shaped_pearson", "mamql", "ma_airl"), 0.0, reconstructed=True,
                       description="paper: better reward recovery than MA-AIRL",
                       cause="3 data sets at quick scale (interval +-0.2); online MAMQL does not meet its stopping "
                             "test (its policy-reference loop moves the policy by about 3/k in round k; counted, see "
                             "module docstring); mamql_demos makes the comparison with 10"),
        Claim.at_least("Pearson modulo shaping: MAMQL minus independent IQ-Learn",
                       _diff(frame, "shaped_pearson", "mamql", "independent_iq"), 0.0, reconstructed=True,
                       description="marginalisation helps reward recovery",
                       cause="3 data sets at quick scale; independent IQ-Learn's fits meet their stopping test, "
                             "online MAMQL's do not (counted, see module docstring)"),
        Claim.at_most("policy TV: MAMQL minus BC", _diff(frame, "tv", "mamql", "bc"), 0.0, reconstructed=True,
                      description="paper: better imitation than behaviour cloning",
                      cause="3 data sets at quick scale: the difference (-0.0007) is 1% of either TV; the paper "
                            "claims return, not imitation error, over BC"),
        Claim.at_least("normalised return: MAMQL minus BC", _diff(frame, "normalised_return", "mamql", "bc"), 0.0,
                       reconstructed=True, description="paper: higher average reward than imitation baselines",
                       cause="regime: at 100 trajectories every learner is within 3.5% of the experts' return; "
                             "mamql_demos measures the data sizes where they differ"),
    ]


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    out = []
    for name in METHODS:
        sub = frame[frame.method == name]
        out.append(Measurement.of(f"{name}: policy TV", mean_ci(sub.tv)))
        if sub.shaped_pearson.notna().all():
            out.append(Measurement.of(f"{name}: Pearson modulo shaping", mean_ci(sub.shaped_pearson)))
        out.append(Measurement.of(f"{name}: normalised return", mean_ci(sub.normalised_return)))
    return out + [converged_measurement(frame, "fits that met their stopping test (all methods)")]


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.3))
    x = np.arange(len(METHODS))
    for ax, col, lab in ((axes[0], "tv", "policy TV"), (axes[1], "shaped_pearson", "Pearson modulo shaping"),
                         (axes[2], "normalised_return", "normalised return")):
        m, err = [], []
        for name in METHODS:
            v = frame[frame.method == name][col].dropna()
            if len(v) == 0:
                m.append(np.nan)
                err.append((0.0, 0.0))
                continue
            c = mean_ci(v)
            m.append(c.estimate)
            err.append((c.estimate - c.low, c.high - c.estimate) if np.isfinite(c.low) else (0.0, 0.0))
        ax.bar(x, m, yerr=np.array(err).T, capsize=3, color=[f"C{i}" for i in range(len(METHODS))])
        ax.set_xticks(x, [n.replace("_", "\n") for n in METHODS], fontsize=7)
        ax.set_ylabel(lab)
    fig.tight_layout()
    return fig
