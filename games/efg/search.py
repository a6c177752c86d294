r"""Update-equivalence decision-time planning (Sokota et al., ICLR 2024): MD search and MMD search.

A decision-time planner is *update-equivalent* to a global learner :math:`U` if, at every information
state :math:`s_i` it is queried on with blueprint :math:`\pi`, it outputs :math:`U(\pi)(s_i)`. With a local
update rule with action-value feedback :math:`U_Q(\pi(s_i), q_\pi(s_i, \cdot))` applied at every information
state (the paper's Proposition 3.2), the planner only needs :math:`q_\pi(s_i,\cdot)`, which Algorithm 1
estimates by sampling:

**Algorithm 1 (Reconstruction:** the paper's body text was not available; this follows the reconstruction
recorded in ``docs/experiments.md`` (update-equivalence family) — posterior over histories assuming *all*
players played :math:`\pi`, one sampled history per
particle shared by every action (common random numbers), one blueprint rollout per (particle, action)):

.. code-block:: text

    for k = 1..K:
        h_k ~ P_pi(. | s_i)                 # ∝ reach of h under pi and chance, h in s_i
        for a in A(s_i):  G_k(a) = return of one rollout from (h_k, a), everyone following pi
    q̂(a) = mean_k G_k(a);   return U_Q(pi(s_i), q̂)

As :math:`K\to\infty`, :math:`\hat q\to q_\pi` and the output converges to the global update (Theorem 3.3).
``particles=None`` uses the exact :math:`q_\pi` (:func:`games.efg.evaluation.action_values`).

Local updates :math:`U_Q`:

* **MD** (mirror-descent search, MDS): :math:`U_Q(\pi, q)\propto\pi e^{\eta q}` — in common-payoff games
  the global MD update weakly improves the expected return for small :math:`\eta` (Theorem 1), and MDS
  inherits it when every player searches with the same blueprint;
* **MMD** (MMDS): :math:`U_Q(\pi,q)\propto[\pi\rho^{\eta\alpha}e^{\eta q}]^{1/(1+\eta\alpha)}` with magnet
  :math:`\rho` (uniform by default — Reconstruction: the paper's magnet choice is unknown);
* **greedy** (policy-iteration update, i.e. Monte Carlo search): :math:`U_Q(\pi,q) = \arg\max_a q`.

The planner's output at *every* information state is returned as one joint :class:`TabularPolicy`
(exactly the policy played when every player searches with the same blueprint). ``players`` restricts
searching to some players (e.g. ``(1,)`` for a single-agent SPARTA-like search); others keep the blueprint.
"""
from __future__ import annotations

import numpy as np
import torch

from games.efg.evaluation import action_values, sequence_form
from games.efg.model import ExtensiveFormGame
from games.efg.policy import TabularPolicy, validate_game_policy
from games.efg.mmd import mmd_local_update


def _edge_probs(g: ExtensiveFormGame, probs) -> np.ndarray:
    """Probability of the move into each history under the blueprint (chance or the mover's policy)."""
    p = g.h_prob.copy()
    par = g.h_parent[1:]
    mover = g.h_player[par]
    for i in range(g.num_players):
        sel = np.flatnonzero(mover == i) + 1
        p[sel] = probs[i][g.h_infoset[g.h_parent[sel]], g.h_action[sel]]
    return p


def _reach(g: ExtensiveFormGame, edge: np.ndarray) -> np.ndarray:
    reach = np.ones(g.num_histories)
    for d in range(1, int(g.h_depth.max()) + 1):
        sel = np.flatnonzero(g.h_depth == d)
        reach[sel] = reach[g.h_parent[sel]] * edge[sel]
    return reach


