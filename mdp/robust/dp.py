r"""Robust dynamic programming: robust VI and policy evaluation, adversary policy iteration, static worst cases.

For an (s,a)-rectangular set the robust Bellman operator is the nominal one with the expectation replaced by
the set's worst case (Iyengar 2005, Thm 3; Nilim & El Ghaoui 2005),

.. math:: (\mathcal T_{\rm rob} V)(s) = \max_a Q_V(s,a),\qquad
          Q_V(s,a) = r(s,a) + \gamma \min_{p\in\mathcal P_{s,a}} p^\top V = r(s,a) + \gamma\, (T_V V)(s,a),

with :math:`T_V` the minimising kernel, so every backup is :func:`mdp.operators.q_values` at the worst-case
kernel. Both operators are :math:`\gamma`-contractions; the loops are
:func:`theory.fixed_point.certified_fixed_point`.

Example:
    >>> from mdp.generators import garnet
    >>> from mdp.robust import L1Ball, robust_value_iteration
    >>> m = garnet(5, 2, 5, 0.9, seed=0)
    >>> r = robust_value_iteration(m, L1Ball(m.P, 0.3), tol=1e-8)
    >>> bool(r.converged), r.error_bound <= 1e-8, r.oracle_calls == r.iterations + 1
    (True, True, True)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mdp.model import ModelError, ParameterError, ShapeError, TabularMDP, check_scalar, check_shape, validate_policy
from mdp.operators import greedy_policy, q_values
from mdp.planning import policy_evaluation
from mdp.robust.sets import UncertaintySet, kernel_rows, require_rectangularity
from theory.fixed_point import certified_fixed_point
from theory.results import SolverResult, warn_not_converged

__all__ = ["RobustResult", "StaticWorstCase", "check_robust_model", "static_policy_values",
           "robust_value_iteration", "robust_policy_evaluation", "adversary_policy_iteration", "static_worst_case"]


@dataclass(frozen=True)
class RobustResult(SolverResult):
    r"""Result of :func:`robust_value_iteration` / :func:`robust_policy_evaluation`.

    Attributes:
        V: ``[S]`` returned iterate; Q: ``[S, A]`` robust Q-values at ``V``; policy: ``[S, A]`` (greedy for VI,
            the evaluated policy for PE); value: ``mu @ V``; kernel: ``[S, A, S]`` minimising kernel at ``V``
            (CSR ``(S*A, S)`` when the set is sparse).
        residual: robust Bellman residual :math:`\|\mathcal T V - V\|_\infty` of the returned ``V``.
        error_bound: certified :math:`\|V - V^\star\|_\infty` bound.
        converged: ``error_bound <= tol`` held.
        iterations: robust backups in the loop; oracle_calls: worst-case oracle calls (``iterations + 1``).
        history: ``[iterations]`` step sizes :math:`\|V_k - V_{k-1}\|_\infty` when asked for.
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    value: float
    kernel: np.ndarray


def check_robust_model(m, uset, who: str) -> None:
    """``m`` a scalar-reward :class:`TabularMDP` and ``uset`` an uncertainty set of the same ``(S, A)``."""
    if not isinstance(m, TabularMDP):
        raise TypeError(f"{who} needs a TabularMDP, got {type(m).__name__}")
    if m.n_objectives != 1:
        raise ModelError(f"{who} needs scalar rewards, got {m.n_objectives} objectives")
    if not isinstance(uset, UncertaintySet):
        raise TypeError(f"{who}: uset must be an UncertaintySet, got {type(uset).__name__}")
    S, A = uset.shape
    if (S, A) != (m.S, m.A):
        raise ShapeError(f"{who}: the uncertainty set's kernels have shape {(S, A, S)}, the model "
                         f"needs ({m.S}, {m.A}, {m.S})")


def _dynamic_set(uset, who):
    require_rectangularity(uset, ("sa", None), who, "use s_rectangular_value_iteration / "
                           "s_rectangular_policy_evaluation for s-rectangular sets")
    return uset if uset.rectangularity == "sa" else uset.hull()


