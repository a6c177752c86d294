r"""Heterogeneity (docs/experiments.md#vr_halpern_heterogeneity): the VR advantage is :math:`\approx \sqrt n\,L_F/L`.

Row norms of the least-squares instance are spread by a log-normal factor (``spread``), which raises
the mean-square component constant :math:`L` towards :math:`\sqrt n L_F` while :math:`L_F` stays put.
Full Halpern's cost depends on :math:`L_F` only; VR-Halpern's on :math:`L`. The predicted
Halpern/VR-Halpern call ratio therefore falls like :math:`(L/L_F)^{-1}`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.claims import Claim
from theory import halpern, vr_halpern
from theory.operators import random_least_squares
from theory.rates import fit_loglog_slope

REFERENCE = "docs/experiments.md#vr_halpern_heterogeneity"
TITLE = "The VR advantage shrinks as components become heterogeneous"
CAPTION = ("Halpern / VR-Halpern oracle-call ratio to reach ε against the heterogeneity L/L_F (log–log, mean "
           "over seeds); dashed: the predicted slope −1.")


@dataclass(frozen=True)
class Config:
    n: int = 1024
    """Components."""
    spreads: tuple = (0.0, 0.5, 1.0, 1.5)
    """Log-normal spreads of the row norms."""
    eps: float = 1e-3
    """Target residual."""
    max_calls: int = 200_000_000
    """Budget per run."""


CONFIGS = {
    "smoke": Config(n=64, spreads=(0.0, 1.0), eps=1e-2),
    "quick": Config(),
    "full": Config(n=4096, spreads=(0.0, 0.5, 1.0, 1.5, 2.0), eps=1e-4),
}
SEEDS = {"smoke": 2, "quick": 3, "full": 5}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    rows = []
    for spread in config.spreads:
        op = random_least_squares(config.n, spread=spread, seed=seed)
        calls = {}
        for name, solver in (("halpern", halpern), ("vr_halpern", vr_halpern)):
            op.reset_calls()
            res = solver(op, np.zeros(op.dim), eps=config.eps, max_calls=config.max_calls, seed=seed)
            calls[name] = res.calls_to(config.eps)
        rows.append(dict(spread=spread, L=op.L, L_F=op.L_F, heterogeneity=op.L / op.L_F,
                         halpern_calls=calls["halpern"], vr_calls=calls["vr_halpern"],
                         ratio=calls["halpern"] / calls["vr_halpern"], n=op.n))
    return pd.DataFrame(rows)


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    """The slope of the call ratio against :math:`L/L_F` (exact constants), limits at the theory value:
    falling (slope below 0), and the predicted slope -1 (no slack: the prediction has no log factor in
    :math:`L`)."""
    h = frame.pivot_table(index="seed", columns="spread", values="heterogeneity").mean(axis=0).to_numpy()
    r = frame.pivot_table(index="seed", columns="spread", values="ratio").to_numpy()
    slope = fit_loglog_slope(h, r)
    out = [Claim.at_most("ratio falls as L/L_F grows", slope, 0.0,
                         description="log-log slope of the Halpern/VR-Halpern call ratio against L/L_F is negative"),
           Claim.within("ratio vs L/L_F slope", slope, -1.0, -1.0,
                        cause=f"a point prediction with no slack can only be refuted: the slope's interval "
                        f"[{slope.low:.3g}, {slope.high:.3g}] contains -1" if slope.low <= -1 <= slope.high else "",
                        description="log-log slope of the Halpern/VR-Halpern call ratio against L/L_F "
                                    "(theory: -1, the ratio ~ sqrt(n) L_F / L)")]
    return [dataclasses.replace(c, reference=REFERENCE) for c in out]


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    g = frame.groupby("spread")[["heterogeneity", "ratio"]].mean()
    ax.loglog(g.heterogeneity, g.ratio, "o-", label="measured ratio")
    x = g.heterogeneity.to_numpy()
    ax.loglog(x, g.ratio.iloc[0] * x[0] / x, "k--", lw=0.8, label="slope −1")
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.set_xlabel("heterogeneity L / L_F")
    ax.set_ylabel("Halpern calls / VR-Halpern calls")
    ax.set_title(f"n = {config.n}, ε = {config.eps:g}")
    ax.legend(fontsize=7)
    return fig
