r"""A3, A4 (paper notes §1.6): Nash convergence of behavioural MMD against CFR and CFR+ on Kuhn and Leduc.

Behavioural MMD (last iterate) with the MMD paper's two Nash schedules — annealing
(:math:`\alpha_t=\alpha_0/\sqrt t`, :math:`\eta_t=\eta_0/\sqrt t`; Kuhn 1/1, Leduc 5/1) and a moving magnet
(:math:`\alpha=1,\eta=0.1,\gamma_m=0.05`) — against CFR and CFR+ (average strategy; simultaneous as in the
notes' table, and alternating CFR+). Exploitability is NashConv/2, exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.core import Claim
from games import cfr, kuhn_poker, leduc_poker, mmd
from theory.rates import Interval, fit_loglog_slope

TITLE = "Nash convergence: MMD against CFR and CFR+ (Kuhn, Leduc)"
CAPTION = ("Exact exploitability against iterations: behavioural MMD last iterate (annealing and moving-magnet "
           "schedules of the MMD paper) and the average strategies of CFR and CFR+ (simultaneous updates; "
           "CFR+ also alternating).")

GAMES = {"kuhn_poker": kuhn_poker, "leduc_poker": leduc_poker}
ANNEAL = {"kuhn_poker": (1.0, 1.0), "leduc_poker": (5.0, 1.0)}
# paper notes §1.3(b), (c): exploitability at t = 1000. The notes' Leduc values for the moving magnet (0.0847),
# simultaneous CFR (0.0398) and CFR+ (0.00686) are NOT used: we measure 0.0910 / 0.0431 / 0.00656, and our
# alternating CFR matches OpenSpiel's C++ CFRSolver on Leduc to 1e-7 (tests/test_games_openspiel.py), so those
# notes' numbers come from a variant we cannot identify (the paper section reports the discrepancy).
NOTES_AT_1000 = {("kuhn_poker", "MMD annealing"): 0.00506, ("kuhn_poker", "MMD moving magnet"): 0.00366,
                 ("kuhn_poker", "CFR (simultaneous)"): 0.00727, ("kuhn_poker", "CFR+ (simultaneous)"): 0.00283,
                 ("leduc_poker", "MMD annealing"): 0.0669}


@dataclass(frozen=True)
class Config:
    kuhn_iterations: int = 10_000
    """Iterations on Kuhn."""
    leduc_iterations: int = 1_000
    """Iterations on Leduc."""


CONFIGS = {"smoke": Config(kuhn_iterations=100, leduc_iterations=20), "quick": Config(),
           "full": Config(kuhn_iterations=100_000, leduc_iterations=100_000)}
SEEDS = {"smoke": 1, "quick": 1, "full": 1}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    rows = []
    for name, make in GAMES.items():
        g = make()
        n = config.kuhn_iterations if name == "kuhn_poker" else config.leduc_iterations
        pts = np.unique(np.concatenate([np.geomspace(1, n, 40).round(), [p for p in (1000,) if p <= n]]).astype(int))
        a0, e0 = ANNEAL[name]
        runs = {"MMD annealing": (mmd(g, a0, eta=e0, form="behavioural", anneal=True, iterations=n, record_at=pts,
                                      device=device), "last"),
                "MMD moving magnet": (mmd(g, 1.0, eta=0.1, magnet_lr=0.05, form="behavioural", iterations=n,
                                          record_at=pts, device=device), "last"),
                "CFR (simultaneous)": (cfr(g, n, alternating=False, record_at=pts, device=device), "average"),
                "CFR+ (simultaneous)": (cfr(g, n, plus=True, alternating=False, record_at=pts, device=device), "average"),
                "CFR+ (alternating)": (cfr(g, n, plus=True, record_at=pts, device=device), "average")}
        for method, (r, which) in runs.items():
            e = r.record_exploitability if which == "last" else r.record_average_exploitability
            for t, v in zip(r.record_iterations, e[:, 0]):
                rows.append(dict(game=name, method=method, iteration=int(t), exploitability=float(v)))
    return pd.DataFrame(rows)


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    out = []
    for (game, method), ref in NOTES_AT_1000.items():
        sub = frame[(frame.game == game) & (frame.method == method) & (frame.iteration == 1000)]
        if sub.empty:
            continue
        v = float(sub.exploitability.iloc[0])
        out.append(Claim.in_range(f"{game}: {method} exploitability at t = 1000", Interval(v, v, v), 0.97 * ref,
                                  1.03 * ref, "paper notes' independent re-implementation (3 significant digits)",
                                  theory=ref))
    k = frame[(frame.game == "kuhn_poker") & (frame.method == "MMD moving magnet")]
    if k.iteration.max() >= 10_000:
        v = float(k[k.iteration == k.iteration.max()].exploitability.iloc[0])
        out.append(Claim.at_most("kuhn_poker: MMD moving magnet last iterate at t >= 10,000", Interval(v, v, v), 1e-6,
                                 "last-iterate convergence to Nash (notes: 3.8e-11 at 10,000)"))
    c = frame[(frame.game == "kuhn_poker") & (frame.method == "CFR (simultaneous)") & (frame.iteration >= 10)]
    if len(c) >= 3:
        out.append(Claim.in_range("kuhn_poker: CFR average exploitability log-log slope", fit_loglog_slope(
            c.iteration.to_numpy(float), c.exploitability.to_numpy(float)[None, :]), -1.0, -0.5,
            "O(1/sqrt T) guarantee; observed rates are usually faster (between -1/2 and -1)", theory=[-1.0, -0.5]))
    return out


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, (game, sub) in zip(axes, frame.groupby("game", sort=False)):
        for j, (method, s) in enumerate(sub.groupby("method", sort=False)):
            ax.loglog(s.iteration, np.maximum(s.exploitability, 1e-16), label=method, color=f"C{j}",
                      ls="-" if method.startswith("MMD") else "--")
        ax.set_title(game.replace("_", " "))
        ax.set_xlabel("iteration")
        ax.set_ylabel("exploitability (NashConv / 2)")
        ax.legend(fontsize=7)
    return fig