def robust_value_iteration(m: TabularMDP, uset: UncertaintySet, tol: float = 1e-8, max_iter: int = 100_000,
                           V0=None, history: bool = False, callback=None) -> RobustResult:
    r"""Robust value iteration :math:`V_{k+1} = \max_a[r + \gamma\min_{p\in\mathcal P_{s,a}}p^\top V_k]`.

    Static sets (``rectangularity=None``) are solved through their (s,a)-rectangular hull; s-rectangular
    sets raise :class:`mdp.robust.RectangularityError`. Stops when
    :math:`\gamma\|V_k-V_{k-1}\|_\infty/(1-\gamma)\le` ``tol``, which certifies :math:`\|V_k-V^\star\|\le` ``tol``.

    Args:
        m: the nominal model (its ``R``, ``gamma``, ``mu``); uset: the uncertainty set, kernels ``[S, A, S]``.
        tol: certified accuracy (> 0); max_iter: backup budget; V0: ``[S]`` start (zeros).
        history: record the per-iteration step sizes.
        callback: called as ``callback(k, V_k, step_k)`` after every backup (e.g. to record ``mu @ V_k``).

    Returns:
        :class:`RobustResult` (``oracle_calls = iterations + 1``: the last call evaluates the returned ``V``).

    Example:
        >>> from mdp.generators import garnet
        >>> from mdp.robust import KLBall, robust_value_iteration
        >>> m = garnet(4, 2, 4, 0.9, seed=1)
        >>> r = robust_value_iteration(m, KLBall(m.P, 0.1), tol=1e-6, history=True)
        >>> len(r.history) == r.iterations
        True
    """
    who = "robust_value_iteration"
    check_robust_model(m, uset, who)
    uset = _dynamic_set(uset, who)
    last = {}

    def step(V):
        _, T = uset.worst_case(V)
        Q = q_values(kernel_rows(T, m.S, m.A), m.R, m.gamma, V)
        last.update(Q=Q, T=T)
        return Q.max(1)

    if V0 is None:
        V0 = np.zeros(m.S)
    else:
        V0 = np.asarray(V0, dtype=np.float64)
        check_shape("V0", V0, (m.S,))
    r = certified_fixed_point(step, V0, m.gamma, tol, max_iter, who, history=history, callback=callback)
    Q = last["Q"]
    return RobustResult(r.V, Q, greedy_policy(Q), float(m.mu @ r.V), last["T"], iterations=r.iterations,
                        residual=r.residual, converged=r.converged, error_bound=r.error_bound,
                        oracle_calls=r.iterations + 1, history=r.history)


def robust_policy_evaluation(m: TabularMDP, uset: UncertaintySet, pi, tol: float = 1e-8, max_iter: int = 100_000,
                             history: bool = False) -> RobustResult:
    r"""Pessimistic value of a stationary policy under a dynamic adversary,
    :math:`V \leftarrow \sum_a\pi(a|s)[r(s,a) + \gamma\min_{p\in\mathcal P_{s,a}}p^\top V]` (a
    :math:`\gamma`-contraction, the set's ``policy_backup``), certified to ``tol``.

    Args:
        m: nominal model; uset: (s,a)-rectangular or static set (hull); pi: ``[S, A]`` policy.
        tol, max_iter, history: as in :func:`robust_value_iteration`.

    Returns:
        :class:`RobustResult` with ``policy = pi``.
    """
    who = "robust_policy_evaluation"
    check_robust_model(m, uset, who)
    uset = _dynamic_set(uset, who)
    pi = validate_policy(pi, m.S, m.A)
    last = {}

    def step(V):
        FV, T = uset.policy_backup(V, m.R, m.gamma, pi)
        last.update(T=T, V=V)
        return FV

    r = certified_fixed_point(step, np.zeros(m.S), m.gamma, tol, max_iter, who, history=history)
    Q = q_values(kernel_rows(last["T"], m.S, m.A), m.R, m.gamma, r.V)
    return RobustResult(r.V, Q, pi, float(m.mu @ r.V), last["T"], iterations=r.iterations, residual=r.residual,
                        converged=r.converged, error_bound=r.error_bound, oracle_calls=r.iterations + 1,
                        history=r.history)


