r"""Batched robust value iteration (torch): many instances, radii and discounts in one tensor program.

The backup is :func:`mdp.operators.q_values` at the worst-case kernels of the torch oracles of
:mod:`mdp.robust.oracles` (the same functions the numpy set classes call), iterated by
:func:`theory.fixed_point.certified_fixed_point` with a per-instance discount.

Example:
    >>> import numpy as np
    >>> from mdp.generators import garnet
    >>> from mdp.robust import batched_robust_value_iteration
    >>> ms = [garnet(4, 2, 4, 0.9, seed=s) for s in range(3)]
    >>> P = np.stack([m.dense_P() for m in ms]); R = np.stack([m.R for m in ms])
    >>> r = batched_robust_value_iteration(P, R, 0.9, [0.0, 0.2, 0.5], kind="l1", tol=1e-8)
    >>> tuple(r.V.shape), bool(r.converged.all())
    ((3, 4), True)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from mdp.model import ModelError, ParameterError, ShapeError
from mdp.operators import policy_average, q_values
from mdp.robust.oracles import ORACLES
from theory.fixed_point import certified_fixed_point
from theory.results import SolverResult

__all__ = ["BatchedRobustResult", "batched_robust_value_iteration"]


@dataclass(frozen=True)
class BatchedRobustResult(SolverResult):
    r"""Result of :func:`batched_robust_value_iteration` (per-instance fields are ``[B]`` tensors).

    Attributes:
        V: ``[B, S]`` returned iterates; Q: ``[B, S, A]`` robust Q-values at ``V``.
        iterations: robust backups (shared by the batch); oracle_calls: batched oracle calls (``iterations + 1``).
        residual: ``[B]`` robust Bellman residuals :math:`\|\mathcal T V - V\|_\infty` of the returned ``V``.
        error_bound: ``[B]`` certified :math:`\|V - V^\star\|_\infty` bounds.
        converged: ``[B]`` bool, ``error_bound <= tol`` held per instance.
        history: ``[iterations, B]`` step sizes when asked for.
    """

    V: torch.Tensor
    Q: torch.Tensor


def batched_robust_value_iteration(P, R, gamma, radius, kind: str = "l1", pi=None, tol: float = 1e-8,
                                   max_iter: int = 100_000, device=None, dtype=torch.float64,
                                   history: bool = False) -> BatchedRobustResult:
    r"""Robust value iteration (or robust policy evaluation when ``pi`` is given) for ``B`` (s,a)-rectangular
    instances at once:
    :math:`V^b \leftarrow \max_a [R^b + \gamma_b\min_{p\in\mathcal P^b_{s,a}} p^\top V^b]` (or the ``pi``-average).

    Args:
        P: ``[B, S, A, S]`` nominal kernels; R: ``[B, S, A]`` rewards.
        gamma: scalar or ``[B]`` discounts in ``[0, 1)``; radius: scalar or ``[B]`` radii ``>= 0``.
        kind: ``"l1"``, ``"linf"`` or ``"kl"`` (the oracle, :data:`mdp.robust.oracles.ORACLES`).
        pi: optional ``[B, S, A]`` (or broadcastable) policies to evaluate.
        tol: certified accuracy per instance; max_iter: backup budget.
        device, dtype: where and in what precision to run (``"cuda"`` works unchanged).
        history: record the per-iteration step sizes ``[iterations, B]``.

    Returns:
        :class:`BatchedRobustResult`.
    """
    if kind not in ORACLES:
        raise ParameterError(f"kind must be one of {sorted(ORACLES)}, got {kind!r}")
    dev = device or (P.device if isinstance(P, torch.Tensor) else "cpu")
    P = torch.as_tensor(P, dtype=dtype, device=dev)
    R = torch.as_tensor(R, dtype=dtype, device=dev)
    if P.ndim != 4 or P.shape[1] != P.shape[3] or R.shape != P.shape[:3] or P.numel() == 0:
        raise ShapeError(f"P must be [B, S, A, S] and R [B, S, A]; got {tuple(P.shape)}, {tuple(R.shape)}")
    B, S, A, _ = P.shape
    bad = ~torch.isfinite(P).all(-1) | (P < 0).any(-1) | ((P.sum(-1) - 1).abs() > 1e-8)
    if bool(bad.any()):
        b, s, a = (int(i) for i in bad.nonzero()[0])
        raise ModelError(f"P[{b}, {s}, {a}, :] is not a distribution (sum {float(P[b, s, a].sum()):.6g}, "
                         f"min {float(P[b, s, a].min()):.3g})")
    if not bool(torch.isfinite(R).all()):
        raise ModelError("R must be finite")
    try:
        g = torch.as_tensor(gamma, dtype=dtype, device=dev).expand(B)
        r = torch.as_tensor(radius, dtype=dtype, device=dev).expand(B)
    except RuntimeError as e:
        raise ShapeError(f"gamma and radius must be scalars or [B={B}]: {e}") from None
    if bool((g < 0).any() | (g >= 1).any()) or not bool(torch.isfinite(g).all()):
        raise ParameterError(f"every gamma must lie in [0, 1), got {g.tolist()}")
    if bool((r < 0).any()) or not bool(torch.isfinite(r).all()):
        raise ParameterError(f"every radius must be a finite number >= 0, got {r.tolist()}")
    if pi is not None:
        pi = torch.as_tensor(pi, dtype=dtype, device=dev).expand(B, S, A)
        if bool((pi < 0).any()) or bool(((pi.sum(-1) - 1).abs() > 1e-8).any()):
            raise ModelError("pi must hold a distribution over actions at every (instance, state)")
    oracle = ORACLES[kind]
    q = P.reshape(B, S * A, S)
    last = {}

    def step(V):
        _, p = oracle(q, V, r)
        Q = q_values(p, R, g, V)
        last["Q"] = Q
        return Q.amax(-1) if pi is None else policy_average(Q, pi)

    res = certified_fixed_point(step, torch.zeros(B, S, dtype=dtype, device=dev), g, tol, max_iter,
                                "batched_robust_value_iteration", history=history)
    return BatchedRobustResult(res.V, last["Q"], iterations=res.iterations, residual=res.residual,
                               converged=res.converged, error_bound=res.error_bound,
                               oracle_calls=res.iterations + 1, history=res.history)
