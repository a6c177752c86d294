r"""Validated tabular, finite-horizon and linear MDP models.

Conventions (emdp-style subscripts): ``P[s, a, t]`` is the probability of moving from state ``s`` to
state ``t`` under action ``a``; ``R[s, a]`` the expected reward (or ``R[s, a, i]`` for ``m`` objectives);
``mu[s]`` the initial-state distribution; policies are ``pi[s, a]`` (stationary) or ``pi[h, s, a]``.

Models are frozen and validated on construction: shapes, finiteness, non-negativity, rows of ``P``
summing to one (tolerance ``1e-8``), ``gamma`` in ``[0, 1)``, ``H >= 1`` and ``mu`` a distribution. Every
failure raises a subclass of :class:`ModelError` (a ``ValueError``) whose message names the offending
index and value, e.g. ``P[3, 1, :] sums to 0.97``. Termination is expressed with absorbing zero-reward
states (:meth:`TabularMDP.absorbing_states`).

Sparse transition kernels are accepted as a SciPy sparse matrix of shape ``(S*A, S)`` (row ``s*A + a``),
which is what the Bellman operators use internally anyway (:attr:`TabularMDP.P_flat`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "ModelError", "ShapeError", "NotFiniteError", "NegativeProbabilityError", "NotStochasticError",
    "ParameterError", "TabularMDP", "FiniteHorizonMDP", "LinearMDP", "as_numpy", "validate_policy",
    "check_finite", "check_distributions", "check_shape", "check_scalar", "ROW_TOL",
]

# The error classes and checks are the package's one vocabulary (theory.validation), re-exported here.
from theory.validation import (ROW_TOL, ModelError, NegativeProbabilityError, NotFiniteError,  # noqa: E402
                               NotStochasticError, ParameterError, ShapeError, check_distributions,
                               check_finite, check_scalar, check_shape)
from theory.validation import format_index as _idx  # noqa: E402


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------
def as_numpy(x, dtype=np.float64, name: str = "array") -> np.ndarray:
    """A fresh numpy copy of a numpy array, a torch tensor (any device) or a nested sequence.

    Models freeze their arrays, so they must never alias (and lock) the caller's arrays.
    """
    from theory.validation import as_float_array

    return as_float_array(x, dtype=dtype, name=name)


_check_finite = check_finite
_check_distributions = check_distributions


def _check_sparse_kernel(name: str, P: sp.sparray, S: int, A: int) -> None:
    data = P.data
    if not np.all(np.isfinite(data)):
        raise NotFiniteError(f"{name} has non-finite stored entries")
    coo = P.tocoo()
    neg = coo.data < 0
    if neg.any():
        k = int(np.flatnonzero(neg)[0])
        r, c = int(coo.row[k]), int(coo.col[k])
        raise NegativeProbabilityError(f"{name}[{r // A}, {r % A}, {c}] is {coo.data[k]:.6g} "
                                       "(probabilities must be >= 0)")
    sums = np.asarray(P.sum(axis=1)).ravel()
    off = np.abs(sums - 1.0) > ROW_TOL
    if off.any():
        r = int(np.flatnonzero(off)[0])
        raise NotStochasticError(f"{name}[{r // A}, {r % A}, :] sums to {sums[r]:.10g}, not 1 "
                                 f"(tolerance {ROW_TOL})")


def _initial(mu, S: int) -> np.ndarray:
    if mu is None:
        return np.full(S, 1.0 / S)
    mu = as_numpy(mu, name="mu")
    if mu.shape != (S,):
        raise ShapeError(f"mu has shape {mu.shape}, expected ({S},)")
    _check_distributions("mu", mu)
    return mu


def _freeze(*arrays):
    for a in arrays:
        if isinstance(a, np.ndarray):
            a.flags.writeable = False


def validate_policy(pi, S: int, A: int, H: int | None = None, name: str = "pi") -> np.ndarray:
    """Return ``pi`` as float64 ``[S, A]`` (or ``[H, S, A]`` when ``H`` is given).

    Deterministic policies given as integer actions ``[S]`` (or ``[H, S]``) are converted to one-hot.
    """
    from theory.validation import as_float_array

    raw = pi
    try:
        pi = np.asarray(pi.detach().cpu().numpy() if hasattr(pi, "detach") else pi)
    except ValueError:                                  # ragged nested sequence: say where, in our words
        pi = as_float_array(raw, name=name)
    if pi.dtype.kind not in "biuf":
        pi = as_float_array(raw, name=name)                   # strings, objects: name the non-number
    want = (S, A) if H is None else (H, S, A)
    if np.issubdtype(pi.dtype, np.integer) and pi.shape == want[:-1]:
        if (pi < 0).any() or (pi >= A).any():
            i = tuple(np.argwhere((pi < 0) | (pi >= A))[0])
            raise ShapeError(f"{name}[{_idx(i)}] = {pi[i]} is not an action in 0..{A - 1}")
        pi = np.eye(A)[pi]
    pi = pi.astype(np.float64)
    if H is not None and pi.shape == (S, A):
        pi = np.broadcast_to(pi, want)
    if pi.shape != want:
        raise ShapeError(f"{name} has shape {pi.shape}, expected {want}")
    _check_distributions(name, pi)
    return pi


# ----------------------------------------------------------------------------------------------
# Discounted tabular MDP
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TabularMDP:
    r"""Discounted MDP :math:`(S, A, P, R, \gamma, \mu)`.

    Args:
      P: ``[S, A, S]`` dense kernel, or a SciPy sparse ``(S*A, S)`` matrix (row ``s*A + a``).
      R: ``[S, A]`` expected rewards, or ``[S, A, m]`` for ``m`` objectives (multi-objective/CMDP).
      gamma: discount in ``[0, 1)``.
      mu: initial distribution ``[S]`` (uniform when omitted).

    The value of a policy is :math:`V^\pi(\mu) = \mu^\top V^\pi = \mu^\top (I-\gamma P_\pi)^{-1} r_\pi`.
    """

    P: np.ndarray | sp.sparray
    R: np.ndarray
    gamma: float
    mu: np.ndarray | None = None
    info: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """Read-only facts about how the model was generated (a generator's secret, a grid layout)."""
    S: int = field(init=False)
    A: int = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "info", MappingProxyType(dict(self.info or {})))
        R = as_numpy(self.R, name="R")
        if R.ndim not in (2, 3):
            raise ShapeError(f"R has shape {R.shape}; expected [S, A] or [S, A, m]")
        S, A = R.shape[:2]
        if S == 0 or A == 0:
            raise ShapeError(f"R has shape {R.shape}: a model needs at least one state and one action "
                             f"(S = {S}, A = {A})")
        if sp.issparse(self.P):
            P = sp.csr_array(self.P, dtype=np.float64)
            if P.shape != (S * A, S):
                raise ShapeError(f"sparse P has shape {P.shape}, expected (S*A, S) = ({S * A}, {S})")
            P.sum_duplicates()
            _check_sparse_kernel("P", P, S, A)
        else:
            P = as_numpy(self.P, name="P")
            if P.ndim != 3:
                raise ShapeError(f"P has shape {P.shape}; expected [S, A, S]")
            if P.shape != (S, A, S):
                raise ShapeError(f"P has shape {P.shape} but R has shape {R.shape}: expected P of shape "
                                 f"({S}, {A}, {S})")
            _check_distributions("P", P)
        _check_finite("R", R)
        gamma = check_scalar("gamma", self.gamma)
        if not (0.0 <= gamma < 1.0):
            raise ParameterError(f"gamma is {gamma}; it must lie in [0, 1)")
        mu = _initial(self.mu, S)
        _freeze(P, R, mu)
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "S", S)
        object.__setattr__(self, "A", A)

    # -- views ---------------------------------------------------------------------------------
    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.P)

    @property
    def n_objectives(self) -> int:
        """1 for scalar rewards, ``m`` for ``R[S, A, m]``."""
        return 1 if self.R.ndim == 2 else self.R.shape[2]

    @property
    def P_flat(self):
        """The kernel as an ``(S*A, S)`` matrix (a view of dense ``P``, or the sparse matrix)."""
        return self.P if self.is_sparse else self.P.reshape(self.S * self.A, self.S)

    def dense_P(self) -> np.ndarray:
        return self.P.toarray().reshape(self.S, self.A, self.S) if self.is_sparse else self.P

    def sparse(self) -> "TabularMDP":
        """The same MDP with a sparse kernel."""
        return self if self.is_sparse else TabularMDP(sp.csr_array(self.P_flat), self.R, self.gamma, self.mu)

    def with_rewards(self, R) -> "TabularMDP":
        return TabularMDP(self.P, R, self.gamma, self.mu, info=self.info)

    def scalarized(self, weights) -> "TabularMDP":
        """Linear scalarisation ``R @ weights`` of a multi-objective MDP."""
        w = as_numpy(weights, name="weights")
        if self.R.ndim != 3 or w.shape != (self.R.shape[2],):
            raise ShapeError(f"weights has shape {w.shape}; R has shape {self.R.shape}")
        return self.with_rewards(self.R @ w)

    def absorbing_states(self) -> np.ndarray:
        """Boolean ``[S]``: states that every action keeps in place with zero reward (terminal)."""
        S, A = self.S, self.A
        if self.is_sparse:  # P[(s, a), s] without a dense copy (TabularEnv calls this on any model)
            diag = np.asarray(self.P[np.arange(S * A), np.repeat(np.arange(S), A)]).reshape(S, A)
        else:
            diag = self.P[np.arange(S), :, np.arange(S)]
        stay = np.all(np.isclose(diag, 1.0), axis=1)
        R = self.R if self.R.ndim == 2 else np.abs(self.R).sum(-1)
        return stay & np.all(R == 0, axis=1)

    def __repr__(self) -> str:
        kind = "sparse" if self.is_sparse else "dense"
        return (f"TabularMDP(S={self.S}, A={self.A}, gamma={self.gamma}, objectives={self.n_objectives}, "
                f"{kind})")


