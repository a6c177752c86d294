"""Gymnasium environments, registered as ``theorysim/<Name>-v0``.

``gymnasium.make("theorysim/Garnet-v0", S=..., ...)`` works after ``import mdp.envs`` (or
``gymnasium.make("mdp.envs:theorysim/Garnet-v0")`` without the import). Keyword arguments go to the
generator in :mod:`mdp.generators`; ``max_steps`` to :class:`TabularEnv`. Versions are bumped whenever
an environment's dynamics change. Multi-objective environments (``DeepSeaTreasure-v0`` with
``kind="convex"|"concave"``, ``FruitTree-v0`` with ``depth=5|6|7``) follow MO-Gymnasium's conventions:
vector rewards, ``reward_space`` and ``pareto_front(gamma)``.
"""
from __future__ import annotations

import gymnasium as gym

from mdp import generators
from mdp.envs.tabular import TabularEnv

__all__ = ["TabularEnv", "make_garnet", "make_river_swim", "make_gridworld", "make_combination_lock"]


def _split(kwargs, default_steps):
    max_steps = kwargs.pop("max_steps", default_steps)
    render_mode = kwargs.pop("render_mode", None)
    return max_steps, render_mode


def make_garnet(**kwargs) -> TabularEnv:
    steps, rm = _split(kwargs, 200)
    return TabularEnv(generators.garnet(**{"S": 20, "A": 4, **kwargs}), steps, rm)


def make_river_swim(**kwargs) -> TabularEnv:
    steps, rm = _split(kwargs, 200)
    return TabularEnv(generators.river_swim(**kwargs), steps, rm)


def make_gridworld(**kwargs) -> TabularEnv:
    steps, rm = _split(kwargs, 100)
    return TabularEnv(generators.gridworld(**kwargs), steps, rm)


def make_combination_lock(**kwargs) -> TabularEnv:
    steps, rm = _split(kwargs, None)
    return TabularEnv(generators.combination_lock(**kwargs), steps, rm)


_ENVS = {"Garnet-v0": "mdp.envs:make_garnet", "RiverSwim-v0": "mdp.envs:make_river_swim",
         "GridWorld-v0": "mdp.envs:make_gridworld", "CombinationLock-v0": "mdp.envs:make_combination_lock",
         "WindyWalk-v0": "mdp.envs.windy_walk:make_windy_walk",
         "ShortVideo-v0": "mdp.envs.recommender:make_short_video",
         "DeepSeaTreasure-v0": "mdp.envs.deep_sea_treasure:make_deep_sea_treasure",
         "FruitTree-v0": "mdp.envs.fruit_tree:make_fruit_tree"}
for _name, _entry in _ENVS.items():
    _id = f"theorysim/{_name}"
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_entry)
