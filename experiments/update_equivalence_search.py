r"""A7 (docs/experiments.md#update_equivalence_search): decision-time search from a blueprint in tiny Hanabi A–F.

Every player searches with the same blueprint and exact beliefs (Algorithm 1 with ``particles=None``), so
the joint played policy is the local update applied at every information state. Compared: the
blueprint, mirror-descent search (:math:`\eta = 1/\mathrm{range}`), the argmax of the MD update (what the
paper's Hanabi agent plays), both players greedy (policy-iteration update), only player 2 greedy
(single-agent, SPARTA-like), and the optimum. Blueprints: uniform, and a "trained" one (5 global MD steps
from uniform with :math:`\eta = 1/\mathrm{range}`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.claims import Claim, Measurement
from games import TabularPolicy, expected_return, md_search, search, tiny_hanabi, uniform_policy
from theory.rates import Interval

TITLE = "Mirror-descent search improves every blueprint; greedy search can hurt (tiny Hanabi)"
CAPTION = ("Expected return relative to the optimum for the blueprint and five search variants (exact beliefs, "
           "every player searching). Game C: greedy or argmax search lowers the uniform blueprint's 1.5 to 1.25, "
           "mirror-descent search raises it to 1.604.")
METHODS = ("blueprint", "MD search", "argmax of MD", "joint greedy", "P2 greedy only", "optimum")


@dataclass(frozen=True)
class Config:
    games: tuple = ("A", "B", "C", "D", "E", "F")
    """Tiny Hanabi games."""
    trained_steps: int = 5
    """Global MD steps that produce the 'trained' blueprint."""


CONFIGS = {"smoke": Config(games=("A", "C")), "quick": Config(), "full": Config(trained_steps=20)}
SEEDS = {"smoke": 1, "quick": 1, "full": 1}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    rows = []
    for name in config.games:
        g = tiny_hanabi(name)
        eta = 1.0 / float(np.ptp(g.payoffs))
        u = uniform_policy(g)
        trained = u
        for _ in range(config.trained_steps):
            trained = md_search(g, trained, eta)
        for bname, blue in (("uniform", u), ("trained", trained)):
            md = md_search(g, blue, eta)
            arg = TabularPolicy(g, tuple(np.where(np.arange(g.num_actions)[None, :] == p.argmax(1)[:, None], 1.0, 0.0)
                                         for p in md.probs))
            vals = {"blueprint": expected_return(g, blue)[0], "MD search": expected_return(g, md)[0],
                    "argmax of MD": expected_return(g, arg)[0],
                    "joint greedy": expected_return(g, search(g, blue, "greedy"))[0],
                    "P2 greedy only": expected_return(g, search(g, blue, "greedy", players=(1,)))[0],
                    "optimum": g.optimal_value()}
            for m, v in vals.items():
                rows.append(dict(game=name, blueprint=bname, method=m, value=float(v), optimum=g.optimal_value()))
    return pd.DataFrame(rows)


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    piv = frame.pivot_table(index=["game", "blueprint"], columns="method", values="value")
    gain = (piv["MD search"] - piv["blueprint"]).min()
    out = [Claim.at_least("min over games and blueprints of J(MD search) - J(blueprint)", Interval.point(gain), 0.0,
                          slack=1e-12, description="MD search with eta = 1/range never lowers the return (Theorem 1 "
                          "applied to search; its 'small enough' step read as 1/range); exact returns, slack = "
                          "float64 round-off", reconstructed=True)]
    if ("C", "uniform") in piv.index:
        c = piv.loc[("C", "uniform")]
        # exact values: the uniform blueprint's 1.5 and the deterministic policies' 1.25 are multiples of 1/4
        # (tolerance 1e-9 = round-off); 1.6037 is an independent re-implementation's 4-decimal value.
        for m, ref, tol in (("blueprint", 1.5, 1e-9), ("MD search", 1.6037, 5e-5), ("joint greedy", 1.25, 1e-9),
                            ("argmax of MD", 1.25, 1e-9)):
            out.append(Claim.equals(f"game C, uniform blueprint: {m}", float(c[m]), ref, tol,
                                    description="exact expected return against the published/independent value",
                                    theorem=m == "blueprint", reconstructed=m != "blueprint"))
    worse = int((piv["joint greedy"] < piv["blueprint"] - 1e-12).sum())
    out.append(Claim.at_least("number of (game, blueprint) cases where joint greedy search lowers the return",
                              Interval.point(worse), 1, description="greedy (policy-iteration) updates are unsound in "
                              f"common-payoff games: at least one of {len(piv)} cases"))
    return out


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    piv = frame.pivot_table(index=["game", "blueprint"], columns="method", values="value")
    rel = (piv["MD search"] - piv["blueprint"]) / (piv["optimum"] - piv["blueprint"]).where(
        piv["optimum"] > piv["blueprint"])
    return [Measurement.of("mean share of the blueprint-to-optimum gap closed by MD search",
                           float(rel.mean()), f"over {int(rel.notna().sum())} (game, blueprint) cases")]


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, (bname, sub) in zip(axes, frame.groupby("blueprint", sort=False)):
        games = list(dict.fromkeys(sub.game))
        w = 0.8 / len(METHODS)
        for j, m in enumerate(METHODS):
            s = sub[sub.method == m].set_index("game").loc[games]
            ax.bar(np.arange(len(games)) + (j - len(METHODS) / 2 + 0.5) * w, s.value / s.optimum, w, label=m,
                   color=f"C{j}")
        ax.set_xticks(range(len(games)), games)
        ax.set_xlabel("tiny Hanabi game")
        ax.set_title(f"{bname} blueprint")
        ax.set_ylim(0, 1.05)
    axes[0].set_ylabel("expected return / optimum")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
