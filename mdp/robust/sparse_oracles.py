r"""Worst-case oracles on sparse nominal kernels: no ``[S, A, S]`` array anywhere.

The nominal kernel is a SciPy CSR matrix ``P[(s, a), t]`` of shape ``(S*A, S)`` (row ``s*A + a``), as held by
a sparse :class:`mdp.TabularMDP` (:func:`mdp.generators.sparse_garnet`). Its rows are read once into a
*compact* form (:class:`CompactRows`): ``cols[N, C]`` (the support of each row, padded) and ``q[N, C]`` (its
probabilities, 0 on the padding), with ``N = S*A`` and ``C`` the largest row support. Every oracle works on
that form plus the few extra columns its worst case can move mass to, and returns the worst-case kernel as a
CSR ``(S*A, S)`` matrix, so memory is :math:`O(SA(C + c))` with :math:`c` the extra columns:

* **L1** (:func:`sparse_l1_worst_case`), :math:`\{p\in\Delta: \|p - q\|_1\le\kappa\}`: move
  :math:`\delta=\min(\kappa/2, 1 - q_{j^*})` of mass onto :math:`j^*=\arg\min_j V_j`, taken from the
  support states of highest value first; one extra column per row (:math:`c = 1`).
* **L-inf** (:func:`sparse_linf_worst_case`), :math:`\{p\in\Delta: \|p - q\|_\infty\le\kappa\}`: from the lower
  box corner :math:`\max(q-\kappa, 0)` fill the missing mass :math:`m=\sum_j\min(q_j,\kappa)\le C\min(\kappa,1)`
  in increasing :math:`V`, each state up to :math:`\min(q_j+\kappa, 1)`. Every state has room at least
  :math:`\min(\kappa, 1)` above its lower corner (:math:`\min(2\kappa, 1-q_j+\kappa)` on the support,
  :math:`\min(\kappa,1)` off it), so the filling stops within the first ``C`` states of the global
  increasing-:math:`V` order: the candidate columns are the support and those ``C`` states (:math:`c = C`).
* **KL** (:func:`sparse_kl_worst_case`), :math:`\{p: \mathrm{KL}(p\|q)\le\rho\}`: the minimiser
  :math:`p\propto q\,e^{-V/\beta}` keeps the support of ``q``, so the dense bisection
  (:func:`mdp.robust.oracles.kl_tilted_rows`) runs on the compact rows unchanged (:math:`c = 0`).
* **Wasserstein-1** (:func:`sparse_wasserstein_worst_case`): the dual
  :math:`\max_{\lambda\ge0} -\lambda\delta + \sum_j q_j\phi_j(\lambda)` with the envelopes
  :math:`\phi_j(\lambda)=\min_k V_k + \lambda d(j,k)` over **all** states ``k``
  (:func:`mdp.robust.oracles.wasserstein_envelopes`, :math:`O(S^2)` work per breakpoint, one ``[S, S]``
  temporary, no ``[S, A, S]`` or ``[S, S, A]`` tensor). Per row only the envelopes of its ``C`` support
  states matter: their merged breakpoints are bisected for the first :math:`\lambda` whose transport cost
  :math:`c(\lambda)=\sum_j q_j d(j, k_j(\lambda))` is at most :math:`\delta`, and the two transport maps
  around it are mixed to meet the budget exactly (:math:`c = C`: each support state sends its mass to at
  most two states).

Each oracle computes the same arithmetic as its dense counterpart in :mod:`mdp.robust.oracles` restricted to
the columns that can be non-zero; the tests compare them to ``1e-10`` on random instances.

Example:
    >>> import numpy as np, scipy.sparse as sp
    >>> from mdp.robust.sparse_oracles import compact_rows, sparse_l1_worst_case
    >>> P = sp.csr_array(np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))  # S = 3, A = 1
    >>> vals, T = sparse_l1_worst_case(compact_rows(P), np.array([0.0, 1.0, 2.0]), 0.4)
    >>> np.round(vals[:, 0], 6).tolist(), T.shape
    ([0.3, 1.6, 0.0], (3, 3))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from mdp.robust.oracles import kl_tilted_rows, wasserstein_envelopes

__all__ = ["CompactRows", "compact_rows", "rows_to_csr", "sparse_l1_worst_case", "sparse_linf_worst_case",
           "sparse_kl_worst_case", "sparse_wasserstein_worst_case", "SPARSE_ORACLES"]


@dataclass(frozen=True)
class CompactRows:
    """The rows of a CSR kernel ``(S*A, S)`` padded to a common width ``C``.

    Attributes:
        cols: ``[N, C]`` int column (next-state) indices, 0 on the padding.
        q: ``[N, C]`` float64 probabilities, 0 on the padding.
        valid: ``[N, C]`` bool, False on the padding.
        S: number of states; A: number of actions (``N = S*A``).
    """

    cols: np.ndarray
    q: np.ndarray
    valid: np.ndarray
    S: int
    A: int


def compact_rows(P) -> CompactRows:
    """Read a CSR ``(S*A, S)`` kernel into :class:`CompactRows` (``O(nnz + N C)`` memory, no dense copy).

    Args:
        P: SciPy sparse ``(S*A, S)`` matrix (converted to CSR; duplicates summed, explicit zeros dropped).

    Returns:
        :class:`CompactRows`.
    """
    P = sp.csr_array(P, copy=True)
    P.sum_duplicates()
    P.eliminate_zeros()
    N, S = P.shape
    counts = np.diff(P.indptr)
    C = max(int(counts.max()) if N else 0, 1)
    row = np.repeat(np.arange(N), counts)
    pos = np.arange(P.nnz) - P.indptr[:-1][row]
    cols = np.zeros((N, C), dtype=P.indices.dtype)
    q = np.zeros((N, C))
    valid = np.zeros((N, C), dtype=bool)
    cols[row, pos] = P.indices
    q[row, pos] = P.data
    valid[row, pos] = True
    return CompactRows(cols, q, valid, S, N // S)


def rows_to_csr(cols, data, S: int):
    """A CSR ``(N, S)`` matrix from compact ``cols[N, W]`` / ``data[N, W]`` (duplicates summed, zeros dropped)."""
    N, W = cols.shape
    M = sp.csr_array((data.ravel(), cols.ravel(), np.arange(N + 1, dtype=np.int64) * W), shape=(N, S))
    M.sum_duplicates()
    M.eliminate_zeros()
    return M


def _ranks(order: np.ndarray) -> np.ndarray:
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return rank


def sparse_l1_worst_case(rows: CompactRows, V, radius: float):
    r"""L1 worst case on a sparse kernel (module docstring); the dense counterpart is
    :func:`mdp.robust.oracles.l1_worst_case`.

    Args:
        rows: the nominal kernel's :class:`CompactRows`; V: ``[S]`` values; radius: :math:`\kappa \ge 0`.

    Returns:
        ``(values[S, A], kernel)`` with ``kernel`` a CSR ``(S*A, S)`` matrix (support plus :math:`\arg\min V`).
    """
    v = np.asarray(V, dtype=np.float64)
    N, S = rows.q.shape[0], rows.S
    j = int(np.argmin(v))
    rank = _ranks(np.argsort(-v, kind="stable"))  # highest value first, lowest index on ties
    cols = np.hstack([rows.cols, np.full((N, 1), j, dtype=rows.cols.dtype)])
    q = np.hstack([rows.q, np.zeros((N, 1))])
    at_j = np.hstack([rows.valid & (rows.cols == j), np.ones((N, 1), dtype=bool)])
    delta = np.minimum(radius / 2, 1.0 - np.where(at_j, q, 0.0).sum(1))
    valid = np.hstack([rows.valid, np.zeros((N, 1), dtype=bool)])
    key = np.where(valid & ~at_j, rank[cols], S)
    order = np.argsort(key, axis=1, kind="stable")
    qs = np.take_along_axis(np.where(at_j, 0.0, q), order, 1)
    before = np.cumsum(qs, 1) - qs
    take = np.minimum(np.maximum(delta[:, None] - before, 0.0), qs)
    p = q.copy()
    np.put_along_axis(p, order, np.take_along_axis(p, order, 1) - take, 1)
    p[:, -1] += delta
    np.maximum(p, 0.0, out=p)
    return (p * v[cols]).sum(1).reshape(S, rows.A), rows_to_csr(cols, p, S)


def sparse_linf_worst_case(rows: CompactRows, V, radius: float):
    r"""L-inf worst case on a sparse kernel (module docstring); dense counterpart
    :func:`mdp.robust.oracles.linf_worst_case`.

    Args:
        rows: :class:`CompactRows`; V: ``[S]``; radius: :math:`\kappa \ge 0`.

    Returns:
        ``(values[S, A], kernel CSR (S*A, S))``.
    """
    v = np.asarray(V, dtype=np.float64)
    N, C, S = rows.q.shape[0], rows.q.shape[1], rows.S
    order_v = np.argsort(v, kind="stable")
    K = 0 if radius <= 0 else min(S, C)  # the filling stops within the first C states of the order (docstring)
    ext = order_v[:K].astype(rows.cols.dtype)
    dup = (rows.valid[:, :, None] & (rows.cols[:, :, None] == ext[None, None, :])).any(1)  # [N, K]
    cols = np.hstack([rows.cols, np.broadcast_to(ext, (N, K))])
    q = np.hstack([rows.q, np.zeros((N, K))])
    valid = np.hstack([rows.valid, ~dup])
    lo = np.where(valid, np.maximum(q - radius, 0.0), 0.0)
    hi = np.where(valid, np.minimum(q + radius, 1.0), 0.0)
    mass = 1.0 - lo.sum(1)
    order = np.argsort(np.where(valid, _ranks(order_v)[cols], S), axis=1, kind="stable")
    cap = np.take_along_axis(hi - lo, order, 1)
    before = np.cumsum(cap, 1) - cap
    add = np.minimum(np.maximum(mass[:, None] - before, 0.0), cap)
    p = lo.copy()
    np.put_along_axis(p, order, np.take_along_axis(p, order, 1) + add, 1)
    return (p * v[cols]).sum(1).reshape(S, rows.A), rows_to_csr(cols, p, S)


def sparse_kl_worst_case(rows: CompactRows, V, radius: float, iterations: int = 64):
    r"""KL worst case on a sparse kernel: the bisection of :func:`mdp.robust.oracles.kl_worst_case` on the
    compact rows (the minimiser keeps the nominal support).

    Args:
        rows: :class:`CompactRows`; V: ``[S]``; radius: :math:`\rho \ge 0`; iterations: bisection steps.

    Returns:
        ``(values[S, A], kernel CSR (S*A, S))``.
    """
    v = np.asarray(V, dtype=np.float64)
    vb = v[rows.cols]
    if radius <= 0:
        p = rows.q
    else:
        p = kl_tilted_rows(torch.from_numpy(rows.q), torch.from_numpy(vb),
                           torch.tensor([float(radius)], dtype=torch.float64),
                           torch.tensor(float(v.max() - v.min()), dtype=torch.float64), iterations).numpy()
    return (p * vb).sum(1).reshape(rows.S, rows.A), rows_to_csr(rows.cols, p, rows.S)


def sparse_wasserstein_worst_case(rows: CompactRows, V, radius: float, metric):
    r"""Exact Wasserstein-1 worst case on a sparse kernel (module docstring); dense counterpart
    :func:`mdp.robust.oracles.wasserstein_worst_case`.

    Args:
        rows: :class:`CompactRows`; V: ``[S]``; radius: :math:`\delta \ge 0`; metric: ``[S, S]`` ground metric.

    Returns:
        ``(values[S, A], kernel CSR (S*A, S))``: each support state ``j`` sends ``theta q_j`` to ``k_j`` before
        the optimal breakpoint and ``(1 - theta) q_j`` to ``k_j`` after it.
    """
    v = np.asarray(V, dtype=np.float64)
    d, delta = metric, float(radius)
    B, Kmap = wasserstein_envelopes(d, v)  # B[S, L] (inf-padded, non-decreasing), Kmap[S, L + 1]
    N, C = rows.q.shape
    L = B.shape[1]
    Bp = np.where(rows.valid[..., None], B[rows.cols], np.inf)  # [N, C, L]; padding never moves
    Kp = Kmap[rows.cols]  # [N, C, L + 1]
    cand = np.sort(np.hstack([np.zeros((N, 1)), Bp.reshape(N, C * L)]), axis=1)  # [N, M]
    M = cand.shape[1]
    r = np.arange(N)

    def cost(idx):
        lam = cand[r, idx]
        k = np.take_along_axis(Kp, (Bp <= lam[:, None, None]).sum(-1)[..., None], -1)[..., 0]  # [N, C]
        return (rows.q * d[rows.cols, k]).sum(1), k

    lo, hi = np.full(N, -1), np.full(N, M - 1)  # cost(hi) <= delta: after every breakpoint k_j = j, cost 0
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        ok = cost(np.maximum(mid, 0))[0] <= delta + 1e-15
        upd = hi - lo > 1
        hi = np.where(upd & ok, mid, hi)
        lo = np.where(upd & ~ok, mid, lo)
    seg = hi  # the first candidate with cost <= delta (duplicates share a cost, so cand[seg - 1] < cand[seg])
    c_hi, k_hi = cost(seg)
    c_lo, k_lo = cost(np.maximum(seg - 1, 0))
    theta = np.where((seg > 0) & (c_lo - c_hi > 1e-15),
                     np.clip((delta - c_hi) / np.maximum(c_lo - c_hi, 1e-300), 0.0, 1.0), 0.0)
    cols = np.hstack([k_lo, k_hi])
    data = np.hstack([theta[:, None] * rows.q, (1 - theta[:, None]) * rows.q])
    return (data * v[cols]).sum(1).reshape(rows.S, rows.A), rows_to_csr(cols, data, rows.S)


SPARSE_ORACLES = {"l1": sparse_l1_worst_case, "linf": sparse_linf_worst_case, "kl": sparse_kl_worst_case,
                  "w1": sparse_wasserstein_worst_case}
"""The sparse oracles by set ``kind`` (signature ``(rows, V, radius, ...) -> (values[S, A], CSR kernel)``)."""
