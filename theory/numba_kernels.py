r"""The numba kernels behind :mod:`theory.compiled` (imported only when a compiled path runs, so that
``import theory`` does not load numba). Arrays are float64 and C-contiguous; ``kind`` 0 is least squares,
1 a matrix game (see :class:`theory.compiled.CompiledFamily` for the data). The math of each kernel is in
the docstring of its wrapper in :mod:`theory.compiled`."""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["full_into", "batch_into", "project_simplex_into", "resolvent_into", "residual", "page_steps",
           "forb_steps"]


@numba.njit(cache=True)
def full_into(kind, A, AT, b, m, n, u, out):
    """out = F(u) (mean over all n components)."""
    if kind == 0:  # the reference's two BLAS calls: (A u - b)^T A / n
        out[:] = np.dot(np.dot(A, u) - b, A) / n
    else:  # the reference's BLAS calls: (A y, -(x A))
        out[:m] = np.dot(A, u[m:].copy())
        out[m:] = -np.dot(u[:m].copy(), A)


@numba.njit(cache=True)
def batch_into(kind, A, AT, b, m, n, idx, u, out):
    """``out = (1/|idx|) sum_{i in idx} F_i(u)``."""
    d = u.size
    size = idx.size
    if kind == 0:  # gather the rows, then the reference's two BLAS calls
        Ai = np.empty((size, d))
        bi = np.empty(size)
        for t in range(size):
            Ai[t] = A[idx[t]]
            bi[t] = b[idx[t]]
        out[:] = np.dot(np.dot(Ai, u) - bi, Ai) / size
    else:  # gather the used columns (rows of A^T) and rows, then the reference's BLAS calls
        k = A.shape[1]
        scale = n / size
        nc = 0
        nr = 0
        for t in range(size):
            nc += idx[t] < k
            nr += idx[t] < m
        for j in range(d):
            out[j] = 0.0
        if nc:
            Ac = np.empty((nc, m))
            yc = np.empty(nc)
            c = 0
            for t in range(size):
                if idx[t] < k:
                    Ac[c] = AT[idx[t]]
                    yc[c] = u[m + idx[t]]
                    c += 1
            out[:m] = np.dot(yc, Ac) * scale
        if nr:
            Ar = np.empty((nr, k))
            xr = np.empty(nr)
            c = 0
            for t in range(size):
                if idx[t] < m:
                    Ar[c] = A[idx[t]]
                    xr[c] = u[idx[t]]
                    c += 1
            out[m:] = 0.0 - np.dot(xr, Ar) * scale


@numba.njit(cache=True)
def project_simplex_into(v, out):
    """Sort-based simplex projection, the arithmetic of theory.operators.project_simplex."""
    k = v.size
    s = -np.sort(-v)
    css = np.empty(k)
    acc = 0.0
    for i in range(k):
        acc += s[i]
        css[i] = acc - 1.0
    rho = k - 1
    for i in range(k - 1, -1, -1):
        if s[i] - css[i] / (i + 1) > 0:
            rho = i
            break
    tau = css[rho] / (rho + 1.0)
    for i in range(k):
        x = v[i] - tau
        out[i] = x if x > 0.0 else 0.0


@numba.njit(cache=True)
def resolvent_into(kind, rho, m, z, eta, out):
    """out = J_{eta G}(z): soft threshold at eta * rho (least squares) or the simplex projections (game)."""
    d = z.size
    if kind == 0:
        if rho == 0.0:
            for j in range(d):
                out[j] = z[j]
        else:
            t = eta * rho
            for j in range(d):
                a = abs(z[j]) - t
                a = a if a > 0.0 else 0.0
                out[j] = a if z[j] > 0.0 else (-a if z[j] < 0.0 else 0.0)
    else:
        project_simplex_into(z[:m], out[:m])
        project_simplex_into(z[m:], out[m:])