@dataclass(frozen=True)
class StaticWorstCase(SolverResult):
    r"""Result of :func:`adversary_policy_iteration`, :func:`static_worst_case`, :func:`mdp.robust.srect_worst_kernel`.

    Attributes:
        value: ``mu @ V^pi_T`` of the returned static ``kernel`` (an upper bound on the adversary's minimum).
        lower: a certified lower bound on that minimum (``value`` itself for an exact enumeration).
        kernel: ``[S, A, S]`` the static worst case found.
        oracle_calls: worst-case oracle (``policy_backup``) calls.
        residual: robust evaluation residual :math:`\|F V - V\|_\infty` at the returned kernel's value
            ``V = V^\pi_T`` (0 for an enumeration).
        error_bound: ``value - lower``, certified; converged: ``residual <= tol`` (``None`` for an enumeration).
        iterations: adversary-PI iterations (kernels evaluated for an enumeration).
        history: ``[iterations]`` residuals when asked for.
    """

    value: float
    lower: float
    kernel: np.ndarray


def static_policy_values(m: TabularMDP, kernels, pi) -> np.ndarray:
    """``[K]``: ``mu @ V^pi_T`` for each static kernel ``T`` in ``kernels`` (exact, :func:`mdp.policy_evaluation`)."""
    return np.array([float(m.mu @ policy_evaluation(TabularMDP(T, m.R, m.gamma, m.mu), pi)) for T in kernels])


def _evaluate(m, T, pi):
    return policy_evaluation(TabularMDP(T, m.R, m.gamma, m.mu), pi)


def adversary_policy_iteration(m: TabularMDP, uset: UncertaintySet, pi, tol: float = 1e-10, max_iter: int = 1000,
                               history: bool = False, warn: bool = True) -> StaticWorstCase:
    r"""The worst static kernel against a fixed policy ``pi`` for a rectangular set, by policy iteration of
    the adversary (Howard's method applied to nature's MDP).

    For fixed :math:`\pi` nature faces an MDP whose actions are the kernels :math:`p_{s,a}\in\mathcal P_{s,a}`
    and whose cost is :math:`r_\pi + \gamma\sum_a\pi(a|s)p_{s,a}^\top V`. Starting from the nominal kernel,
    :math:`T_{k+1} = \arg\min_{T} T V_k` (one oracle call, the set's ``policy_backup``) and
    :math:`V_{k+1} = V^\pi_{T_{k+1}}` (one linear solve) decrease monotonically to the robust value
    :math:`V^\pi_{\mathcal T}` (Iyengar 2005, Thm 4; a Newton step on the robust Bellman equation). Stop when
    the robust residual :math:`\|F V_k - V_k\|_\infty` is at most ``tol``, or when it stops decreasing (the
    oracle's rounding floor; then ``converged=False``); since :math:`F` is a :math:`\gamma`-contraction,
    :math:`\|V_k - V^\pi_{\mathcal T}\|_\infty \le \|F V_k - V_k\|_\infty/(1-\gamma)`: the certified ``lower``.

    Args:
        m: nominal model; uset: an (s,a)- or s-rectangular set; pi: ``[S, A]`` policy.
        tol: residual tolerance (> 0); max_iter: iteration budget; history: record residuals;
        warn: warn (:class:`theory.results.NotConvergedWarning`) when the test did not hold.

    Returns:
        :class:`StaticWorstCase`.
    """
    who = "adversary_policy_iteration"
    check_robust_model(m, uset, who)
    require_rectangularity(uset, ("sa", "s"), who, "use static_worst_case (enumeration) for static sets")
    tol = check_scalar("tol", tol, low=0.0, low_open=True)
    max_iter = check_scalar("max_iter", max_iter, low=1, integer=True)
    pi = validate_policy(pi, m.S, m.A)
    T = uset.nominal()
    V = _evaluate(m, T, pi)
    calls, best, flat, k, res, hist = 0, np.inf, 0, 0, np.inf, []
    for k in range(1, max_iter + 1):
        FV, T_new = uset.policy_backup(V, m.R, m.gamma, pi)
        calls += 1
        res = float(np.max(np.abs(FV - V)))
        hist.append(res)
        if res <= tol:
            break
        flat = flat + 1 if res >= best else 0
        best = min(best, res)
        if flat >= 3:  # the residual stopped decreasing: the oracle's rounding floor; the bound below says so
            break
        V_new = _evaluate(m, T_new, pi)
        stuck = float(np.max(np.abs(V_new - V))) <= 1e-14 * max(1.0, float(np.max(np.abs(V))))
        T, V = T_new, V_new
        if stuck:  # no progress at machine precision: the residual at the new V is the oracle's own accuracy
            FV, _ = uset.policy_backup(V, m.R, m.gamma, pi)
            calls += 1
            res = float(np.max(np.abs(FV - V)))
            hist.append(res)
            break
    converged = res <= tol
    if warn and not converged:
        warn_not_converged(who, residual=res, tol=tol, iterations=k)
    value = float(m.mu @ V)
    bound = res / (1 - m.gamma)
    return StaticWorstCase(value, value - bound, T, oracle_calls=calls, residual=res, error_bound=bound,
                           converged=converged, iterations=k, history=np.asarray(hist) if history else None)


