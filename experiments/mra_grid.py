r"""C4 (``docs/experiments.md#mra_grid``): MRA's relational latent soft actor-critic on the grid resource game.

Three methods with the same relational architecture (:mod:`games.mra_sac`) and the same training budget
(iterations, gradient updates, environment steps):

* **MRA**: latent size :math:`|Z| = 6`, trained on the populations n = 3, 6, 9 at once, with the contrastive
  MI bonus (:math:`K = 5` resamples) and the game-identification term;
* **unimodal**: :math:`|Z| = 1` (one shared policy, Reptile-like), trained on n = 3, 6, 9;
* **single-game**: :math:`|Z| = 6`, trained only on the evaluated population (one training per n, with the
  whole budget on that game).

For every population n = 3, 6, 9 and the held-out n = 12 we report the mean return per agent and episode
and the approximate NashConv :math:`n(\hat J_{\rm BR} - \hat J)` from a best response of ONE deviating agent
(the game is symmetric) trained by the same SAC learner with the same budget
(:func:`games.mra_sac.approximate_nash_conv`). Intervals: Student-t over independent replicas (independent
trainings batched in one torch program).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.core import Claim, Measurement
from games import mra_sac
from theory.rates import mean_ci

TITLE = "MRA (C4): relational latent soft actor-critic on the grid resource game"
CAPTION = ("Grid resource occupation, trained on n = 3, 6, 9, held out n = 12 (shaded). (a) Mean return per agent "
           "and episode; (b) approximate NashConv n (J_BR - J) from a trained best response of one deviating "
           "agent. MRA (|Z| = 6, MI bonus), unimodal (|Z| = 1) and single-game (trained on the evaluated n only); "
           "mean and 95% CI over independent trainings.")

TRAIN = (3, 6, 9)
HELD_OUT = (12,)
METHODS = ("MRA", "unimodal", "single-game")


@dataclass(frozen=True)
class Config:
    size: int = 4
    """Grid side."""
    horizon: int = 6
    """Episode length T."""
    latent_size: int = 6
    hidden: int = 32
    iterations: int = 30
    episodes: int = 4
    """Episodes per training population, replica and iteration (single-game: times 3 on its one game)."""
    updates: int = 2
    batch: int = 32
    """Transitions per training population per update (single-game: times 3)."""
    mi_weight: float = 0.1
    id_weight: float = 0.05
    alpha: float = 0.3
    """Temperature (official: 1/30 with MPE rewards; at 1/30 best responses stall far below the optimum here)."""
    lr: float = 3e-3
    replicas: int = 4
    eval_episodes: int = 64


CONFIGS = {"smoke": Config(size=3, horizon=3, hidden=8, iterations=2, episodes=2, batch=8, replicas=2,
                           eval_episodes=4),
           "quick": Config(),
           "full": Config(size=5, horizon=20, hidden=64, iterations=2000, episodes=16, updates=4, batch=256,
                          replicas=8, eval_episodes=256)}
SEEDS = {"smoke": 1, "quick": 1, "full": 1}


def _sac(config: Config, latent_size: int, pops: int) -> mra_sac.SACConfig:
    k = len(TRAIN) // pops
    return mra_sac.SACConfig(latent_size=latent_size, hidden=config.hidden, iterations=config.iterations,
                             episodes=config.episodes * k, updates=config.updates, batch=config.batch * k,
                             mi_weight=config.mi_weight, id_weight=config.id_weight, alpha=config.alpha,
                             lr=config.lr, buffer=max(4096, 4 * config.episodes * len(TRAIN) * config.horizon))


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    game = mra_sac.GridGame(size=config.size, horizon=config.horizon)
    R = config.replicas
    rows = []

    def evaluate(method, model, n, s):
        est = mra_sac.approximate_nash_conv(model, n, episodes=config.eval_episodes, seed=s)
        for r in range(R):
            rows.append(dict(panel="eval", method=method, n=n, held_out=n in HELD_OUT, replica=r,
                             policy_return=float(est.policy_return[r]), br_return=float(est.br_return[r]),
                             gain=float(est.gain[r]), nash_conv=float(est.nash_conv[r])))

    models = {"MRA": mra_sac.train(TRAIN, _sac(config, config.latent_size, len(TRAIN)), game, R, seed=seed,
                                   device=device),
              "unimodal": mra_sac.train(TRAIN, _sac(config, 1, len(TRAIN)), game, R, seed=seed + 1, device=device)}
    for method, model in models.items():
        rows.append(dict(panel="budget", method=method, env_steps=model.env_steps))
        for n in TRAIN + HELD_OUT:
            evaluate(method, model, n, seed + 100 + n)
    for n in TRAIN + HELD_OUT:
        model = mra_sac.train((n,), _sac(config, config.latent_size, 1), game, R, seed=seed + 2 + n, device=device)
        rows.append(dict(panel="budget", method="single-game", n=n, env_steps=model.env_steps))
        evaluate("single-game", model, n, seed + 100 + n)
    return pd.DataFrame(rows)


def _per_replica(frame, method, ns, col):
    e = frame[(frame.panel == "eval") & (frame.method == method) & frame.n.isin(ns)]
    return e.groupby("replica")[col].mean().sort_index().to_numpy()


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    ref = "docs/experiments.md#mra_grid"
    out = []
    mra_h = _per_replica(frame, "MRA", HELD_OUT, "nash_conv")
    for other in ("unimodal", "single-game"):
        d = mra_h - _per_replica(frame, other, HELD_OUT, "nash_conv")
        out.append(Claim.at_most(f"held-out n = 12: MRA NashConv - {other} NashConv (approximate, by trained BR)",
                                 mean_ci(d), 0.0, reconstructed=True,
                                 description="paired by replica index (independent trainings); " + ref))
    d = _per_replica(frame, "MRA", HELD_OUT, "policy_return") - _per_replica(frame, "unimodal", HELD_OUT,
                                                                            "policy_return")
    out.append(Claim.at_least("held-out n = 12: MRA return - unimodal return (per agent and episode)", mean_ci(d),
                              0.0, reconstructed=True, description=ref))
    d = _per_replica(frame, "MRA", TRAIN, "nash_conv") - _per_replica(frame, "unimodal", TRAIN, "nash_conv")
    out.append(Claim.at_most("training n = 3, 6, 9: MRA NashConv - unimodal NashConv (mean over n)", mean_ci(d), 0.0,
                             reconstructed=True, description=ref))
    return out


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    out = []
    e = frame[frame.panel == "eval"]
    for (method, n), sub in e.groupby(["method", "n"], sort=False):
        out.append(Measurement.of(f"{method}, n = {int(n)}: return per agent and episode", mean_ci(sub.policy_return)))
        out.append(Measurement.of(f"{method}, n = {int(n)}: approximate NashConv", mean_ci(sub.nash_conv)))
    return out


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.3))
    e = frame[frame.panel == "eval"]
    ns = sorted(e.n.unique())
    for ax, col, label in ((axes[0], "policy_return", "return per agent and episode"),
                           (axes[1], "nash_conv", "approximate NashConv")):
        for j, method in enumerate(METHODS):
            sub = e[e.method == method]
            if sub.empty:
                continue
            cis = [mean_ci(sub[sub.n == n][col]) for n in ns]
            m = np.array([c.estimate for c in cis])
            lo = np.array([c.estimate - c.low if np.isfinite(c.low) else 0.0 for c in cis])
            hi = np.array([c.high - c.estimate if np.isfinite(c.high) else 0.0 for c in cis])
            ax.errorbar(np.array(ns) + 0.15 * (j - 1), m, yerr=[lo, hi], fmt="o-", capsize=3, color=f"C{j}",
                        label=method)
        for n in HELD_OUT:
            ax.axvspan(n - 1.0, n + 1.0, color="0.9", zorder=0)
        ax.set_xticks(ns)
        ax.set_xlabel("population n (12 held out)")
        ax.set_ylabel(label)
    axes[1].axhline(0.0, color="k", ls=":", lw=1)
    axes[0].set_title("(a) return")
    axes[1].set_title("(b) NashConv by trained best response")
    axes[0].legend(fontsize=7)
    return fig