@numba.njit(cache=True)
def residual(kind, A, AT, b, rho, m, n, u, g, z):
    """Natural residual ||u - J_G(u - F(u))|| (free), the certificate of theory.operators.FiniteSumOperator."""
    full_into(kind, A, AT, b, m, n, u, g)
    for t in range(u.size):
        g[t] = u[t] - g[t]
    resolvent_into(kind, rho, m, g, 1.0, z)
    s = 0.0
    for t in range(u.size):
        s += (u[t] - z[t]) ** 2
    return np.sqrt(s)


@numba.njit(cache=True)
def page_steps(kind, A, AT, b, rho, m, n, u0, u, u_prev, Ft, k, j, coins, subsets, eta, sq, used, last,
                check_every, max_calls, eps, rec_calls, rec_res):
    d = u.size
    chunk = coins.size
    g1 = np.empty(d)
    g2 = np.empty(d)
    z = np.empty(d)
    Ai = np.empty((subsets.shape[1], d) if kind == 0 else (0, d))
    bi = np.empty(subsets.shape[1])
    nrec = 0
    while True:
        if used - last >= check_every:  # the monitor's check, before every iteration
            r = residual(kind, A, AT, b, rho, m, n, u, g1, z)
            rec_calls[nrec] = used
            rec_res[nrec] = r
            nrec += 1
            last = used
            if r <= eps:
                return k, j, used, last, nrec, 1
        if used >= max_calls:
            return k, j, used, last, nrec, 2
        if j >= chunk:
            return k, j, used, last, nrec, 0
        if k <= 1:
            p = 1.0
        elif k - 1 <= sq:
            p = 4.0 / (k + 4)
        else:
            p = 4.0 / (sq + 5)
        if k == 0 or coins[j] < p:
            full_into(kind, A, AT, b, m, n, u, Ft)
            used += n
        else:
            idx = subsets[j]
            if kind == 0:  # least squares: gather the rows once for both points (same BLAS calls as op.batch)
                size = idx.size
                for t in range(size):
                    Ai[t] = A[idx[t]]
                    bi[t] = b[idx[t]]
                g1[:] = np.dot(np.dot(Ai, u) - bi, Ai) / size
                g2[:] = np.dot(np.dot(Ai, u_prev) - bi, Ai) / size
            else:
                batch_into(kind, A, AT, b, m, n, idx, u, g1)
                batch_into(kind, A, AT, b, m, n, idx, u_prev, g2)
            for t in range(d):
                Ft[t] = Ft[t] + g1[t] - g2[t]
            used += 2 * idx.size
        lam = 2.0 / (k + 4)
        for t in range(d):
            z[t] = lam * u0[t] + (1 - lam) * u[t] - eta * Ft[t]
            u_prev[t] = u[t]
        resolvent_into(kind, rho, m, z, eta, u)
        k += 1
        j += 1


@numba.njit(cache=True)
def forb_steps(kind, A, AT, b, rho, m, n, u, v, w, Fw, draws, coins, eta, gamma, p, budget):
    d = u.size
    alpha = 1.0 - p
    gamma_eta = gamma * eta
    g1 = np.empty(d)
    g2 = np.empty(d)
    z = np.empty(d)
    w_prev = w.copy()
    used = 0
    for j in range(coins.size):
        idx = draws[j]
        batch_into(kind, A, AT, b, m, n, idx, v, g1)
        batch_into(kind, A, AT, b, m, n, idx, w_prev, g2)
        used += 2 * idx.size
        for t in range(d):
            corr = eta * (g1[t] - g2[t]) + (v[t] - w_prev[t])
            z[t] = alpha * v[t] + (1 - alpha) * w[t] - gamma * (eta * Fw[t] + w[t] - u[t] + corr)
        for t in range(d):
            w_prev[t] = w[t]
        resolvent_into(kind, rho, m, z, gamma_eta, v)
        if coins[j] < p:
            for t in range(d):
                w[t] = v[t]
            full_into(kind, A, AT, b, m, n, w, Fw)
            used += n
        if used >= budget:
            break
    return used
