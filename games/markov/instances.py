r"""Markov game instances: random general-sum games (and their zero-sum / common-payoff special cases),
bimatrix games as one-state Markov games, and a Gems-like two-agent grid game.

**Gems grid game** (reconstruction of the MAMQL paper's Gems domain, whose exact rules are not public).
Two agents move on an ``n x n`` grid (a ``networkx.grid_2d_graph``): actions stay, up, down, left, right;
a move into the border leaves the agent in place, and each agent's move fails (it stays) with probability
``slip``, independently. The state is the pair of cells, :math:`S = (n^2)^2`. Gems lie on fixed cells and
are *not* consumed (a stationary game); agent :math:`i` values gem :math:`k` at ``values[i][k]``. The
expected reward is taken over the landing cells,

.. math:: r_i(s, a) = \mathbb E_{t\sim P(\cdot|s,a)}\big[v_i(\mathrm{cell}_i(t)) - c\,\mathbb 1\{\mathrm{cell}_0(t)
          = \mathrm{cell}_1(t)\}\big] - m\,\mathbb 1\{a_i \neq \mathrm{stay}\},

with collision penalty :math:`c` and move cost :math:`m`.
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from games.markov.model import MarkovGame
from theory.validation import ParameterError, ShapeError, check_scalar, as_float_array

__all__ = ["random_markov_game", "bimatrix_markov_game", "gems_game", "GEMS_MOVES"]

GEMS_MOVES = ("stay", "up", "down", "left", "right")
_DELTAS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def random_markov_game(S: int, actions=(3, 3), gamma: float = 0.9, seed: int = 0, kind: str = "general",
                       mix: float = 0.5, mu=None, concentration: float = 1.0) -> MarkovGame:
    r"""A random Markov game: Dirichlet(``concentration``) transition rows and Gaussian rewards.

    Rewards: :math:`r_0 \sim N(0, 1)` entrywise; for ``kind="general"`` every other agent gets the mixed
    motive :math:`r_i = (1 - \text{mix})\,r_i' - \text{mix}\,r_0` with fresh :math:`r_i' \sim N(0,1)`;
    ``"zero_sum"`` (two agents) :math:`r_1 = -r_0`; ``"common"`` :math:`r_i = r_0` for all agents.

    Args:
        S: number of states; actions: ``(A_1, ..., A_n)``; gamma: discount; seed: numpy seed;
        kind: ``"general" | "zero_sum" | "common"``; mix: weight of the opposing term; mu: initial distribution;
        concentration: Dirichlet parameter of the transition rows (small = nearly deterministic moves).

    Returns:
        :class:`MarkovGame`.
    """
    S = check_scalar("S", S, low=1, integer=True)
    acts = tuple(check_scalar(f"actions[{i}]", a, low=1, integer=True) for i, a in enumerate(actions))
    if not acts:
        raise ShapeError("actions must list at least one agent's action count")
    if kind not in ("general", "zero_sum", "common"):
        raise ParameterError(f"kind must be 'general', 'zero_sum' or 'common', got {kind!r}")
    if kind == "zero_sum" and len(acts) != 2:
        raise ParameterError(f"a zero-sum game needs 2 agents, got actions={acts}")
    mix = check_scalar("mix", mix, low=0.0, high=1.0)
    concentration = check_scalar("concentration", concentration, low=0.0, low_open=True)
    rng = np.random.default_rng(check_scalar("seed", seed, low=0, integer=True))
    P = rng.dirichlet(np.full(S, concentration), size=(S, *acts))
    r0 = rng.standard_normal((S, *acts))
    R = [r0]
    for _ in acts[1:]:
        if kind == "general":
            R.append((1 - mix) * rng.standard_normal((S, *acts)) - mix * r0)
        elif kind == "zero_sum":
            R.append(-r0)
        else:
            R.append(r0.copy())
    return MarkovGame(P, np.stack(R), gamma, mu)


def bimatrix_markov_game(A, B) -> MarkovGame:
    """The bimatrix game ``(A, B)`` (row player's and column player's payoffs ``[m, k]``) as a one-state,
    ``gamma = 0`` Markov game, so a soft Nash equilibrium is the game's logit QRE."""
    A = as_float_array(A, name="A")
    B = as_float_array(B, name="B")
    if A.ndim != 2 or A.shape != B.shape:
        raise ShapeError(f"A and B must be matrices of equal shape, got {A.shape} and {B.shape}")
    m, k = A.shape
    return MarkovGame(np.ones((1, m, k, 1)), np.stack([A, B])[:, None], 0.0)


