r"""IWOCS: incremental worst-case search (Zouitine, Geist & Rachelson 2024, Algorithm 1).

IWOCS solves a robust MDP as a sequence of static ones:
:math:`Q_i = \min_{j\le i} Q^*_{T_j}`, :math:`\pi_i = \mathrm{greedy}(Q_i)`,
:math:`T_{i+1} = \arg\min_{T\in\mathcal T} V^{\pi_i}_T(\mu)`, stopping when :math:`U_i - L_i \le \varepsilon`
with :math:`L_i = V^{\pi_i}_{T_{i+1}}(\mu)` and :math:`U_i = \min_{i'\le i}\mu^\top\max_a Q_{i'}(\cdot,a)`.
For (s,a)-rectangular sets with an exact search, :math:`L_i \le V^*_{\mathcal T}(\mu) \le U_i` (static/dynamic
equivalence and no duality gap), so the bracket is a certificate.

Example:
    >>> from mdp.generators import garnet
    >>> from mdp.robust import L1Ball, iwocs
    >>> m = garnet(6, 2, 6, 0.9, seed=0)
    >>> r = iwocs(m, L1Ball(m.P, 0.5), eps=1e-6)
    >>> bool(r.converged), r.lower <= r.upper, r.residual <= 1e-6
    (True, True, True)
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mdp.model import ParameterError, TabularMDP, as_numpy, check_scalar
from mdp.operators import greedy_policy, q_values
from mdp.planning import policy_iteration
from mdp.robust.dp import (adversary_policy_iteration, check_robust_model, robust_value_iteration,
                           static_policy_values, static_worst_case)
from mdp.robust.sets import (ModelHull, ParametricSet, UncertaintySet, check_kernel, check_sparse_kernel, kernel_rows,
                             require_rectangularity, same_kernel)
from theory.results import SolverResult, warn_not_converged

__all__ = ["IwocsResult", "HISTORY_FIELDS", "iwocs", "iwocs_srect", "worst_case_search",
           "maxmin_policy",
           "history_array"]

HISTORY_FIELDS = ("iteration", "lower", "value", "upper", "backups", "oracle_calls")
"""Columns of :attr:`IwocsResult.history` (a numpy record array, one row per iteration)."""
SEARCHES = ("exact", "exact-vi", "grid", "random", "cmaes")


@dataclass(frozen=True)
class IwocsResult(SolverResult):
    r"""Result of :func:`iwocs` (and :func:`mdp.robust.iwocs_srect`).

    Attributes:
        value: :math:`L_i = V^{\pi_i}_{T_{i+1}}(\mu)`, the robust value estimate of the returned policy.
        lower: certified lower value (``value`` minus the search's residual bound); upper: :math:`U_i`.
        policy: ``[S, A]`` returned policy; models: the static kernels found.
        iterations: static problems solved.
        residual: the bracket width ``upper - lower`` of the returned iterate.
        error_bound: ``upper - lower`` where the bracket certifies :math:`V^*` ((s,a)-rectangular set, exact
            search and exact inner solves), else ``None``.
        converged: ``upper - lower <= eps`` held; stalled: the search returned a model already found.
        oracle_calls: worst-case oracle calls made by the searches.
        history: record array with fields :data:`HISTORY_FIELDS` when asked for (``history=True``).
    """

    value: float
    lower: float
    upper: float
    policy: np.ndarray
    models: list
    stalled: bool


def history_array(rows: list[dict]) -> np.ndarray:
    """The per-iteration dicts as a numpy record array (``h["lower"]`` works per row and per column)."""
    return np.rec.fromrecords([tuple(r[f] for f in HISTORY_FIELDS) for r in rows], names=",".join(HISTORY_FIELDS))


def worst_case_search(m, uset, pi, search, rng, tol, n_random=64, cmaes_generations=6, cmaes_population=16):
    """The worst static model against ``pi``: ``(value, kernel, oracle_calls, certified_lower)``.

    ``search``: ``"exact"`` (rectangular sets: :func:`adversary_policy_iteration`; static sets: enumeration),
    ``"exact-vi"`` (rectangular: robust policy evaluation by VI), ``"grid"`` (enumeration of a static set),
    ``"random"`` (``n_random`` oracle vertices, or one random model of a static set), ``"cmaes"`` (parametric
    sets with bounds). Static searches are not certified: their ``certified_lower`` is their ``value``.
    """
    rect = uset.rectangularity is not None
    if search == "exact" and rect:
        r = adversary_policy_iteration(m, uset, pi, tol=tol * (1 - m.gamma), warn=False)
        return r.value, r.kernel, r.oracle_calls, r.lower
    if search == "exact-vi" and rect:
        r = static_worst_case(m, uset, pi, tol=tol, method="vi")
        return r.value, r.kernel, r.oracle_calls, r.lower
    if search in ("exact", "exact-vi") or (search == "grid" and not rect):
        r = static_worst_case(m, uset, pi, tol=tol)
        return r.value, r.kernel, 0, r.value
    if search == "random":
        if rect:  # random vertices of the set: worst-case kernels against random value vectors
            kernels = [uset.worst_case(rng.normal(size=m.S))[1] for _ in range(n_random)]
            vals = static_policy_values(m, kernels, pi)
            k = int(np.argmin(vals))
            return float(vals[k]), kernels[k], n_random, float(vals[k])
        T = uset.models[int(rng.integers(len(uset)))]
        val = float(static_policy_values(m, [T], pi)[0])
        return val, T, 0, val
    if search == "cmaes":
        if not isinstance(uset, ParametricSet) or uset.bounds is None:
            raise ParameterError("search='cmaes' needs a ParametricSet with bounds")
        import cmaes

        lo, hi = uset.bounds[:, 0], uset.bounds[:, 1]
        opt = cmaes.CMA(mean=(lo + hi) / 2, sigma=float(np.max(hi - lo)) / 4, bounds=uset.bounds,
                        population_size=cmaes_population, seed=int(rng.integers(2 ** 31)))
        best = None
        for _ in range(cmaes_generations):
            sols = []
            for _ in range(opt.population_size):
                theta = opt.ask()
                T = check_kernel(uset.fn(theta if theta.size > 1 else float(theta[0])))
                val = float(static_policy_values(m, [T], pi)[0])
                sols.append((theta, val))
                if best is None or val < best[0]:
                    best = (val, T)
            opt.tell(sols)
        return best[0], best[1], 0, best[0]
    raise ParameterError(f"search must be one of {', '.join(SEARCHES)}; got {search!r}")


def _check_args(eps, mode, search, max_iterations, inner_backups, q_noise):
    eps = check_scalar("eps", eps, low=0.0, low_open=True)
    if mode not in ("min", "hull"):
        raise ParameterError(f"mode must be 'min' or 'hull', got {mode!r}")
    if search not in SEARCHES:
        raise ParameterError(f"search must be one of {', '.join(SEARCHES)}; got {search!r}")
    max_iterations = check_scalar("max_iterations", max_iterations, low=1, integer=True)
    if inner_backups is not None:
        try:
            inner_backups = check_scalar("inner_backups", inner_backups, low=1, integer=True)
        except ParameterError as e:
            raise ParameterError(f"{e} (inner_backups must be a positive integer or None)") from None
    q_noise = check_scalar("q_noise", q_noise, low=0.0)
    if not math.isfinite(q_noise):
        raise ParameterError(f"q_noise must be a finite number >= 0, got {q_noise!r}")
    return eps, max_iterations, inner_backups, q_noise


def iwocs(m: TabularMDP, uset: UncertaintySet, eps: float = 1e-6, search: str = "exact", max_iterations: int = 50,
          mode: str = "min", seed: int = 0, T0=None, inner_backups: int | None = None, q_noise: float = 0.0,
          history: bool = False) -> IwocsResult:
    r"""Incremental worst-case search (Algorithm 1 of Zouitine et al. 2024); see the module docstring.

    Args:
        m: nominal model (``R``, ``gamma``, ``mu``); uset: an (s,a)-rectangular or static set (s-rectangular
            sets: :func:`mdp.robust.iwocs_srect`).
        eps: bracket tolerance (> 0); search: see :func:`worst_case_search`; max_iterations: static solves.
        mode: ``"min"`` (:math:`Q_i = \min_j Q^*_{T_j}`) or ``"hull"`` (robust VI over the rectangular hull
            of the models found).
        seed: seed of the random searches; T0: ``[S, A, S]`` first model (the nominal kernel).
        inner_backups: ``k`` value-iteration backups from zero instead of exact policy iteration (an
            *imperfect* :math:`Q^*_{T_j}`); q_noise: Gaussian noise of that scale on each :math:`Q^*_{T_j}`.
        history: return the per-iteration record (:data:`HISTORY_FIELDS`).

    Returns:
        :class:`IwocsResult`. For rectangular sets with an exact search ``lower`` subtracts the search's own
        residual bound, so ``lower <= V*(mu) <= upper`` holds up to the inner solvers' rounding. Sparse
        kernels (a set built from a CSR matrix) are solved by the Krylov policy iteration of
        :mod:`mdp.sparse`, certified to ``1e-9 (1 + max|R|)`` rather than exact; :math:`\gamma` times its
        certified error is added to ``upper`` so the bracket remains a certificate. Warns with
        :class:`theory.results.NotConvergedWarning` when the bracket did not close, and with a
        ``UserWarning`` when imperfect inner solves inverted it.

    Example:
        >>> from mdp.generators import garnet
        >>> from mdp.robust import L1Ball, iwocs, robust_value_iteration
        >>> m = garnet(20, 3, 4, 0.9, seed=0)
        >>> U = L1Ball(m.dense_P(), 0.2)
        >>> r = iwocs(m, U, eps=1e-6)
        >>> bool(r.lower - 1e-6 <= robust_value_iteration(m, U, tol=1e-9).value <= r.upper + 1e-6)
        True
    """
    check_robust_model(m, uset, "iwocs")
    require_rectangularity(uset, ("sa", None), "iwocs", "use iwocs_srect for s-rectangular sets")
    eps, max_iterations, inner_backups, q_noise = _check_args(eps, mode, search, max_iterations, inner_backups,
                                                              q_noise)
    rng = np.random.default_rng(seed)
    if T0 is None:
        models = [uset.nominal()]
    else:
        models = [check_sparse_kernel(T0, "T0") if sp.issparse(T0) else check_kernel(as_numpy(T0), "T0")]
    Qs, rows = [], []
    backups = calls = 0
    q_err = 0.0
    upper, pi, converged, stalled = math.inf, None, False, False
    Pf = None
    for i in range(max_iterations):
        if inner_backups is None:
            sol = policy_iteration(TabularMDP(models[-1], m.R, m.gamma, m.mu))
            backups += sol.iterations
            Qj = sol.Q
            if sp.issparse(models[-1]):  # Krylov PI (mdp.sparse): Q_j is within gamma * error_bound of Q*_{T_j}
                q_err = max(q_err, m.gamma * float(sol.error_bound))
        else:
            Pf = kernel_rows(models[-1], m.S, m.A)
            Qj = np.array(m.R, dtype=float)
            for _ in range(inner_backups):
                Qj = q_values(Pf, m.R, m.gamma, Qj.max(1))
            backups += inner_backups
        if q_noise > 0:
            Qj = Qj + q_noise * rng.normal(size=Qj.shape)
        Qs.append(Qj)
        if mode == "min":
            Q = np.min(Qs, axis=0)
        else:
            hull = robust_value_iteration(m, ModelHull(models), tol=eps * (1 - m.gamma) / 10)
            backups += hull.iterations
            Q = hull.Q
        pi = greedy_policy(Q)
        upper = min(upper, float(m.mu @ Q.max(1)) + q_err)
        L, T_next, c, L_cert = worst_case_search(m, uset, pi, search, rng, tol=max(eps / 10, 1e-12))
        calls += c
        rows.append(dict(iteration=i, lower=L_cert, value=L, upper=upper, backups=backups, oracle_calls=calls))
        if upper - L_cert <= eps:
            converged = True
            break
        if any(same_kernel(T_next, T) for T in models):
            stalled = True
            break
        models.append(T_next)
    lower = float(rows[-1]["lower"])
    if upper < lower - 1e-9:
        warnings.warn(f"iwocs: upper value {upper:.8g} is below the lower value {lower:.8g}: the static problems "
                      "were not solved exactly (inner_backups/q_noise) or the set is not rectangular, so the "
                      "bracket is no certificate",
                      stacklevel=2)
    if not converged:
        warn_not_converged(f"iwocs{' (stalled)' if stalled else ''}", residual=max(upper - lower, 0.0), tol=eps,
                           iterations=len(rows))
    certified = (uset.rectangularity == "sa" and search in ("exact", "exact-vi") and inner_backups is None
                 and q_noise == 0 and mode == "min")
    width = max(upper - lower, 0.0)
    return IwocsResult(float(rows[-1]["value"]), lower, float(upper), pi, models, stalled, iterations=len(rows),
                       residual=width, error_bound=width if certified else None, converged=converged,
                       oracle_calls=calls, history=history_array(rows) if history else None)


def maxmin_policy(Qs) -> tuple[np.ndarray, np.ndarray]:
    r"""Per state :math:`\max_{\pi_s}\min_j \pi_s^\top Q_j(s,\cdot)` (one HiGHS LP per state).

    Args:
        Qs: ``[J, S, A]`` Q-functions.

    Returns:
        ``(value[S], pi[S, A])``.
    """
    from scipy.optimize import linprog

    J, S, A = Qs.shape
    vals, pis = np.zeros(S), np.zeros((S, A))
    for s in range(S):  # max v s.t. v <= pi . Q_j for all j, sum pi = 1, pi >= 0; variables [v, pi]
        res = linprog(np.r_[-1.0, np.zeros(A)], A_ub=np.hstack([np.ones((J, 1)), -Qs[:, s, :]]), b_ub=np.zeros(J),
                      A_eq=np.r_[0.0, np.ones(A)][None], b_eq=[1.0], bounds=[(None, None)] + [(0, None)] * A,
                      method="highs")
        vals[s], pis[s] = -res.fun, np.clip(res.x[1:], 0.0, None)
        pis[s] /= pis[s].sum()
    return vals, pis


def iwocs_srect(m: TabularMDP, uset, eps: float = 1e-6, randomised: bool = False, max_iterations: int = 30,
                history: bool = False) -> IwocsResult:
    r"""IWOCS on an s-rectangular set (:class:`mdp.robust.SRectL1Ball`).

    :math:`Q_i=\min_{j\le i}Q^*_{T_j}` (exact PI on each static model), :math:`\pi_i` greedy on :math:`Q_i`
    (``randomised=False``, the paper's rule) or the per-state max-min
    :math:`\max_{\pi_s}\min_j\pi_s^\top Q^*_{T_j}(s,\cdot)` (``randomised=True``, :func:`maxmin_policy`); the
    worst static kernel against :math:`\pi_i` by :func:`mdp.robust.srect_worst_kernel`; :math:`L_i` its
    certified value, :math:`U_i = \min_{i'\le i}\mu^\top u_{i'}` with :math:`u(s)` the per-state value of the
    played rule. :math:`L_i \le V^*` always; :math:`U_i` need not bound :math:`V^*` (greedy deterministic
    policies cannot represent the randomised optimum), so ``error_bound`` is ``None``.

    Args:
        m: nominal model; uset: an s-rectangular set; eps: bracket tolerance (> 0);
        randomised: play the max-min randomised rule; max_iterations: static solves; history: per-iteration record.

    Returns:
        :class:`IwocsResult` (``oracle_calls``: s-rectangular policy backups of the searches).
    """
    from mdp.robust.srect import srect_worst_kernel

    check_robust_model(m, uset, "iwocs_srect")
    require_rectangularity(uset, ("s",), "iwocs_srect", "use iwocs for (s,a)-rectangular and static sets")
    eps = check_scalar("eps", eps, low=0.0, low_open=True)
    max_iterations = check_scalar("max_iterations", max_iterations, low=1, integer=True)
    models, Qs, rows = [uset.nominal()], [], []
    upper, converged, stalled, pi, calls, backups = math.inf, False, False, None, 0, 0
    for i in range(max_iterations):
        sol = policy_iteration(TabularMDP(models[-1], m.R, m.gamma, m.mu))
        backups += sol.iterations
        Qs.append(sol.Q)
        Qarr = np.stack(Qs)
        if randomised:
            u, pi = maxmin_policy(Qarr)
        else:
            Q = Qarr.min(0)
            u, pi = Q.max(1), greedy_policy(Q)
        upper = min(upper, float(m.mu @ u))
        w = srect_worst_kernel(m, uset, pi, warn=False)
        calls += w.oracle_calls
        rows.append(dict(iteration=i, lower=w.lower, value=w.value, upper=upper, backups=backups, oracle_calls=calls))
        if upper - w.lower <= eps:
            converged = True
            break
        if any(np.allclose(w.kernel, T0, atol=1e-12) for T0 in models):
            stalled = True
            break
        models.append(w.kernel)
    lower = float(rows[-1]["lower"])
    if not converged:
        warn_not_converged(f"iwocs_srect{' (stalled)' if stalled else ''}", residual=abs(upper - lower), tol=eps,
                           iterations=len(rows))
    return IwocsResult(float(rows[-1]["value"]), lower, float(upper), pi, models, stalled, iterations=len(rows),
                       residual=abs(upper - lower), error_bound=None, converged=converged, oracle_calls=calls,
                       history=history_array(rows) if history else None)
