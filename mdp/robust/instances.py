"""Uncertainty sets of published robust-MDP instances, built on the environments of :mod:`mdp.envs`.

Environments import models only; the sets over their kernels live here, beside :mod:`mdp.robust.sets`.
"""
from __future__ import annotations

import numpy as np

from mdp.envs.windy_walk import windy_walk_kernel
from mdp.robust.sets import ParametricSet

__all__ = ["windy_walk_set"]


def windy_walk_set(n: int = 25, high: float = 0.5):
    """The paper's uncertainty set: alpha on ``n`` values in ``[0, high]`` (static, coupled across cells)."""
    return ParametricSet(windy_walk_kernel, np.linspace(0.0, high, n), bounds=[[0.0, high]])
