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
states and :math:`\hat r_k(s)` the mean of its observed rewards. Two reward models (:data:`REWARD_MODELS`):
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
from mdp.operators import q_values
from mdp.planning import policy_evaluation, policy_iteration
from theory.backend import is_torch
from theory.fixed_point import certified_fixed_point
from theory.results import SolverResult
from theory.validation import check_scalar, to_numpy

__all__ = ["GroupingError", "ApproximationConstants", "GroupingBound", "GroupedVIResult", "GroupingLosses",
           "Selection", "check_grouping", "check_nested", "grouped_model", "approximation_constants",
           "grouping_bound", "REWARD_MODELS", "GenerativeSamples", "sample_generative", "estimate_grouped_model",
           "grouped_value_iteration", "grouping_losses", "select_grouping"]


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
        g = to_numpy(groups, name=name)                 # ragged: raises the package's ShapeError, located
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


# ----------------------------------------------------------------------------------------------
# Sampling and grouped value iteration (torch, batched)
# ----------------------------------------------------------------------------------------------
def _check_N(N, K: int, A: int) -> int:
    N = check_scalar("N", N, low=1, integer=True)
    if N < K:
        raise ParameterError(f"N={N} < K={K}: N samples per state must give every group at least one sample")
    if N % A:
        raise ParameterError(f"N={N} is not a multiple of A={A}: the samples of a state are split evenly over "
                             "the groups and, inside a group, evenly over its members (N/A per action)")
    return N


def _multinomial(n, p, generator):
    """Counts ``[..., S]`` of ``n[...]`` draws from ``p[..., S]`` by conditional binomials (torch)."""
    import torch

    out = []
    left = n.clone()
    mass = torch.ones_like(n)
    for j in range(p.shape[-1] - 1):
        q = torch.where(mass > 0, p[..., j] / mass.clamp_min(1e-300), torch.zeros_like(mass)).clamp(0.0, 1.0)
        c = torch.binomial(left, q, generator=generator)
        out.append(c)
        left = left - c
        mass = mass - p[..., j]
    out.append(left)
    return torch.stack(out, -1)


REWARD_MODELS = ("known", "bernoulli")
"""How the generative model reports rewards: ``known`` (the expected reward ``r(s, a)`` of the drawn action) or
``bernoulli`` (a draw from Bernoulli(``r(s, a)``); needs rewards in ``[0, 1]``)."""


@dataclass(frozen=True)
class GenerativeSamples:
    """Per-action generative-model draws for (seed x N), torch tensors on the sampling device."""

    counts: object
    """``[seeds, len(N_values), S, A, S]`` next-state counts (``N/A`` draws per action)."""
    reward_sums: object
    """``[seeds, len(N_values), S, A]`` sums of the observed rewards (``None`` for ``rewards="known"``)."""
    N_values: tuple


def _check_rewards(m, rewards: str) -> str:
    if rewards not in REWARD_MODELS:
        raise ParameterError(f"rewards must be one of {REWARD_MODELS}, got {rewards!r}")
    if rewards == "bernoulli" and (m.R.min() < 0 or m.R.max() > 1):
        raise ParameterError(f"rewards='bernoulli' needs R in [0, 1]; R spans [{m.R.min():g}, {m.R.max():g}]")
    return rewards


