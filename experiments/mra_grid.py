r"""C4 (``docs/experiments.md#mra_grid``): MRA's relational latent soft actor-critic on the grid resource game,
scored as the paper scores it: return on a held-out population after k adaptation steps.

Three methods with the same relational architecture (:mod:`games.population.sac`) and the same training budget
(iterations, gradient updates, environment steps):

* **MRA**: latent size :math:`|Z| = 6`, trained on the populations n = 3, 6, 9 at once, with the contrastive
  MI bonus (:math:`K = 5` resamples) and the game-identification term;
* **unimodal**: :math:`|Z| = 1` (one shared policy, Reptile-like), trained on n = 3, 6, 9;
* **single-game**: :math:`|Z| = 6`, trained only on n = 9 (the training population nearest the held-out 12),
  with three times the episodes and minibatch of one population so the environment steps match. No method
  sees n = 12 in training.

Measured (tidy frame, one row per replica): the mean return per agent and episode on every population at
k = 0 (panel ``population``), and on the held-out n = 12 after k adaptation steps (panel ``adapt``; k in
``adapt_steps``; :func:`games.population.sac.adaptation.adapt_path`), adapting the latent logits only
(``latent``: MRA and single-game, whose latents exist) or all parameters (``all``: latents, actor and
critic; every method). Every (method, mode) gets the same steps, episodes per step, updates and minibatch,
and the same adaptation and evaluation seeds. Intervals: Student-t over independent replicas (independent
trainings batched in one torch program), differences paired by replica index.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from experiments.claims import Claim, Measurement
from games.population import sac as mra_sac
from theory.rates import mean_ci

TITLE = "MRA (C4): relational latent soft actor-critic on the grid resource game"
CAPTION = ("Grid resource occupation, trained on n = 3, 6, 9 (single-game: n = 9 only), held out n = 12. "
           "(a) Mean return per agent and episode on each population, zero-shot; (b) on the held-out n = 12 after "
           "k adaptation steps (same episodes and updates per step for every method), adapting the latent "
           "logits only (dashed) or all parameters (solid); mean and 95% CI over independent trainings.")

TRAIN = (3, 6, 9)
HELD_OUT = 12
SINGLE = 9
"""The single-game baseline's training population (the training population nearest the held-out one)."""
METHODS = ("MRA", "unimodal", "single-game")
ARMS = (("MRA", "latent"), ("MRA", "all"), ("unimodal", "all"), ("single-game", "latent"), ("single-game", "all"))


@dataclass(frozen=True)
class Config:
    size: int = 4
    """Grid side."""
    horizon: int = 6
    """Episode length T."""
    latent_size: int = 6
    hidden: int = 32
    iterations: int = 120
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
    adapt_steps: tuple = (0, 1, 3, 10)
    adapt_episodes: int = 8
    """Episodes per adaptation step and replica (every method)."""
    adapt_updates: int = 2
    adapt_batch: int = 32
    latent_lr: float = 0.3
    """Adam step size on the latent logits."""


CONFIGS = {"smoke": Config(size=3, horizon=3, hidden=8, iterations=3, episodes=2, batch=8, replicas=2,
                           eval_episodes=4, adapt_steps=(0, 1, 2), adapt_episodes=2, adapt_batch=8),
           "quick": Config(),
           "full": Config(size=5, horizon=20, hidden=64, iterations=2000, episodes=16, updates=4, batch=256,
                          replicas=8, eval_episodes=256, adapt_steps=(0, 1, 3, 10, 30, 100), adapt_episodes=32,
                          adapt_updates=4, adapt_batch=256)}
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

    def returns(model, n, s):
        return mra_sac.episode_returns(model, n, config.eval_episodes, seed=s).mean((1, 2)).cpu().numpy()

    train = mra_sac.train_latent_sac
    models = {"MRA": train(TRAIN, _sac(config, config.latent_size, len(TRAIN)), game, R, seed=seed, device=device),
              "unimodal": train(TRAIN, _sac(config, 1, len(TRAIN)), game, R, seed=seed + 1, device=device),
              "single-game": train((SINGLE,), _sac(config, config.latent_size, 1), game, R, seed=seed + 2,
                                   device=device)}
    for method, model in models.items():
        rows.append(dict(panel="budget", method=method, env_steps=model.env_steps))
        for n in TRAIN + (HELD_OUT,):
            for r, v in enumerate(returns(model, n, seed + 100 + n)):
                rows.append(dict(panel="population", method=method, n=n, held_out=n == HELD_OUT,
                                 trained_on=n in model.populations, replica=r, policy_return=float(v)))
    for method in ("MRA", "single-game"):  # the return of every pure latent at n = 12 (what latents can reach)
        model = models[method]
        for z in range(config.latent_size):
            logits = torch.full((R, config.latent_size), -math.inf, device=model.device)
            logits[:, z] = 0.0
            pure = dataclasses.replace(model, encoder=mra_sac.LatentTable(logits))
            for r, v in enumerate(returns(pure, HELD_OUT, seed + 100 + HELD_OUT)):
                rows.append(dict(panel="latent", method=method, n=HELD_OUT, z=z, replica=r, policy_return=float(v)))
    for method, mode in ARMS:
        path = mra_sac.adapt_path(models[method], HELD_OUT, config.adapt_steps, params=mode,
                                  episodes=config.adapt_episodes, updates=config.adapt_updates,
                                  batch=config.adapt_batch, latent_lr=config.latent_lr, seed=seed + 200)
        for k, model in zip(config.adapt_steps, path):
            for r, v in enumerate(returns(model, HELD_OUT, seed + 100 + HELD_OUT)):
                rows.append(dict(panel="adapt", method=method, params=mode, n=HELD_OUT, k=k, replica=r,
                                 env_steps=model.env_steps, policy_return=float(v)))
    return pd.DataFrame(rows)


