r"""IWOCS on rectangular balls and on the windy walk (paper notes IW-1, IW-2).

Panel (a): Garnet MDPs (Dirichlet(0.5) rows, gamma in {0.9, 0.95}) with L1 balls (kappa in {0.1, 0.5, 1})
and KL balls (rho in {0.01, 0.1}); the reference robust values of all (instance, radius) pairs come from one
batched torch robust VI (:func:`mdp.robust.batched_robust_value_iteration`), an independent method. IWOCS's
certified bracket :math:`L_i \le V^*_{\mathcal T}(\mu) \le U_i` is checked against it at every iteration.
Panel (b): the reconstructed windy walk — the bracket's width against cumulative Bellman backups for
IWOCS (inner problems by policy iteration) and the error of robust VI against robust backups.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.core import Claim
from mdp.envs.windy_walk import windy_walk, windy_walk_set
from mdp.generators import garnet
from mdp.robust import KLBall, L1Ball, batched_robust_value_iteration, iwocs
from theory.rates import Interval, mean_ci

TITLE = "IWOCS certifies the robust value in a few static solves"
CAPTION = ("Left: IWOCS lower and upper bounds minus the robust value (from robust VI) per iteration on Garnet "
           "MDPs with L1 and KL balls. Right: windy walk (reconstructed layout) — IWOCS bracket width against "
           "Bellman backups and robust VI's error against robust backups.")


@dataclass(frozen=True)
class Config:
    S: int = 30
    """Garnet states."""
    A: int = 4
    """Garnet actions."""
    instances: int = 5
    """Garnet instances per job."""
    l1_radii: tuple = (0.1, 0.5, 1.0)
    """L1 radii (notes IW-1)."""
    kl_radii: tuple = (0.01, 0.1)
    """KL radii (notes IW-1)."""
    gammas: tuple = (0.9, 0.95)
    """Discounts."""


CONFIGS = {
    "smoke": Config(S=8, A=2, instances=1, l1_radii=(0.5,), kl_radii=(0.1,), gammas=(0.9,)),
    "quick": Config(),
    "full": Config(S=100, A=10, instances=20),
}
SEEDS = {"smoke": 1, "quick": 2, "full": 5}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for gamma in config.gammas:
        ms = [garnet(config.S, config.A, config.S, gamma, seed=rng, dirichlet=0.5) for _ in range(config.instances)]
        P = np.stack([m.dense_P() for m in ms])
        R = np.stack([m.R for m in ms])
        for name, cls, radii in (("L1", L1Ball, config.l1_radii), ("KL", KLBall, config.kl_radii)):
            # the reference: robust VI on every (instance, radius) pair in one batched torch program
            rad = np.repeat(np.asarray(radii, dtype=float)[None, :], len(ms), 0).ravel()
            ref = batched_robust_value_iteration(np.repeat(P, len(radii), 0), np.repeat(R, len(radii), 0), gamma,
                                                 rad, kind=name.lower(), tol=1e-9, device=device)
            V_star = ref.V.cpu().numpy()
            for b, radius in enumerate(rad):
                i = b // len(radii)
                m = ms[i]
                v_star = float(m.mu @ V_star[b])
                r = iwocs(m, cls(m.P, radius), eps=1e-7)
                for h in r.history:
                    rows.append(dict(panel="garnet", set=name, radius=radius, gamma=gamma, instance=i,
                                     iteration=h["iteration"], lower=h["lower"], upper=h["upper"], v_star=v_star,
                                     backups=h["backups"], converged=r.converged, iterations=r.iterations,
                                     stalled=bool(r.stalled), oracle_calls=r.oracle_calls))
    m = windy_walk(0.0)
    U = windy_walk_set()
    r = iwocs(m, U, eps=1e-8)
    ref = r.value
    for h in r.history:
        rows.append(dict(panel="windy", set="IWOCS", iteration=h["iteration"], lower=h["lower"], upper=h["upper"],
                         v_star=ref, backups=h["backups"], converged=r.converged, iterations=r.iterations))
    V = np.zeros(m.S)
    for k in range(1, 400):
        w, _ = U.worst_case(V)
        V = (m.R + m.gamma * w).max(1)
        rows.append(dict(panel="windy", set="robust VI", iteration=k, lower=float(m.mu @ V), upper=float(m.mu @ V),
                         v_star=ref, backups=k, converged=True, iterations=k))
    return pd.DataFrame(rows)


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    g = frame[frame.panel == "garnet"]
    tol = 1e-6
    viol = np.maximum(g.lower - g.v_star, g.v_star - g.upper).max()
    out = [Claim.at_most("sandwich violation max(L - V*, V* - U)", Interval(viol, viol, viol), tol,
                         "largest violation of L_i <= V*_robust <= U_i over all iterations and instances")]
    last = g.groupby(["seed", "instance", "set", "radius", "gamma"]).iterations.max().to_numpy(float)
    out.append(Claim.in_range("IWOCS iterations to a 1e-7 bracket (Garnet, L1 and KL)", mean_ci(last), 1, 5,
                              "mean number of static solves (paper notes: about 2 on L1)", theory="~2"))
    stalls = float(g.groupby(["seed", "instance", "set", "radius", "gamma"]).stalled.max().sum())
    out.append(Claim.at_most("IWOCS stalls on rectangular balls (exact search)", Interval(stalls, stalls, stalls), 0.0,
                             "number of runs whose search returned a model already found before the bracket closed"))
    w = frame[(frame.panel == "windy") & (frame.set == "IWOCS")]
    it = float(w.iterations.max())
    out.append(Claim.at_most("windy walk: IWOCS iterations", Interval(it, it, it), 2.0,
                             "iterations to the exact worst-case static model (paper: two)", reconstructed=True))
    return out


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    g = frame[frame.panel == "garnet"]
    for j, (name, sub) in enumerate(g.groupby("set")):
        for _, run_ in sub.groupby(["seed", "instance", "radius", "gamma"]):
            ax.plot(run_.iteration, run_.upper - run_.v_star, "-o", ms=3, color=f"C{j}", alpha=0.6)
            ax.plot(run_.iteration, run_.lower - run_.v_star, "--s", ms=3, color=f"C{j}", alpha=0.6)
        ax.plot([], [], "-o", color=f"C{j}", label=f"{name}: U_i − V*")
        ax.plot([], [], "--s", color=f"C{j}", label=f"{name}: L_i − V*")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_yscale("symlog", linthresh=1e-6)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("IWOCS iteration")
    ax.set_ylabel("bound − robust value")
    ax.set_title("Certified bracket on Garnet MDPs")
    ax.legend(fontsize=7)
    w = frame[frame.panel == "windy"]
    iw = w[w.set == "IWOCS"]
    ax2.semilogy(iw.backups, np.maximum(iw.upper - iw.lower, 1e-12), "o-", label="IWOCS: U − L vs Bellman backups")
    rv = w[w.set == "robust VI"]
    ax2.semilogy(rv.backups, np.maximum(np.abs(rv.lower - rv.v_star), 1e-12), "-",
                 label="robust VI: |V_k − V*| vs robust backups")
    ax2.set_xlabel("backups")
    ax2.set_ylabel("error / bracket width")
    ax2.set_title("Windy walk (reconstructed)")
    ax2.legend(fontsize=7)
    return fig
