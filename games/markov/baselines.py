r"""Baselines of :func:`games.markov.mamql.mamql` (:func:`behaviour_cloning`, :func:`independent_iq_learn`,
:func:`ma_airl`): empirical action frequencies; IQ-Learn per agent *without* marginalisation or a model (the
next-state values come from the demonstrated transitions :math:`(s, a_i, s')` only); tabular MA-AIRL (Yu et
al. 2019) with discriminator :math:`D = e^{f}/(e^{f} + \pi_i)`, :math:`f = g(s,a_i) + \gamma h(s') - h(s)`,
alternated with soft-optimal generator updates in the marginal MDP.
"""
from __future__ import annotations

import torch

from games.markov.irl import (_DT, ExpertData, IRLResult, _as_data, _bc_policies, _Critics, _iq_objective,
                              _joint_state_kernel, _regulariser_weights, _squeeze, implied_reward,
                              state_occupancy)
from games.markov.marginal import marginal_tensors
from games.markov.model import MarkovGame, stack_games
from games.markov.solvers import soft_q
from mdp.operators import q_values
from theory.results import warn_not_converged
from theory.validation import ParameterError, check_scalar

__all__ = ["behaviour_cloning", "independent_iq_learn", "ma_airl"]


def behaviour_cloning(mg: MarkovGame, demos, smoothing: float = 1e-3) -> IRLResult:
    r"""Behaviour cloning: :math:`\pi_i(a|s) \propto \hat\rho_E(s,a) + \epsilon/(SA)`, uniform where unseen.

    Args:
        mg: the game; demos: :class:`Demonstrations`, a list of them, or :class:`ExpertData`;
        smoothing: :math:`\epsilon \ge 0` (additive smoothing, as a fraction of the total weight).
    """
    smoothing = check_scalar("smoothing", smoothing, low=0.0)
    data, sq = _as_data(mg, demos)
    return IRLResult(_squeeze(_bc_policies(data, smoothing), sq), None, None, "bc", residual=0.0, iterations=0)



def _empirical_kernel(data: ExpertData, i: int):
    r"""Agent ``i``'s demonstrated next-state distribution :math:`\hat P(t|s,a_i)` ``[B, S*A_i, S]``; unseen
    ``(s, a_i)`` fall back to the state's pooled next states, then to uniform."""
    Tr = data.transitions[i]
    B, S, A, _ = Tr.shape
    tot = Tr.sum(-1, keepdim=True)
    pooled = Tr.sum(2, keepdim=True)
    ptot = pooled.sum(-1, keepdim=True)
    pooled = torch.where(ptot > 0, pooled / ptot.clamp(min=1e-300), torch.full_like(pooled, 1.0 / S))
    P = torch.where(tot > 0, Tr / tot.clamp(min=1e-300), pooled.expand_as(Tr))
    return P.reshape(B, S * A, S)


def independent_iq_learn(mg: MarkovGame, demos, temperature: float = 1.0, alpha: float = 10.0,
                         max_iter: int = 1000, tol: float = 1e-7, device="cpu",
                         reference: str = "uniform") -> IRLResult:
    r"""IQ-Learn per agent without marginalisation or a model (baseline).

    Agent :math:`i` maximises the same objective as :func:`mamql` offline, but its next-state values come
    from its demonstrated transitions :math:`(s, a_i, s')` only (the empirical kernel
    :math:`\hat P(t|s,a_i)`; unseen pairs use the state's pooled transitions, else uniform), treating the
    other agents as an unmodelled part of the environment. With the exact expert occupancy
    :math:`\hat P = \bar P_i^{\pi^E_{-i}}` and it coincides with MAMQL using the expert opponents.
    ``reference`` is the :math:`\chi^2` term's reference distribution, ``"uniform"`` (default) or
    ``"expert"``, as in :func:`mamql` offline.
    """
    T = check_scalar("temperature", temperature, low=0.0, low_open=True)
    alpha = check_scalar("alpha", alpha, low=0.0, low_open=True)
    max_iter = check_scalar("max_iter", max_iter, low=1, integer=True)
    tol = check_scalar("tol", tol, low=0.0, low_open=True)
    if reference not in ("uniform", "expert"):
        raise ParameterError(f"reference must be 'uniform' or 'expert', got {reference!r}")
    data, sq = _as_data(mg, demos)
    B, S = data.batch, mg.S
    dev = torch.device(device)
    gamma = torch.full((B,), mg.gamma, dtype=_DT, device=dev)
    kernels = [_empirical_kernel(data, i).to(dev) for i in range(mg.n_agents)]
    w_E = [w.to(dev) for w in data.weights]
    w_R = _regulariser_weights(reference, w_E)
    critics = _Critics(B, S, mg.actions, alpha, dev)

    def objective(Qs):
        return sum(_iq_objective(Qs[i], kernels[i], gamma, T, w_E[i], w_R[i], alpha).sum()
                   for i in range(mg.n_agents))

    critics.fit(objective, max_iter, tol)
    residual = critics.residual(objective)
    converged = residual <= tol
    if not converged:
        warn_not_converged("independent_iq_learn", residual=residual, tol=tol, iterations=1)
    Qs = critics.tables()
    rewards = [implied_reward(Qs[i], kernels[i], gamma, T)[0] for i in range(mg.n_agents)]
    pols = [torch.softmax(q / T, -1) for q in Qs]
    return IRLResult(_squeeze(pols, sq), _squeeze(Qs, sq), _squeeze(rewards, sq), "independent_iq",
                     residual=residual, converged=converged, iterations=1)