def _ret(frame, method, mode=None, k=None, ns=None):
    """Per-replica mean return (sorted by replica) of one method: an adaptation arm at step ``k``, or the
    zero-shot return averaged over the populations ``ns``."""
    if mode is None:
        e = frame[(frame.panel == "population") & (frame.method == method) & frame.n.isin(ns)]
    else:
        e = frame[(frame.panel == "adapt") & (frame.method == method) & (frame["params"] == mode)
                  & (frame.k == k)]
    return e.groupby("replica").policy_return.mean().sort_index().to_numpy()


CAUSE_SLOW = ("MRA trains slower and less reliably than the unimodal policy at this budget (training-games claim, "
              "one of 4 trainings trails on every n), and its deficit on n = 12 is that deficit; 4 replicas give "
              "+-0.5 per agent and episode")
CAUSE_SINGLE = ("the single-game baseline trains on n = 9, next to the held-out 12, with 3x MRA's episodes on "
                "that game (the paper notes MRA uses |M| times fewer episodes per game), and MRA trains slower "
                "at this budget (training-games claim); 4 replicas")
CAUSE_LATENT = ("the latents do not matter at n = 12 (measurement: best - worst fixed latent about 0.05 per agent and "
                "episode; 10 latent-only steps change MRA's return by about 0.0003), so latent-only adaptation keeps "
                "MRA's zero-shot deficit from its slower training")
CAUSE_ALL = ("10 all-parameter steps of 8 episodes add about 0.1 to every method alike, so MRA's zero-shot deficit "
             "from its slower training persists; 4 replicas give +-0.5 per agent and episode")
CAUSE_NOOP = ("the latents do not matter at n = 12 (measurement: best - worst fixed latent about 0.05 per agent and "
              "episode), so latent-only steps cannot change the return; the difference is 0 within 0.01")
