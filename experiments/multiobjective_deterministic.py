r"""E3 (multi-objective): C-MORL with a deterministic-policy ε-constraint oracle on deep-sea-treasure.

C-MORL (``mdp.multiobjective.cmorl_solver``, ``solver="oracle"``, ``policy_class="deterministic"``): stage one
solves the scalarised MDPs of the 6-point weight grid (δ = 0.2) exactly by policy iteration (deterministic
optima); each round extends the ``n_select`` most isolated archive points (crowding distance, never the same
point twice) by one ε-constraint step per objective, solved exactly over deterministic stationary policies:
the best feasible point of the set-valued-VI front (White 1982), its policy recovered by tracing the sets
and checked by exact evaluation (:func:`mdp.multiobjective.deterministic_epsilon_constraint`). Thresholds
``ref`` :math:`d_j = z_j + \beta (G_j - z_j)`, reference :math:`z = (0, -25)`, for several β (the paper's
default is 0.9). Linear scalarisation (LS) gets the same number of exact solves on an even weight grid;
its optima are deterministic too, so it can only reach the supported points (the convex-coverage-set
vertices: 2 of the 10 on the concave map). γ = 0.99; the exact deterministic front has 10 points with
hypervolume 1101.384430 (concave) and 360.400946 (convex), from the treasure values and step counts.

Claims: no archive exceeds the deterministic front's hypervolume (theorem); LS finds exactly the supported
points; C-MORL at least matches LS; C-MORL recovers all 10 points (an ``equals`` claim on card(F) per β,
contradicted where the one-shot thresholds stall: an extension whose threshold is looser than the gap to the
next treasure returns the selected point itself, and a point is never selected twice). The run is
deterministic (one job).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.claims import Claim, Measurement
from mdp.envs.deep_sea_treasure import deep_sea_treasure
from mdp.multiobjective import (cmorl, convex_coverage_set, hypervolume, linear_scalarisation,
                                pareto_value_iteration)

TITLE = "C-MORL with a deterministic ε-constraint oracle reaches the concave deep-sea-treasure front"
CAPTION = ("Deterministic policies on deep-sea-treasure (γ = 0.99, reference (0, −25)): number of Pareto points "
           "found (top) and hypervolume (bottom) per extension round of C-MORL with the exact deterministic "
           "ε-constraint oracle, for several threshold coefficients β, against linear scalarisation with the "
           "same number of exact solves (open squares) and the exact deterministic front (dotted). "
           "The run is deterministic.")

REF = np.array([0.0, -25.0])


@dataclass(frozen=True)
class Config:
    rounds: int = 10
    """Extension rounds."""
    n_select: int = 3
    """Archive points extended per round."""
    betas: tuple = (0.9, 0.7, 0.5)
    """Threshold coefficients β of the ``ref`` convention."""
    maps: tuple = ("concave", "convex")
    """Deep-sea-treasure maps."""


CONFIGS = {"smoke": Config(rounds=4, betas=(0.5,), maps=("concave",)),
           "quick": Config(),
           "full": Config(rounds=15, betas=(0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3))}
SEEDS = {"smoke": 1, "quick": 1, "full": 1}


def _found(front, exact) -> int:
    """How many points of ``exact`` appear in ``front`` (to 1e-9 relative)."""
    return int(sum(np.any(np.all(np.isclose(front, p, rtol=1e-9, atol=1e-9), axis=1)) for p in exact))


def _unsupported(exact, ccs):
    """The points of ``exact`` that are not CCS vertices."""
    return np.array([p for p in exact if not np.any(np.all(np.isclose(ccs, p, rtol=1e-9, atol=1e-9), axis=1))])


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    rows = []
    for kind in config.maps:
        m = deep_sea_treasure(kind, 0.99)
        exact = pareto_value_iteration(m).front
        det_hv = hypervolume(exact, REF)
        ccs = convex_coverage_set(m).vertices
        unsupported = _unsupported(exact, ccs).reshape(-1, 2)
        common = dict(map=kind, exact_points=len(exact), deterministic=det_hv, supported=len(ccs))
        for beta in config.betas:
            # One run per round count gives the per-round fronts (the run is deterministic, so round r of
            # the longest run equals a run with r rounds).
            for r in range(config.rounds + 1):
                res = cmorl(m, seed=seed, ref=REF, rounds=r, n_select=config.n_select, beta=beta, threshold="ref",
                            delta=0.2, policy_class="deterministic", eval_weights=np.eye(2))
                rows.append(dict(method="cmorl", beta=beta, round=r, budget=int(res.budget[-1]),
                                 hypervolume=float(res.hypervolume[-1]), points=len(res.front),
                                 found=_found(res.front, exact), found_unsupported=_found(res.front, unsupported),
                                 **common))
            ls = linear_scalarisation(m, int(res.budget[-1]), ref=REF, eval_weights=np.eye(2))
            rows.append(dict(method="ls", beta=beta, round=config.rounds, budget=int(ls.budget[-1]),
                             hypervolume=float(ls.hypervolume[-1]), points=len(ls.front),
                             found=_found(ls.front, exact), found_unsupported=_found(ls.front, unsupported),
                             **common))
    return pd.DataFrame(rows)


def _final(frame, kind, beta):
    c = frame[(frame["map"] == kind) & (frame.method == "cmorl") & (frame.beta == beta)].sort_values("round")
    ls = frame[(frame["map"] == kind) & (frame.method == "ls") & (frame.beta == beta)].iloc[0]
    return c, c.iloc[-1], ls


def _rounds_to_all(c) -> float:
    full = c[c.found == c.exact_points]
    return float(full["round"].min()) if len(full) else float("nan")


# Causes, shown before the verdicts were accepted: the deterministic oracle equals brute-force enumeration of
# every deterministic policy on small models (tests/test_multiobjective_deterministic.py), and the exact fronts
# are checked against the treasure values, so a missing point is the method's, not the solver's.
RECOVER_CAUSE = ("method (exact oracle, parity with enumeration): a step relaxes the selected point's objective by "
                 "the fraction 1 - beta of its distance to the reference point; when the next treasure lies further "
                 "away than that, the step returns the selected point itself and the archive stops growing")
CONVEX_CAUSE = ("method (exact oracle, parity with enumeration): on the convex map every point is supported, so "
                "LS's exact solves at the same budget find nearly all of them, while C-MORL's steps miss the points "
                "lying further than the fraction 1 - beta allows (it finds all ten only at beta = 0.7)")


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    out = [Claim.at_most("no_archive_exceeds_deterministic_front",
                         float((frame.hypervolume / frame.deterministic).max()), 1.0, slack=1e-9, theorem=True,
                         description="largest hypervolume / exact deterministic front's hypervolume over maps, "
                                     "β, rounds and methods (slack: round-off)")]
    for kind in frame["map"].unique():
        for beta in sorted(frame.beta.unique(), reverse=True):
            c, last, ls = _final(frame, kind, beta)
            tag = f"{kind}_beta{beta:g}"
            out.append(Claim.equals(f"{tag}_cmorl_recovers_all_points", float(last.points), float(last.exact_points),
                                    0.0, cause=RECOVER_CAUSE,
                                    description=f"card(F) of C-MORL (deterministic oracle, β = {beta:g}) after "
                                                     f"{int(last['round'])} rounds against the "
                                                     f"{int(last.exact_points)} points of the exact front",
                                    reconstructed=True))
            if ls.exact_points > ls.supported:        # on the convex map every point is supported: nothing to test
                out.append(Claim.at_most(f"{tag}_ls_finds_only_supported_points", float(ls.found_unsupported), 0.0,
                                         description="exact front points found by linear scalarisation (same "
                                                     "budget) that are not supported (not CCS vertices)"))
            out.append(Claim.at_least(f"{tag}_cmorl_minus_ls_hv", float(last.hypervolume - ls.hypervolume), 0.0,
                                      cause=CONVEX_CAUSE if kind == "convex" else "",
                                      description="C-MORL minus LS hypervolume at the same number of exact solves"))
    return out


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    out = []
    for kind in frame["map"].unique():
        for beta in sorted(frame.beta.unique(), reverse=True):
            c, last, ls = _final(frame, kind, beta)
            tag = f"{kind}_beta{beta:g}"
            out.append(Measurement.of(f"{tag}_rounds_to_all_points", _rounds_to_all(c),
                                      "first round whose archive holds every exact front point (NaN: never)"))
            out.append(Measurement.of(f"{tag}_cmorl_hv_fraction", last.hypervolume / last.deterministic,
                                      "C-MORL hypervolume / exact deterministic front's after the last round"))
            out.append(Measurement.of(f"{tag}_ls_hv_fraction", ls.hypervolume / ls.deterministic,
                                      "LS (same budget) hypervolume / exact deterministic front's"))
    return out


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    maps = list(frame["map"].unique())
    fig, axes = plt.subplots(2, len(maps), figsize=(5 * len(maps), 6), squeeze=False, sharex="col")
    for col, kind in enumerate(maps):
        f = frame[frame["map"] == kind]
        for j, beta in enumerate(sorted(f.beta.unique(), reverse=True)):
            c, last, ls = _final(frame, kind, beta)
            for row, key in enumerate(("points", "hypervolume")):
                ax = axes[row, col]
                ax.plot(c.budget, c[key], "o-", color=f"C{j}", ms=3, label=f"C-MORL, β = {beta:g}")
                ax.plot([ls.budget], [ls[key]], "s", color=f"C{j}", mfc="none", ms=7,
                        label="LS, same budget" if j == 0 else None)
        axes[0, col].axhline(f.exact_points.iloc[0], color="k", ls=":", lw=1, label="exact front")
        axes[1, col].axhline(f.deterministic.iloc[0], color="k", ls=":", lw=1, label="exact front")
        axes[0, col].set_ylabel("card(F)")
        axes[1, col].set_ylabel("hypervolume")
        axes[1, col].set_xlabel("exact solves (budget)")
        axes[0, col].set_title(f"Deep-sea-treasure, {kind} map, deterministic policies")
        axes[0, col].legend(fontsize=7)
    fig.tight_layout()
    return fig