# ----------------------------------------------------------------------------------------------
# Finite-horizon MDP
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FiniteHorizonMDP:
    r"""Episodic MDP with horizon ``H``: steps ``h = 0..H-1``, no discount.

    Args:
      P: ``[S, A, S]`` (time-homogeneous) or ``[H, S, A, S]``.
      R: ``[S, A]`` or ``[H, S, A]`` expected rewards.
      H: horizon ``>= 1``.
      mu: initial distribution ``[S]`` (uniform when omitted).

    After construction ``P`` is ``[H, S, A, S]`` and ``R`` is ``[H, S, A]`` (read-only broadcast views for
    homogeneous inputs; :attr:`homogeneous` says which). The value is
    :math:`V_0^\pi(\mu) = \mathbb E[\sum_{h<H} r_h(s_h, a_h)]`.
    """

    P: np.ndarray
    R: np.ndarray
    H: int
    mu: np.ndarray | None = None
    info: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """Read-only facts about how the model was generated (e.g. the combination lock's secret)."""
    S: int = field(init=False)
    A: int = field(init=False)
    homogeneous: bool = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "info", MappingProxyType(dict(self.info or {})))
        H = self.H
        if isinstance(H, bool) or not isinstance(H, (int, np.integer)) or H < 1:
            raise ParameterError(f"H is {H!r}; it must be an integer >= 1")
        H = int(H)
        P = as_numpy(self.P, name="P")
        R = as_numpy(self.R, name="R")
        if P.ndim == 3:
            homogeneous = True
            S, A = P.shape[:2]
            if P.shape != (S, A, S):
                raise ShapeError(f"P has shape {P.shape}; expected [S, A, S] or [H, S, A, S]")
        elif P.ndim == 4:
            homogeneous = False
            if P.shape[0] != H:
                raise ShapeError(f"P has {P.shape[0]} steps but H = {H}")
            S, A = P.shape[1:3]
            if P.shape != (H, S, A, S):
                raise ShapeError(f"P has shape {P.shape}; expected [H, S, A, S]")
        else:
            raise ShapeError(f"P has shape {P.shape}; expected [S, A, S] or [H, S, A, S]")
        if S == 0 or A == 0:
            raise ShapeError(f"P has shape {P.shape}: a model needs at least one state and one action "
                             f"(S = {S}, A = {A})")
        _check_distributions("P", P)
        if R.shape == (S, A):
            R = np.broadcast_to(R, (H, S, A))
        elif R.shape != (H, S, A):
            raise ShapeError(f"R has shape {R.shape}; expected ({S}, {A}) or ({H}, {S}, {A})")
        else:
            homogeneous = homogeneous and bool(np.all(R == R[:1]))
        _check_finite("R", R)
        if P.ndim == 3:
            P = np.broadcast_to(P, (H, S, A, S))
        mu = _initial(self.mu, S)
        _freeze(P, R, mu)
        for k, v in dict(P=P, R=R, H=H, mu=mu, S=S, A=A, homogeneous=homogeneous).items():
            object.__setattr__(self, k, v)

    def __repr__(self) -> str:
        return f"FiniteHorizonMDP(S={self.S}, A={self.A}, H={self.H}, homogeneous={self.homogeneous})"