CAUSE_TRAIN = ("MRA's latent-conditioned network trains slower than the unimodal one at 120 iterations, and not "
               "because of the information terms (with the MI bonus and identification off its training return is "
               "the same); one of its 4 trainings trails on every n; 4 replicas give +-0.8")


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    ref = "docs/experiments.md#mra_grid"
    K = max(config.adapt_steps)
    pair = "paired by replica index (independent trainings); "
    out = []
    zero = {m: _ret(frame, m, "all", 0) for m in METHODS}
    for other in ("unimodal", "single-game"):
        out.append(Claim.at_least(f"held-out n = 12, zero-shot (k = 0): MRA return - {other} return",
                                  mean_ci(zero["MRA"] - zero[other]), 0.0, reconstructed=True,
                                  description=pair + ref,
                                  cause=CAUSE_SLOW if other == "unimodal" else CAUSE_SINGLE))
    mra_lat = _ret(frame, "MRA", "latent", K)
    mra_all = _ret(frame, "MRA", "all", K)
    for other in ("unimodal", "single-game"):
        oth = _ret(frame, other, "all", K)
        out.append(Claim.at_least(f"held-out n = 12, k = {K}: MRA (latent only) return - {other} (all parameters) "
                                  "return", mean_ci(mra_lat - oth), 0.0, reconstructed=True,
                                  description=pair + ref, cause=CAUSE_LATENT))
        out.append(Claim.at_least(f"held-out n = 12, k = {K}: MRA (all parameters) return - {other} (all "
                                  "parameters) return", mean_ci(mra_all - oth), 0.0, reconstructed=True,
                                  description=pair + ref, cause=CAUSE_ALL))
    out.append(Claim.at_least(f"held-out n = 12: MRA's return after k = {K} latent-only steps - zero-shot",
                              mean_ci(mra_lat - zero["MRA"]), 0.0, reconstructed=True, description=pair + ref,
                              cause=CAUSE_NOOP))
    d = _ret(frame, "MRA", ns=TRAIN) - _ret(frame, "unimodal", ns=TRAIN)
    out.append(Claim.at_least("training n = 3, 6, 9: MRA return - unimodal return (mean over n)", mean_ci(d), 0.0,
                              reconstructed=True, description=pair + ref, cause=CAUSE_TRAIN))
    return out


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    out = []
    p = frame[frame.panel == "population"]
    for (method, n), sub in p.groupby(["method", "n"], sort=False):
        out.append(Measurement.of(f"{method}, n = {int(n)}, zero-shot: return per agent and episode",
                                  mean_ci(sub.policy_return)))
    a = frame[(frame.panel == "adapt") & (frame.k > 0)]
    for (method, mode, k), sub in a.groupby(["method", "params", "k"], sort=False):
        out.append(Measurement.of(f"{method} ({mode}), n = 12, k = {int(k)}: return per agent and episode",
                                  mean_ci(sub.policy_return)))
    lat = frame[frame.panel == "latent"]
    for method, sub in lat.groupby("method", sort=False):
        best = sub.groupby("replica").policy_return.max().sort_index().to_numpy()
        worst = sub.groupby("replica").policy_return.min().sort_index().to_numpy()
        zero = _ret(frame, method, "all", 0)
        out.append(Measurement.of(f"{method}, n = 12: best pure latent's return - zero-shot return",
                                  mean_ci(best - zero),
                                  "the most that latent-only adaptation could gain by concentrating p(z | 12) on one "
                                  "latent"))
        out.append(Measurement.of(f"{method}, n = 12: best - worst pure latent's return", mean_ci(best - worst),
                                  "how much the latent changes the return at n = 12"))
    b = frame[frame.panel == "budget"]
    for _, row in b.iterrows():
        out.append(Measurement.of(f"{row.method}: training environment steps (all replicas)", float(row.env_steps)))
    return out


def _band(ax, x, groups, col, **kw):
    cis = [mean_ci(g[col]) for g in groups]
    m = np.array([c.estimate for c in cis])
    lo = np.array([c.estimate - c.low if np.isfinite(c.low) else 0.0 for c in cis])
    hi = np.array([c.high - c.estimate if np.isfinite(c.high) else 0.0 for c in cis])
    ax.errorbar(x, m, yerr=[lo, hi], capsize=3, **kw)


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.3))
    p = frame[frame.panel == "population"]
    ns = sorted(p.n.unique())
    for j, method in enumerate(METHODS):
        sub = p[p.method == method]
        if not sub.empty:
            _band(axes[0], np.array(ns) + 0.15 * (j - 1), [sub[sub.n == n] for n in ns], "policy_return",
                  fmt="o-", color=f"C{j}", label=method)
    axes[0].axvspan(HELD_OUT - 1.0, HELD_OUT + 1.0, color="0.9", zorder=0)
    axes[0].set_xticks(ns)
    axes[0].set_xlabel("population n (12 held out)")
    axes[0].set_ylabel("return per agent and episode")
    axes[0].set_title("(a) zero-shot return")
    axes[0].legend(fontsize=7)
    a = frame[frame.panel == "adapt"]
    ks = sorted(a.k.unique())
    for j, method in enumerate(METHODS):
        for mode, ls in (("all", "-"), ("latent", "--")):
            sub = a[(a.method == method) & (a["params"] == mode)]
            if sub.empty:
                continue
            x = np.arange(len(ks)) + 0.06 * (j - 1) + (0.03 if mode == "latent" else 0.0)
            _band(axes[1], x, [sub[sub.k == k] for k in ks], "policy_return", fmt="o", ls=ls, color=f"C{j}",
                  label=f"{method} ({mode})")
    axes[1].set_xticks(np.arange(len(ks)))
    axes[1].set_xticklabels([str(int(k)) for k in ks])
    axes[1].set_xlabel("adaptation steps k on n = 12")
    axes[1].set_ylabel("return per agent and episode")
    axes[1].set_title("(b) held-out n = 12 after k steps")
    axes[1].legend(fontsize=6)
    return fig
