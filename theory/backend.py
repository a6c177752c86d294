r"""The package's one numpy/torch layer: array-kind test, softmax, log-sum-exp, simplex projection.

Every function takes a numpy array or a torch tensor and returns the same kind, on the same device, in
the same floating dtype (integer and boolean inputs are computed in ``float64`` for numpy and in torch's
default floating dtype for torch). Reductions run over one axis (``axis``, default the last); all other
axes are batch axes. Importing this module does not import torch: the kind test reads the type's module
name, so numpy-only callers never pay for torch.

Functions (the math each computes):

* :func:`is_torch` — ``x`` is a torch tensor (its type lives in the ``torch`` package).
* :func:`namespace` — the array module for ``x``: ``torch`` for a tensor, else ``numpy``.
* :func:`to_numpy` — a numpy view/copy of ``x`` (``detach().cpu().numpy()`` for a tensor).
* :func:`logsumexp` — :math:`\operatorname{lse}(x) = m + \log\sum_k e^{x_k - m}`, :math:`m = \max_k x_k`
  (shifted for stability; a row of all :math:`-\infty` gives :math:`-\infty`).
* :func:`softmax` — :math:`\sigma(x)_k = e^{x_k - m} / \sum_j e^{x_j - m}` (shift-invariant, rows sum to 1).
* :func:`log_softmax` — :math:`\log\sigma(x)_k = x_k - \operatorname{lse}(x)`.
* :func:`project_simplex` — the Euclidean projection :math:`\Pi_\Delta(v) = \arg\min_{p\in\Delta}\|p - v\|_2`
  onto the probability simplex :math:`\Delta = \{p \ge 0, \sum_k p_k = 1\}`, by the sort-based algorithm
  (Held, Wolfe & Crowder 1974; Duchi et al. 2008): with :math:`u` the entries sorted decreasingly and
  :math:`c_j = \sum_{i\le j} u_i - 1`, :math:`\rho = \max\{j : u_j - c_j/j > 0\}`, :math:`\tau = c_\rho/\rho`
  and :math:`\Pi_\Delta(v) = (v - \tau)_+`.

The package's local copies of these functions were replaced by this module where the replacement performs the
same floating-point operations in the same order (so no result changed by a bit). Two local forms stay, on
purpose, because their rounding differs and experiments' results depend on it:

* ``games.markov.solvers._softmax`` (numpy branch) computes ``exp(x - lse(x))``, i.e. ``np.exp(log_softmax(x))``,
  which rounds differently from :func:`softmax`'s ``e^{x - m} / \sum e^{x - m}``;
* ``games.efg.evaluation.bottom_up``'s log-sum-exp reduction returns its policy as ``exp(z - lse(z))`` for the same
  reason.

The ``torch.is_tensor`` / ``isinstance(x, torch.Tensor)`` / ``hasattr(x, "detach")`` tests that were replaced
agree with :func:`is_torch` on every numpy array, tensor and Parameter (they differ only on foreign objects
with a ``detach`` attribute). ``theory.numba_kernels.project_simplex_into`` mirrors :func:`project_simplex`
for one float64 vector inside compiled loops (same operations). The references in the tests
(``tests/test_games_mmd_reference.py``, ``tests/test_markov_game.py``) are independent on purpose and stay.
"""
from __future__ import annotations

import numpy as np

__all__ = ["is_torch", "namespace", "to_numpy", "logsumexp", "softmax", "log_softmax", "project_simplex"]


def is_torch(x) -> bool:
    """Whether ``x`` is a torch tensor (any subclass defined in the ``torch`` package, e.g. a Parameter).

    Reads ``type(x).__module__`` and so never imports torch.
    """
    return type(x).__module__.startswith("torch")


def namespace(x):
    """The array module for ``x``: the ``torch`` module for a tensor, ``numpy`` otherwise."""
    if is_torch(x):
        import torch

        return torch
    return np


