r"""A3, A4: Nash convergence of behavioural MMD against CFR and CFR+ on Kuhn and Leduc.

Design record: ``docs/experiments.md#update_equivalence_nash``.

The games come from ``Config.games`` (any zero-sum form of :data:`games.GAME_FORMS`, e.g.
``"openspiel:liars_dice"``); the pipeline sets them from its ``games`` config key. Games other than Kuhn and
Leduc use the Leduc iteration budget and the annealing schedule :math:`\alpha_0 = \eta_0 = 1`.

Behavioural MMD (last iterate) with the MMD paper's two Nash schedules — annealing
(:math:`\alpha_t=\alpha_0/\sqrt t`, :math:`\eta_t=\eta_0/\sqrt t`; Kuhn 1/1, Leduc 5/1) and a moving magnet
(:math:`\alpha=1,\eta=0.1,\gamma_m=0.05`) — against CFR and CFR+ (average strategy; simultaneous as in the
reference values, and alternating CFR+). Exploitability is NashConv/2, exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.core import Claim, ConfigError, Measurement
from games import cfr, check_game_spec, load_game, mmd
from theory.rates import Interval, loglog_slope

TITLE = "Nash convergence: MMD against CFR and CFR+ (Kuhn, Leduc)"
CAPTION = ("Exact exploitability against iterations: behavioural MMD last iterate (annealing and moving-magnet "
           "schedules of the MMD paper) and the average strategies of CFR and CFR+ (simultaneous updates; "
           "CFR+ also alternating).")

GAMES_FROM_CONFIG = True
"""``Config.games`` follows the pipeline's ``games`` config key (see ``experiments.core.GAMES_ENV``)."""
ANNEAL = {"kuhn_poker": (1.0, 1.0), "leduc_poker": (5.0, 1.0)}
"""(alpha_0, eta_0) of the annealing schedule per game (the MMD paper's values; (1, 1) for other games)."""
# Exploitability at t = 1000 from an independent re-implementation of the MMD paper's experiments, given to
# 3 significant digits (tolerance: half a unit of the third digit).
REFERENCE_AT_1000 = {("kuhn_poker", "MMD annealing"): 0.00506, ("kuhn_poker", "MMD moving magnet"): 0.00366,
                     ("kuhn_poker", "CFR (simultaneous)"): 0.00727, ("kuhn_poker", "CFR+ (simultaneous)"): 0.00283,
                     ("leduc_poker", "MMD annealing"): 0.0669}
# The same re-implementation's Leduc values that we dispute, with our evidence. Regret matching is discontinuous
# where a regret is exactly 0, so round-off flips ties and CFR runs of different implementations separate slowly.
DISPUTED_AT_1000 = {("leduc_poker", "MMD moving magnet"): 0.0847, ("leduc_poker", "CFR (simultaneous)"): 0.0398,
                    ("leduc_poker", "CFR+ (simultaneous)"): 0.00686}
DISPUTE_EVIDENCE = {
    "MMD moving magnet": "the same schedule matches the re-implementation on Kuhn to 3 digits (0.00366); the Leduc "
                         "difference is not identified",
    "CFR (simultaneous)": "OpenSpiel's Python CFR with simultaneous updates gives 0.0398 at t = 1000, and ours agrees "
                          "with it to 7e-10 at t = 10 and 3e-7 at t = 100: the runs separate later through "
                          "round-off at regret-matching ties, so the t = 1000 value is not reproducible to 3 digits",
    "CFR+ (simultaneous)": "OpenSpiel's Python CFR+ with simultaneous updates and linear averaging gives 0.00689 "
                           "at t = 1000, and ours agrees with it to 4e-10 at t = 100: the runs separate later "
                           "through round-off at regret-matching ties, so the t = 1000 value is not reproducible "
                           "to 3 digits",
}


def _sig3_tolerance(ref: float) -> float:
    """Half a unit in the third significant digit of ``ref`` (the rounding of a 3-digit value)."""
    return 0.5 * 10.0 ** (np.floor(np.log10(abs(ref))) - 2)


@dataclass(frozen=True)
class Config:
    kuhn_iterations: int = 10_000
    """Iterations on Kuhn."""
    leduc_iterations: int = 1_000
    """Iterations on Leduc and on every game other than Kuhn."""
    games: tuple = ("kuhn_poker", "leduc_poker")
    """Zero-sum games (forms of ``games.GAME_FORMS``); the pipeline's ``games`` config key sets them."""

    def __post_init__(self):
        object.__setattr__(self, "games", tuple(check_game_spec(g, zero_sum=True) for g in self.games))