def ma_airl(mg: MarkovGame, demos, temperature: float = 1.0, rounds: int = 100, disc_steps: int = 20,
            lr: float = 0.05, seed: int = 0, device="cpu") -> IRLResult:
    r"""Tabular MA-AIRL (baseline): per-agent AIRL discriminators against soft-optimal generators.

    Discriminator of agent :math:`i`: :math:`D(s,a_i,s') = \sigma\big(f(s,a_i,s') - \log\pi_i(a_i|s)\big)` with
    :math:`f = g(s,a_i) + \gamma h(s') - h(s)`; ``disc_steps`` Adam steps per round on the logistic loss
    :math:`-\mathbb E_{E}[\log D] - \mathbb E_{\pi}[\log(1-D)]` (expert transitions from the demonstrations,
    generator transitions from the exact occupancy of the current joint policy). Generator: the soft-optimal
    policy in agent :math:`i`'s marginal MDP against the others' current policies with reward
    :math:`\bar f(s,a_i) = g + \gamma\bar P_i h - h` (:func:`games.markov.solvers.soft_q`). The recovered marginal
    reward is :math:`g`. Reconstruction (no tabular MA-AIRL is published): exact generator occupancies
    replace the generator's samples.
    """
    T = check_scalar("temperature", temperature, low=0.0, low_open=True)
    rounds = check_scalar("rounds", rounds, low=1, integer=True)
    disc_steps = check_scalar("disc_steps", disc_steps, low=1, integer=True)
    lr = check_scalar("lr", lr, low=0.0, low_open=True)
    check_scalar("seed", seed, low=0, integer=True)
    data, sq = _as_data(mg, demos)
    B, n, S = data.batch, mg.n_agents, mg.S
    dev = torch.device(device)
    g0 = stack_games([mg], device=dev)
    gt = type(g0)(g0.P.expand(B, *g0.P.shape[1:]), g0.R.expand(B, *g0.R.shape[1:]), g0.gamma.expand(B),
                  g0.mu.expand(B, -1), g0.actions, True)
    gamma = gt.gamma
    w_E = [t.to(dev) for t in data.transitions]
    gs = [torch.zeros((B, S, A), dtype=_DT, device=dev, requires_grad=True) for A in mg.actions]
    hs = [torch.zeros((B, S), dtype=_DT, device=dev, requires_grad=True) for _ in mg.actions]
    opt = torch.optim.Adam(gs + hs, lr=lr)
    pols = [torch.full((B, S, A), 1.0 / A, dtype=_DT, device=dev) for A in mg.actions]
    V = [None] * n
    for _ in range(rounds):
        d = state_occupancy(_joint_state_kernel(gt, pols), gt.mu, gamma)
        kern, w_pi = [], []
        for i in range(n):
            P_bar, _ = marginal_tensors(gt, i, pols)
            kern.append(P_bar)
            w_pi.append((d[..., None] * pols[i])[..., None] * P_bar)
        for _ in range(disc_steps):
            opt.zero_grad()
            loss = 0.0
            for i in range(n):
                f = gs[i][..., None] + gamma[:, None, None, None] * hs[i][:, None, None, :] - hs[i][:, :, None, None]
                logit = f - torch.log(pols[i].clamp(min=1e-300))[..., None]
                loss = loss + (w_E[i] * torch.nn.functional.softplus(-logit)).sum() \
                    + (w_pi[i] * torch.nn.functional.softplus(logit)).sum()
            loss.backward()
            opt.step()
        with torch.no_grad():
            new = []
            for i in range(n):
                zero = torch.zeros_like(gs[i])
                shaped = gs[i] + q_values(kern[i].reshape(B, -1, S), zero, gamma, hs[i]) - hs[i][..., None]
                Q, V[i], _ = soft_q(kern[i], shaped, gamma, T, V0=V[i], tol=1e-10)
                new.append(torch.softmax(Q / T, -1))
            pols = new
    rewards = [x.detach() for x in gs]
    return IRLResult(_squeeze(pols, sq), None, _squeeze(rewards, sq), "ma_airl", residual=0.0, iterations=rounds)
