r"""Deep-sea-treasure (Vamplew et al. 2011; convex map of Yang et al. 2019) as a tabular MO-MDP and env.

An 11 x 11 grid; the submarine starts at the top-left cell (row 0, column 0); actions 0..3 move up,
down, left, right; a move into rock or off the grid leaves it in place. Every step pays the reward
vector ``[treasure, -1]``, where ``treasure`` is the value of the cell entered (0 off-treasure); the
episode terminates on entering a treasure. These are MO-Gymnasium's ``deep-sea-treasure-v0``
(``"convex"``) and ``deep-sea-treasure-concave-v0`` (``"concave"``) dynamics, checked step by step
against MO-Gymnasium in the tests when it is installed.

Tabular encoding: one state per non-rock cell, row-major; treasure cells are absorbing zero-reward states
(the generic :class:`~mdp.envs.TabularEnv` terminates on entering them). The deterministic Pareto front
from the start, with :math:`n` the steps to a treasure :math:`T`, is
:math:`\{(T\gamma^{n-1}, -\sum_{i<n}\gamma^i)\}`: :func:`pareto_front`.
"""
from __future__ import annotations

import numpy as np

from mdp.envs.tabular import TabularEnv
from mdp.model import TabularMDP
from theory.validation import ParameterError, check_scalar

__all__ = ["TREASURES", "TREASURE_STEPS", "dst_map", "deep_sea_treasure", "pareto_front", "DeepSeaTreasureEnv",
           "make_deep_sea_treasure"]

# (row, column) of the ten treasures, the Manhattan distance from (0, 0) is the steps to reach them.
_CELLS = [(1, 0), (2, 1), (3, 2), (4, 3), (4, 4), (4, 5), (7, 6), (7, 7), (9, 8), (10, 9)]
TREASURES = {"convex": (0.7, 8.2, 11.5, 14.0, 15.1, 16.1, 19.6, 20.3, 22.4, 23.7),
             "concave": (1.0, 2.0, 3.0, 5.0, 8.0, 16.0, 24.0, 50.0, 74.0, 124.0)}
TREASURE_STEPS = tuple(r + c for r, c in _CELLS)
_MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))


def _check_map(kind: str) -> str:
    if kind not in TREASURES:
        raise ParameterError(f"kind must be one of {sorted(TREASURES)}, got {kind!r}")
    return kind


def dst_map(kind: str = "convex") -> np.ndarray:
    """The ``[11, 11]`` map: 0 sea, -10 rock, positive values treasures (below each treasure: rock)."""
    _check_map(kind)
    grid = np.zeros((11, 11))
    for (r, c), t in zip(_CELLS, TREASURES[kind]):
        grid[r, c] = t
        grid[r + 1:, c] = -10.0
    return grid


def deep_sea_treasure(kind: str = "convex", gamma: float = 0.99) -> TabularMDP:
    """Tabular MO-MDP ``R[S, A, 2]`` of the map ``kind`` (``"convex"`` or ``"concave"``), start state 0.

    ``m.info``-like metadata is returned by :func:`cells` (state index -> (row, column)).
    """
    grid = dst_map(kind)
    cells = cells_of(grid)
    index = {c: i for i, c in enumerate(cells)}
    S, A = len(cells), 4
    P = np.zeros((S, A, S))
    R = np.zeros((S, A, 2))
    for s, (r, c) in enumerate(cells):
        if grid[r, c] > 0:                       # treasure: absorbing, zero reward
            P[s, :, s] = 1.0
            continue
        for a, (dr, dc) in enumerate(_MOVES):
            nr, nc = r + dr, c + dc
            if not (0 <= nr < 11 and 0 <= nc < 11) or grid[nr, nc] == -10:
                nr, nc = r, c
            P[s, a, index[(nr, nc)]] = 1.0
            R[s, a] = (max(grid[nr, nc], 0.0), -1.0)
    mu = np.zeros(S)
    mu[0] = 1.0
    return TabularMDP(P, R, gamma, mu)


def cells_of(grid: np.ndarray) -> list[tuple[int, int]]:
    """Row-major list of the non-rock cells: the state index of a cell is its position in this list."""
    return [(r, c) for r in range(grid.shape[0]) for c in range(grid.shape[1]) if grid[r, c] != -10]


def pareto_front(kind: str = "convex", gamma: float = 1.0) -> np.ndarray:
    r"""``[10, 2]`` deterministic front :math:`(T\gamma^{n-1}, -\sum_{i<n}\gamma^i)`, as MO-Gymnasium's
    ``pareto_front(gamma)``."""
    _check_map(kind)
    g = check_scalar("gamma", gamma, low=0.0, high=1.0)
    return np.array([(t * g ** (n - 1), -sum(g ** i for i in range(n)))
                     for t, n in zip(TREASURES[kind], TREASURE_STEPS)])


class DeepSeaTreasureEnv(TabularEnv):
    """Deep-sea-treasure with MO-Gymnasium's interface: observation ``[row, column]`` (``int32``), vector
    reward ``float32[2]``, ``reward_space``, ``pareto_front(gamma)``; ``max_steps`` 100 as its TimeLimit.

    Works with MO-Gymnasium's wrappers (``LinearReward`` etc.).
    """

    def __init__(self, kind: str = "convex", max_steps: int = 100, render_mode: str | None = None):
        import gymnasium as gym

        self.kind = _check_map(kind)
        super().__init__(deep_sea_treasure(kind, gamma=0.99), max_steps, render_mode)
        self.cells = np.array(cells_of(dst_map(kind)), dtype=np.int32)
        self.observation_space = gym.spaces.Box(low=0, high=11, shape=(2,), dtype=np.int32)
        self.reward_space = gym.spaces.Box(low=np.array([0.0, -1.0], np.float32),
                                           high=np.array([max(TREASURES[kind]), -1.0], np.float32),
                                           dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        s, info = super().reset(seed=seed, options=options)
        return self.cells[int(s)].copy(), info

    def step(self, action):
        s, r, term, trunc, info = super().step(action)
        return self.cells[int(s)].copy(), np.asarray(r, np.float32), term, trunc, info

    def pareto_front(self, gamma: float) -> list[np.ndarray]:
        return list(pareto_front(self.kind, gamma))


def make_deep_sea_treasure(**kwargs) -> DeepSeaTreasureEnv:
    return DeepSeaTreasureEnv(**kwargs)
