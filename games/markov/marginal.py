r"""Marginal MDPs of a Markov game and exact evaluation in them: agent values and NashConv.

**Marginal MDP.** With the other agents' policies :math:`\pi_{-i}` fixed, agent :math:`i` faces the
single-agent MDP

.. math::
   \bar r_i(s, a_i) = \mathbb E_{a_{-i}\sim\pi_{-i}(\cdot|s)} r_i(s, a_i, a_{-i}), \qquad
   \bar P_i(t \mid s, a_i) = \mathbb E_{a_{-i}\sim\pi_{-i}(\cdot|s)} P(t \mid s, a_i, a_{-i}),

computed by :func:`marginal_tensors` (the one construction: numpy for one game, torch with a leading batch
axis for many) and returned by :func:`marginal_mdp` as an :class:`mdp.TabularMDP`, so every MDP solver
applies; :func:`agent_values` and :func:`markov_nash_conv` evaluate exactly in it through
:mod:`mdp.planning`.
"""
from __future__ import annotations

import string

import numpy as np
import torch

from games.markov.model import MarkovGame, _tensors, validate_policies
from mdp.model import TabularMDP
from mdp.planning import policy_evaluation, policy_iteration
from theory.backend import is_torch
from theory.validation import ParameterError, check_scalar

__all__ = ["marginal_tensors", "marginal_mdp", "agent_values", "markov_nash_conv"]


def _einsum(spec, *xs):
    return torch.einsum(spec, *xs) if is_torch(xs[0]) else np.einsum(spec, *xs, optimize=True)


def _marginal_spec(n: int, i: int, batched: bool, lead: str, tail: str) -> str:
    """einsum spec contracting every agent's action axis except ``i`` with that agent's policy."""
    letters = string.ascii_lowercase[:n]  # action letters a, b, c, ...
    z = "z" if batched else ""
    pis = [f"{z}s{letters[j]}" for j in range(n) if j != i]
    src = f"{z}{lead}s{letters}{tail}"
    return ",".join([src] + pis) + f"->{z}{lead}s{letters[i]}{tail}"


def marginal_tensors(mg, i: int, policies):
    r"""Agent ``i``'s marginal kernel and reward against the others' policies (numpy or batched torch).

    .. math:: \bar P_i[s,a_i,t] = \sum_{a_{-i}} \prod_{j\ne i}\pi_j(a_j|s)\,P[s,a,t], \quad
              \bar r_i[s,a_i] = \sum_{a_{-i}} \prod_{j\ne i}\pi_j(a_j|s)\,R[i,s,a]

    Args:
        mg: a :class:`MarkovGame` (numpy) or :class:`MarkovGameTensors` (torch, batched).
        i: the agent.
        policies: one ``[(B,) S, A_j]`` array per agent (entry ``i`` is ignored).

    Returns:
        ``(P_bar [(B,) S, A_i, S], r_bar [(B,) S, A_i])``.
    """
    g = _tensors(mg)
    n = g.n_agents
    others = [policies[j] for j in range(n) if j != i]
    R_i = g.R[:, i] if g.batched else g.R[i]
    if n == 1:
        return g.P, R_i
    P_bar = _einsum(_marginal_spec(n, i, g.batched, "", "t"), g.P, *others)
    r_bar = _einsum(_marginal_spec(n, i, g.batched, "", ""), R_i, *others)
    return P_bar, r_bar


def marginal_mdp(mg: MarkovGame, i: int, policies) -> TabularMDP:
    """Agent ``i``'s single-agent MDP against the other agents' policies (an :class:`mdp.TabularMDP`).

    Args:
        mg: the game.
        i: the agent (``0 <= i < n``).
        policies: list of ``n`` arrays ``[S, A_j]``; ``policies[i]`` is not used (may be any valid policy).

    Returns:
        ``TabularMDP(P_bar[S, A_i, S], r_bar[S, A_i], gamma, mu)`` (see :func:`marginal_tensors`).

    Example:
        >>> from games.markov.instances import random_markov_game
        >>> from mdp import value_iteration
        >>> mg = random_markov_game(4, (2, 3), seed=0)
        >>> m = marginal_mdp(mg, 1, mg.uniform_policies())
        >>> m.S, m.A
        (4, 3)
    """
    i = _agent(mg, i)
    pols = validate_policies(mg, policies)
    P_bar, r_bar = marginal_tensors(mg, i, pols)
    return TabularMDP(P_bar, r_bar, mg.gamma, mg.mu)


def _agent(mg, i) -> int:
    i = check_scalar("i", i, low=0, integer=True)
    if i >= mg.n_agents:
        raise ParameterError(f"i must be an agent index in 0..{mg.n_agents - 1}, got {i}")
    return i

def agent_values(mg: MarkovGame, policies) -> np.ndarray:
    r"""Expected discounted return of every agent from ``mu``: ``[n]``, :math:`\mu^\top V_i^\pi`.

    Computed exactly in each agent's marginal MDP (:func:`mdp.policy_evaluation`).
    """
    pols = validate_policies(mg, policies)
    return np.array([float(mg.mu @ policy_evaluation(marginal_mdp(mg, i, pols), pols[i]))
                     for i in range(mg.n_agents)])


def markov_nash_conv(mg: MarkovGame, policies, per_agent: bool = False):
    r"""NashConv :math:`\sum_i \big(\max_{\pi_i'} V_i(\pi_i', \pi_{-i}) - V_i(\pi)\big)` from ``mu``.

    Each best response is exact: :func:`mdp.policy_iteration` in agent ``i``'s marginal MDP (a stationary
    deterministic best response is optimal there). Zero exactly at a Nash equilibrium.

    Args:
        mg: the game; policies: ``n`` arrays ``[S, A_i]``.
        per_agent: return the ``[n]`` vector of gains instead of their sum.

    Returns:
        float (or ``[n]`` array), non-negative up to round-off.
    """
    pols = validate_policies(mg, policies)
    gains = []
    for i in range(mg.n_agents):
        m = marginal_mdp(mg, i, pols)
        best = float(mg.mu @ policy_iteration(m).V)
        gains.append(best - float(mg.mu @ policy_evaluation(m, pols[i])))
    gains = np.array(gains)
    return gains if per_agent else float(gains.sum())
