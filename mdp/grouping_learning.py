r"""The grouped learner of :mod:`mdp.grouping`: generative-model sampling, the estimated grouped model, value
iteration on it and the exact losses of the played policies (torch, batched over seeds and sample sizes).

A generative model gives ``N`` samples per state, split evenly over the ``K`` groups and, inside a group, evenly
over its members (``N/A`` draws per action); group ``k`` pools its members' samples. ``T`` value-iteration backups
from :math:`V_0 = 0` on the estimated grouped model :math:`\hat M_g` (``T = inf``: to a certified tolerance) give
:math:`Q_T`; the agent plays the first member of the greedy group, :math:`\pi(s) = \min\{a: g(a) = \arg\max_k
Q_T(s,k)\}`. The model, the constants and the bound are in :mod:`mdp.grouping`.

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

from mdp.grouping import _check_rewards, _check_T, _scalar_model, check_grouping, check_nested, grouped_model
from mdp.model import ParameterError, ShapeError, TabularMDP
from mdp.operators import q_values
from mdp.planning import policy_evaluation, policy_iteration
from theory.backend import is_torch
from theory.fixed_point import certified_fixed_point
from theory.results import SolverResult
from theory.validation import check_scalar

__all__ = ["GenerativeSamples", "sample_generative", "estimate_grouped_model", "GroupedVIResult",
           "grouped_value_iteration", "GroupingLosses", "grouping_losses"]


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


@dataclass(frozen=True)
class GenerativeSamples:
    """Per-action generative-model draws for (seed x N), torch tensors on the sampling device."""

    counts: object
    """``[seeds, len(N_values), S, A, S]`` next-state counts (``N/A`` draws per action)."""
    reward_sums: object
    """``[seeds, len(N_values), S, A]`` sums of the observed rewards (``None`` for ``rewards="known"``)."""
    N_values: tuple


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
    :math:`\|\mathcal T V_T - V_T\|_\infty` of the returned ``V``; ``error_bound`` the certified
    :math:`\|V_T - \hat V^*\|_\infty \le \gamma\|V_T - V_{T-1}\|_\infty/(1-\gamma)`; ``converged`` is ``None`` for
    finite ``T`` (nothing tested) and the certified stop for ``T = inf``. For a batch of models (leading axes
    ``[...]`` of ``P_flat``) ``residual``, ``error_bound`` and ``converged`` are per instance (arrays or tensors
    of shape ``[...]``, the caller reduces); for one model they are plain numbers.
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
    if math.prod(lead) == 0:
        raise ShapeError(f"grouped_value_iteration needs a non-empty batch, got P_flat of shape {tuple(P_flat.shape)}")
    if torch_mode:
        import torch

        V = torch.zeros(*lead, S, dtype=P_flat.dtype, device=P_flat.device)
        amax = lambda Q: Q.amax(-1)  # noqa: E731
        norm = lambda x: x.abs().amax(-1)  # noqa: E731
    else:
        V = np.zeros((*lead, S))
        amax = lambda Q: Q.max(-1)  # noqa: E731
        norm = lambda x: np.max(np.abs(x), axis=-1)  # noqa: E731

    def per_instance(x, kind=float):   # [*lead] arrays; plain numbers for one instance
        return kind(x) if len(lead) == 0 else x

    if math.isinf(T):
        fp = certified_fixed_point(lambda V: amax(q_values(P_flat, R, g, V)), V, g, vi_tol, max_iter,
                                   "grouped_value_iteration")
        Q = q_values(P_flat, R, g, fp.V)
        V_new = amax(Q)
        return GroupedVIResult(Q, V_new, residual=per_instance(norm(amax(q_values(P_flat, R, g, V_new)) - V_new)),
                               error_bound=per_instance(fp.error_bound), converged=per_instance(fp.converged, bool),
                               iterations=fp.iterations + 1)
    fp, Q, d = _backups(P_flat, R, g, V, T, amax)
    bound = g * d / (1 - g) if g > 0 else 0.0 * d     # per instance: gamma ||V_T - V_{T-1}||_inf / (1 - gamma)
    return GroupedVIResult(Q, fp.V, residual=per_instance(fp.residual), error_bound=per_instance(bound),
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
    if not Ns:
        raise ParameterError("N_values is empty")
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