CONFIGS = {"smoke": Config(kuhn_iterations=100, leduc_iterations=20), "quick": Config(),
           "full": Config(kuhn_iterations=100_000, leduc_iterations=100_000)}
SEEDS = {"smoke": 1, "quick": 1, "full": 1}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    rows = []
    for name in config.games:
        g = load_game(name)
        if not g.zero_sum:
            raise ConfigError(f"update_equivalence_nash needs zero-sum games; {name!r} is not (games={config.games})")
        n = config.kuhn_iterations if name == "kuhn_poker" else config.leduc_iterations
        pts = np.unique(np.concatenate([np.geomspace(1, n, 40).round(), [p for p in (1000,) if p <= n]]).astype(int))
        a0, e0 = ANNEAL.get(name, (1.0, 1.0))
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


def _at(frame, game, method, t):
    sub = frame[(frame.game == game) & (frame.method == method) & (frame.iteration == t)]
    return None if sub.empty else float(sub.exploitability.iloc[0])


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    """Exact, deterministic exploitabilities: point claims. References at t = 1000 are equalities within the
    rounding of their 3 significant digits; the three disputed Leduc references are reported as claims too."""
    out = []
    for (game, method), ref in REFERENCE_AT_1000.items():
        v = _at(frame, game, method, 1000)
        if v is not None:
            out.append(Claim.equals(f"{game}: {method} exploitability at t = 1000", v, ref, _sig3_tolerance(ref),
                                    description="exact exploitability against an independent re-implementation's "
                                    "value (3 significant digits)"))
    for (game, method), ref in DISPUTED_AT_1000.items():
        v = _at(frame, game, method, 1000)
        if v is not None:
            out.append(Claim.equals(f"{game}: {method} exploitability at t = 1000", v, ref, _sig3_tolerance(ref),
                                    description="reference disputed: an independent re-implementation reports "
                                    f"{ref:g}, we measure {v:.3g}; {DISPUTE_EVIDENCE[method]}"))
    k = frame[(frame.game == "kuhn_poker") & (frame.method == "MMD moving magnet")]
    if len(k) and k.iteration.max() >= 10_000:
        v = float(k[k.iteration == k.iteration.max()].exploitability.iloc[0])
        out.append(Claim.at_most("kuhn_poker: MMD moving magnet last iterate at t >= 10,000", Interval.point(v), 0.0,
                                 slack=1e-6, description="last-iterate convergence to a Nash equilibrium "
                                 "(exploitability 0); slack 1e-6 for a finite run (a re-implementation reports "
                                 "3.8e-11 at t = 10,000)"))
    c = frame[(frame.game == "kuhn_poker") & (frame.method == "CFR (simultaneous)") & (frame.iteration >= 10)]
    if len(c) >= 3:
        slope = loglog_slope(c.iteration.to_numpy(float), c.exploitability.to_numpy(float))
        out.append(Claim.at_most("kuhn_poker: CFR average exploitability log-log slope", Interval.point(slope), -0.5,
                                 description="the O(1/sqrt T) guarantee: a slope of at most -1/2 (deterministic run, "
                                 "least-squares slope over t >= 10)"))
    return out


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    out = []
    for (game, method), sub in frame.groupby(["game", "method"], sort=False):
        last = sub[sub.iteration == sub.iteration.max()]
        out.append(Measurement.of(f"{game}: {method} exploitability at t = {int(last.iteration.iloc[0])}",
                                  float(last.exploitability.iloc[0])))
    return out


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    games = list(dict.fromkeys(frame.game))
    fig, axes = plt.subplots(1, len(games), figsize=(5 * len(games), 3.6), squeeze=False)
    for ax, (game, sub) in zip(axes[0], frame.groupby("game", sort=False)):
        for j, (method, s) in enumerate(sub.groupby("method", sort=False)):
            ax.loglog(s.iteration, np.maximum(s.exploitability, 1e-16), label=method, color=f"C{j}",
                      ls="-" if method.startswith("MMD") else "--")
        ax.set_title(game.replace("_", " "))
        ax.set_xlabel("iteration")
        ax.set_ylabel("exploitability (NashConv / 2)")
        ax.legend(fontsize=7)
    return fig
