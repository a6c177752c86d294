r"""Action-space reduction by grouping: the approximation / estimation / optimisation trade-off.

After Li, Ju & Shroff, "Action Space Reduction via Grouping" (ICLR 2024, arXiv 2306.12981). The paper's
body (its decomposition model, constants and test MDPs) was not available to us; everything below that
goes beyond the abstract is a **Reconstruction:** (listed in ``docs/experiments.md#action_grouping``).

**Grouping.** A grouping is a map :math:`g: \mathcal A \to \{0, \dots, K-1\}` with groups of equal size
:math:`A/K`. The *exact grouped model* :math:`\bar M_g` has the K groups as actions, with the members'
averages

.. math:: \bar P_k(\cdot\mid s) = \frac{K}{A}\sum_{a: g(a)=k} P(\cdot\mid s,a), \qquad
          \bar r_k(s) = \frac{K}{A}\sum_{a: g(a)=k} r(s,a),

and the approximation constants :math:`\varepsilon_R = \max_{s,a}|r(s,a) - \bar r_{g(a)}(s)|`,
:math:`\varepsilon_P = \max_{s,a}\|P(\cdot\mid s,a) - \bar P_{g(a)}(\cdot\mid s)\|_1`
(:func:`approximation_constants`).

**Learning (Reconstruction:).** A generative model gives ``N`` samples per state, split evenly over the
``K`` groups and, inside a group, evenly over its members (``N/A`` draws per action). Group ``k`` pools its
members' samples: :math:`\hat P_k(\cdot\mid s)` is the empirical distribution of its :math:`n = N/K` next
states and :math:`\hat r_k(s)` the mean of its observed rewards (the learner lives in
:mod:`mdp.grouping_learning`). Two reward models (:data:`REWARD_MODELS`):
``known`` (the draw reports the expected reward :math:`r(s,a)`, so :math:`\hat r_k = \bar r_k`) and
``bernoulli`` (a Bernoulli(:math:`r(s,a)`) reward; the experiment uses this one).
``T`` value-iteration backups from :math:`V_0 = 0` on the estimated grouped
model :math:`\hat M_g` (``T = inf``: to a certified tolerance) give :math:`Q_T`; the agent plays the first
member of the greedy group, :math:`\pi(s) = \min\{a: g(a) = \arg\max_k Q_T(s,k)\}`.

**Bound (Reconstruction:, derived here).** With :math:`|r| \le R_{\max}`, :math:`\gamma < 1` and
:math:`\hat\varepsilon = \max_{s,k}\|\hat P_k(\cdot\mid s) - \bar P_k(\cdot\mid s)\|_1`, split the loss as

.. math:: V^* - V^\pi = (V^* - \bar V^*) + (\bar V^* - \hat V^*) + (\hat V^* - \hat V^{\sigma_T})
          + (\hat V^{\sigma_T} - V^\pi),

where bars / hats are the optimal values of :math:`\bar M_g` / :math:`\hat M_g` and :math:`\sigma_T` the greedy
group policy. (i) :math:`\|Q^* - \bar Q\circ g\|_\infty \le \varepsilon_R + \gamma\varepsilon_P R_{\max}/(1-\gamma)
+ \gamma\|V^* - \bar V^*\|_\infty` (since :math:`|(P - \bar P)V^*| \le \|P-\bar P\|_1\|V^*\|_\infty`), so the first
term is at most :math:`(\varepsilon_R + \gamma R_{\max}\varepsilon_P/(1-\gamma))/(1-\gamma)`. (ii) The two grouped
models share rewards and differ in the kernel by :math:`\hat\varepsilon`: the second term is at most
:math:`\gamma R_{\max}\hat\varepsilon/(1-\gamma)^2`. (iii) A policy greedy for :math:`\mathcal T V_{T-1}` loses at
most :math:`2\gamma\|V_{T-1} - \hat V^*\|_\infty/(1-\gamma) \le 2\gamma^T R_{\max}/(1-\gamma)^2` in :math:`\hat M_g`
(``T = inf``: :math:`2\gamma\tau/(1-\gamma)` with the certified VI tolerance :math:`\tau`). (iv) The simulation
lemma for the fixed policy :math:`\sigma_T` (its lift plays a member of the chosen group, reward gap
:math:`\le \varepsilon_R`, kernel gap :math:`\le \varepsilon_P + \hat\varepsilon`) bounds the last term by
:math:`(\varepsilon_R + \gamma R_{\max}(\varepsilon_P + \hat\varepsilon)/(1-\gamma))/(1-\gamma)`. Finally the L1
concentration inequality of Weissman et al. (2003), which holds for independent, not necessarily identically
distributed draws because it is Hoeffding's inequality over the :math:`2^S - 2` events :math:`B \subset
\mathcal S`, :math:`P(\|\hat P - \bar P\|_1 \ge \epsilon) \le 2^S e^{-n\epsilon^2/2}`, with a union bound over the
:math:`SK` pairs :math:`(s, k)`, gives :math:`\hat\varepsilon \le \sqrt{2K(S\ln 2 + \ln(SK/\delta))/N}` with
probability at least :math:`1-\delta`. Summing (every term in sup norm, so the bound holds in every state):

.. math:: V^* - V^\pi \le \frac{2}{1-\gamma}\Big(\varepsilon_R + \frac{\gamma R_{\max}\varepsilon_P}{1-\gamma}\Big)
          + \frac{2\gamma R_{\max}}{(1-\gamma)^2}\sqrt{\frac{2K(S\ln 2 + \ln(SK/\delta))}{N}}
          + \frac{2\gamma^T R_{\max}}{(1-\gamma)^2}
   \quad\text{with probability} \ge 1-\delta.

For ``bernoulli`` rewards the pooled means add :math:`2\hat\varepsilon_R/(1-\gamma)` with Hoeffding's
:math:`\hat\varepsilon_R = \sqrt{K\ln(4SK/\delta)/(2N)}` (``delta`` split evenly between kernels and rewards,
``R_max = 1``; see :func:`grouping_bound`).
This is a theorem of the reconstructed model (it is what :func:`grouping_bound` computes), not the paper's
(unread) statement. :func:`select_grouping` minimises it over a nested hierarchy of groupings: one
evaluation per level, so the search costs ``O(#levels)`` bound evaluations whatever ``|A|`` is (the
constants themselves are computed here exactly from the model).

Example:
    >>> import math
    >>> from mdp.generators import hierarchical_mdp
    >>> from mdp.grouping_learning import grouping_losses
    >>> h = hierarchical_mdp(S=4, A=8, seed=0)
    >>> res = grouping_losses(h.model, h.groupings, N_values=(64,), T_values=(math.inf,), seeds=3, seed=0)
    >>> res.loss.shape   # [seeds, levels, N values, T values]
    (3, 4, 1, 1)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mdp.model import ModelError, ParameterError, ShapeError, TabularMDP
from theory.validation import check_scalar, as_float_array

__all__ = ["GroupingError", "ApproximationConstants", "GroupingBound", "Selection", "check_grouping", "check_nested",
           "grouped_model", "approximation_constants", "grouping_bound", "REWARD_MODELS", "select_grouping"]


class GroupingError(ModelError):
    """A grouping that is not a partition into equal groups, or groupings that are not nested."""


# ----------------------------------------------------------------------------------------------
# Groupings
# ----------------------------------------------------------------------------------------------
def check_grouping(groups, A: int, name: str = "groups") -> tuple[np.ndarray, int]:
    """Validate a grouping ``g: A -> {0..K-1}`` with equal group sizes.

    Args:
        groups: integer labels ``[A]`` (numpy array or sequence); label ``k`` names group ``k``.
        A: the number of actions.
        name: the argument's name for messages.

    Returns:
        ``(labels, K)``: the labels as an ``int64`` array ``[A]`` and the number of groups.

    Raises:
        GroupingError: wrong shape, non-integer or negative labels, an empty group (labels not ``0..K-1``), or
            ``K`` not dividing ``A`` / groups of unequal size (the sample split needs equal groups).
    """
    try:
        g = np.asarray(groups)
    except ValueError:
        g = as_float_array(groups, name=name)                 # ragged: raises the package's ShapeError, located
    if g.shape != (A,):
        raise GroupingError(f"{name} has shape {g.shape}; expected ({A},) (one label per action)")
    if g.dtype.kind not in "iu":
        if g.dtype.kind == "f" and np.all(np.isfinite(g)) and np.all(g == np.round(g)):
            g = g.astype(np.int64)
        else:
            raise GroupingError(f"{name} must hold integer group labels, got dtype {g.dtype}")
    g = g.astype(np.int64)
    if g.min() < 0:
        raise GroupingError(f"{name} has a negative label {int(g.min())}")
    K = int(g.max()) + 1
    sizes = np.bincount(g, minlength=K)
    if np.any(sizes == 0):
        raise GroupingError(f"{name}: group {int(np.flatnonzero(sizes == 0)[0])} is empty; labels must be 0..K-1")
    if A % K:
        raise GroupingError(f"{name}: K={K} groups do not divide A={A} actions (groups must have equal size)")
    if np.any(sizes != A // K):
        raise GroupingError(f"{name}: group sizes {sizes.tolist()} are unequal; each group needs A/K={A // K} "
                            "actions")
    return g, K


def check_nested(groupings, A: int) -> tuple[tuple[np.ndarray, ...], tuple[int, ...]]:
    """Validate a coarse-to-fine sequence of groupings, each refining the previous one.

    Returns:
        ``(labels, Ks)``: the validated label arrays and their group counts (strictly increasing).

    Raises:
        GroupingError: an invalid grouping, a level with no more groups than the previous one, or a group of a
            finer level that straddles two groups of the coarser one.
    """
    if len(groupings) == 0:
        raise GroupingError("groupings is empty; give at least one grouping")
    labels, Ks = [], []
    for i, g in enumerate(groupings):
        lab, K = check_grouping(g, A, name=f"groupings[{i}]")
        if labels:
            if K <= Ks[-1]:
                raise GroupingError(f"groupings[{i}] has K={K} groups, not more than groupings[{i - 1}] (K={Ks[-1]})")
            coarse = labels[-1]
            for k in range(K):
                parents = np.unique(coarse[lab == k])
                if parents.size > 1:
                    raise GroupingError(f"groupings are not nested: group {k} of groupings[{i}] straddles groups "
                                        f"{parents.tolist()} of groupings[{i - 1}]")
        labels.append(lab)
        Ks.append(K)
    return tuple(labels), tuple(Ks)


# ----------------------------------------------------------------------------------------------
# Exact grouped model and approximation constants
# ----------------------------------------------------------------------------------------------
def _membership(labels: np.ndarray, K: int) -> np.ndarray:
    """``[A, K]`` averaging matrix: ``M[a, k] = K/A`` when ``g(a) = k``."""
    M = np.zeros((labels.size, K))
    M[np.arange(labels.size), labels] = K / labels.size
    return M


def _scalar_model(m) -> None:
    if not isinstance(m, TabularMDP):
        raise TypeError(f"expected a TabularMDP, got {type(m).__name__}")
    if m.R.ndim != 2:
        raise ShapeError(f"action grouping needs scalar rewards R[S, A], got R of shape {m.R.shape}")


def grouped_model(m: TabularMDP, groups) -> TabularMDP:
    r"""The exact grouped model :math:`\bar M_g`: ``K`` actions with the members' average kernel and reward.

    Args:
        m: a ``TabularMDP`` with ``R[S, A]``.
        groups: labels ``[A]`` (see :func:`check_grouping`).

    Returns:
        ``TabularMDP`` with ``P[S, K, S] = mean_{a in G_k} P[S, a, S]`` and ``R[S, K]`` likewise.
    """
    _scalar_model(m)
    labels, K = check_grouping(groups, m.A)
    M = _membership(labels, K)
    P = np.einsum("sat,ak->skt", m.dense_P(), M)
    return TabularMDP(P / P.sum(-1, keepdims=True), m.R @ M, m.gamma, m.mu)


@dataclass(frozen=True)
class ApproximationConstants:
    r""":math:`\varepsilon_R = \max_{s,a}|r(s,a) - \bar r_{g(a)}(s)|` and
    :math:`\varepsilon_P = \max_{s,a}\|P(\cdot|s,a) - \bar P_{g(a)}(\cdot|s)\|_1`."""

    eps_R: float
    eps_P: float
    K: int


def approximation_constants(m: TabularMDP, groups) -> ApproximationConstants:
    """The approximation constants of a grouping, computed exactly from the model (see the module docstring)."""
    _scalar_model(m)
    labels, K = check_grouping(groups, m.A)
    bar = grouped_model(m, labels)
    eps_R = float(np.max(np.abs(m.R - bar.R[:, labels])))
    eps_P = float(np.max(np.abs(m.dense_P() - bar.P[:, labels, :]).sum(-1)))
    return ApproximationConstants(eps_R, eps_P, K)


@dataclass(frozen=True)
class GroupingBound:
    """The reconstructed loss bound and its three terms (see the module docstring)."""

    approximation: float
    estimation: float
    optimization: float
    total: float


def grouping_bound(eps_R, eps_P, K, N, T, S, gamma, r_max, delta=0.05, vi_tol=1e-10,
                   rewards: str = "known") -> GroupingBound:
    r"""Reconstruction: the high-probability loss bound of the module docstring.

    .. math:: \frac{2}{1-\gamma}\Big(\varepsilon_R + \frac{\gamma R_{\max}\varepsilon_P}{1-\gamma}\Big)
              + \frac{2\gamma R_{\max}}{(1-\gamma)^2}\sqrt{\frac{2K(S\ln 2 + \ln(SK/\delta))}{N}}
              + \frac{2\gamma^T R_{\max}}{(1-\gamma)^2}

    For ``T = inf`` the last term is :math:`2\gamma\tau/(1-\gamma)` (``tau = vi_tol``, the certified accuracy of
    the value iteration run to convergence).

    With ``rewards="bernoulli"`` (observed rewards in ``{0, 1}``, so ``r_max = 1``) the failure probability is
    split, ``delta/2`` for the kernels (``ln(2SK/delta)`` in the root) and ``delta/2`` for the rewards, whose
    pooled means satisfy Hoeffding's :math:`|\hat r_k - \bar r_k| \le \hat\varepsilon_R = \sqrt{K\ln(4SK/\delta)
    /(2N)}` for all :math:`(s, k)`; the reward gap enters terms (ii) and (iv) like :math:`\varepsilon_R`, adding
    :math:`2\hat\varepsilon_R/(1-\gamma)` to the estimation term.

    Args:
        eps_R, eps_P: approximation constants (>= 0). K: groups (>= 1). N: samples per state (>= K).
        T: value-iteration backups (>= 1) or ``math.inf``. S: states. gamma: discount in ``[0, 1)``.
        r_max: a bound on the true and the observed rewards' absolute values (>= 0).
        delta: failure probability in ``(0, 1)``. vi_tol: tolerance for ``T = inf``.
        rewards: ``"known"`` or ``"bernoulli"`` (see :data:`REWARD_MODELS`).

    Returns:
        :class:`GroupingBound`.
    """
    eps_R = check_scalar("eps_R", eps_R, low=0.0)
    eps_P = check_scalar("eps_P", eps_P, low=0.0)
    K = check_scalar("K", K, low=1, integer=True)
    N = check_scalar("N", N, low=1, integer=True)
    if N < K:
        raise ParameterError(f"N={N} < K={K}: every group needs at least one sample")
    S = check_scalar("S", S, low=1, integer=True)
    g = check_scalar("gamma", gamma, low=0.0, high=1.0, high_open=True)
    r_max = check_scalar("r_max", r_max, low=0.0)
    delta = check_scalar("delta", delta, low=0.0, high=1.0, low_open=True, high_open=True)
    T = _check_T(T)
    c = 1.0 - g
    approx = 2.0 / c * (eps_R + g * r_max * eps_P / c)
    if rewards not in REWARD_MODELS:
        raise ParameterError(f"rewards must be one of {REWARD_MODELS}, got {rewards!r}")
    d_P = delta if rewards == "known" else delta / 2
    est = 2.0 * g * r_max / c ** 2 * math.sqrt(2.0 * K * (S * math.log(2.0) + math.log(S * K / d_P)) / N)
    if rewards == "bernoulli":
        est += 2.0 / c * math.sqrt(K * math.log(4.0 * S * K / delta) / (2.0 * N))
    if math.isinf(T):
        opt = 2.0 * g * check_scalar("vi_tol", vi_tol, low=0.0) / c
    else:
        opt = 2.0 * g ** T * r_max / c ** 2
    return GroupingBound(approx, est, opt, approx + est + opt)


def _check_T(T):
    if T is not None and not isinstance(T, bool) and isinstance(T, (int, float, np.integer, np.floating)) \
            and math.isinf(float(T)) and float(T) > 0:
        return math.inf
    return check_scalar("T", T, low=1, integer=True)


@dataclass(frozen=True)
class Selection:
    """Bound-minimising level of a nested hierarchy."""

    K_hat: int
    index: int
    """Index of ``K_hat`` in ``Ks``."""
    Ks: tuple
    bounds: np.ndarray
    """``[levels]`` bound totals."""


def select_grouping(m: TabularMDP, groupings, N, T=math.inf, delta=0.05, vi_tol=1e-10,
                    rewards: str = "known") -> Selection:
    r"""Reconstruction: :math:`\hat K = \arg\min_K` :func:`grouping_bound` over the nested levels (one bound
    evaluation per level, independent of ``|A|``; the smallest ``K`` on ties). ``r_max`` is ``max|R|``
    (``known`` rewards) or 1 (``bernoulli`` rewards, observed in ``{0, 1}``)."""
    labels, Ks = check_nested(groupings, m.A)
    r_max = 1.0 if _check_rewards(m, rewards) == "bernoulli" else float(np.max(np.abs(m.R)))
    bounds = []
    for lab in labels:
        c = approximation_constants(m, lab)
        bounds.append(grouping_bound(c.eps_R, c.eps_P, c.K, N, T, m.S, m.gamma, r_max, delta, vi_tol,
                                     rewards).total)
    bounds = np.asarray(bounds)
    i = int(np.argmin(bounds))
    return Selection(Ks[i], i, Ks, bounds)


REWARD_MODELS = ("known", "bernoulli")
"""How the generative model reports rewards: ``known`` (the expected reward ``r(s, a)`` of the drawn action) or
``bernoulli`` (a draw from Bernoulli(``r(s, a)``); needs rewards in ``[0, 1]``)."""


def _check_rewards(m, rewards: str) -> str:
    if rewards not in REWARD_MODELS:
        raise ParameterError(f"rewards must be one of {REWARD_MODELS}, got {rewards!r}")
    if rewards == "bernoulli" and (m.R.min() < 0 or m.R.max() > 1):
        raise ParameterError(f"rewards='bernoulli' needs R in [0, 1]; R spans [{m.R.min():g}, {m.R.max():g}]")
    return rewards