def to_numpy(x) -> np.ndarray:
    """``x`` as a numpy array: ``x.detach().cpu().numpy()`` for a tensor (shares memory on CPU), else
    ``np.asarray(x)`` (no copy for an array)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _floating(x):
    """``x`` as an array/tensor of a floating dtype (kept if already floating)."""
    if is_torch(x):
        return x if x.is_floating_point() else x.to(__import__("torch").get_default_dtype())
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def logsumexp(x, axis: int = -1, keepdims: bool = False):
    r""":math:`\operatorname{lse}(x) = m + \log\sum_k \exp(x_k - m)` over ``axis``, :math:`m = \max_k x_k`.

    Numpy: ``m + log(sum(exp(x - m)))`` with ``m`` the maximum (replaced by 0 where it is not finite, so a
    row of all :math:`-\infty` gives :math:`-\infty` and a :math:`+\infty` entry gives :math:`+\infty`).
    Torch: :func:`torch.logsumexp`.
    """
    x = _floating(x)
    if is_torch(x):
        import torch

        return torch.logsumexp(x, dim=axis, keepdim=keepdims)
    m = np.max(x, axis=axis, keepdims=True)
    finite = bool(np.all(np.isfinite(m)))
    if not finite:
        m = np.where(np.isfinite(m), m, np.zeros((), dtype=m.dtype))
    with np.errstate(divide="ignore" if not finite else "warn"):  # log(0) = -inf for an all -inf row
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax(x, axis: int = -1):
    r""":math:`\sigma(x)_k = \exp(x_k - m) / \sum_j \exp(x_j - m)` over ``axis``, :math:`m = \max_j x_j`.

    Numpy: ``e = exp(x - max(x)); e / sum(e)``. Torch: :func:`torch.softmax`.
    """
    x = _floating(x)
    if is_torch(x):
        import torch

        return torch.softmax(x, dim=axis)
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def log_softmax(x, axis: int = -1):
    r""":math:`\log\sigma(x)_k = x_k - \operatorname{lse}(x)` over ``axis``.

    Numpy: ``x - logsumexp(x, keepdims=True)``. Torch: :func:`torch.log_softmax`.
    """
    x = _floating(x)
    if is_torch(x):
        import torch

        return torch.log_softmax(x, dim=axis)
    return x - logsumexp(x, axis=axis, keepdims=True)


def project_simplex(v):
    r"""Euclidean projection of every row ``v[..., k]`` onto the probability simplex.

    :math:`\Pi_\Delta(v) = \arg\min_{p \ge 0,\ \sum_k p_k = 1} \|p - v\|_2 = (v - \tau)_+`, with the threshold
    found from the sorted entries (Held–Wolfe–Crowder 1974, Duchi et al. 2008): :math:`u` = ``v`` sorted
    decreasingly, :math:`c_j = \sum_{i \le j} u_i - 1`, :math:`\rho = \max\{j : u_j - c_j / j > 0\}`,
    :math:`\tau = c_\rho / \rho`. All leading axes are batch axes. Cost :math:`O(k \log k)` per row.
    """
    v = _floating(v)
    k = v.shape[-1]
    if not is_torch(v):
        u = -np.sort(-v, axis=-1)
        css = np.cumsum(u, axis=-1) - 1.0
        ind = np.arange(1, k + 1)
        if v.dtype != np.float64:
            ind = ind.astype(v.dtype)
        cond = u - css / ind > 0
        rho = k - 1 - np.argmax(cond[..., ::-1], axis=-1)
        tau = np.take_along_axis(css, rho[..., None], -1) / (rho[..., None] + 1.0).astype(v.dtype, copy=False)
        return np.maximum(v - tau, 0.0)
    import torch

    u = torch.sort(v, dim=-1, descending=True).values
    css = u.cumsum(-1) - 1.0
    ind = torch.arange(1, k + 1, device=v.device, dtype=v.dtype)
    cond = (u - css / ind) > 0
    rho = k - 1 - cond.flip(-1).to(torch.int64).argmax(-1)
    tau = css.gather(-1, rho[..., None]) / (rho[..., None] + 1).to(v.dtype)
    return (v - tau).clamp(min=0.0)