def static_worst_case(m: TabularMDP, uset: UncertaintySet, pi, tol: float = 1e-8, method: str = "pi",
                      history: bool = False) -> StaticWorstCase:
    r"""The best static model against ``pi``: ``value = min_T mu @ V^pi_T`` and the minimising ``kernel``.

    Rectangular sets (static/dynamic equivalence, Iyengar 2005 Lemma 3.3): ``method="pi"`` runs
    :func:`adversary_policy_iteration` (to a certified ``tol``); ``method="vi"`` takes the minimising kernel at
    the fixed point of :func:`robust_policy_evaluation` and re-evaluates it exactly. Static sets
    (``rectangularity=None``): enumeration, one exact policy evaluation per model.

    Args:
        m: nominal model; uset: any uncertainty set; pi: ``[S, A]``; tol: accuracy of ``value`` (> 0);
        method: ``"pi"`` or ``"vi"`` (rectangular sets); history: passed to the iterative method.

    Returns:
        :class:`StaticWorstCase` (for the ``"vi"`` method ``lower = mu @ V_PE - error_bound_PE``,
        ``converged`` when robust PE converged and ``value - lower <= tol``, ``oracle_calls`` robust PE's).
    """
    who = "static_worst_case"
    check_robust_model(m, uset, who)
    pi = validate_policy(pi, m.S, m.A)
    tol = check_scalar("tol", tol, low=0.0, low_open=True)
    if uset.rectangularity is not None:
        if method == "pi":
            return adversary_policy_iteration(m, uset, pi, tol=tol * (1 - m.gamma), history=history)
        if method != "vi":
            raise ParameterError(f"method must be 'pi' or 'vi', got {method!r}")
        require_rectangularity(uset, ("sa",), who + "(method='vi')")
        r = robust_policy_evaluation(m, uset, pi, tol=tol, history=history)
        value = float(m.mu @ _evaluate(m, r.kernel, pi))
        lower = float(m.mu @ r.V) - r.error_bound
        bound = max(value - lower, 0.0)
        return StaticWorstCase(value, lower, r.kernel, oracle_calls=r.oracle_calls, residual=r.residual,
                               error_bound=bound, converged=bool(r.converged and bound <= tol),
                               iterations=r.iterations, history=r.history)
    vals = static_policy_values(m, uset.models, pi)
    k = int(np.argmin(vals))
    return StaticWorstCase(float(vals[k]), float(vals[k]), uset.models[k], oracle_calls=0, residual=0.0,
                           error_bound=0.0, converged=None, iterations=len(vals),
                           history=vals.copy() if history else None)
