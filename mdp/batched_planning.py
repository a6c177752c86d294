r"""Exact dynamic programming for ``B`` MDPs at once, in torch.

:func:`batched_value_iteration`, :func:`batched_policy_evaluation` and :func:`batched_backward_induction` are
the batched twins of :mod:`mdp.planning`, written on the same operators of :mod:`mdp.operators` with a
leading batch axis (CPU here, CUDA unchanged).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mdp.batched import _tensor
from mdp.model import ParameterError, ShapeError
from mdp.operators import bellman_optimality, greedy_policy, policy_average, policy_kernel, policy_reward, q_values
from theory.fixed_point import certified_fixed_point
from theory.results import SolverResult

__all__ = ["batched_value_iteration", "BatchedPlanningResult", "batched_policy_evaluation",
           "batched_backward_induction"]


def _flat(P: torch.Tensor) -> torch.Tensor:
    *lead, S, A, S2 = P.shape
    return P.reshape(*lead, S * A, S2)


@dataclass(frozen=True)
class BatchedPlanningResult(SolverResult):
    """Result of :func:`batched_value_iteration` (per-instance fields are ``[B]`` tensors; the base fields of
    :class:`theory.results.SolverResult` are keyword-only).

    Attributes:
        V: ``[B, S]`` values of the returned iterate; ``Q``: ``[B, S, A]`` its action values.
        residual: ``[B]`` Bellman residuals ``||T V - V||_inf`` of the returned ``V``.
        error_bound: ``[B]`` certified bounds on ``||V - V*||_inf``.
        converged: ``[B]`` whether each instance met ``error_bound <= tol``.
        iterations: backups performed, the same for every instance (the batch stops when every instance is
            certified).
        history: ``[iterations, B]`` step sizes when asked for, else ``None``.
    """

    V: torch.Tensor
    Q: torch.Tensor

    @property
    def policy(self) -> torch.Tensor:
        """Greedy one-hot policies ``[B, S, A]`` of ``Q``."""
        return greedy_policy(self.Q)


def batched_value_iteration(P, R, gamma, tol: float = 1e-8, max_iter: int = 100_000, V0=None,
                            device=None, history: bool = False) -> BatchedPlanningResult:
    r"""Value iteration on ``B`` models at once: ``P[B, S, A, S]``, ``R[B, S, A]``, ``gamma`` scalar or ``[B]``.

    The same certified loop as :func:`mdp.planning.value_iteration`
    (:func:`theory.fixed_point.certified_fixed_point` with per-instance :math:`\gamma_b`), stopping when
    :math:`\max_b \gamma_b\|V^b_{k+1}-V^b_k\|_\infty/(1-\gamma_b) \le` ``tol``.

    Args:
        P: ``[B, S, A, S]`` kernels (numpy or torch); R: ``[B, S, A]``; gamma: scalar or ``[B]`` in [0, 1).
        tol: certified accuracy (> 0); max_iter: budget of backups; V0: ``[B, S]`` start (zeros).
        device: torch device (default: ``P``'s device, or CPU for numpy input).
        history: record per-iteration step sizes.

    Returns:
        :class:`BatchedPlanningResult`.
    """
    P = _tensor(P, device or getattr(P, "device", "cpu"), getattr(P, "dtype", torch.float64)
                if isinstance(P, torch.Tensor) else torch.float64)
    R = _tensor(R, P.device, P.dtype)
    g = _tensor(gamma, P.device, P.dtype)
    if g.ndim == 0:
        g = g.expand(P.shape[0])
    if P.ndim != 4 or R.shape != P.shape[:3]:
        raise ShapeError(f"P must be [B, S, A, S] and R [B, S, A]; got {tuple(P.shape)}, {tuple(R.shape)}")
    if g.shape != (P.shape[0],):
        raise ShapeError(f"gamma must be a scalar or [{P.shape[0]}], got shape {tuple(g.shape)}")
    if torch.any(g >= 1) or torch.any(g < 0):
        raise ParameterError(f"every gamma must lie in [0, 1), got {g.tolist()}")
    Pf = _flat(P)
    V = torch.zeros(P.shape[:2], device=P.device, dtype=P.dtype) if V0 is None else _tensor(V0, P.device, P.dtype)
    if V.shape != P.shape[:2]:
        raise ShapeError(f"V0 has shape {tuple(V.shape)}, expected {tuple(P.shape[:2])}")
    fp = certified_fixed_point(lambda V: bellman_optimality(Pf, R, g, V)[0], V, g, tol, max_iter,
                               "batched_value_iteration", history=history)
    return BatchedPlanningResult(fp.V, q_values(Pf, R, g, fp.V), residual=fp.residual, error_bound=fp.error_bound,
                                 converged=fp.converged, iterations=fp.iterations, history=fp.history)


def batched_policy_evaluation(P, R, gamma, pi):
    r"""Exact :math:`V^\pi = (I-\gamma P_\pi)^{-1} r_\pi` for ``B`` policies at once (``torch.linalg.solve``).

    Args:
        P: ``[B, S, A, S]`` kernels, or one ``[S, A, S]`` kernel shared by every policy.
        R: ``[B, S, A]`` or shared ``[S, A]``; a trailing objective axis (``[..., S, A, m]``) gives vector
            values.
        gamma: scalar or ``[B]``.
        pi: ``[B, S, A]`` policies.

    Returns:
        ``V[B, S]`` (or ``[B, S, m]`` for vector rewards). :math:`P_\pi` is
        :func:`mdp.operators.policy_kernel`, the package's one definition.
    """
    pi = pi if isinstance(pi, torch.Tensor) else torch.as_tensor(np.asarray(pi), dtype=torch.float64)
    P = _tensor(P, pi.device, pi.dtype)
    R = _tensor(R, pi.device, pi.dtype)
    g = _tensor(gamma, pi.device, pi.dtype)
    if g.ndim == 0:
        g = g.expand(pi.shape[0])
    P_pi = policy_kernel(P, pi)
    vector = R.shape[-2:] != pi.shape[-2:]
    r_pi = torch.einsum("...sak,...sa->...sk", R, pi) if vector else policy_reward(R, pi)
    eye = torch.eye(pi.shape[1], device=pi.device, dtype=pi.dtype)
    return torch.linalg.solve(eye - g[:, None, None] * P_pi, r_pi)


def batched_backward_induction(P, R, pi=None):
    r"""Backward induction for ``B`` finite-horizon models, optionally evaluating policies.

    ``P`` is ``[B, H, S, A, S]`` (time-varying) or ``[B, S, A, S]`` (homogeneous; then ``R`` must be
    ``[B, H, S, A]`` to fix ``H``); ``pi`` is ``[B, H, S, A]`` or ``None`` (optimal).
    Returns ``(V[B, H+1, S], Q[B, H, S, A])``.
    """
    P = P if isinstance(P, torch.Tensor) else torch.as_tensor(np.asarray(P), dtype=torch.float64)
    R = _tensor(R, P.device, P.dtype)
    if R.ndim != 4:
        raise ShapeError(f"R must be [B, H, S, A], got {tuple(R.shape)}")
    B, H, S, A = R.shape
    if P.shape not in ((B, H, S, A, S), (B, S, A, S)):
        raise ShapeError(f"P has shape {tuple(P.shape)}; expected ({B}, {H}, {S}, {A}, {S}) or ({B}, {S}, {A}, {S})")
    if pi is not None:
        pi = _tensor(pi, P.device, P.dtype)
        if pi.shape != (B, H, S, A):
            raise ShapeError(f"pi has shape {tuple(pi.shape)}; expected ({B}, {H}, {S}, {A})")
    V = torch.zeros((B, H + 1, S), device=P.device, dtype=P.dtype)
    Q = torch.zeros((B, H, S, A), device=P.device, dtype=P.dtype)
    for h in range(H - 1, -1, -1):
        Ph = _flat(P[:, h] if P.ndim == 5 else P)
        Q[:, h] = q_values(Ph, R[:, h], 1.0, V[:, h + 1])
        V[:, h] = Q[:, h].amax(-1) if pi is None else policy_average(Q[:, h], pi[:, h])
    return V, Q
