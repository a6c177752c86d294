"""Gymnasium ``VectorEnv`` adapter over the torch-batched simulator :class:`mdp.batched.BatchedTabularMDP`."""
from __future__ import annotations

import numpy as np
import torch

from mdp.batched import BatchedTabularMDP
from mdp.model import TabularMDP

__all__ = ["TabularVectorEnv"]


def _vector_env_base():
    import gymnasium as gym

    return gym.vector.VectorEnv


class TabularVectorEnv(_vector_env_base()):
    """``gymnasium.vector.VectorEnv`` over :class:`BatchedTabularMDP`.

    Autoreset mode: ``AutoresetMode.NEXT_STEP`` (gymnasium's default): after a sub-environment ends
    (``terminated`` in an absorbing state, or ``truncated`` at ``max_steps``), its *next* ``step`` ignores
    the action, returns a fresh initial observation with reward 0 and ``terminated = truncated = False``.
    Observations and actions are numpy ``int64`` arrays; the simulation stays in torch on ``device``.
    """

    metadata = {"autoreset_mode": None}

    def __init__(self, m, num_envs: int, max_steps: int, device="cpu", dtype=torch.float32):
        import gymnasium as gym
        from gymnasium.vector import AutoresetMode
        from gymnasium.vector.utils import batch_space

        if not isinstance(m, TabularMDP):
            raise TypeError(f"TabularVectorEnv needs a TabularMDP (episodes end in absorbing states or at "
                            f"max_steps), got {type(m).__name__}")
        if max_steps is None or max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps!r}")
        self.metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}
        self.sim = BatchedTabularMDP(m, num_envs, device=device, dtype=dtype)
        self.num_envs = num_envs
        self.max_steps = int(max_steps)
        self.single_observation_space = gym.spaces.Discrete(m.S)
        self.single_action_space = gym.spaces.Discrete(m.A)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._elapsed = torch.zeros(num_envs, dtype=torch.long, device=self.sim.device)
        self._needs_reset = torch.zeros(num_envs, dtype=torch.bool, device=self.sim.device)

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.sim.generator.manual_seed(int(seed))
        states = self.sim.reset()
        self._elapsed.zero_()
        self._needs_reset.zero_()
        return states.cpu().numpy().astype(np.int64), {}

    def step(self, actions):
        sim = self.sim
        acts = torch.as_tensor(np.asarray(actions), device=sim.device).long()
        nxt, rew, term = sim.step(acts)
        self._elapsed += 1
        # sub-environments that finished last step restart now (NEXT_STEP semantics)
        if self._needs_reset.any():
            fresh = torch.searchsorted(sim._mu_cdf[sim._model], sim._uniform(self.num_envs, 1),
                                       right=True).squeeze(-1).clamp_(max=sim.S - 1)
            mask = self._needs_reset
            nxt = torch.where(mask, fresh, nxt)
            rew = torch.where(mask, torch.zeros_like(rew), rew)
            term = term & ~mask
            self._elapsed = torch.where(mask, torch.zeros_like(self._elapsed), self._elapsed)
        trunc = (self._elapsed >= self.max_steps) & ~term
        sim.states = nxt
        self._needs_reset = term | trunc
        return (nxt.cpu().numpy().astype(np.int64), rew.cpu().numpy().astype(np.float64),
                term.cpu().numpy(), trunc.cpu().numpy(), {})