# ----------------------------------------------------------------------------------------------
# Linear MDP
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LinearMDP:
    r"""Linear MDP (Jin et al. 2020): :math:`P_h(t|s,a) = \phi(s,a)^\top \mu_h(t)`,
    :math:`r_h(s,a) = \phi(s,a)^\top \theta_h`.

    Args:
      phi: features ``[S, A, d]``.
      mu_feat: ``[d, S]`` or ``[H, d, S]`` (each ``phi @ mu_feat`` row must be a distribution).
      theta: reward weights ``[d]`` or ``[H, d]``.
      H: horizon (episodic) — or give ``gamma`` for a discounted model (homogeneous only).
      mu: initial distribution ``[S]``.

    :meth:`to_tabular` returns the exact :class:`FiniteHorizonMDP` (or :class:`TabularMDP`).
    """

    phi: np.ndarray
    mu_feat: np.ndarray
    theta: np.ndarray
    H: int | None = None
    gamma: float | None = None
    mu: np.ndarray | None = None
    S: int = field(init=False)
    A: int = field(init=False)
    d: int = field(init=False)

    def __post_init__(self):
        phi = as_numpy(self.phi, name="phi")
        if phi.ndim != 3:
            raise ShapeError(f"phi has shape {phi.shape}; expected [S, A, d]")
        S, A, d = phi.shape
        _check_finite("phi", phi)
        if (self.H is None) == (self.gamma is None):
            raise ParameterError("give exactly one of H (episodic) or gamma (discounted)")
        steps = 1 if self.H is None else int(self.H)
        if self.H is not None and steps < 1:
            raise ParameterError(f"H is {self.H}; it must be >= 1")
        if self.gamma is not None and not (0.0 <= float(self.gamma) < 1.0):
            raise ParameterError(f"gamma is {self.gamma}; it must lie in [0, 1)")
        mf = as_numpy(self.mu_feat, name="mu_feat")
        if mf.shape == (d, S):
            mf = np.broadcast_to(mf, (steps, d, S))
        elif mf.shape != (steps, d, S):
            raise ShapeError(f"mu_feat has shape {mf.shape}; expected ({d}, {S}) or ({steps}, {d}, {S})")
        th = as_numpy(self.theta, name="theta")
        if th.shape == (d,):
            th = np.broadcast_to(th, (steps, d))
        elif th.shape != (steps, d):
            raise ShapeError(f"theta has shape {th.shape}; expected ({d},) or ({steps}, {d})")
        _check_finite("mu_feat", mf)
        _check_finite("theta", th)
        P = np.einsum("sad,hdt->hsat", phi, mf)
        P[np.abs(P) < 1e-15] = 0.0
        _check_distributions("phi @ mu_feat", P)
        mu = _initial(self.mu, S)
        _freeze(phi, mf, th, mu)
        for k, v in dict(phi=phi, mu_feat=mf, theta=th, mu=mu, S=S, A=A, d=d).items():
            object.__setattr__(self, k, v)

    def transition(self) -> np.ndarray:
        """``P[h, s, a, t]``."""
        return np.clip(np.einsum("sad,hdt->hsat", self.phi, self.mu_feat), 0.0, None)

    def rewards(self) -> np.ndarray:
        """``R[h, s, a]``."""
        return np.einsum("sad,hd->hsa", self.phi, self.theta)

    def to_tabular(self):
        P, R = self.transition(), self.rewards()
        P = P / P.sum(-1, keepdims=True)
        if self.H is not None:
            return FiniteHorizonMDP(P, R, self.H, self.mu)
        return TabularMDP(P[0], R[0], self.gamma, self.mu)

    def __repr__(self) -> str:
        return f"LinearMDP(S={self.S}, A={self.A}, d={self.d}, H={self.H}, gamma={self.gamma})"
