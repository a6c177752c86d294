r"""Benchmark instances: the paper's Figure 1 instances (policeman–burglar, the hard quadratic), the
authors' setups, and the random least-squares family of the √n experiments."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from theory.operators.base import FiniteSumOperator
from theory.operators.regression import LeastSquares
from theory.operators.saddle import MatrixGame, QuadraticMinMax

__all__ = ["ORIENTATIONS", "policeman_burglar", "QP_LAYOUTS", "hard_quadratic", "random_least_squares",
           "AuthorsSetup", "authors_setup"]


ORIENTATIONS = ("rows", "columns")


def policeman_burglar(n: int = 500, theta: float = 0.8, seed=1, orientation: str = "rows",
                      legacy_seed: bool = False) -> MatrixGame:
    r"""Nemirovski's policeman–burglar game: :math:`A_{ij} = w_j(1 - e^{-\theta|i-j|})`,
    :math:`w \sim |N(0,1)|` (the instance of the paper's Figure 1(a)).

    Args:
      n: size (``A`` is ``[n, n]``).
      theta: decay rate :math:`\theta > 0`.
      seed: seed of the weights ``w``.
      orientation: ``"rows"`` — the minimiser picks a row, :math:`\min_x\max_y x^\top Ay` (this package's
        original orientation); ``"columns"`` — the minimiser picks a column,
        :math:`\min_x\max_y y^\top Ax`, i.e. the game on :math:`A^\top`. The authors' ``matrix_game.py``
        uses ``"columns"`` (its x-gradient is :math:`A^\top y`), and its component split then pairs row
        :math:`i` of :math:`A` with :math:`y_i`, as :class:`MatrixGame` does for :math:`A^\top`.
      legacy_seed: draw ``w`` as ``np.random.seed(seed); np.abs(np.random.randn(n))`` (the authors'
        script, through a local ``RandomState``, no global state) instead of ``default_rng(seed)``.

    Returns:
      :class:`MatrixGame` of size ``n`` (``dim = 2n``).
    """
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not (theta > 0 and math.isfinite(theta)):
        raise ValueError(f"theta must be a finite number > 0, got {theta!r}")
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
    n = int(n)
    if legacy_seed:
        w = np.abs(np.random.RandomState(seed).randn(n))
    else:
        w = np.abs(np.random.default_rng(seed).standard_normal(n))
    i = np.arange(n)
    A = w[None, :] * (1.0 - np.exp(-theta * np.abs(i[:, None] - i[None, :])))
    return MatrixGame(A if orientation == "rows" else A.T)


QP_LAYOUTS = ("authors", "mirrored")


def hard_quadratic(n: int = 200, layout: str = "authors", split: str = "coordinates") -> QuadraticMinMax:
    r"""The hard instance of the paper's Figure 1(b) (Ouyang–Xu lower-bound construction):
    :math:`A` anti-bidiagonal divided by 4, :math:`b = \mathbf 1/4`, :math:`h = e_n/4`.

    Args:
      n: size (``A`` is ``[n, n]``, ``dim = 2n``).
      layout: ``"authors"`` — 1 on the anti-diagonal and −1 just left of it, ``A[i, n-2-i] = -1``, as in
        the authors' ``quadratic_programming.py``; ``"mirrored"`` — −1 just right of it,
        ``A[i, n-i] = -1`` (this package's first version: the same matrix with rows and columns reversed,
        but with :math:`h = e_n/4` it is a different problem).
      split: component split, see :class:`QuadraticMinMax` (the authors' is ``"coordinates"``).
    """
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if layout not in QP_LAYOUTS:
        raise ValueError(f"layout must be one of {QP_LAYOUTS}, got {layout!r}")
    n = int(n)
    A = np.zeros((n, n))
    for i in range(n):
        A[i, n - 1 - i] = 1.0
        if layout == "authors" and i < n - 1:
            A[i, n - 2 - i] = -1.0
        if layout == "mirrored" and i > 0:
            A[i, n - i] = -1.0
    A /= 4.0
    h = np.zeros(n)
    h[-1] = 0.25
    return QuadraticMinMax(A, np.full(n, 0.25), h, split=split)


def random_least_squares(n: int, d: int = 20, sigma: float = 0.5, spread: float = 0.0, seed=0) -> LeastSquares:
    r"""The cocoercive benchmark instance of the √n experiments (docs/experiments.md#vr_halpern_sqrt_n).

    Rows :math:`a_i = s_i(u + \sigma g_i/\sqrt d)` with a shared direction :math:`u \sim N(0, I/d)`,
    :math:`g_i \sim N(0, I)`, and row scales :math:`s_i = e^{\text{spread}\cdot z_i}` normalised to
    :math:`\mathbb E s_i^2 = 1` (``spread = 0``: homogeneous, :math:`L \approx L_F`; larger spread raises
    :math:`L/L_F` towards :math:`\sqrt n`). The system is consistent, :math:`b = Ax^\star` with
    :math:`\|x^\star\| = 1`, so :math:`D = \|0 - x^\star\| = 1` for every ``n``.
    """
    rng = np.random.default_rng(seed)
    u = rng.normal(size=d) / np.sqrt(d)
    A = u + sigma * rng.normal(size=(n, d)) / np.sqrt(d)
    if spread > 0:
        s = np.exp(spread * rng.normal(size=n))
        A = A * (s / np.sqrt(np.mean(s ** 2)))[:, None]
    x_star = rng.normal(size=d)
    x_star /= np.linalg.norm(x_star)
    return LeastSquares(A, A @ x_star)


@dataclass(frozen=True)
class AuthorsSetup:
    r"""One panel of the paper's Figure 1 as the authors' public scripts run it
    (``zephyr-cai/Finite-Sum-Halpern-Iteration``, MIT: ``matrix_game.py`` for panel (a),
    ``quadratic_programming.py`` for panel (b)).

    Attributes:
      panel: ``"policeman-burglar"`` or ``"hard quadratic"``.
      op: the instance (authors' orientation / layout / component split).
      x0: ``[dim]`` starting point (uniform on the simplices; ``1/n`` in every coordinate for the QP).
      epochs: the scripts' oracle budget in epochs (oracle calls / n) at the scripts' size.
      steps: solver name (a function of :mod:`theory.monotone`) -> keyword arguments with the scripts'
        constants.
    """

    panel: str
    op: FiniteSumOperator
    x0: np.ndarray
    epochs: int
    steps: dict = field(default_factory=dict)


def authors_setup(panel: str, n: int | None = None) -> AuthorsSetup:
    r"""The authors' instance and constants for one panel of Figure 1 (see :class:`AuthorsSetup`).

    Panel (a), policeman–burglar, ``n = 500`` by default, :math:`\theta = 0.8`, weights from
    ``np.random.seed(1)``, minimiser on the columns (``orientation="columns"``), 5000 epochs. Steps:
    extragradient and EAG :math:`\eta = 5/\|A\|_2`; VR-EG :math:`\eta = 3\sqrt{p}/\|A\|_F`, :math:`p = 1/n`;
    Algorithm 1 :math:`\eta = 5/\|A\|_F`; Algorithm 2 :math:`\eta = \sqrt n/\|A\|_F`,
    :math:`\gamma = 5\sqrt{p(1-p)}/(\sqrt n+1)`, :math:`M_k = \lfloor 0.05\,n\log(k+2)\rfloor`.

    Panel (b), hard quadratic, ``n = 200`` by default (``layout="authors"``, ``split="coordinates"``),
    :math:`10^6` epochs. Steps: extragradient 0.5, EAG 0.3, VR-EG 0.01, Algorithm 1 0.3, Algorithm 2
    :math:`\eta = \sqrt n`, :math:`\gamma = 10^{-3}`, the same :math:`M_k`.

    Args:
      panel: ``"policeman-burglar"`` or ``"hard quadratic"``.
      n: size; ``None`` for the scripts' size (the constants are the scripts' formulas at this ``n``).

    Example:
      >>> s = authors_setup("hard quadratic", n=20)
      >>> s.steps["vr_halpern"]
      {'eta': 0.3}
    """
    if panel == "policeman-burglar":
        n = 500 if n is None else n
        op = policeman_burglar(n, theta=0.8, seed=1, orientation="columns", legacy_seed=True)
        spec, fro = float(np.linalg.norm(op.A, 2)), float(np.linalg.norm(op.A))
        p = 1.0 / op.n
        steps = {"extragradient": {"eta": 5 / spec}, "eag": {"eta": 5 / spec},
                 "vr_extragradient": {"eta": 3 * math.sqrt(p) / fro}, "vr_halpern": {"eta": 5 / fro},
                 "vr_halpern_inexact": {"eta": math.sqrt(op.n) / fro,
                                        "gamma": 5 * math.sqrt(p * (1 - p)) / (math.sqrt(op.n) + 1),
                                        "inner_scale": 0.05}}
        x0 = np.r_[np.full(op.m, 1 / op.m), np.full(op.k, 1 / op.k)]
        return AuthorsSetup(panel, op, x0, 5000, steps)
    if panel == "hard quadratic":
        n = 200 if n is None else n
        op = hard_quadratic(n, layout="authors", split="coordinates")
        steps = {"extragradient": {"eta": 0.5}, "eag": {"eta": 0.3}, "vr_extragradient": {"eta": 0.01},
                 "vr_halpern": {"eta": 0.3},
                 "vr_halpern_inexact": {"eta": math.sqrt(op.n), "gamma": 1e-3, "inner_scale": 0.05}}
        return AuthorsSetup(panel, op, np.full(op.dim, 1.0 / op.n), 1_000_000, steps)
    raise ValueError(f"panel must be 'policeman-burglar' or 'hard quadratic', got {panel!r}")
