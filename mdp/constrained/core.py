r"""Shared pieces of the constrained-MDP solvers: input checks, exact signal values, thresholds.

A constrained MDP (CMDP; Altman 1999) here is a :class:`~mdp.model.TabularMDP` ``m`` whose scalar reward
``m.R[S, A]`` is the main signal, ``k`` auxiliary signals ``aux_rewards[k, S, A]`` and thresholds
``thresholds[k]``:

.. math:: \max_\pi J_0(\pi) \quad\text{s.t.}\quad J_i(\pi) \ge C_i,\ i = 1..k,
          \qquad J_i(\pi) = \mu^\top V_i^\pi = \mu^\top (I - \gamma P_\pi)^{-1} r_{i,\pi}.

Every value below is exact (one linear solve of :func:`mdp.policy_evaluation` for all signals at once).
"""
from __future__ import annotations

import numpy as np

from mdp.model import ModelError, ShapeError, TabularMDP, check_finite, validate_policy
from mdp.planning import policy_evaluation, policy_iteration
from theory.validation import check_scalar, as_float_array

__all__ = ["check_cmdp", "signal_values", "max_signal_values", "thresholds_between", "constraint_ratios",
           "is_feasible", "require_achievable"]


def check_cmdp(m, aux_rewards, thresholds=None, who: str = "constrained solver"):
    """Validate a CMDP's inputs.

    Args:
        m: :class:`TabularMDP` with scalar rewards (the main signal).
        aux_rewards: ``[k, S, A]`` (or ``[S, A]`` for one signal), finite.
        thresholds: ``[k]`` finite numbers (or a scalar for one signal); ``None`` to skip.
        who: the caller's name for the messages.

    Returns:
        ``(C[k, S, A], t[k])`` as float64 numpy arrays (``t`` is ``None`` when ``thresholds`` is).

    Raises:
        ShapeError, NotFiniteError, ModelError: naming the argument and the value.
    """
    if not isinstance(m, TabularMDP):
        raise TypeError(f"{who} needs a TabularMDP, got {type(m).__name__}")
    if m.n_objectives != 1:
        raise ModelError(f"{who}: m.R has shape {m.R.shape}; give the main signal as m.R[S, A] and the others "
                         "as aux_rewards[k, S, A]")
    C = as_float_array(aux_rewards, name="aux_rewards")
    if C.shape == (m.S, m.A):
        C = C[None]
    if C.ndim != 3 or C.shape[1:] != (m.S, m.A) or C.shape[0] < 1:
        raise ShapeError(f"aux_rewards has shape {C.shape}; expected [k, {m.S}, {m.A}] or [{m.S}, {m.A}]")
    check_finite("aux_rewards", C)
    if thresholds is None:
        return C, None
    t = np.atleast_1d(as_float_array(thresholds, name="thresholds"))
    if t.shape != (C.shape[0],):
        raise ShapeError(f"thresholds has shape {t.shape}; expected ({C.shape[0]},) for {C.shape[0]} auxiliary "
                         "signals")
    check_finite("thresholds", t)
    return C, t


def require_achievable(m: TabularMDP, aux_rewards, thresholds, who: str = "constrained solver") -> np.ndarray:
    """Raise :class:`~mdp.occupancy.InfeasibleConstraintsError` when a threshold exceeds what any policy achieves.

    Each signal is checked alone (``k`` policy iterations); thresholds that are achievable one by one but not
    together are found by :func:`mdp.solve_occupancy_lp`. Returns ``max_signal_values(m, aux_rewards)``.
    """
    from mdp.occupancy import InfeasibleConstraintsError

    C, t = check_cmdp(m, aux_rewards, thresholds, who=who)
    best = max_signal_values(m, C)
    bad = np.flatnonzero(t > best + 1e-9 * np.maximum(1.0, np.abs(best)))
    if bad.size:
        i = int(bad[0])
        raise InfeasibleConstraintsError(f"{who}: thresholds[{i}] = {t[i]:.6g} exceeds the largest value any policy "
                                         f"achieves for aux_rewards[{i}], {best[i]:.6g}; no policy meets it", t, best)
    return best


def signal_values(m: TabularMDP, aux_rewards, pi) -> tuple[float, np.ndarray]:
    r"""Exact :math:`J_0(\pi)` and :math:`J_i(\pi)` (one linear solve for all signals).

    Args:
        m: the CMDP's model (main reward ``m.R[S, A]``).
        aux_rewards: ``[k, S, A]``.
        pi: ``[S, A]`` policy.

    Returns:
        ``(J_main, J_aux[k])``.
    """
    C, _ = check_cmdp(m, aux_rewards, who="signal_values")
    pi = validate_policy(pi, m.S, m.A)
    R = np.concatenate([m.R[..., None], np.moveaxis(C, 0, -1)], axis=-1)
    J = m.mu @ policy_evaluation(m.with_rewards(R), pi)
    return float(J[0]), np.asarray(J[1:])


def max_signal_values(m: TabularMDP, aux_rewards) -> np.ndarray:
    r"""``[k]``: :math:`\max_\pi J_i(\pi)` for each auxiliary signal alone (policy iteration)."""
    C, _ = check_cmdp(m, aux_rewards, who="max_signal_values")
    return np.array([float(m.mu @ policy_iteration(m.with_rewards(c)).V) for c in C])


def thresholds_between(m: TabularMDP, aux_rewards, beta) -> np.ndarray:
    r"""Thresholds :math:`C_i = J_i(\pi_{\rm main}) + \beta\,(J_i^{\max} - J_i(\pi_{\rm main}))`.

    :math:`\pi_{\rm main}` is the optimal policy of the main signal alone (policy iteration, lowest action
    on ties) and :math:`J_i^{\max}` the best value of signal ``i`` alone; ``beta`` in ``[0, 1]`` moves the
    thresholds from "free" (0) to "each signal at its own maximum" (1, usually jointly infeasible).

    Args:
        m: the model (main reward ``m.R``).
        aux_rewards: ``[k, S, A]``.
        beta: scalar in ``[0, 1]``, or ``[k]`` (one per signal).

    Returns:
        ``[k]`` thresholds.
    """
    C, _ = check_cmdp(m, aux_rewards, who="thresholds_between")
    b = np.atleast_1d(as_float_array(beta, name="beta"))
    if b.shape not in ((1,), (C.shape[0],)):
        raise ShapeError(f"beta has shape {b.shape}; expected a scalar or ({C.shape[0]},)")
    for i, v in enumerate(b):
        check_scalar(f"beta[{i}]", v, low=0.0, high=1.0)
    pi_main = policy_iteration(m).policy
    _, J_main = signal_values(m, C, pi_main)
    return J_main + b * (max_signal_values(m, C) - J_main)


def constraint_ratios(values, thresholds) -> np.ndarray:
    r"""``J_i / C_i`` (>= 1 means satisfied for positive thresholds); ``nan`` where ``C_i = 0``."""
    v = np.asarray(values, dtype=float)
    t = np.asarray(thresholds, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t != 0, v / np.where(t != 0, t, 1.0), np.nan)


def is_feasible(values, thresholds, rtol: float = 1e-9) -> bool:
    """All ``values[i] >= thresholds[i] - rtol * max(1, |thresholds[i]|)``."""
    v = np.asarray(values, dtype=float)
    t = np.asarray(thresholds, dtype=float)
    return bool(np.all(v >= t - rtol * np.maximum(1.0, np.abs(t))))
