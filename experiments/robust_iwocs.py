r"""IWOCS on rectangular balls and on the windy walk (paper notes IW-1, IW-2).

Panel (a): Garnet MDPs with L1 and KL balls — IWOCS's certified bracket :math:`L_i \le V^*_{\mathcal T}(\mu)
\le U_i` against the robust value from robust value iteration (an independent method), per iteration.
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
from mdp.robust import KLBall, L1Ball, iwocs, robust_value_iteration
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
    instances: int = 4
    """Garnet instances per job."""
    l1_radius: float = 0.5
    """L1 radius."""
    kl_radius: float = 0.1
    """KL radius."""
    gamma: float = 0.9
    """Discount."""


CONFIGS = {
    "smoke": Config(S=8, A=2, instances=1),
    "quick": Config(),
    "full": Config(S=100, A=10, instances=20),
}
SEEDS = {"smoke": 1, "quick": 2, "full": 5}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(config.instances):
        m = garnet(config.S, config.A, config.S, config.gamma, seed=rng, dirichlet=0.5)
        for name, U in (("L1", L1Ball(m.P, config.l1_radius)), ("KL", KLBall(m.P, config.kl_radius))):
            v_star = robust_value_iteration(m, U, tol=1e-9).value
            r = iwocs(m, U, eps=1e-7)
            for h in r.history:
                rows.append(dict(panel="garnet", set=name, instance=i, iteration=h["iteration"], lower=h["lower"],
                                 upper=h["upper"], v_star=v_star, backups=h["backups"], converged=r.converged,
                                 iterations=r.iterations))
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
    last = g.groupby(["seed", "instance", "set"]).iterations.max().to_numpy(float)
    out.append(Claim.in_range("IWOCS iterations to a 1e-7 bracket (Garnet, L1 and KL)", mean_ci(last), 1, 5,
                              "mean number of static solves (paper notes: about 2 on L1)", theory="~2"))
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
        for _, run_ in sub.groupby(["seed", "instance"]):
            ax.plot(run_.iteration, run_.upper - run_.v_star, "-o", ms=3, color=f"C{j}", alpha=0.6)
            ax.plot(run_.iteration, run_.lower - run_.v_star, "--s", ms=3, color=f"C{j}", alpha=0.6)
        ax.plot([], [], "-o", color=f"C{j}", label=f"{name}: U_i − V*")
        ax.plot([], [], "--s", color=f"C{j}", label=f"{name}: L_i − V*")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_yscale("symlog", linthresh=1e-6)
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
