r"""A grid resource-occupation game for any number of agents, as a PettingZoo ``ParallelEnv``.

The tabular analogue of MRA's MPE "resource occupation" task (``docs/experiments.md#mra_learned``): ``n``
agents move on a ``size x size`` grid (actions stay, up, down, left, right; moves off the grid are stays)
with ``K`` resource cells of values :math:`v_k`. After each joint move, an agent standing on resource
:math:`k` together with :math:`L_k - 1` others receives :math:`v_k / L_k`; elsewhere it receives 0 — the
congestion payoff of :mod:`games.population.congestion`, played repeatedly. Episodes are truncated after
``max_cycles`` steps.

Observation of each agent (``float32``, length :math:`3 + 3K`): its own position scaled to [0, 1], the
population size :math:`n / 12` (the game information :math:`M` of MRA), and for each resource the offset
to it (two coordinates in [-1, 1]) and its current load divided by ``n``. All randomness (start cells)
comes from ``self.np_random``, set by ``reset(seed=...)``.

**One source of truth for the dynamics.** The moves, the congestion payoff and the observations are the
batched torch functions :func:`grid_step`, :func:`grid_rewards` and :func:`grid_observations` (any leading
batch shape ``[..., n]``, any ``device``); the ``ParallelEnv`` calls them with a batch of one, and
:class:`BatchedResourceGrid` steps ``B`` environments of ``n`` agents in one tensor program (used by the
relational soft actor-critic of :mod:`games.population.sac`).

Example:
    >>> env = resource_grid_env(n=6)
    >>> obs, infos = env.reset(seed=0)
    >>> len(obs)
    6
"""
from __future__ import annotations

import functools

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from theory.validation import ParameterError, check_scalar

__all__ = ["ResourceGridEnv", "resource_grid_env", "MOVES", "grid_step", "grid_rewards", "grid_observations",
           "BatchedResourceGrid"]

MOVES = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]])


def grid_step(pos: torch.Tensor, actions: torch.Tensor, size: int) -> torch.Tensor:
    """The joint move: every agent adds its move and is clipped to the grid (a move off the grid is a stay).

    Args:
        pos: ``[..., n, 2]`` integer cells.
        actions: ``[..., n]`` integer actions in ``0..4`` (stay, up, down, left, right).
        size: grid side.

    Returns:
        ``[..., n, 2]`` the new cells.
    """
    moves = torch.as_tensor(MOVES, dtype=pos.dtype, device=pos.device)
    return (pos + moves[actions]).clamp(0, size - 1)


