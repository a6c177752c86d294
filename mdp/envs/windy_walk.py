r"""Windy walk (Zouitine et al. 2024, Fig. 2) — **reconstructed layout**.

The paper describes a 6×6 grid with 6 wall cells forming three east–west corridors, reward −1 per
step, an absorbing zero-reward goal, and a westward wind of strength α in the northern corridor, α³
in the middle one and α⁶ in the southern one; the exact layout is only drawn in a figure we could
not read. Our reconstruction: rows 0–1 are the northern corridor, rows 2–3 the middle, rows 4–5 the
southern; walls at (1,1), (1,2), (1,3) and (3,2), (3,3), (3,4) separate them except at the ends;
start (0,0), goal (0,5). Every action moves as intended with probability 1 − w and is pushed one cell
west with probability w (a wall or the border means staying put); action W always goes west. For small
α the straight northern route is optimal; for large α the detour through the calmer corridors wins.
The uncertainty set is :func:`mdp.robust.instances.windy_walk_set` (α on a grid of 25 values in [0, 0.5]).
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from mdp.model import TabularMDP

ROWS = COLS = 6
WALLS = ((1, 1), (1, 2), (1, 3), (3, 2), (3, 3), (3, 4))
START, GOAL = (0, 0), (0, 5)
MOVES = {0: (-1, 0), 1: (1, 0), 2: (0, 1), 3: (0, -1)}  # N, S, E, W


def _graph():
    G = nx.grid_2d_graph(ROWS, COLS)
    G.remove_nodes_from(WALLS)
    return G


def _wind(row: int, alpha: float) -> float:
    return alpha if row <= 1 else (alpha ** 3 if row <= 3 else alpha ** 6)


def windy_walk_kernel(alpha: float) -> np.ndarray:
    """Transition kernel ``P[S, 4, S]`` for wind strength ``alpha`` (states: non-wall cells, row-major)."""
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    G = _graph()
    cells = sorted(G.nodes)
    idx = {c: i for i, c in enumerate(cells)}
    S = len(cells)
    P = np.zeros((S, 4, S))
    for c in cells:
        s = idx[c]
        if c == GOAL:
            P[s, :, s] = 1.0
            continue
        w = _wind(c[0], float(alpha))
        west = (c[0], c[1] - 1)
        west_t = idx[west] if G.has_edge(c, west) else s
        for a, (dr, dc) in MOVES.items():
            nb = (c[0] + dr, c[1] + dc)
            t = idx[nb] if G.has_edge(c, nb) else s
            if a == 3:
                P[s, a, west_t] += 1.0
            else:
                P[s, a, t] += 1.0 - w
                P[s, a, west_t] += w
    return P


def windy_walk(alpha: float = 0.0, gamma: float = 0.95) -> TabularMDP:
    """The windy-walk MDP for one wind strength (reward −1 per step until the goal); ``info["cells"]`` lists the
    grid cell of each state index."""
    P = windy_walk_kernel(alpha)
    S = P.shape[0]
    cells = sorted(_graph().nodes)
    goal = cells.index(GOAL)
    R = -np.ones((S, 4))
    R[goal] = 0.0
    mu = np.zeros(S)
    mu[cells.index(START)] = 1.0
    return TabularMDP(P, R, gamma, mu, info={"cells": cells})


def make_windy_walk(alpha: float = 0.0, gamma: float = 0.95, max_steps: int = 200, render_mode=None):
    from mdp.envs.tabular import TabularEnv

    return TabularEnv(windy_walk(alpha, gamma), max_steps, render_mode)
