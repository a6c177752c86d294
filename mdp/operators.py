r"""The Bellman operators: one implementation for numpy, SciPy-sparse and torch arrays.

Every solver in the package (exact planning, batched VI, robust, constrained and multi-objective
solvers, the actor-critic's critic) builds on these few functions. Leading axes are batch axes:

* ``P_flat``: ``[..., S*A, S]`` kernel (row ``s*A + a``), a dense numpy/torch array or a SciPy sparse
  ``(S*A, S)`` matrix; a 2-D kernel is shared by every batch entry of ``V``.
* ``R``: ``[..., S, A]``; ``V``: ``[..., S]``; ``pi``: ``[..., S, A]``; ``gamma``: scalar or ``[...]``.

.. math::
   (P V)(s,a) &= \sum_t P(t\mid s,a)\, V(t) \\
   Q(s,a) &= R(s,a) + \gamma\, (P V)(s,a) \\
   (\mathcal T V)(s) &= \max_a Q(s,a), \qquad (\mathcal T^\pi V)(s) = \sum_a \pi(a\mid s)\, Q(s,a)

A dense 2-D kernel times a vector is a single BLAS gemv (the memory-bound optimum on CPU); a batched
kernel is a batched matmul (what a GPU wants).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from theory.backend import is_torch

__all__ = ["expected_next", "q_values", "bellman_optimality", "bellman_expectation",
           "greedy_actions", "greedy_policy", "policy_average", "policy_kernel", "policy_reward"]


def _amax(x):
    return x.amax(dim=-1) if is_torch(x) else np.max(x, axis=-1)


def _argmax(x):
    return x.argmax(dim=-1) if is_torch(x) else np.argmax(x, axis=-1)


def expected_next(P_flat, V):
    """``[..., S*A]``: :math:`\\sum_t P[s,a,t]\\,V[...,t]` for every flattened pair ``(s, a)``."""
    if sp.issparse(P_flat):
        V = np.asarray(V)
        if V.ndim == 1:
            return P_flat @ V
        lead = V.shape[:-1]
        return (P_flat @ V.reshape(-1, V.shape[-1]).T).T.reshape(*lead, P_flat.shape[0])
    if P_flat.ndim == 2:
        return P_flat @ V if V.ndim == 1 else V @ P_flat.T
    return (P_flat @ V[..., None])[..., 0]


def q_values(P_flat, R, gamma, V):
    r"""``Q[..., s, a] = R[..., s, a] + gamma * sum_t P[s, a, t] V[..., t]``."""
    nxt = expected_next(P_flat, V)
    nxt = nxt.reshape(*nxt.shape[:-1], R.shape[-2], R.shape[-1])
    if not np.isscalar(gamma) and getattr(gamma, "ndim", 0) > 0:
        gamma = gamma[..., None, None]
    return R + gamma * nxt


def bellman_optimality(P_flat, R, gamma, V):
    """``(T V, Q)``: the optimal Bellman backup and the Q-values it maximised."""
    Q = q_values(P_flat, R, gamma, V)
    return _amax(Q), Q


def policy_average(Q, pi):
    """``sum_a pi[..., s, a] Q[..., s, a]``."""
    return (pi * Q).sum(-1)


def bellman_expectation(P_flat, R, gamma, pi, V):
    """``T^pi V``."""
    return policy_average(q_values(P_flat, R, gamma, V), pi)


def greedy_actions(Q):
    """``argmax_a Q[..., s, a]`` (lowest index on ties)."""
    return _argmax(Q)


def greedy_policy(Q):
    """One-hot greedy policy ``[..., S, A]`` of the same array type as ``Q``."""
    a = _argmax(Q)
    if is_torch(Q):
        import torch

        return torch.nn.functional.one_hot(a, Q.shape[-1]).to(Q.dtype)
    return np.eye(Q.shape[-1], dtype=Q.dtype)[a]


def policy_kernel(P, pi):
    r"""``P_pi[..., s, t] = sum_a pi[..., s, a] P[..., s, a, t]``.

    ``P`` may be dense ``[..., S, A, S]`` or a SciPy sparse ``(S*A, S)`` matrix (then ``pi`` is
    ``[S, A]`` and the result is a sparse ``(S, S)`` matrix).
    """
    if sp.issparse(P):
        S, A = pi.shape
        D = sp.csr_array((np.asarray(pi).ravel(), (np.repeat(np.arange(S), A), np.arange(S * A))),
                         shape=(S, S * A))
        return (D @ P).tocsr()
    if is_torch(P):
        import torch

        return torch.einsum("...sat,...sa->...st", P, pi)
    return np.einsum("...sat,...sa->...st", P, pi)


def policy_reward(R, pi):
    """``r_pi[..., s] = sum_a pi[..., s, a] R[..., s, a]``."""
    return policy_average(R, pi)