def grid_rewards(pos: torch.Tensor, resources: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    r"""The congestion payoff: an agent on resource :math:`k` with load :math:`L_k` receives :math:`v_k / L_k`.

    Args:
        pos: ``[..., n, 2]`` integer cells.
        resources: ``[K, 2]`` the resource cells.
        values: ``[K]`` their values (floating point).

    Returns:
        ``[..., n]`` the payoffs (dtype of ``values``).
    """
    on = (pos[..., :, None, :] == resources).all(-1)  # [..., n, K]
    load = on.sum(-2, keepdim=True)  # [..., 1, K]
    return (on * (values / load.clamp(min=1))).sum(-1)


def grid_observations(pos: torch.Tensor, resources: torch.Tensor, size: int) -> torch.Tensor:
    """The ``ParallelEnv`` observations (module docstring), ``float64``.

    Args:
        pos: ``[..., n, 2]`` integer cells.
        resources: ``[K, 2]`` the resource cells.
        size: grid side.

    Returns:
        ``[..., n, 3 + 3K]``: own cell / (size - 1), n / 12, then per resource (offset / (size - 1), load / n).
    """
    n = pos.shape[-2]
    s = float(size - 1)
    p = pos.to(torch.float64)
    on = (pos[..., :, None, :] == resources).all(-1)
    load = on.sum(-2).to(torch.float64) / n  # [..., K]
    rel = (resources.to(torch.float64) - p[..., :, None, :]) / s  # [..., n, K, 2]
    per = torch.cat([rel, load[..., None, :, None].expand(*rel.shape[:-1], 1)], -1).flatten(-2)
    pop = torch.full((*pos.shape[:-1], 1), n / 12.0, dtype=torch.float64, device=pos.device)
    return torch.cat([p / s, pop, per], -1)


class BatchedResourceGrid:
    """``B`` grid resource games of ``n`` agents each, stepped as one tensor program on ``device``.

    State: ``pos [B, n, 2]`` and the step count ``t``; the dynamics are :func:`grid_step` and
    :func:`grid_rewards`, exactly those of :class:`ResourceGridEnv` (which calls the same functions).
    Start cells are uniform on the grid, drawn from a seeded ``torch.Generator``.

    Args:
        n: agents per game.
        batch: number of games ``B``.
        size, values, resources, max_cycles: as :class:`ResourceGridEnv`.
        device: torch device.
        seed: seed of the start-cell generator.

    Example:
        >>> g = BatchedResourceGrid(n=3, batch=4, seed=0)
        >>> g.reset().shape
        torch.Size([4, 3, 2])
        >>> pos, r, done = g.step(torch.zeros(4, 3, dtype=torch.long))
        >>> tuple(r.shape), done
        ((4, 3), False)
    """

    def __init__(self, n: int = 6, batch: int = 1, size: int = 5, values=(1.0, 2.0, 4.0), resources=None,
                 max_cycles: int = 20, device="cpu", seed: int = 0):
        ref = ResourceGridEnv(n=n, size=size, values=values, resources=resources, max_cycles=max_cycles)
        self.n, self.size, self.max_cycles = ref.n, ref.size, ref.max_cycles
        self.batch = check_scalar("batch", batch, low=1, integer=True)
        self.device = torch.device(device)
        self.values = torch.as_tensor(ref.values, dtype=torch.float32, device=self.device)
        self.resources = torch.as_tensor(ref.resources, dtype=torch.long, device=self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(int(check_scalar("seed", seed, low=0,
                                                                                           integer=True)))
        self.pos = torch.zeros(self.batch, self.n, 2, dtype=torch.long, device=self.device)
        self.t = 0

    def reset(self) -> torch.Tensor:
        """Uniform start cells; returns ``pos [B, n, 2]``."""
        self.pos = torch.randint(0, self.size, (self.batch, self.n, 2), generator=self.generator,
                                 device=self.device)
        self.t = 0
        return self.pos

    def step(self, actions) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """One joint move: ``actions [B, n]`` -> ``(pos [B, n, 2], rewards [B, n], truncated)``."""
        a = torch.as_tensor(actions, device=self.device)
        if a.shape != (self.batch, self.n) or a.is_floating_point() or a.is_complex():
            raise ParameterError(f"actions must be an integer tensor of shape {(self.batch, self.n)}, "
                                 f"got shape {tuple(a.shape)} and dtype {a.dtype}")
        if ((a < 0) | (a >= len(MOVES))).any():
            raise ParameterError(f"actions must lie in 0..{len(MOVES) - 1}, got values {a.unique().tolist()}")
        self.pos = grid_step(self.pos, a.long(), self.size)
        self.t += 1
        return self.pos, grid_rewards(self.pos, self.resources, self.values), self.t >= self.max_cycles

    def observations(self) -> torch.Tensor:
        """``[B, n, 3 + 3K]`` the ``ParallelEnv`` observations (``float64``)."""
        return grid_observations(self.pos, self.resources, self.size)


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
        self.state_space = spaces.Box(0, self.size - 1, shape=(self.n, 2), dtype=np.int64)

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent):
        K = self.values.size
        low = np.concatenate([[0, 0, 0], np.tile([-1, -1, 0], K)]).astype(np.float32)
        high = np.concatenate([[1, 1, max(1.0, self.n / 12.0)], np.tile([1, 1, 1], K)]).astype(np.float32)
        return spaces.Box(low, high, dtype=np.float32)

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent):
        return spaces.Discrete(len(MOVES))

    def _observations(self):
        obs = grid_observations(torch.as_tensor(self._pos), torch.as_tensor(self.resources), self.size)
        obs = obs.numpy().astype(np.float32)
        return {a: obs[i] for i, a in enumerate(self.agents)}

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self.agents = list(self.possible_agents)
        self._pos = self.np_random.integers(0, self.size, size=(self.n, 2))
        self._t = 0
        return self._observations(), {a: {} for a in self.agents}

    def rewards_of(self) -> np.ndarray:
        """``[n]`` the congestion payoffs of the current positions."""
        return grid_rewards(torch.as_tensor(self._pos), torch.as_tensor(self.resources),
                            torch.as_tensor(self.values)).numpy()

    def step(self, actions):
        if not self.agents:
            raise RuntimeError("step() called after the episode ended; call reset()")
        acts = np.zeros(self.n, dtype=np.int64)
        for i, a in enumerate(self.agents):
            if a not in actions:
                raise ParameterError(f"actions has no entry for {a!r}")
            act = int(actions[a])
            if not 0 <= act < len(MOVES):
                raise ParameterError(f"actions[{a!r}] = {actions[a]!r} is not in 0..{len(MOVES) - 1}")
            acts[i] = act
        self._pos = grid_step(torch.as_tensor(self._pos), torch.as_tensor(acts), self.size).numpy()
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
        """The global state: ``[n, 2]`` agent cells (``int64``, in ``state_space``)."""
        return self._pos.astype(np.int64)

    def render(self):
        return None

    def close(self):
        pass


def resource_grid_env(n: int = 6, **kwargs) -> ResourceGridEnv:
    """A :class:`ResourceGridEnv` with ``n`` agents (``n`` in {3, 6, 9, 12} in the MRA experiments)."""
    return ResourceGridEnv(n=n, **kwargs)