def sample_generative(m: TabularMDP, N_values, seeds: int, seed: int = 0, device="cpu",
                      rewards: str = "known") -> GenerativeSamples:
    """Generative-model draws, ``N/A`` per action and state, for every (seed, N) in one torch program.

    The draws for each ``(seed, N, s, a)`` are a multinomial of ``N/A`` trials from ``P(.|s, a)`` (conditional
    binomials) and, for ``rewards="bernoulli"``, a binomial count of unit rewards. Pool them into groups with
    :func:`estimate_grouped_model` / :func:`grouping_losses`.
    """
    import torch

    _scalar_model(m)
    rewards = _check_rewards(m, rewards)
    seeds = check_scalar("seeds", seeds, low=1, integer=True)
    Ns = tuple(_check_N(N, 1, m.A) for N in N_values)
    gen = torch.Generator(device=device).manual_seed(int(check_scalar("seed", seed, low=0, integer=True)))
    P = torch.tensor(np.array(m.dense_P()), dtype=torch.float64, device=device)
    n = torch.as_tensor([N // m.A for N in Ns], dtype=torch.float64, device=device)
    n = n[None, :, None, None].expand(seeds, len(Ns), m.S, m.A).contiguous()
    counts = _multinomial(n, P.expand(seeds, len(Ns), *P.shape), gen)
    sums = None
    if rewards == "bernoulli":
        r = torch.tensor(np.array(m.R), dtype=torch.float64, device=device).expand_as(n).contiguous()
        sums = torch.binomial(n, r, generator=gen)
    return GenerativeSamples(counts, sums, Ns)


def _pooled_model(samples: GenerativeSamples, m: TabularMDP, labels: np.ndarray, K: int):
    """``(P_hat[..., S*K, S], r_hat[..., S, K] or [S, K])`` of the grouped model from pooled draws."""
    import torch

    counts = torch.einsum("...sat,ak->...skt", samples.counts,
                          torch.as_tensor((labels[:, None] == np.arange(K)[None, :]).astype(np.float64),
                                          dtype=samples.counts.dtype, device=samples.counts.device))
    n = counts.sum(-1, keepdim=True)
    P_hat = (counts / n).reshape(*counts.shape[:-3], m.S * K, m.S)
    if samples.reward_sums is None:
        r_hat = torch.tensor(np.array(grouped_model(m, labels).R), dtype=torch.float64,
                             device=samples.counts.device)
    else:
        sums = torch.einsum("...sa,ak->...sk", samples.reward_sums,
                            torch.as_tensor((labels[:, None] == np.arange(K)[None, :]).astype(np.float64),
                                            dtype=samples.counts.dtype, device=samples.counts.device))
        r_hat = sums / n[..., 0]
    return P_hat, r_hat


def estimate_grouped_model(m: TabularMDP, groups, N: int, seed: int = 0, device="cpu",
                           rewards: str = "known") -> TabularMDP:
    r"""The estimated grouped model :math:`\hat M_g` from ``N`` generative-model samples per state.

    Reconstruction: ``N/A`` draws per action, pooled over each group's members; :math:`\hat P_k(\cdot|s)` is the
    empirical law of the group's :math:`N/K` next states and :math:`\hat r_k(s)` the mean observed reward
    (:math:`= \bar r_k(s)` exactly for ``rewards="known"``).

    Args:
        m: ``TabularMDP`` with ``R[S, A]``. groups: labels ``[A]``. N: samples per state (a multiple of ``A``,
            at least ``K``). seed: generator seed. device: torch device for the sampling.
        rewards: ``"known"`` or ``"bernoulli"`` (see :data:`REWARD_MODELS`).

    Returns:
        ``TabularMDP`` with ``K`` actions: ``P_hat[S, K, S]``, ``R[S, K] = r_hat``.
    """
    labels, K = check_grouping(groups, m.A)
    N = _check_N(N, K, m.A)
    samples = sample_generative(m, (N,), 1, seed, device, rewards)
    P_hat, r_hat = _pooled_model(samples, m, labels, K)
    r_hat = r_hat if r_hat.ndim == 2 else r_hat[0, 0]
    return TabularMDP(P_hat[0, 0].reshape(m.S, K, m.S).cpu().numpy(), r_hat.cpu().numpy(), m.gamma, m.mu)


def _backups(P_flat, R, gamma: float, V0, T: int, amax, on_q=None):
    r"""Exactly ``T`` backups :math:`Q_t = \hat r + \gamma \hat P V_{t-1}`, :math:`V_t = \max_k Q_t` from ``V0``,
    through the one certified loop (:func:`theory.fixed_point.certified_fixed_point` with ``max_iter = T``).

    The loop's stopping test is set to the smallest positive normal float, so it ends before ``T`` only when a
    step :math:`\gamma\|V_t - V_{t-1}\|_\infty/(1-\gamma)` is that small: in practice only when
    :math:`V_t = V_{t-1}` exactly, and then every later iterate is the same array, so nothing is lost.
    ``on_q(t, Q_t)`` is called after backup ``t``. Returns ``(fp, Q_last, d_last)``: the loop's result, the
    last backup's action values and its per-instance step sizes :math:`\|V_t - V_{t-1}\|_\infty`.
    """
    last = {}

    def step(V):
        Q = q_values(P_flat, R, gamma, V)
        last["Q"] = Q
        return amax(Q)

    def record(t, V, d):
        last["Q_t"], last["d_t"] = last["Q"], d
        if on_q is not None:
            on_q(t, last["Q"])

    fp = certified_fixed_point(step, V0, gamma, _EXACT_STOP, T, "grouped value iteration", warn=False,
                               callback=record)
    return fp, last["Q_t"], last["d_t"]


_EXACT_STOP = float(np.finfo(np.float64).tiny)


@dataclass(frozen=True)
class GroupedVIResult(SolverResult):
    r"""``T`` backups of value iteration from ``V_0 = 0`` (``T = inf``: to a certified tolerance).

    ``Q = q_values(V_{T-1})`` (what the agent is greedy for), ``V = V_T = max_k Q``; ``residual`` is
    :math:`\|\mathcal T V_T - V_T\|_\infty` (max over the batch); ``error_bound`` the certified
    :math:`\|V_T - \hat V^*\|_\infty \le \gamma\|V_T - V_{T-1}\|_\infty/(1-\gamma)`; ``converged`` is ``None`` for
    finite ``T`` (nothing tested) and the certified stop for ``T = inf``.
    """

    Q: object
    V: object


def grouped_value_iteration(P_flat, R, gamma, T, vi_tol: float = 1e-10, max_iter: int = 100_000) -> GroupedVIResult:
    r"""Value iteration on a (batched) grouped model via :func:`mdp.operators.q_values`.

    .. math:: V_0 = 0,\quad Q_t = \hat r + \gamma \hat P V_{t-1},\quad V_t = \max_k Q_t(\cdot, k),
              \quad t = 1..T.

    Args:
        P_flat: ``[..., S*K, S]`` kernels (numpy or torch). R: ``[S, K]`` or ``[..., S, K]`` rewards.
        gamma: discount. T: backups (>= 1) or ``math.inf``. vi_tol, max_iter: for ``T = inf``.

    Returns:
        :class:`GroupedVIResult` with ``Q[..., S, K]`` and ``V[..., S]``.
    """
    T = _check_T(T)
    g = check_scalar("gamma", gamma, low=0.0, high=1.0, high_open=True)
    torch_mode = is_torch(P_flat)
    if getattr(R, "ndim", 0) < 2 or getattr(P_flat, "ndim", 0) < 2:
        raise ShapeError("grouped_value_iteration needs P_flat [..., S*K, S] and R [..., S, K] arrays")
    S, K = R.shape[-2], R.shape[-1]
    if tuple(P_flat.shape[-2:]) != (S * K, S):
        raise ShapeError(f"P_flat has trailing shape {tuple(P_flat.shape[-2:])}; with R of shape {tuple(R.shape)} "
                         f"expected ({S * K}, {S})")
    lead = P_flat.shape[:-2]
    if torch_mode:
        import torch

        V = torch.zeros(*lead, S, dtype=P_flat.dtype, device=P_flat.device)
        amax = lambda Q: Q.amax(-1)  # noqa: E731
        norm = lambda x: float(x.abs().amax()) if x.numel() else 0.0  # noqa: E731
    else:
        V = np.zeros((*lead, S))
        amax = lambda Q: Q.max(-1)  # noqa: E731
        norm = lambda x: float(np.max(np.abs(x))) if x.size else 0.0  # noqa: E731
    if math.isinf(T):
        fp = certified_fixed_point(lambda V: amax(q_values(P_flat, R, g, V)), V, g, vi_tol, max_iter,
                                   "grouped_value_iteration")
        Q = q_values(P_flat, R, g, fp.V)
        V_new = amax(Q)
        return GroupedVIResult(Q, V_new, residual=norm(amax(q_values(P_flat, R, g, V_new)) - V_new),
                               error_bound=(float(fp.error_bound.max()) if hasattr(fp.error_bound, "max")
                                            else fp.error_bound),
                               converged=bool(np.all(np.asarray(fp.converged.cpu() if torch_mode else fp.converged))),
                               iterations=fp.iterations + 1)
    fp, Q, d = _backups(P_flat, R, g, V, T, amax)
    residual = float(fp.residual.max()) if torch_mode else float(np.max(fp.residual))
    step = float(d.max()) if torch_mode else float(np.max(d))     # ||V_T - V_{T-1}||_inf over the batch
    return GroupedVIResult(Q, fp.V, residual=residual, error_bound=g * step / (1 - g) if g > 0 else 0.0,
                           converged=None, iterations=T)


@dataclass(frozen=True)
class GroupingLosses:
    """Exact losses of the grouped learner over (seed x level x N x T)."""

    loss: np.ndarray
    r"""``[seeds, levels, len(N_values), len(T_values)]``: :math:`\mu^\top(V^* - V^\pi)`."""
    loss_max: np.ndarray
    r"""Same shape: :math:`\max_s (V^* - V^\pi)(s)`, the quantity the bound controls."""
    actions: np.ndarray
    """``[seeds, levels, len(N_values), len(T_values), S]`` the played actions."""
    Ks: tuple
    N_values: tuple
    T_values: tuple


def grouping_losses(m: TabularMDP, groupings, N_values, T_values=(math.inf,), seeds: int = 1, seed: int = 0,
                    device="cpu", vi_tol: float = 1e-10, rewards: str = "known") -> GroupingLosses:
    r"""Loss :math:`V^* - V^\pi` of the grouped learner for every (seed, grouping level, N, T).

    The draws are shared by all levels of a seed and N (each level pools the same per-action samples), so
    comparisons between levels are paired. Sampling is one torch program over (seed x N); value iteration is
    one program over (seed x N) per level (levels have different action counts); the losses are exact
    (:func:`mdp.policy_evaluation` of each distinct played policy, :math:`V^*` by policy iteration).

    Args:
        m: ``TabularMDP`` with ``R[S, A]``.
        groupings: nested label arrays (coarse to fine), see :func:`check_nested`.
        N_values: samples per state (multiples of ``A``). T_values: backups (>= 1) or ``math.inf``.
        seeds: number of independent sample sets. seed: root seed. device: torch device.
        vi_tol: certified tolerance of ``T = inf``.
        rewards: ``"known"`` or ``"bernoulli"`` (see :data:`REWARD_MODELS`).

    Returns:
        :class:`GroupingLosses`.

    Example:
        >>> from mdp.generators import hierarchical_mdp
        >>> h = hierarchical_mdp(S=4, A=8, seed=1)
        >>> res = grouping_losses(h.model, h.groupings, N_values=(8, 64), T_values=(5,), seeds=2)
        >>> bool((res.loss >= -1e-9).all())
        True
    """
    import torch

    _scalar_model(m)
    labels, Ks = check_nested(groupings, m.A)
    Ns = tuple(_check_N(N, Ks[-1], m.A) for N in N_values)
    Ts = tuple(_check_T(T) for T in T_values)
    if not Ts:
        raise ParameterError("T_values is empty")
    samples = sample_generative(m, Ns, seeds, seed, device, rewards)   # counts [B, nN, S, A, S]
    B, nN, S = samples.counts.shape[0], len(Ns), m.S
    actions = np.zeros((B, len(Ks), nN, len(Ts), S), dtype=np.int64)
    finite = sorted({T for T in Ts if not math.isinf(T)})
    from tqdm import tqdm

    levels = tqdm(list(enumerate(zip(labels, Ks))), desc="grouping levels", leave=False, disable=None)
    for i, (lab, K) in levels:
        P_hat, R_bar = _pooled_model(samples, m, lab, K)
        first = np.array([np.flatnonzero(lab == k)[0] for k in range(K)])
        greedy = {}
        if finite:   # one pass of max(T) backups, reading off the greedy group at each requested T
            V = torch.zeros(B, nN, S, dtype=torch.float64, device=device)

            def read_greedy(t, Q):
                if t in finite:
                    greedy[t] = Q.argmax(-1)

            fp, Q, _ = _backups(P_hat, R_bar, m.gamma, V, finite[-1], lambda Q: Q.amax(-1), read_greedy)
            for t in finite:   # a loop that stopped at an exact fixed point: later backups repeat its Q
                if t > fp.iterations:
                    greedy[t] = Q.argmax(-1)
        if any(math.isinf(T) for T in Ts):
            greedy[math.inf] = grouped_value_iteration(P_hat, R_bar, m.gamma, math.inf, vi_tol).Q.argmax(-1)
        for j, T in enumerate(Ts):
            actions[:, i, :, j, :] = first[greedy[T].cpu().numpy()]
    V_star = policy_iteration(m).V
    cache = {}
    loss = np.zeros(actions.shape[:-1])
    loss_max = np.zeros(actions.shape[:-1])
    for idx in np.ndindex(*actions.shape[:-1]):
        key = actions[idx].tobytes()
        if key not in cache:
            gap = V_star - policy_evaluation(m, actions[idx])
            cache[key] = (float(m.mu @ gap), float(gap.max()))
        loss[idx], loss_max[idx] = cache[key]
    return GroupingLosses(loss, loss_max, actions, Ks, Ns, Ts)
