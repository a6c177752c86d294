r"""A grid resource-occupation game for any number of agents, as a PettingZoo ``ParallelEnv``.

The tabular analogue of MRA's MPE "resource occupation" task (``docs/experiments.md#mra_learned``): ``n``
agents move on a ``size x size`` grid (actions stay, up, down, left, right; moves off the grid are stays)
with ``K`` resource cells of values :math:`v_k`. After each joint move, an agent standing on resource
:math:`k` together with :math:`L_k - 1` others receives :math:`v_k / L_k`; elsewhere it receives 0 — the
congestion payoff of :mod:`games.population`, played repeatedly. Episodes are truncated after
``max_cycles`` steps.

Observation of each agent (``float32``, length :math:`3 + 3K`): its own position scaled to [0, 1], the
population size :math:`n / 12` (the game information :math:`M` of MRA), and for each resource the offset
to it (two coordinates in [-1, 1]) and its current load divided by ``n``. All randomness (start cells)
comes from ``self.np_random``, set by ``reset(seed=...)``.

Example:
    >>> env = resource_grid_env(n=6)
    >>> obs, infos = env.reset(seed=0)
    >>> len(obs)
    6
"""
from __future__ import annotations

import functools

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from theory.validation import ParameterError, check_scalar

__all__ = ["ResourceGridEnv", "resource_grid_env", "MOVES"]

MOVES = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]])


class ResourceGridEnv(ParallelEnv):
    """``n`` agents occupying ``K`` valued resource cells on a grid (module docstring).

    Args:
        n: number of agents (>= 1).
        size: grid side (>= 2).
        values: resource values (positive), one per resource.
        resources: ``[K, 2]`` resource cells (default: spread along the diagonal and anti-diagonal).
        max_cycles: steps before truncation.
    """

    metadata = {"name": "resource_grid_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, n: int = 6, size: int = 5, values=(1.0, 2.0, 4.0), resources=None, max_cycles: int = 20):
        self.n = check_scalar("n", n, low=1, integer=True)
        self.size = check_scalar("size", size, low=2, integer=True)
        self.max_cycles = check_scalar("max_cycles", max_cycles, low=1, integer=True)
        v = np.asarray(values, dtype=float)
        if v.ndim != 1 or v.size < 1 or not np.all(np.isfinite(v)) or (v <= 0).any():
            raise ParameterError(f"values must be a non-empty sequence of positive numbers, got {values!r}")
        self.values = v
        K = v.size
        if resources is None:
            s = self.size - 1
            cand = [(0, 0), (s, s), (0, s), (s, 0), (s // 2, s // 2)]
            if K > len(cand):
                raise ParameterError(f"give resources explicitly for more than {len(cand)} values, got K = {K}")
            resources = cand[:K]
        r = np.asarray(resources, dtype=int)
        if r.shape != (K, 2) or (r < 0).any() or (r >= self.size).any():
            raise ParameterError(f"resources must be {K} distinct cells inside the {self.size}x{self.size} grid, "
                                 f"got {resources!r}")
        if len({tuple(c) for c in r}) != K:
            raise ParameterError(f"resources must be distinct cells, got {resources!r}")
        self.resources = r
        self.possible_agents = [f"agent_{i}" for i in range(self.n)]
        self.agents = []
        self.render_mode = None
        self._pos = np.zeros((self.n, 2), dtype=int)
        self._t = 0
        self.np_random, _ = seeding.np_random(None)

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent):
        K = self.values.size
        low = np.concatenate([[0, 0, 0], np.tile([-1, -1, 0], K)]).astype(np.float32)
        high = np.concatenate([[1, 1, max(1.0, self.n / 12.0)], np.tile([1, 1, 1], K)]).astype(np.float32)
        return spaces.Box(low, high, dtype=np.float32)

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent):
        return spaces.Discrete(len(MOVES))

    def _loads(self) -> np.ndarray:
        on = (self._pos[:, None, :] == self.resources[None, :, :]).all(-1)  # [n, K]
        return on, on.sum(0)

    def _observations(self):
        on, load = self._loads()
        s = self.size - 1
        out = {}
        for i, a in enumerate(self.agents):
            rel = (self.resources - self._pos[i]) / s
            per = np.column_stack([rel, load / self.n]).ravel()
            out[a] = np.concatenate([self._pos[i] / s, [self.n / 12.0], per]).astype(np.float32)
        return out

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self.agents = list(self.possible_agents)
        self._pos = self.np_random.integers(0, self.size, size=(self.n, 2))
        self._t = 0
        return self._observations(), {a: {} for a in self.agents}

    def rewards_of(self) -> np.ndarray:
        """``[n]`` the congestion payoffs of the current positions."""
        on, load = self._loads()
        share = np.where(load > 0, self.values / np.maximum(load, 1), 0.0)
        return (on * share).sum(1)

    def step(self, actions):
        if not self.agents:
            raise RuntimeError("step() called after the episode ended; call reset()")
        for i, a in enumerate(self.agents):
            if a not in actions:
                raise ParameterError(f"actions has no entry for {a!r}")
            act = int(actions[a])
            if not 0 <= act < len(MOVES):
                raise ParameterError(f"actions[{a!r}] = {actions[a]!r} is not in 0..{len(MOVES) - 1}")
            self._pos[i] = np.clip(self._pos[i] + MOVES[act], 0, self.size - 1)
        self._t += 1
        r = self.rewards_of()
        rewards = {a: float(r[i]) for i, a in enumerate(self.agents)}
        obs = self._observations()
        trunc = self._t >= self.max_cycles
        terminations = {a: False for a in self.agents}
        truncations = {a: trunc for a in self.agents}
        infos = {a: {} for a in self.agents}
        if trunc:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        return self._pos.copy()

    def render(self):
        return None

    def close(self):
        pass


def resource_grid_env(n: int = 6, **kwargs) -> ResourceGridEnv:
    """A :class:`ResourceGridEnv` with ``n`` agents (``n`` in {3, 6, 9, 12} in the MRA experiments)."""
    return ResourceGridEnv(n=n, **kwargs)