def rollout(g: ExtensiveFormGame, start: np.ndarray, edge: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample one play-out from each history in ``start`` (everyone follows the blueprint); terminal ids."""
    K = int(g.h_num_children.max())
    idx = g.h_child_start[:, None] + np.arange(K)[None, :]
    valid = np.arange(K)[None, :] < g.h_num_children[:, None]
    w = np.where(valid, edge[np.clip(idx, 0, g.num_histories - 1)], 0.0)
    cdf = np.cumsum(w, 1)
    cdf = cdf / np.where(cdf[:, -1:] > 0, cdf[:, -1:], 1.0)
    cur = start.copy()
    live = np.flatnonzero(g.h_player[cur] != -2)
    while live.size:
        u = rng.random(live.size)
        node = cur[live]
        k = (u[:, None] >= cdf[node]).sum(1)
        k = np.minimum(k, g.h_num_children[node] - 1)
        cur[live] = g.h_child_start[node] + k
        live = live[g.h_player[cur[live]] != -2]
    return cur


def sampled_action_values(g: ExtensiveFormGame, blueprint: TabularPolicy, particles: int,
                          rng: np.random.Generator | int = 0) -> tuple:
    r"""Algorithm 1's estimate :math:`\hat q(I, a)` at every information set of both players (``[I, A]`` each).

    ``particles`` histories are drawn per information set from the blueprint posterior; each serves all
    actions of the set (common random numbers); one rollout per (particle, action). Information sets the
    blueprint never reaches use the chance-only posterior.
    """
    if int(particles) < 1:
        raise ValueError(f"particles must be >= 1 or None, got {particles}")
    rng = np.random.default_rng(rng)
    probs = [np.asarray(p, dtype=np.float64) for p in blueprint.probs]
    edge = _edge_probs(g, probs)
    reach = _reach(g, edge)
    out = []
    for i in range(g.num_players):
        t = g.treeplex[i]
        dec = np.flatnonzero(g.h_player == i)
        dec = dec[np.argsort(g.h_infoset[dec], kind="stable")]
        grp = g.h_infoset[dec]
        w = reach[dec]
        tot = np.bincount(grp, weights=w, minlength=t.num_infosets)
        fallback = tot <= 0
        if fallback.any():
            w = np.where(fallback[grp], g.h_chance_reach[dec], w)
            tot = np.bincount(grp, weights=w, minlength=t.num_infosets)
        start = np.searchsorted(grp, np.arange(t.num_infosets), "left")
        end = np.searchsorted(grp, np.arange(t.num_infosets), "right")
        cs = np.cumsum(w)
        before = np.concatenate([[0.0], cs])[start]
        key = grp + (cs - before[grp]) / tot[grp]
        I = np.repeat(np.arange(t.num_infosets), particles)
        pick = np.searchsorted(key, I + rng.random(I.size), "right")
        pick = np.clip(pick, start[I], end[I] - 1)
        hist = dec[pick]                                    # [I * K]
        nA = g.h_num_children[hist]
        rows = np.repeat(np.arange(hist.size), nA)
        acts = np.arange(nA.sum()) - np.repeat(np.cumsum(nA) - nA, nA)
        term = rollout(g, g.h_child_start[hist][rows] + acts, edge, rng)
        G = g.h_payoff[term, i]
        q = np.zeros((t.num_infosets, g.num_actions))
        np.add.at(q, (I[rows], acts), G)
        out.append(q / particles)
    return tuple(out)


def exact_action_values(g: ExtensiveFormGame, blueprint: TabularPolicy) -> tuple:
    """:math:`q_\\pi(I, a)` at every information set of both players (``[I, A]`` numpy arrays)."""
    T = g.tensors()
    probs = [torch.as_tensor(np.asarray(p, dtype=np.float64)) for p in blueprint.probs]
    x = [sequence_form(T, i, probs[i]) for i in range(2)]
    return tuple(action_values(T, i, x[1 - i], probs[i])[0].numpy() for i in range(2))


def search(g: ExtensiveFormGame, blueprint: TabularPolicy, update: str = "md", eta: float = 1.0,
           alpha: float = 0.0, magnet: TabularPolicy | None = None, particles: int | None = None, seed=0,
           players=(0, 1)) -> TabularPolicy:
    """Algorithm 1 with local update ``update`` in ``{"md", "mmd", "greedy"}`` at every information state.

    See the module docstring. Returns the searched joint policy (numpy).
    """
    validate_game_policy(g, blueprint)
    if update not in ("md", "mmd", "greedy"):
        raise ValueError(f"update must be 'md', 'mmd' or 'greedy', got {update!r}")
    if not (np.isfinite(eta) and eta >= 0):
        raise ValueError(f"eta must be finite and >= 0, got {eta!r}")
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be finite and >= 0, got {alpha!r}")
    if any(p not in range(g.num_players) for p in players):
        raise ValueError(f"players must be a subset of {tuple(range(g.num_players))}, got {players!r}")
    blue = blueprint.numpy()
    q = exact_action_values(g, blue) if particles is None else sampled_action_values(g, blue, particles, seed)
    out = list(blue.probs)
    for i in players:
        mask = g.treeplex[i].mask
        if update == "greedy":
            qi = np.where(mask, q[i], -np.inf)
            new = np.zeros_like(qi)
            new[np.arange(qi.shape[0]), qi.argmax(1)] = 1.0
        else:
            a = alpha if update == "mmd" else 0.0
            rho = None if magnet is None or update == "md" else torch.as_tensor(np.asarray(magnet.probs[i], float))
            new = mmd_local_update(torch.as_tensor(blue.probs[i]), torch.as_tensor(q[i]), eta, a, rho,
                                   torch.as_tensor(mask)).numpy()
        out[i] = new
    return TabularPolicy(g, tuple(out))


def md_search(g: ExtensiveFormGame, blueprint: TabularPolicy, eta: float, particles: int | None = None, seed=0,
              players=(0, 1)) -> TabularPolicy:
    """Mirror-descent search (MDS): Algorithm 1 with :math:`U_Q(\\pi,q)\\propto\\pi e^{\\eta q}`.

    Args:
        g: a two-player :class:`ExtensiveFormGame`; blueprint: the policy being improved.
        eta: mirror-descent step; particles: number of sampled histories per information state (``None``:
            exact beliefs and action values); seed: seed of the particles; players: who searches.

    Returns:
        The searched :class:`TabularPolicy` (the blueprint updated at every information state).

    Example:
        >>> import games
        >>> g = games.tiny_hanabi("A")
        >>> pi = games.md_search(g, games.uniform_policy(g), eta=1.0)
        >>> bool(games.expected_return(g, pi)[0] >= games.expected_return(g, games.uniform_policy(g))[0])
        True
    """
    return search(g, blueprint, "md", eta=eta, particles=particles, seed=seed, players=players)


def mmd_search(g: ExtensiveFormGame, blueprint: TabularPolicy, eta: float, alpha: float,
               magnet: TabularPolicy | None = None, particles: int | None = None, seed=0,
               players=(0, 1)) -> TabularPolicy:
    """Magnetic-mirror-descent search (MMDS): Algorithm 1 with the MMD closed form (uniform magnet default)."""
    return search(g, blueprint, "mmd", eta=eta, alpha=alpha, magnet=magnet, particles=particles, seed=seed,
                  players=players)
