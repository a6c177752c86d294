r"""Planning sanity: value-iteration contraction and simulator Monte Carlo against exact values.

Two checks that every other system relies on.

1. **Contraction.** For :math:`V_{k+1} = \mathcal T V_k` from :math:`V_0 = 0`,
   :math:`\|V_k - V^*\|_\infty \le \gamma^k \|V_0 - V^*\|_\infty` (Banach). We record the error against
   :math:`V^*` from policy iteration (an independent exact solver) and the bound, and claim that the
   ratio error/bound never exceeds 1 and that the fitted per-iteration rate does not exceed γ.
2. **Simulation.** The torch-batched simulator's discounted Monte-Carlo returns of a policy must agree
   with :math:`\mu^\top V^\pi` computed by a linear solve: the 95% confidence intervals should cover
   the exact value about 95% of the time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from experiments.claims import Claim
from experiments.fits import N_NOT_CONVERGED, not_converged, with_fit_counts
from mdp.batched import BatchedTabularMDP
from mdp.generators import garnet, gridworld, river_swim
from mdp.planning import policy_evaluation, policy_iteration, value_iteration
from theory.rates import Interval, mean_ci

TITLE = "Value iteration contracts at rate γ; the batched simulator is unbiased"
CAPTION = ("Left: sup-norm error of value iteration against the exact optimum (thin lines, one per "
           "Garnet instance) and the γ^k contraction bound (thick, light). Right: Monte-Carlo returns of the "
           "torch-batched simulator minus exact policy values, with 95% confidence intervals.")


@dataclass(frozen=True)
class Config:
    states: int = 30
    """Garnet state count."""
    actions: int = 4
    """Garnet action count."""
    branching: int = 5
    """Next states per (s, a)."""
    gammas: tuple = (0.5, 0.9, 0.99)
    """Discount factors of the VI panel."""
    vi_iterations: int = 300
    """Value-iteration sweeps recorded."""
    instances: int = 3
    """Garnet instances per seed (MC panel also uses RiverSwim and a gridworld)."""
    episodes: int = 4096
    """Simulated episodes per (instance, policy) — the batch size B."""
    mc_gamma: float = 0.9
    """Discount of the Monte-Carlo panel."""


CONFIGS = {
    "smoke": Config(states=10, gammas=(0.5, 0.9), vi_iterations=60, instances=1, episodes=512),
    "quick": Config(),
    "full": Config(states=200, branching=10, vi_iterations=1000, instances=10, episodes=65536),
}


def _mc_models(config: Config, rng: np.random.Generator):
    models = [(f"garnet{i}", garnet(config.states, config.actions, config.branching, config.mc_gamma,
                                    seed=rng)) for i in range(config.instances)]
    models.append(("riverswim", river_swim(6, gamma=config.mc_gamma)))
    models.append(("gridworld", gridworld(4, 4, walls=[(1, 1)], pits=[(2, 2)], gamma=config.mc_gamma)))
    return models


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(config.instances):
        for g in config.gammas:
            m = garnet(config.states, config.actions, config.branching, g, seed=rng)
            v_star = policy_iteration(m).V
            err0 = float(np.max(np.abs(v_star)))
            floor = 1e-13 * max(1.0, err0)
            curve = [dict(panel="vi", instance=f"garnet{i}", gamma=g, k=0, error=err0, bound=err0)]

            def record(k, V, step, g=g, err0=err0, floor=floor, curve=curve, i=i):
                # the solver's own loop (value_iteration) with a callback; rows until the error floor
                if curve[-1]["error"] >= floor:
                    curve.append(dict(panel="vi", instance=f"garnet{i}", gamma=g, k=k,
                                      error=float(np.max(np.abs(V - v_star))), bound=g ** k * err0))

            if err0 >= floor:  # a fixed budget, not a solve: a run that stops on it is counted in its rows
                vi = value_iteration(m, tol=floor * (1 - g) / max(g, 1e-12), max_iter=config.vi_iterations,
                                     callback=record)
                for row in curve:
                    row[N_NOT_CONVERGED] = not_converged(vi)
            rows += curve
    gen = torch.Generator(device=device).manual_seed(seed)
    for name, m in _mc_models(config, rng):
        opt = policy_iteration(m).policy
        uniform = np.full((m.S, m.A), 1.0 / m.A)
        # truncate where the discounted tail is below 1e-6 of the reward scale
        rmax = float(np.max(np.abs(m.R))) or 1.0
        horizon = int(np.ceil(np.log(1e-6 * (1 - m.gamma) / rmax) / np.log(m.gamma)))
        for pname, pi in (("optimal", opt), ("uniform", uniform)):
            sim = BatchedTabularMDP(m, config.episodes, device=device, generator=gen, dtype=torch.float64)
            ret = sim.estimate_return(pi, horizon).cpu().numpy()
            exact = float(m.mu @ policy_evaluation(m, pi))
            rows.append(dict(panel="mc", instance=name, gamma=m.gamma, policy=pname,
                             mc_mean=float(ret.mean()), mc_se=float(ret.std(ddof=1) / np.sqrt(ret.size)),
                             exact=exact, episodes=config.episodes, horizon=horizon))
    return with_fit_counts(rows)


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    vi = frame[frame.panel == "vi"]
    out = []
    vi1 = vi[vi.k >= 1]
    ratio = (vi1.error / vi1.bound.where(vi1.bound > 0)).dropna()
    r = float(ratio.max())
    out.append(Claim.at_most("vi_error_over_contraction_bound", Interval.point(r), 1.0, slack=1e-9, theorem=True,
                             description="max_{k>=1} ||V_k - V*|| / (gamma^k ||V_0 - V*||) over all instances and "
                             "gammas (the contraction bound; slack: floating-point round-off)"))
    for g, grp in vi.groupby("gamma"):
        rates = []
        for _, curve in grp.groupby(["seed", "instance"]):
            c = curve[(curve.error > 1e-10 * curve.error.iloc[0]) & (curve.k > 0)]
            if len(c) >= 3:
                rates.append(float(np.exp(np.polyfit(c.k, np.log(c.error), 1)[0])))
        if rates:
            out.append(Claim.at_most(f"vi_rate_gamma_{g:g}", mean_ci(rates), g,
                                     description=f"fitted per-iteration error factor at gamma={g:g} (<= gamma)"))
    mc = frame[frame.panel == "mc"]
    z = (mc.mc_mean - mc.exact) / mc.mc_se
    covered = int((z.abs() <= 1.96).sum())
    n_full = math.ceil(0.95 * 1.96 ** 2 / 0.05)  # smallest n with a Wilson lower limit of n/n above 0.95
    out.append(Claim.at_least("mc_ci_coverage", Interval.proportion(covered, len(z)), 0.95,
                              cause=f"sample: {covered} of {len(z)} intervals cover the exact value; a Wilson "
                              f"interval over {len(z)} cannot exclude coverage below 0.95 (even {n_full} of "
                              f"{n_full} would be needed)" if len(z) < n_full else "",
                              description="fraction of 95% Monte-Carlo intervals that cover the exact value "
                              "(Wilson interval; valid intervals cover at least 95%)"))
    zi = mean_ci(z)
    out.append(Claim.within("mc_mean_z", zi, 0.0, 0.0,
                            cause=f"a point null can only be refuted, never supported: the interval "
                            f"[{zi.low:.3g}, {zi.high:.3g}] contains 0" if zi.low <= 0 <= zi.high else "",
                            description="mean z-score of Monte-Carlo minus exact (unbiased: 0; a point null can "
                            "only be contradicted or inconclusive)"))
    return out


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    vi = frame[frame.panel == "vi"]
    for j, (g, grp) in enumerate(vi.groupby("gamma")):
        color = f"C{j}"
        first = grp[(grp.seed == grp.seed.min()) & (grp.instance == grp.instance.min())]
        ax1.semilogy(first.k, first.bound, color=color, lw=4, alpha=0.3, label=f"γ={g:g}: bound γ^k‖V*‖")
        for _, curve in grp.groupby(["seed", "instance"]):
            ax1.semilogy(curve.k, curve.error, color=color, lw=0.8)
    ax1.plot([], [], color="gray", lw=0.8, label="VI error (each instance)")
    ax1.set_xlabel("iteration k")
    ax1.set_ylabel(r"$\|V_k - V^*\|_\infty$")
    ax1.set_ylim(bottom=1e-12)
    ax1.legend(fontsize=7)
    ax1.set_title("Value iteration vs contraction bound")
    mc = frame[frame.panel == "mc"].reset_index(drop=True)
    diff = mc.mc_mean - mc.exact
    labels = [f"{r.instance}/{r.policy}" for r in mc.itertuples()]
    x = np.arange(len(mc))
    for pol, color in (("optimal", "C0"), ("uniform", "C1")):
        sel = (mc.policy == pol).to_numpy()
        ax2.errorbar(x[sel], diff[sel], yerr=1.96 * mc.mc_se[sel], fmt="o", ms=3, color=color, capsize=2,
                     label=f"{pol} policy")
    ax2.axhline(0.0, color="k", lw=1, ls="--")
    ax2.set_xticks(x, labels, rotation=75, fontsize=6)
    ax2.set_ylabel("MC estimate − exact value")
    ax2.set_title(f"Batched simulator vs exact ({int(mc.episodes.iloc[0])} episodes, 95% CI)")
    ax2.legend(fontsize=7)
    return fig
