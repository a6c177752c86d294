r"""The paper's Figure 1 with the authors' constants and with ours, on both orientations of the matrix game.

Cai, Alacaoglu & Diakonikolas (ICLR 2024) compare EG, EAG, VR-EG and their Algorithms 1 and 2 by the
residual reached after a number of epochs (oracle calls / n) on two problems. We rerun both panels on
the authors' instances (:func:`theory.operators.authors_setup`):

(a) Nemirovski's policeman–burglar matrix game on simplices (natural residual), in the authors'
    orientation (minimiser on the columns, ``orientation="columns"``) and transposed (``"rows"``);
(b) the hard quadratic min–max instance (Ouyang–Xu construction; :math:`\|F(u)\|`), authors' layout and
    component split.

Each setup runs with two sets of constants: ``"authors"`` — the step sizes of the authors' scripts;
``"exact"`` — the package defaults of :mod:`theory.monotone` and :mod:`theory.variance_reduced`, functions of
the exact Lipschitz constants (:func:`theory.operators.lipschitz_constants`; Reconstruction: the constant 1 in
Algorithm 1's :math:`\eta = 1/L`). A fifth curve reruns Algorithm 2 with the authors' matrix-game counting
(``uncharged_inner_start=True``: the full evaluation that starts each inner solve is not charged) — only
to show how much that counting flatters their Figure 1(a) curve.

Claims (verdicts, theory value 0): the paper's reading of Figure 1 — VR-Halpern ends below EAG at equal
epochs — measured as :math:`\log_{10}(\text{EAG}/\text{VR-Halpern})` at the budget, per setup and set
of constants (a contradicted verdict is a finding, e.g. Algorithm 1 on the transposed game); and that the
uncharged counting lowers Algorithm 2's residual at equal epochs. Neither instance is cocoercive, so
Algorithm 1 runs outside its theory in both panels, as in the paper.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.claims import Claim, Measurement
from experiments.fits import N_NOT_CONVERGED, not_converged, with_fit_counts
from theory import eag, extragradient, vr_extragradient, vr_halpern, vr_halpern_inexact
from theory.operators import authors_setup, lipschitz_constants, matrix_game
from theory.rates import mean_ci

REFERENCE = "docs/experiments.md#vr_halpern_figure"
TITLE = "Figure 1 of the VR-Halpern paper with the authors' constants and exact ones, on both orientations"
CAPTION = ("Residual (log scale) against epochs (oracle calls / n): mean over seeds, band min–max. Columns: "
           "policeman–burglar in the authors' orientation (minimiser on the columns), the same game transposed, "
           "and the hard quadratic instance. Rows: the authors' step sizes; the defaults from exact Lipschitz "
           "constants (VR-EG with the authors' constants only). Dashed: Algorithm 2 with the authors' matrix-game "
           "counting (inner-start evaluation not charged).")

METHODS = {"EG": ("extragradient", extragradient), "EAG": ("eag", eag),
           "VR-EG": ("vr_extragradient", vr_extragradient), "Alg. 1": ("vr_halpern", vr_halpern),
           "Alg. 2": ("vr_halpern_inexact", vr_halpern_inexact)}
SETUPS = (("policeman-burglar", "columns"), ("policeman-burglar", "rows"), ("hard quadratic", "-"))
CONSTANTS = ("authors", "exact")


@dataclass(frozen=True)
class Config:
    pb_n: int = 100
    """Policeman–burglar size (the authors': 500)."""
    pb_epochs: int = 1000
    """Epoch budget on the matrix game (the authors': 5000)."""
    qp_n: int = 50
    """Hard quadratic instance size (the authors': 200)."""
    qp_epochs: int = 3000
    """Epoch budget on the quadratic instance (the authors': 10^6)."""
    points: int = 250
    """Residual checks per run (about; every ``epochs / points`` epochs)."""


CONFIGS = {
    "smoke": Config(pb_n=20, pb_epochs=60, qp_n=12, qp_epochs=100, points=50),
    "quick": Config(),
    "full": Config(pb_n=500, pb_epochs=5000, qp_n=200, qp_epochs=100_000),
}
SEEDS = {"smoke": 2, "quick": 3, "full": 4}


def _instances(config):
    """(panel, orientation, op, x0, epochs, authors' steps) for the three setups."""
    pb = authors_setup("policeman-burglar", config.pb_n)
    qp = authors_setup("hard quadratic", config.qp_n)
    # the transposed game: same matrix, minimiser on the rows; the authors' formulas give the same steps
    rows = matrix_game(pb.op.A.T)
    return [("policeman-burglar", "columns", pb.op, pb.x0, config.pb_epochs, pb.steps),
            ("policeman-burglar", "rows", rows, pb.x0, config.pb_epochs, pb.steps),
            ("hard quadratic", "-", qp.op, qp.x0, config.qp_epochs, qp.steps)]


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    """Every (setup, constants, method) once with solver seed ``seed``; long format, one row per check."""
    rows = []
    for panel, orientation, op, x0, epochs, steps in _instances(config):
        every = op.n * max(1, epochs // config.points)
        # VR-EG (a baseline of the figure, in no claim) runs with the authors' constants only: its
        # single-sample loop is most of the run time
        jobs = [(c, m, "charged", steps[key] if c == "authors" else {}) for c in CONSTANTS
                for m, (key, _) in METHODS.items() if c == "authors" or m != "VR-EG"]
        if panel == "policeman-burglar":
            jobs.append(("authors", "Alg. 2", "uncharged", {**steps["vr_halpern_inexact"],
                                                           "uncharged_inner_start": True}))
        for constants, method, counting, kwargs in jobs:
            op.reset_calls()
            # budget exhaustion (counted in the rows) and out-of-theory steps are expected
            res = METHODS[method][1](op, x0, eps=1e-12, max_calls=epochs * op.n, seed=seed,
                                     check_every=every, **kwargs)
            for c, r in zip(res.calls, res.residuals):
                rows.append(dict(panel=panel, orientation=orientation, constants=constants, method=method,
                                 counting=counting, epoch=c / op.n, residual=r, eta=res.eta, n=op.n,
                                 **{N_NOT_CONVERGED: not_converged(res)}))
    return with_fit_counts(rows)


def _final(frame, panel, orientation, constants, method, counting="charged"):
    """Residual at the budget, per seed."""
    sub = frame[(frame.panel == panel) & (frame.orientation == orientation) & (frame.constants == constants)
                & (frame.method == method) & (frame.counting == counting)]
    last = sub.groupby("seed").epoch.transform("max") == sub.epoch
    return sub[last].groupby("seed").residual.last()


def _label(panel, orientation):
    if panel == "hard quadratic":
        return "hard quadratic"
    return "policeman-burglar, " + ("authors' orientation" if orientation == "columns" else "transposed")


# Why a "below EAG" claim can fail, per (setup, constants, method): found before the verdicts were accepted.
# Both algorithms' first iterates are pinned to the published recursions (tests/test_theory_halpern.py), and
# the authors' instances, orientation and constants are rebuilt by hand in those tests.
CAUSES = {
    ("policeman-burglar, transposed", "authors", "Alg. 1"):
        "regime: the authors' step is 13 times 1/L, outside Alg. 1's cocoercive theory; on the transposed game it "
        "stalls (recursion pinned to the paper's update in the tests); on the paper's own orientation it is supported",
    ("policeman-burglar, transposed", "authors", "Alg. 2"):
        "sample and regime: 3 solver seeds give [-0.63, 0.07] decades; the authors' constants are outside the "
        "theory's step rule on this orientation, which the paper's Figure 1 does not use",
    ("hard quadratic", "authors", "Alg. 2"):
        "regime: the authors' quadratic constants (eta = sqrt(n), gamma = 1e-3) are outside the theory's step rule; "
        "with the exact-constant defaults the same claim is supported",
}


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    out = []
    for panel, orientation in SETUPS:
        for constants in CONSTANTS:
            eag_final = _final(frame, panel, orientation, constants, "EAG")
            for method in ("Alg. 1", "Alg. 2"):
                ratio = np.log10(eag_final / _final(frame, panel, orientation, constants, method))
                out.append(Claim.at_least(
                    f"{_label(panel, orientation)}, {constants} constants: {method} below EAG",
                    mean_ci(ratio.dropna().to_numpy()), 0.0,
                    description=f"log10(EAG / {method}) of the residual at the epoch budget, over solver seeds "
                                "(the paper's reading of Figure 1: VR-Halpern ends lower)",
                    reconstructed=constants == "exact",
                    cause=CAUSES.get((_label(panel, orientation), constants, method), "")))
    ratio = np.log10(_final(frame, "policeman-burglar", "columns", "authors", "Alg. 2")
                     / _final(frame, "policeman-burglar", "columns", "authors", "Alg. 2", "uncharged"))
    out.append(Claim.at_least(
        "policeman-burglar, authors' counting flatters Alg. 2", mean_ci(ratio.dropna().to_numpy()), 0.0,
        description="log10(charged / uncharged residual of Algorithm 2 at the budget), authors' orientation and "
                    "constants: not charging the n calls that start each inner solve lowers the curve"))
    return [dataclasses.replace(c, reference=REFERENCE) for c in out]


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    """The constants behind the two step-size sets (exact ``L``, its closed-form bound, ``||A||_F``)."""
    out = []
    for panel, orientation, op, _, _, steps in _instances(config)[::2]:
        c = lipschitz_constants(op)
        label = _label(panel, orientation)
        out.append(Measurement(f"{label}: exact mean-square L", c.L,
                               description=f"closed-form bound L_bound = {c.L_bound:.4g}; L_F = {c.L_F:.4g}"))
        out.append(Measurement(f"{label}: authors' Alg. 1 step x exact L", steps["vr_halpern"]["eta"] * c.L,
                               description="eta_authors * L (1 = our default step 1/L)"))
    return out


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(11, 6.2), sharex="col")
    colors = dict(zip(METHODS, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for col, (panel, orientation) in enumerate(SETUPS):
        for row, constants in enumerate(CONSTANTS):
            ax = axes[row, col]
            sub = frame[(frame.panel == panel) & (frame.orientation == orientation) & (frame.constants == constants)]
            for (method, counting), g in sub.groupby(["method", "counting"], sort=False):
                grid = np.linspace(0.0, g.epoch.max(), 200)
                curves = np.array([np.interp(grid, s.epoch, s.residual) for _, s in g.groupby("seed")])
                style = "--" if counting == "uncharged" else "-"
                label = f"{method} (uncharged)" if counting == "uncharged" else method
                ax.semilogy(grid, curves.mean(0), style, color=colors[method], lw=1.1, label=label)
                ax.fill_between(grid, curves.min(0), curves.max(0), color=colors[method], alpha=0.2, lw=0)
            ax.set_title(f"{_label(panel, orientation)}\n{constants} constants", fontsize=8)
            if row == 1:
                ax.set_xlabel("epochs (oracle calls / n)")
            if col == 0:
                ax.set_ylabel("residual")
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    return fig
