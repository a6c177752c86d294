r"""Seeded generators of standard benchmark MDPs.

* :func:`garnet` — random sparse MDPs (Archibald et al. 1995; Bhatnagar et al. 2009): each ``(s, a)``
  reaches ``branching`` distinct next states with Dirichlet/uniform-split probabilities.
* :func:`sparse_garnet` — the same model family built directly in CSR form (int32 indices, no dense
  ``[S*A, S]`` intermediate), for S up to 10^7 within a 24 GB machine.
* :func:`river_swim` — Strehl & Littman (2008): a chain where swimming right against the current
  pays off but exploration is hard.
* :func:`combination_lock` — finite-horizon chain with one secret action per step (the hard-exploration
  instance of the actor-critic experiments; parameters in ``docs/experiments.md#actor_critic_regret``).
* :func:`gridworld` — a grid built with networkx (walls, slip probability, goal and pit cells).
* :func:`random_linear_mdp` — a linear MDP with Dirichlet features (``docs/experiments.md#actor_critic_linear``).
* :func:`hierarchical_mdp` — actions differing by perturbations at nested levels (action grouping,
  :mod:`mdp.grouping`), with the dyadic groupings of :func:`nested_groupings`.

Every generator takes ``seed`` (an int or a ``numpy.random.Generator``) and is a pure function of it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp

from mdp.model import FiniteHorizonMDP, LinearMDP, ParameterError, TabularMDP
from theory.validation import check_scalar

__all__ = ["garnet", "sparse_garnet", "river_swim", "combination_lock", "gridworld", "random_linear_mdp",
           "GRID_ACTIONS", "Hierarchy", "hierarchical_mdp", "nested_groupings"]


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _positive_int(name, v, low=1):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise ParameterError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


def garnet(S: int, A: int, branching: int = 5, gamma: float = 0.9, seed=0, sparse: bool | None = None,
           dirichlet: float | None = 1.0, reward_scale: float = 1.0, mu=None) -> TabularMDP:
    """Garnet(S, A, b): every ``(s, a)`` moves to ``b`` distinct uniformly chosen states.

    Probabilities are Dirichlet(``dirichlet``) over those ``b`` states (uniform split when ``None``);
    rewards ``R[s, a] ~ U[0, reward_scale]``. ``sparse`` (default: when ``b <= S/10``) stores the kernel
    as a SciPy CSR ``(S*A, S)`` matrix. Generation draws a dense ``(S*A, S)`` array of keys (kept for
    reproducibility of existing seeds), so for large ``S`` use :func:`sparse_garnet`, which never does.
    """
    S, A = _positive_int("S", S), _positive_int("A", A)
    b = _positive_int("branching", branching)
    if b > S:
        raise ParameterError(f"branching must be <= S = {S}, got {b}")
    rng = _rng(seed)
    cols = np.argsort(rng.random((S * A, S)), axis=1)[:, :b] if b < S else np.tile(np.arange(S), (S * A, 1))
    if dirichlet is None:
        probs = np.full((S * A, b), 1.0 / b)
    else:
        probs = rng.dirichlet(np.full(b, float(dirichlet)), size=S * A)
    R = rng.random((S, A)) * reward_scale
    rows = np.repeat(np.arange(S * A), b)
    P = sp.csr_array((probs.ravel(), (rows, cols.ravel())), shape=(S * A, S))
    if sparse is None:
        sparse = b <= max(1, S // 10)
    if not sparse:
        P = P.toarray().reshape(S, A, S)
    return TabularMDP(P, R, gamma, mu)


def sparse_garnet(S: int, A: int, branching: int = 5, gamma: float = 0.99, seed=0, dirichlet: float | None = 1.0,
                  reward_scale: float = 1.0, mu=None) -> TabularMDP:
    r"""Garnet(S, A, b) built directly as a CSR ``(S*A, S)`` kernel, for very large ``S``.

    Same model family as :func:`garnet` (``b`` distinct uniformly chosen next states per ``(s, a)``,
    Dirichlet(``dirichlet``) probabilities, ``R[s, a] ~ U[0, reward_scale]``), but never allocates
    anything of size ``S*A*S``: the ``b`` next states are drawn with replacement and a row that repeats a
    state is redrawn (rejection sampling, so every ``b``-subset is equally likely), then sorted, which
    makes the CSR canonical. Dirichlet weights are normalised Gamma(``dirichlet``) draws. Column
    indices are int32 while ``S*A*b < 2**31``. Memory: about ``12*S*A*b`` bytes for the kernel
    (6.0 GB at ``S = 10^7, A = 10, b = 5``). The random stream differs from :func:`garnet`'s, so the
    two generators give different instances for the same seed.

    Args:
      S, A: numbers of states and actions.
      branching: ``b``, next states per ``(s, a)`` (``1 <= b <= S``).
      gamma: discount in ``[0, 1)``.
      seed: int or ``numpy.random.Generator``.
      dirichlet: concentration (``None``: uniform ``1/b`` split).

    Returns:
      A :class:`TabularMDP` whose ``P`` is a SciPy CSR array of shape ``(S*A, S)``.

    Example:
      >>> m = sparse_garnet(1000, 10, 5, 0.99, seed=0)
      >>> m.P.shape, m.P.nnz
      ((10000, 1000), 50000)
    """
    S, A = _positive_int("S", S), _positive_int("A", A)
    b = _positive_int("branching", branching)
    if b > S:
        raise ParameterError(f"branching must be <= S = {S}, got {b}")
    if dirichlet is not None and not (np.isfinite(dirichlet) and dirichlet > 0):
        raise ParameterError(f"dirichlet must be a finite number > 0 or None, got {dirichlet!r}")
    rng = _rng(seed)
    n = S * A
    itype = np.int32 if n * b < 2**31 - 1 else np.int64
    cols = rng.integers(0, S, size=(n, b), dtype=itype)
    cols.sort(axis=1)
    bad = np.flatnonzero((cols[:, 1:] == cols[:, :-1]).any(axis=1)) if b > 1 else np.empty(0, dtype=np.int64)
    while bad.size:
        redo = np.sort(rng.integers(0, S, size=(bad.size, b), dtype=itype), axis=1)
        cols[bad] = redo
        bad = bad[(redo[:, 1:] == redo[:, :-1]).any(axis=1)]
    if dirichlet is None:
        data = np.full((n, b), 1.0 / b)
    else:
        data = rng.standard_gamma(float(dirichlet), size=(n, b))
        data /= data.sum(axis=1, keepdims=True)
    R = rng.random((S, A)) * reward_scale
    indptr = np.arange(0, n * b + 1, b, dtype=itype)
    P = sp.csr_array((data.reshape(-1), cols.reshape(-1), indptr), shape=(n, S))
    P.has_sorted_indices = True
    del cols, data
    return TabularMDP(P, R, gamma, mu)


def river_swim(n: int = 6, gamma: float = 0.95, p_right: float = 0.35, p_stay: float = 0.6,
               r_left: float = 5e-3, r_right: float = 1.0) -> TabularMDP:
    """RiverSwim with ``n`` states; action 0 swims left (always succeeds), action 1 swims right.

    Swimming right moves right w.p. ``p_right``, stays w.p. ``p_stay`` and drifts left otherwise (at the
    ends the mass is folded onto the feasible moves). Reward ``r_left`` for swimming left in state 0,
    ``r_right`` for swimming right in state ``n-1``. Starts in state 0 (Strehl & Littman 2008).
    """
    n = _positive_int("n", n, 2)
    P = np.zeros((n, 2, n))
    R = np.zeros((n, 2))
    for s in range(n):
        P[s, 0, max(s - 1, 0)] = 1.0
        right, left = min(s + 1, n - 1), max(s - 1, 0)
        P[s, 1, right] += p_right
        P[s, 1, s] += p_stay
        P[s, 1, left] += 1.0 - p_right - p_stay
    R[0, 0] = r_left
    R[n - 1, 1] = r_right
    mu = np.zeros(n)
    mu[0] = 1.0
    return TabularMDP(P, R, gamma, mu)


def combination_lock(H: int = 6, A: int = 5, p_advance: float = 0.9, distractor: float = 0.1,
                     final_reward: float = 1.0, seed=0) -> FiniteHorizonMDP:
    r"""Combination lock with ``S = H + 1`` states (chain ``0..H-1`` plus the dead state ``H``).

    At step ``h`` the agent in chain state ``h`` advances to ``h+1`` with probability ``p_advance`` only
    if it plays the secret action :math:`a^*_h` (drawn from ``seed``); otherwise — or with probability
    ``1 - p_advance`` — it falls into the dead state, which it never leaves and which pays the
    distractor reward ``distractor`` per step. The secret action at the last chain state pays
    ``final_reward`` (times ``p_advance``). The optimum follows the combination for
    :math:`V^* \approx 0.9^{H-1}` while a myopic agent settles for the dead state's
    :math:`0.1\,(H-1)`. Parameters as in ``docs/experiments.md#actor_critic_regret``.
    """
    H, A = _positive_int("H", H), _positive_int("A", A, 2)
    rng = _rng(seed)
    secret = rng.integers(0, A, size=H)
    S = H + 1
    dead = H
    P = np.zeros((H, S, A, S))
    R = np.zeros((H, S, A))
    for h in range(H):
        for s in range(S):
            for a in range(A):
                if s == dead:
                    P[h, s, a, dead] = 1.0
                    R[h, s, a] = distractor
                elif s == h and a == secret[h]:
                    nxt = min(h + 1, H - 1)
                    P[h, s, a, nxt] += p_advance
                    P[h, s, a, dead] += 1.0 - p_advance
                    if h == H - 1:
                        R[h, s, a] = final_reward * p_advance
                else:
                    P[h, s, a, dead] = 1.0
    mu = np.zeros(S)
    mu[0] = 1.0
    return FiniteHorizonMDP(P, R, H, mu, info={"secret": secret})


GRID_ACTIONS = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}  # up, right, down, left


def gridworld(rows: int = 5, cols: int = 5, walls=(), goal=None, pits=(), start=(0, 0), slip: float = 0.1,
              gamma: float = 0.95, step_reward: float = 0.0, goal_reward: float = 1.0,
              pit_reward: float = -1.0, terminal: bool = True) -> TabularMDP:
    """Gridworld on a networkx grid graph: cells are states, walls are removed nodes.

    Actions up/right/down/left move to the neighbour when the edge exists (else stay); with probability
    ``slip`` the move goes to a uniformly random *other* direction. Entering ``goal`` pays
    ``goal_reward``, entering a pit ``pit_reward``; goal and pits lead to an absorbing zero-reward state
    when ``terminal`` (so episodes end), else they are ordinary cells. Attributes ``graph`` and ``cells``
    (state index -> (row, col)) are attached to the returned model.
    """
    rows, cols = _positive_int("rows", rows), _positive_int("cols", cols)
    if not 0.0 <= slip <= 1.0:
        raise ParameterError(f"slip must lie in [0, 1], got {slip}")
    G = nx.grid_2d_graph(rows, cols)
    for w in walls:
        if tuple(w) not in G:
            raise ParameterError(f"wall {tuple(w)} is outside the {rows}x{cols} grid")
        G.remove_node(tuple(w))
    goal = (rows - 1, cols - 1) if goal is None else tuple(goal)
    for name, cell in [("goal", goal), ("start", tuple(start))] + [("pit", tuple(p)) for p in pits]:
        if cell not in G:
            raise ParameterError(f"{name} {cell} is a wall or outside the grid")
    cells = sorted(G.nodes)
    index = {c: i for i, c in enumerate(cells)}
    n = len(cells)
    S = n + 1 if terminal else n
    absorb = n
    P = np.zeros((S, 4, S))
    R = np.zeros((S, 4))
    special = {goal: goal_reward, **{tuple(p): pit_reward for p in pits}}
    for c in cells:
        s = index[c]
        if terminal and c in special:
            P[s, :, absorb] = 1.0
            continue
        for a in range(4):
            for b, (dr, dc) in GRID_ACTIONS.items():
                prob = (1.0 - slip) if b == a else slip / 3.0
                if prob == 0.0:
                    continue
                nb = (c[0] + dr, c[1] + dc)
                t = nb if G.has_edge(c, nb) else c
                P[s, a, index[t]] += prob
                R[s, a] += prob * (special.get(t, 0.0) + step_reward)
    if terminal:
        P[absorb, :, absorb] = 1.0
    mu = np.zeros(S)
    mu[index[tuple(start)]] = 1.0
    m = TabularMDP(P, R, gamma, mu)
    object.__setattr__(m, "graph", G)
    object.__setattr__(m, "cells", cells)
    return m


def random_linear_mdp(S: int = 50, A: int = 10, d: int = 8, H: int = 5, seed=0, concentration: float = 1.0,
                      reward_sparsity: float = 0.5) -> LinearMDP:
    r"""Linear MDP with simplex features (``docs/experiments.md#actor_critic_linear``).

    :math:`\phi(s,a) \sim \mathrm{Dirichlet}(\alpha\mathbf 1_d)`, each :math:`\mu_h` row (one per feature)
    a random distribution over states, so :math:`P_h(\cdot|s,a) = \phi(s,a)^\top\mu_h` is a mixture of
    distributions; :math:`\theta_h \in [0,1]^d` with a fraction ``reward_sparsity`` of zeros, so
    :math:`r \in [0,1]`.
    """
    S, A, d, H = (_positive_int(k, v) for k, v in dict(S=S, A=A, d=d, H=H).items())
    rng = _rng(seed)
    phi = rng.dirichlet(np.full(d, concentration), size=(S, A))
    mu_feat = rng.dirichlet(np.full(S, 0.3), size=(H, d))
    theta = rng.random((H, d)) * (rng.random((H, d)) >= reward_sparsity)
    mu = np.zeros(S)
    mu[0] = 1.0
    return LinearMDP(phi, mu_feat, theta, H=H, mu=mu)


# ----------------------------------------------------------------------------------------------
# Hierarchical MDPs for action grouping (mdp.grouping)
# ----------------------------------------------------------------------------------------------
def nested_groupings(A: int) -> tuple[np.ndarray, ...]:
    """Contiguous dyadic groupings of ``A = 2^L`` actions: ``K = 1, 2, 4, ..., A`` with ``g_K(a) = a // (A/K)``."""
    A = check_scalar("A", A, low=1, integer=True)
    if A & (A - 1):
        raise ParameterError(f"A must be a power of 2 for the dyadic hierarchy, got A={A}")
    return tuple(np.arange(A) // (A // (2 ** j)) for j in range(int(math.log2(A)) + 1))


@dataclass(frozen=True)
class Hierarchy:
    """A hierarchical MDP and its nested groupings (coarse to fine)."""

    model: TabularMDP
    groupings: tuple
    """Label arrays ``[A]``, one per level."""
    Ks: tuple
    """Groups per level, ``1, 2, 4, ..., A``."""


def hierarchical_mdp(S: int = 10, A: int = 64, gamma: float = 0.9, reward_decay: float = 0.5,
                     kernel_decay: float = 0.5, concentration: float = 0.5, seed=0) -> Hierarchy:
    r"""A random MDP whose actions differ by perturbations at nested levels of shrinking scale.

    Reconstruction: the paper's test MDPs are unknown. With the dyadic groupings :math:`g_j(a) = \lfloor a /
    (A/2^j)\rfloor`, :math:`j = 0..L` (:math:`A = 2^L`), and weights :math:`w_j \propto \rho^j` summing to one,

    .. math:: r(s,a) = \sum_{j=0}^{L} w^R_j\, u_{j, g_j(a), s}, \qquad
              P(\cdot\mid s,a) = \sum_{j=0}^{L} w^P_j\, D_{j, g_j(a), s}(\cdot),

    with :math:`u \sim U[0,1]` and :math:`D \sim \mathrm{Dirichlet}(\alpha\mathbf 1_S)`: a level-:math:`j`
    perturbation is shared by the :math:`A/2^j` actions of a level-:math:`j` group, so grouping at level
    :math:`K = 2^J` misses only the levels :math:`j > J` (:math:`\varepsilon_R, \varepsilon_P` shrink
    geometrically in :math:`K` and vanish at :math:`K = A`). Rewards lie in ``[0, 1]``.

    Args:
        S: states. A: actions (a power of 2). gamma: discount.
        reward_decay, kernel_decay: :math:`\rho^R, \rho^P \in (0, 1]`, the scale ratio between levels.
        concentration: :math:`\alpha > 0` of the Dirichlet draws (small = peaked next-state laws).
        seed: int or ``numpy.random.Generator``.

    Returns:
        :class:`Hierarchy` with the ``TabularMDP`` and the groupings ``K = 1, 2, ..., A``.
    """
    S = check_scalar("S", S, low=1, integer=True)
    rho_r = check_scalar("reward_decay", reward_decay, low=0.0, high=1.0, low_open=True)
    rho_p = check_scalar("kernel_decay", kernel_decay, low=0.0, high=1.0, low_open=True)
    alpha = check_scalar("concentration", concentration, low=0.0, low_open=True)
    groupings = nested_groupings(A)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    L = len(groupings)
    w_r = rho_r ** np.arange(L)
    w_r /= w_r.sum()
    w_p = rho_p ** np.arange(L)
    w_p /= w_p.sum()
    R = np.zeros((S, A))
    P = np.zeros((S, A, S))
    for j, g in enumerate(groupings):
        K = 2 ** j
        u = rng.uniform(size=(K, S))
        D = rng.dirichlet(np.full(S, alpha), size=(K, S))
        R += w_r[j] * u[g].T
        P += w_p[j] * D[g].transpose(1, 0, 2)
    P /= P.sum(-1, keepdims=True)
    m = TabularMDP(P, R, gamma, info={"generator": "hierarchical_mdp", "reward_decay": rho_r,
                                      "kernel_decay": rho_p, "concentration": alpha})
    return Hierarchy(m, groupings, tuple(2 ** j for j in range(L)))
