r"""The one certified fixed-point loop of the package (numpy or torch, one or many instances).

For a :math:`\gamma`-contraction :math:`\mathcal T` in the sup norm (a Bellman operator, a robust or
s-rectangular Bellman operator, a policy-evaluation operator) and iterates :math:`V_k = \mathcal T V_{k-1}`,

.. math::
   \|V_k - V^\star\|_\infty \le \frac{\gamma}{1-\gamma}\,\|V_k - V_{k-1}\|_\infty,
   \qquad
   \|V - V^\star\|_\infty \le \frac{\|\mathcal T V - V\|_\infty}{1-\gamma}\ \text{ for any } V

(Puterman 1994, Thm 6.3.1). :func:`certified_fixed_point` iterates until the first bound is at most
``tol``, then evaluates :math:`\mathcal T` once more at the returned iterate so that ``residual`` is the
residual of the *returned* :math:`V` (the package's result convention, :mod:`theory.results`) and
``error_bound`` the smaller of the two certificates.

Batched use: ``V0`` of shape ``[B, S]`` and ``gamma`` a scalar or ``[B]``; norms are taken over the last
axis per instance, the loop stops when every instance is certified, and the result's fields are ``[B]``
arrays (numpy) or tensors (torch).

Example:
    >>> import numpy as np
    >>> from theory.fixed_point import certified_fixed_point
    >>> r = certified_fixed_point(lambda V: 1.0 + 0.5 * V, np.zeros(3), gamma=0.5, tol=1e-10)
    >>> bool(r.converged), round(float(r.V[0]), 8)
    (True, 2.0)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from theory.backend import is_torch
from theory.results import SolverResult, warn_not_converged
from theory.validation import ParameterError, check_scalar

__all__ = ["FixedPointResult", "certified_fixed_point"]


@dataclass(frozen=True)
class FixedPointResult(SolverResult):
    """Result of :func:`certified_fixed_point` (fields per instance when batched; the base fields of
    :class:`theory.results.SolverResult` are keyword-only).

    Attributes:
        V: the returned iterate ``[..., S]``.
        residual: :math:`\\|\\mathcal T V - V\\|_\\infty` of the returned ``V``.
        error_bound: certified bound on :math:`\\|V - V^\\star\\|_\\infty`.
        converged: the stopping test ``gamma/(1-gamma) ||V_k - V_{k-1}|| <= tol`` held.
        iterations: applications of the operator in the loop (the final residual evaluation excluded).
        history: ``[iterations, ...]`` step sizes :math:`\\|V_k - V_{k-1}\\|_\\infty` when asked for.
        TV: :math:`\\mathcal T V` at the returned ``V`` (the extra evaluation; free for callers).
    """

    V: Any
    TV: Any = None


def certified_fixed_point(step: Callable, V0, gamma, tol: float = 1e-8, max_iter: int = 100_000,
                          who: str = "certified_fixed_point", history: bool = False,
                          callback: Callable | None = None, warn: bool = True) -> FixedPointResult:
    r"""Iterate ``V <- step(V)`` to a certified ``tol``.

    Args:
        step: the contraction :math:`\mathcal T`, mapping ``[..., S]`` to ``[..., S]`` (numpy or torch).
        V0: the starting iterate ``[S]`` or ``[B, S]``.
        gamma: the contraction factor, scalar or ``[B]`` (per instance), each in ``[0, 1)``.
        tol: certified accuracy :math:`\|V - V^\star\|_\infty \le` ``tol`` at convergence (> 0).
        max_iter: budget of operator applications (>= 1).
        who: the solver's name, used in the non-convergence warning.
        history: record the per-iteration step sizes.
        callback: called as ``callback(k, V_k, step_size_k)`` after every iteration.
        warn: warn (:class:`theory.results.NotConvergedWarning`) when the budget runs out.

    Returns:
        :class:`FixedPointResult`.
    """
    tol = check_scalar("tol", tol, low=0.0, low_open=True)
    max_iter = check_scalar("max_iter", max_iter, low=1, integer=True)
    torch_mode = is_torch(V0)
    if torch_mode:
        import torch

        V = V0.clone()
        g = torch.as_tensor(gamma, dtype=V.dtype, device=V.device)
        norm = lambda x: x.abs().amax(-1)  # noqa: E731
        if not bool(torch.isfinite(V).all()):
            raise ParameterError(f"{who}: the initial iterate has non-finite entries")
        if bool(((g < 0) | (g >= 1)).any()):
            raise ParameterError(f"{who}: gamma must lie in [0, 1), got {g.tolist()}")
    else:
        V = np.array(V0, dtype=np.float64)
        g = np.asarray(gamma, dtype=np.float64)
        norm = lambda x: np.max(np.abs(x), axis=-1)  # noqa: E731
        if not np.all(np.isfinite(V)):
            raise ParameterError(f"{who}: the initial iterate has non-finite entries")
        if np.any((g < 0) | (g >= 1)):
            raise ParameterError(f"{who}: gamma must lie in [0, 1), got {g.tolist()}")
    factor = g / (1 - g)
    hist = []
    k = 0
    bound = None
    for k in range(1, max_iter + 1):
        V_new = step(V)
        d = norm(V_new - V)
        V = V_new
        if history:
            hist.append(d.detach().cpu().numpy() if torch_mode else np.asarray(d))
        if callback is not None:
            callback(k, V, d)
        bound = factor * d
        if float(bound.max()) <= tol:
            break
    converged = bound <= tol
    TV = step(V)
    residual = norm(TV - V)
    if torch_mode:
        import torch

        error_bound = torch.minimum(bound, residual / (1 - g))
    else:
        error_bound = np.minimum(bound, residual / (1 - g))
    if warn and not bool(converged.all()):
        warn_not_converged(who, residual=float(residual.max()), tol=tol, iterations=k, stacklevel=3)
    if np.ndim(residual) == 0 and not torch_mode:
        residual, error_bound, converged = float(residual), float(error_bound), bool(converged)
    return FixedPointResult(V, TV, residual=residual, error_bound=error_bound, converged=converged, iterations=k,
                            history=np.asarray(hist) if history else None)
