"""Shared figure style and byte-stable saving. Figures read only tidy results; solvers never plot."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def use_paper_style() -> None:
    """Colour-blind-safe palette, readable sizes, no timestamps or random ids in saved files."""
    plt.rcParams.update({
        "figure.figsize": (6.4, 3.6),
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "legend.fontsize": 8,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
        "svg.hashsalt": "theorysim",
        "pdf.fonttype": 42,
    })


def save_figure(fig, out: str | Path) -> Path:
    """Save ``fig`` without creation dates so the same data gives the same bytes."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    meta = {"pdf": {"CreationDate": None, "ModDate": None, "Producer": "theorysim"},
            "svg": {"Date": None}, "png": {"Software": "theorysim"}}.get(suffix.lstrip("."), None)
    fig.tight_layout()
    fig.savefig(out, metadata=meta)
    plt.close(fig)
    return out


def band(ax, x, mean, low, high, label=None, color=None, **kw):
    """A line with a shaded confidence band."""
    (line,) = ax.plot(x, mean, label=label, color=color, **kw)
    ax.fill_between(x, low, high, alpha=0.2, color=line.get_color(), linewidth=0)
    return line


def interval_errorbar(ax, x, estimate, low, high, *, clip: bool = False, **kw):
    """Error bars of intervals: ``ax.errorbar(x, estimate, yerr=[estimate - low, high - estimate], **kw)``.

    ``estimate``, ``low`` and ``high`` are numbers or equal-length sequences (an interval's ``estimate``,
    ``low``, ``high``; a mean with the min and max over seeds); ``clip`` draws a negative half-length (an
    estimate outside its interval, e.g. a geometric mean against arithmetic bounds) as 0.
    """
    est = np.asarray(estimate, dtype=float).reshape(-1)
    err = np.array([est - np.asarray(low, dtype=float).reshape(-1), np.asarray(high, dtype=float).reshape(-1) - est])
    if clip:
        err = np.maximum(err, 0)
    return ax.errorbar(x, est, yerr=err, **kw)
