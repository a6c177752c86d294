r"""Fruit-tree navigation (Yang et al. 2019) as a tabular MO-MDP and env (MO-Gymnasium ``fruit-tree-v0``).

A full binary tree of depth :math:`d \in \{5, 6, 7\}`; the agent starts at the root (row 0, position 0);
action 0 moves to (row + 1, 2 pos), action 1 to (row + 1, 2 pos + 1). Inner nodes pay the zero vector;
the leaf entered at step :math:`d` pays its 6-objective fruit vector and ends the episode, so the
discounted value of a leaf is :math:`\gamma^{d-1} f` and every leaf is an end point of the deterministic
front (:func:`pareto_front`). The fruit table (``mdp/data/fruit_tree.json``) is Yang et al.'s, as
distributed by MO-Gymnasium.

Tabular encoding: node index :math:`2^{row} - 1 + pos` (heap order); leaves are absorbing zero-reward
states.
"""
from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np

from mdp.envs.tabular import TabularEnv
from mdp.model import TabularMDP
from theory.validation import ParameterError, check_scalar

__all__ = ["fruits", "fruit_tree", "pareto_front", "FruitTreeEnv", "make_fruit_tree"]


@functools.lru_cache(maxsize=None)
def _table() -> dict:
    return json.loads(resources.files("mdp").joinpath("data/fruit_tree.json").read_text())["fruits"]


def _depth(depth) -> int:
    d = check_scalar("depth", depth, integer=True)
    if d not in (5, 6, 7):
        raise ParameterError(f"depth must be 5, 6 or 7, got {depth!r}")
    return d


def fruits(depth: int = 6) -> np.ndarray:
    """``[2^depth, 6]`` fruit vectors of the leaves, left to right."""
    return np.array(_table()[str(_depth(depth))], dtype=np.float64)


def fruit_tree(depth: int = 6, gamma: float = 0.99) -> TabularMDP:
    """Tabular MO-MDP ``R[2^(d+1) - 1, 2, 6]`` of the tree of depth ``depth``, start state 0 (the root)."""
    d = _depth(depth)
    F = fruits(d)
    S = 2 ** (d + 1) - 1
    P = np.zeros((S, 2, S))
    R = np.zeros((S, 2, 6))
    first_leaf = 2 ** d - 1
    for s in range(S):
        if s >= first_leaf:
            P[s, :, s] = 1.0
            continue
        for a in range(2):
            child = 2 * s + 1 + a                  # heap order: (row+1, 2 pos + a)
            P[s, a, child] = 1.0
            if child >= first_leaf:
                R[s, a] = F[child - first_leaf]
    mu = np.zeros(S)
    mu[0] = 1.0
    return TabularMDP(P, R, gamma, mu)


def pareto_front(depth: int = 6, gamma: float = 1.0) -> np.ndarray:
    r"""``[2^d, 6]``: :math:`\gamma^{d-1} f` for every leaf (MO-Gymnasium's ``pareto_front(gamma)``)."""
    d = _depth(depth)
    return fruits(d) * check_scalar("gamma", gamma, low=0.0, high=1.0) ** (d - 1)


class FruitTreeEnv(TabularEnv):
    """Fruit-tree with MO-Gymnasium's interface: observation ``[row, pos]`` (``int32``), reward
    ``float32[6]``, ``reward_space`` ``Box(0, 10, (6,))``, ``pareto_front(gamma)``."""

    def __init__(self, depth: int = 6, render_mode: str | None = None):
        import gymnasium as gym

        self.depth = _depth(depth)
        super().__init__(fruit_tree(self.depth), self.depth, render_mode)
        rows = np.floor(np.log2(np.arange(self.model.S) + 1)).astype(np.int32)
        self.nodes = np.stack([rows, np.arange(self.model.S) - (2 ** rows - 1)], axis=1).astype(np.int32)
        self.observation_space = gym.spaces.Box(low=0, high=2 ** self.depth - 1, shape=(2,), dtype=np.int32)
        self.reward_space = gym.spaces.Box(low=0.0, high=10.0, shape=(6,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        s, info = super().reset(seed=seed, options=options)
        return self.nodes[int(s)].copy(), info

    def step(self, action):
        s, r, term, trunc, info = super().step(action)
        return self.nodes[int(s)].copy(), np.asarray(r, np.float32), term, trunc, info

    def pareto_front(self, gamma: float) -> list[np.ndarray]:
        return list(pareto_front(self.depth, gamma))


def make_fruit_tree(**kwargs) -> FruitTreeEnv:
    return FruitTreeEnv(**kwargs)
