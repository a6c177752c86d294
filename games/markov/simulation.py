r"""Torch-batched simulation of many Markov games x seeds in one tensor program (CPU or CUDA)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from games.markov.model import stack_games
from mdp.batched import sample_categorical
from theory.validation import ShapeError, check_scalar, check_shape

__all__ = ["MarkovGameRollout", "BatchedMarkovGame"]


# ----------------------------------------------------------------------------------------------
# Torch-batched simulation of many games x seeds
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MarkovGameRollout:
    """``states[B, H+1]``, ``actions[B, H, n]``, ``rewards[B, H, n]`` and discounted ``returns[B, n]``."""

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    returns: torch.Tensor


class BatchedMarkovGame:
    r"""``B`` copies of one game, or ``B`` different games of equal shape, stepped as one tensor program.

    Next states and actions are drawn by inverse-CDF sampling (:func:`mdp.batched.sample_categorical`)
    from the ``torch.Generator`` passed in, so a seed fixes the whole batch (CPU or CUDA).

    Args:
        mg: a :class:`MarkovGame` (shared by every environment) or a list of ``B`` games.
        batch_size: ``B`` (must equal the list's length when a list is given).
        device: torch device; generator: a ``torch.Generator`` on that device (a fresh one when omitted).

    Example:
        >>> import torch
        >>> from games.markov.instances import random_markov_game
        >>> mg = random_markov_game(4, (2, 2), seed=0)
        >>> env = BatchedMarkovGame(mg, 8, generator=torch.Generator().manual_seed(0))
        >>> env.rollout([torch.full((4, 2), 0.5)] * 2, horizon=5).returns.shape
        torch.Size([8, 2])
    """

    def __init__(self, mg, batch_size: int, device="cpu", generator: torch.Generator | None = None,
                 dtype=torch.float64):
        self.batch_size = check_scalar("batch_size", batch_size, low=1, integer=True)
        games = list(mg) if isinstance(mg, (list, tuple)) else [mg]
        if len(games) not in (1, self.batch_size):
            raise ShapeError(f"got {len(games)} games for batch_size {self.batch_size} (give 1 or batch_size)")
        g = stack_games(games, device=device, dtype=dtype)
        self.device = torch.device(device)
        self.actions = g.actions
        self.n_agents, self.S = g.n_agents, g.S
        M = len(games)
        self._game = (torch.arange(self.batch_size, device=self.device) if M > 1
                      else torch.zeros(self.batch_size, dtype=torch.long, device=self.device))
        self.P = g.P.reshape(M, self.S, -1, self.S)
        self.R = g.R.reshape(M, self.n_agents, self.S, -1)
        self.mu, self.gamma = g.mu, g.gamma
        self.generator = generator
        self.state = None

    def reset(self) -> torch.Tensor:
        """Draw ``s_0 ~ mu`` for every environment; returns ``states[B]``."""
        self.state = sample_categorical(self.mu[self._game], self.generator)
        return self.state

    def step(self, actions) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply joint actions ``[B, n]``; returns ``(next_states[B], rewards[B, n])``."""
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        a = torch.as_tensor(actions, device=self.device, dtype=torch.long)
        check_shape("actions", a, (self.batch_size, self.n_agents))
        for i, A in enumerate(self.actions):
            bad = (a[:, i] < 0) | (a[:, i] >= A)
            if bool(bad.any()):
                b = int(torch.nonzero(bad)[0])
                raise ShapeError(f"actions[{b}, {i}] = {int(a[b, i])} is not an action of agent {i} in 0..{A - 1}")
        j = torch.zeros(self.batch_size, dtype=torch.long, device=self.device)
        for i, A in enumerate(self.actions):
            j = j * A + a[:, i]
        agents = torch.arange(self.n_agents, device=self.device)[None]
        r = self.R[self._game[:, None], agents, self.state[:, None], j[:, None]]
        self.state = sample_categorical(self.P[self._game, self.state, j], self.generator)
        return self.state, r

    def rollout(self, policies, horizon: int) -> MarkovGameRollout:
        r"""Play ``horizon`` steps of the joint policy (``n`` tensors ``[S, A_i]`` or ``[B, S, A_i]``).

        ``returns[b, i]`` is :math:`\sum_{t<H}\gamma^t r_{i,t}` (an unbiased estimate of the discounted
        return truncated at ``H``).
        """
        H = check_scalar("horizon", horizon, low=1, integer=True)
        pols = [torch.as_tensor(p, device=self.device, dtype=self.P.dtype) for p in policies]
        if len(pols) != self.n_agents:
            raise ShapeError(f"policies has {len(pols)} entries; the game has {self.n_agents} agents")
        s = self.reset()
        states, acts, rews = [s], [], []
        ar = torch.arange(self.batch_size, device=self.device)
        for _ in range(H):
            a = torch.stack([sample_categorical(p[ar, s] if p.ndim == 3 else p[s], self.generator)
                             for p in pols], -1)
            s, r = self.step(a)
            states.append(s)
            acts.append(a)
            rews.append(r)
        R = torch.stack(rews, 1)
        disc = self.gamma[self._game][:, None] ** torch.arange(H, device=self.device, dtype=R.dtype)[None]
        return MarkovGameRollout(torch.stack(states, 1), torch.stack(acts, 1), R,
                                 (R * disc[..., None]).sum(1))