def gems_game(size: int = 4, gems=None, values=((1.0, 0.2, 0.6), (0.2, 1.0, 0.6)),
              collision: float = 1.0, move_cost: float = 0.05, slip: float = 0.1, gamma: float = 0.9,
              mu=None) -> MarkovGame:
    """The Gems-like two-agent grid game (see the module docstring; a reconstruction).

    Args:
        size: grid side ``n`` (``S = n^4`` joint states).
        gems: gem cells ``(row, col)`` (default: the corners ``(0, n-1)``, ``(n-1, 0)``, ``(n-1, n-1)``).
        values: ``[2, len(gems)]`` agent-specific gem values.
        collision: penalty :math:`c` to both agents for sharing a cell.
        move_cost: cost :math:`m` of a non-stay action.
        slip: probability that an agent's move fails.
        gamma: discount; mu: initial distribution over joint states (uniform when omitted).

    Returns:
        :class:`MarkovGame` with 2 agents and 5 actions each (:data:`GEMS_MOVES`); state index
        ``s = cell_0 * n^2 + cell_1`` with ``cell = row * n + col``.
    """
    n = check_scalar("size", size, low=2, integer=True)
    slip = check_scalar("slip", slip, low=0.0, high=1.0)
    collision = check_scalar("collision", collision)
    move_cost = check_scalar("move_cost", move_cost)
    vals = as_float_array(values, name="values")
    if gems is None:
        gems = ((0, n - 1), (n - 1, 0), (n - 1, n - 1))
    gems = [tuple(int(x) for x in g) for g in gems]
    if vals.shape != (2, len(gems)):
        raise ShapeError(f"values has shape {vals.shape}, expected (2, {len(gems)}) (agents x gems)")
    for k, (r, c) in enumerate(gems):
        if not (0 <= r < n and 0 <= c < n):
            raise ParameterError(f"gems[{k}] = {(r, c)} is not a cell of the {n}x{n} grid")
    grid = nx.grid_2d_graph(n, n)
    C = n * n
    move = np.zeros((C, 5), dtype=np.int64)  # cell after a successful move
    for (r, c) in grid.nodes:
        for a, (dr, dc) in enumerate(_DELTAS):
            nb = (r + dr, c + dc)
            move[r * n + c, a] = (nb[0] * n + nb[1]) if (a == 0 or grid.has_edge((r, c), nb)) else r * n + c
    one = np.zeros((C, 5, C))  # single-agent cell kernel
    for cell in range(C):
        for a in range(5):
            one[cell, a, move[cell, a]] += 1 - slip
            one[cell, a, cell] += slip
    P = np.einsum("xau,ybv->xyabuv", one, one).reshape(C * C, 5, 5, C * C)
    gem_val = np.zeros((2, C))
    for k, (r, c) in enumerate(gems):
        gem_val[:, r * n + c] = vals[:, k]
    u, v = np.divmod(np.arange(C * C), C)  # cells of agents 0 and 1 in joint state t
    landing = np.stack([gem_val[0, u], gem_val[1, v]]) - collision * (u == v)[None]  # [2, S]
    R = np.einsum("sabt,it->isab", P, landing)
    cost = move_cost * (np.arange(5) != 0)
    R[0] -= cost[None, :, None]
    R[1] -= cost[None, None, :]
    return MarkovGame(P, R, gamma, mu)
