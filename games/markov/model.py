r"""General-sum Markov games: a validated model, exact marginal MDPs, soft (logit) Nash equilibria,
NashConv, demonstrations and torch-batched simulation.

An :math:`n`-agent discounted Markov game is :math:`(S, \{A_i\}, P, \{r_i\}, \gamma, \mu)` with
``P[s, a_1, ..., a_n, t]`` and ``R[i, s, a_1, ..., a_n]``. Policies are one array per agent,
``pi_i[S, A_i]`` (stationary, independent across agents given the state).

**Marginal MDP.** With the other agents' policies :math:`\pi_{-i}` fixed, agent :math:`i` faces the
single-agent MDP

.. math::
   \bar r_i(s, a_i) = \mathbb E_{a_{-i}\sim\pi_{-i}(\cdot|s)} r_i(s, a_i, a_{-i}), \qquad
   \bar P_i(t \mid s, a_i) = \mathbb E_{a_{-i}\sim\pi_{-i}(\cdot|s)} P(t \mid s, a_i, a_{-i}),

returned by :func:`marginal_mdp` as an :class:`mdp.TabularMDP`, so every MDP solver applies.

**Soft (logit) Nash equilibrium** at temperature :math:`\lambda^{-1} = T`: a joint policy with

.. math::
   \bar Q_i(s,a_i) = \bar r_i(s,a_i) + \gamma \textstyle\sum_t \bar P_i(t|s,a_i) \bar V_i(t), \quad
   \bar V_i(s) = T \log\sum_{a_i} e^{\bar Q_i(s,a_i)/T}, \quad
   \pi_i(a_i|s) = e^{(\bar Q_i(s,a_i) - \bar V_i(s))/T}

for every agent (each agent's policy is soft-optimal in its marginal MDP). :func:`soft_nash` finds it by
damped iteration of the logit-response map :math:`F(\pi)_i = \mathrm{softmax}(\bar Q_i^{\pi_{-i}}/T)`,
with optional temperature homotopy; its ``residual`` is :math:`\max_i\|F(\pi)_i - \pi_i\|_\infty` of the
returned policies.

All solvers run on numpy arrays (one game) or torch tensors with a leading batch axis (many games in one
program, CPU or CUDA); the same code path serves both.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mdp.batched import sample_categorical
from mdp.model import TabularMDP
from mdp.operators import q_values
from mdp.planning import policy_evaluation, policy_iteration
from theory.fixed_point import certified_fixed_point
from theory.results import warn_not_converged
from theory.validation import (ModelError, ParameterError, ShapeError, check_distributions, check_finite,
                               check_scalar, check_shape, to_numpy)

__all__ = ["MarkovGame", "GameTensors", "SoftNashResult", "Demonstrations", "MarkovGameRollout",
           "BatchedMarkovGame", "marginal_mdp", "marginal_tensors", "soft_nash", "soft_q", "nash_conv",
           "agent_values", "sample_demonstrations", "validate_policies", "stack_games", "logit_response"]


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class MarkovGame:
    r"""A discounted :math:`n`-agent general-sum Markov game, frozen and validated.

    Args:
        P: ``[S, A_1, ..., A_n, S]`` transition kernel (every ``P[s, a_1, ..., a_n, :]`` a distribution).
        R: ``[n, S, A_1, ..., A_n]`` expected rewards of each agent.
        gamma: discount in ``[0, 1)``.
        mu: initial distribution ``[S]`` (uniform when omitted).

    Raises:
        ShapeError, NotFiniteError, NegativeProbabilityError, NotStochasticError, ParameterError: with the
        offending index and value, e.g. ``P[3, 1, 0, :] sums to 0.97``.

    Example:
        >>> import numpy as np
        >>> from games.markov_game import MarkovGame
        >>> P = np.full((2, 2, 2, 2), 0.5)
        >>> mg = MarkovGame(P, np.zeros((2, 2, 2, 2)), gamma=0.9)
        >>> mg.n_agents, mg.S, mg.actions
        (2, 2, (2, 2))
    """

    P: np.ndarray
    R: np.ndarray
    gamma: float
    mu: np.ndarray | None = None
    n_agents: int = field(init=False)
    S: int = field(init=False)
    actions: tuple = field(init=False)

    def __post_init__(self):
        P = to_numpy(self.P, name="P")
        R = to_numpy(self.R, name="R")
        if R.ndim < 3:
            raise ShapeError(f"R has shape {R.shape}; expected [n, S, A_1, ..., A_n] with n >= 1")
        n, S = R.shape[0], R.shape[1]
        acts = tuple(int(a) for a in R.shape[2:])
        if len(acts) != n:
            raise ShapeError(f"R has shape {R.shape}: {n} agents on axis 0 but {len(acts)} action axes "
                             f"(expected [n, S, A_1, ..., A_n] with n = {n})")
        if S < 1 or min(acts) < 1:
            raise ShapeError(f"R has shape {R.shape}: every state and action axis must be non-empty")
        check_shape("P", P, (S, *acts, S))
        check_finite("R", R)
        check_distributions("P", P)
        gamma = check_scalar("gamma", self.gamma, low=0.0, high=1.0, high_open=True)
        if self.mu is None:
            mu = np.full(S, 1.0 / S)
        else:
            mu = to_numpy(self.mu, name="mu")
            check_shape("mu", mu, (S,))
            check_distributions("mu", mu)
        for a in (P, R, mu):
            a.flags.writeable = False
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "n_agents", n)
        object.__setattr__(self, "S", S)
        object.__setattr__(self, "actions", acts)

    @property
    def num_joint_actions(self) -> int:
        return int(np.prod(self.actions))

    def with_rewards(self, R) -> "MarkovGame":
        """The same game with rewards ``R[n, S, A_1, ..., A_n]``."""
        return MarkovGame(self.P, R, self.gamma, self.mu)

    def uniform_policies(self) -> list[np.ndarray]:
        return [np.full((self.S, a), 1.0 / a) for a in self.actions]


def validate_policies(mg: MarkovGame, policies, name: str = "policies") -> list[np.ndarray]:
    """Return ``policies`` as a list of float64 ``[S, A_i]`` arrays, one per agent (checked distributions)."""
    if not isinstance(policies, (list, tuple)) or len(policies) != mg.n_agents:
        raise ShapeError(f"{name} must be a list of {mg.n_agents} arrays [S, A_i], got "
                         f"{type(policies).__name__}" + (f" of length {len(policies)}"
                                                         if isinstance(policies, (list, tuple)) else ""))
    out = []
    for i, p in enumerate(policies):
        p = to_numpy(p, name=f"{name}[{i}]")
        check_shape(f"{name}[{i}]", p, (mg.S, mg.actions[i]))
        check_distributions(f"{name}[{i}]", p)
        out.append(p)
    return out


# ----------------------------------------------------------------------------------------------
# Tensors: one game (numpy) or a stack of games (torch, leading batch axis)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GameTensors:
    """Arrays of one game (numpy, no batch axis added) or of ``B`` stacked games (torch, axis 0 = batch).

    Attributes:
        P: ``[(B,) S, A_1, ..., A_n, S]``; R: ``[(B,) n, S, A_1, ..., A_n]``; gamma: float or ``[B]``;
        mu: ``[(B,) S]``; actions: ``(A_1, ..., A_n)``; batched: whether axis 0 is a batch axis.
    """

    P: Any
    R: Any
    gamma: Any
    mu: Any
    actions: tuple
    batched: bool

    @property
    def n_agents(self) -> int:
        return len(self.actions)

    @property
    def S(self) -> int:
        return int(self.mu.shape[-1])


def stack_games(games: Sequence[MarkovGame], device="cpu", dtype=torch.float64) -> GameTensors:
    """Stack games of equal shape into torch tensors with a leading batch axis ``B``."""
    games = list(games)
    if not games:
        raise ModelError("stack_games needs at least one game")
    for k, g in enumerate(games):
        if not isinstance(g, MarkovGame):
            raise TypeError(f"games[{k}] is a {type(g).__name__}, not a MarkovGame")
        if g.P.shape != games[0].P.shape or g.n_agents != games[0].n_agents:
            raise ShapeError(f"games[{k}] has P of shape {g.P.shape}, games[0] has {games[0].P.shape}")

    def t(xs):
        return torch.as_tensor(np.stack(xs), device=device, dtype=dtype)

    return GameTensors(t([g.P for g in games]), t([g.R for g in games]), t([g.gamma for g in games]),
                       t([g.mu for g in games]), games[0].actions, True)


def _tensors(mg) -> GameTensors:
    if isinstance(mg, GameTensors):
        return mg
    if isinstance(mg, MarkovGame):
        return GameTensors(mg.P, mg.R, mg.gamma, mg.mu, mg.actions, False)
    if isinstance(mg, (list, tuple)):
        return stack_games(mg)
    raise TypeError(f"expected a MarkovGame, a list of MarkovGames or GameTensors, got {type(mg).__name__}")


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _einsum(spec, *xs):
    return torch.einsum(spec, *xs) if _is_torch(xs[0]) else np.einsum(spec, *xs, optimize=True)


def _lse(x):
    """Log-sum-exp over the last axis (numpy or torch)."""
    if _is_torch(x):
        return torch.logsumexp(x, dim=-1)
    m = np.max(x, axis=-1, keepdims=True)
    return (m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)))[..., 0]


def _softmax(x):
    return torch.softmax(x, dim=-1) if _is_torch(x) else np.exp(x - _lse(x)[..., None])


def _amax(x):
    return x.amax(-1) if _is_torch(x) else np.max(x, axis=-1)


def _marginal_spec(n: int, i: int, batched: bool, lead: str, tail: str) -> str:
    """einsum spec contracting every agent's action axis except ``i`` with that agent's policy."""
    letters = string.ascii_lowercase[:n]  # action letters a, b, c, ...
    z = "z" if batched else ""
    pis = [f"{z}s{letters[j]}" for j in range(n) if j != i]
    src = f"{z}{lead}s{letters}{tail}"
    return ",".join([src] + pis) + f"->{z}{lead}s{letters[i]}{tail}"


def marginal_tensors(mg, i: int, policies):
    r"""Agent ``i``'s marginal kernel and reward against the others' policies (numpy or batched torch).

    .. math:: \bar P_i[s,a_i,t] = \sum_{a_{-i}} \prod_{j\ne i}\pi_j(a_j|s)\,P[s,a,t], \quad
              \bar r_i[s,a_i] = \sum_{a_{-i}} \prod_{j\ne i}\pi_j(a_j|s)\,R[i,s,a]

    Args:
        mg: a :class:`MarkovGame` (numpy) or :class:`GameTensors` (torch, batched).
        i: the agent.
        policies: one ``[(B,) S, A_j]`` array per agent (entry ``i`` is ignored).

    Returns:
        ``(P_bar [(B,) S, A_i, S], r_bar [(B,) S, A_i])``.
    """
    g = _tensors(mg)
    n = g.n_agents
    others = [policies[j] for j in range(n) if j != i]
    R_i = g.R[:, i] if g.batched else g.R[i]
    if n == 1:
        return g.P, R_i
    P_bar = _einsum(_marginal_spec(n, i, g.batched, "", "t"), g.P, *others)
    r_bar = _einsum(_marginal_spec(n, i, g.batched, "", ""), R_i, *others)
    return P_bar, r_bar


def marginal_mdp(mg: MarkovGame, i: int, policies) -> TabularMDP:
    """Agent ``i``'s single-agent MDP against the other agents' policies (an :class:`mdp.TabularMDP`).

    Args:
        mg: the game.
        i: the agent (``0 <= i < n``).
        policies: list of ``n`` arrays ``[S, A_j]``; ``policies[i]`` is not used (may be any valid policy).

    Returns:
        ``TabularMDP(P_bar[S, A_i, S], r_bar[S, A_i], gamma, mu)`` (see :func:`marginal_tensors`).

    Example:
        >>> from games.markov_games import random_markov_game
        >>> from mdp import value_iteration
        >>> mg = random_markov_game(4, (2, 3), seed=0)
        >>> m = marginal_mdp(mg, 1, mg.uniform_policies())
        >>> m.S, m.A
        (4, 3)
    """
    i = _agent(mg, i)
    pols = validate_policies(mg, policies)
    P_bar, r_bar = marginal_tensors(mg, i, pols)
    return TabularMDP(P_bar, r_bar, mg.gamma, mg.mu)


def _agent(mg, i) -> int:
    i = check_scalar("i", i, low=0, integer=True)
    if i >= mg.n_agents:
        raise ParameterError(f"i must be an agent index in 0..{mg.n_agents - 1}, got {i}")
    return i


# ----------------------------------------------------------------------------------------------
# Soft-optimal values in a marginal MDP and the logit response
# ----------------------------------------------------------------------------------------------
def soft_q(P_bar, r_bar, gamma, temperature, V0=None, tol: float = 1e-12, max_iter: int = 100_000):
    r"""Soft-optimal :math:`(\bar Q, \bar V)` of a (marginal) MDP by the certified soft Bellman iteration.

    .. math:: V_{k+1}(s) = T\log\sum_a \exp\big(Q_k(s,a)/T\big),\quad Q_k = \bar r + \gamma \bar P V_k,

    a :math:`\gamma`-contraction, iterated with :func:`theory.fixed_point.certified_fixed_point` to a
    certified ``tol`` in the sup norm.

    Args:
        P_bar: ``[(B,) S, A, S]``; r_bar: ``[(B,) S, A]``; gamma: scalar or ``[B]``; temperature: ``T > 0``
            (scalar or ``[B]``); V0: warm start ``[(B,) S]``.

    Returns:
        ``(Q [(B,) S, A], V [(B,) S], FixedPointResult)``.
    """
    S, A = r_bar.shape[-2], r_bar.shape[-1]
    P_flat = P_bar.reshape(*P_bar.shape[:-3], S * A, S)
    T = temperature
    if not np.isscalar(T) and getattr(T, "ndim", 0) > 0:
        T_q, T_v = T[..., None, None], T[..., None]
    else:
        T_q = T_v = T

    def step(V):
        return T_v * _lse(q_values(P_flat, r_bar, gamma, V) / T_q)

    if V0 is None:
        V0 = torch.zeros(r_bar.shape[:-1], dtype=r_bar.dtype, device=r_bar.device) if _is_torch(r_bar) \
            else np.zeros(r_bar.shape[:-1])
    fp = certified_fixed_point(step, V0, gamma, tol=tol, max_iter=max_iter, who="soft_q")
    V = fp.V
    return q_values(P_flat, r_bar, gamma, V), V, fp


def logit_response(mg, policies, temperature, V0=None, tol: float = 1e-12):
    r"""The logit-response map :math:`F(\pi)_i = \mathrm{softmax}(\bar Q_i^{\pi_{-i}}/T)` for every agent.

    Args:
        mg: :class:`MarkovGame` or batched :class:`GameTensors`.
        policies: ``n`` arrays ``[(B,) S, A_i]``.
        temperature: ``T > 0`` (scalar or ``[B]``).
        V0: optional list of warm starts ``[(B,) S]``.

    Returns:
        ``(responses, Q, V)``: lists over agents of ``[(B,) S, A_i]``, ``[(B,) S, A_i]``, ``[(B,) S]``.
    """
    g = _tensors(mg)
    T = temperature
    T_q = T[..., None, None] if (not np.isscalar(T) and getattr(T, "ndim", 0) > 0) else T
    out, Qs, Vs = [], [], []
    for i in range(g.n_agents):
        P_bar, r_bar = marginal_tensors(g, i, policies)
        Q, V, _ = soft_q(P_bar, r_bar, g.gamma, T, None if V0 is None else V0[i], tol=tol)
        out.append(_softmax(Q / T_q))
        Qs.append(Q)
        Vs.append(V)
    return out, Qs, Vs


@dataclass(frozen=True)
class SoftNashResult:
    r"""A soft (logit) Nash equilibrium and its certificate.

    Attributes:
        policies: one ``[(B,) S, A_i]`` array per agent.
        Q, V: soft action values ``[(B,) S, A_i]`` and values ``[(B,) S]`` of each agent in its marginal MDP.
        residual: :math:`\max_i\|F(\pi)_i - \pi_i\|_\infty` of the returned policies (``[B]`` when batched).
        error_bound: ``None`` (the logit-response map is not a certified contraction in general).
        converged: ``residual <= tol``.
        iterations: outer (damped) iterations; history: residual per iteration when asked for.
        temperature: the temperature solved for.
    """

    policies: list
    Q: list
    V: list
    residual: Any
    error_bound: Any
    converged: Any
    iterations: int
    history: Any = None
    temperature: Any = None


def soft_nash(mg, temperature, tol: float = 1e-10, max_iter: int = 20_000, damping: float = 1.0,
              homotopy: int = 0, inner_steps: int = 5, policies0=None, history: bool = False,
              method: str = "auto", min_damping: float = 1 / 64, patience: int = 500,
              newton_max_unknowns: int = 2048) -> SoftNashResult:
    r"""Soft (logit / entropy-regularised) Nash equilibrium by damped logit-response iteration.

    Iteration :math:`k` takes, for every agent, ``inner_steps`` soft Bellman backups of its value in the
    marginal MDP of the current :math:`\pi^k_{-i}` (warm-started, as in modified policy iteration),
    forms :math:`\tilde Q_i`, and moves

    .. math:: \pi^{k+1}_i = (1-\beta_k)\,\pi^k_i + \beta_k\,\mathrm{softmax}\big(\tilde Q_i/T\big).

    The step :math:`\beta_k` starts at ``damping``, is halved per game whenever the (approximate)
    residual grows (down to ``min(damping, min_damping)``: a caller's smaller ``damping`` is never raised) and
    grows by a quarter after a decrease, never above ``damping``. When the approximate residual
    and the value step are small, the exact residual :math:`\max_i\|F(\pi)_i - \pi_i\|_\infty` is
    computed with the *certified* soft-optimal :math:`\bar Q_i^{\pi_{-i}}` (:func:`soft_q` to 1e-12), and
    the loop stops when it is at most ``tol``. A fixed point :math:`F(\pi) = \pi` is a soft Nash equilibrium:
    every agent's policy is the Boltzmann policy of its marginal soft-Q. With ``homotopy = h > 0`` the
    equilibrium is first followed at temperatures :math:`2^h T, 2^{h-1}T, \ldots` down to :math:`T`
    (useful at low temperature, where the undamped map can cycle).

    **Low temperature: Newton and path following** (``method="auto"``, the default). At low :math:`T` the
    damped map can cycle for every step size (its Jacobian has eigenvalues of size :math:`O(1/T)`). In
    ``"auto"`` mode a game whose best approximate residual at the target temperature has not halved for
    ``patience`` iterations (or that is still unsolved after ``4 * patience``) stalls; when every unsolved game
    has stalled the iteration stops and each stalled game is handed to Newton's method on the logit fixed point
    written in the soft action values :math:`\bar Q = (\bar Q_1, \ldots, \bar Q_n)`,

    .. math:: H(\bar Q)_i = \bar Q_i - \bar r_i(\pi_{-i}) - \gamma \bar P_i(\pi_{-i})\,\bar V_i = 0,\quad
              \pi_j = \mathrm{softmax}(\bar Q_j/T),\ \bar V_j = T\log\textstyle\sum_a e^{\bar Q_j(\cdot,a)/T},

    whose roots are exactly the soft Nash equilibria (for fixed :math:`\pi_{-i}` the soft Bellman equation
    has the unique root :math:`\bar Q_i^{\pi_{-i}}`, and :math:`\pi_i` is its logit response). Newton
    (Jacobian by ``torch.autograd``, backtracking on :math:`\|H\|_\infty`) is first started at the
    iterate; if it does not converge, the equilibrium is followed in temperature (McKelvey and Palfrey's
    logit tracing path) from :math:`T_0 = 10\max|r|/(1-\gamma)`, where every policy is nearly uniform,
    down to :math:`T`, each Newton solve warm-started at the previous temperature's root, the temperature
    ratio halved in log scale after a failed solve. ``method="iterate"`` runs the damped iteration only,
    ``"newton"`` the Newton path only. Newton is used for games with at most ``newton_max_unknowns``
    unknowns :math:`S\sum_i A_i`; a larger game that the iteration does not solve is returned with
    ``converged=False``. ``converged`` is always the exact test ``residual <= tol`` of the returned
    policies.

    Args:
        mg: a :class:`MarkovGame`, a list of equal-shape games or :class:`GameTensors` (batched, torch).
        temperature: :math:`T > 0` (the inverse of the paper's :math:`\lambda`).
        tol: stopping test ``residual <= tol``.
        max_iter: iteration budget (per homotopy stage).
        damping: initial step :math:`\beta_0 \in (0, 1]`.
        homotopy: number of temperature-halving stages before the target.
        inner_steps: soft Bellman backups per iteration (>= 1).
        policies0: starting policies (uniform when omitted).
        history: record the approximate residual per iteration at the target temperature.
        method: ``"auto"`` (iteration, then Newton / path following for games it leaves above ``tol``),
            ``"iterate"`` (damped iteration only) or ``"newton"`` (Newton / path following only).
        min_damping: the smallest step the adaptive halving reaches (``min(damping, min_damping)``).
        patience: ``"auto"`` only: iterations without halving the best residual after which a game counts
            as stalled and the iteration stops (when every unsolved game has stalled).
        newton_max_unknowns: the largest :math:`S\sum_i A_i` handed to Newton.

    Returns:
        :class:`SoftNashResult` (numpy for one game, torch ``[B, ...]`` for a batch); ``residual`` is the
        exact residual of the returned policies. Warns with :class:`theory.results.NotConvergedWarning`
        when ``residual > tol`` at the budget.

    Example:
        >>> from games.markov_games import random_markov_game
        >>> r = soft_nash(random_markov_game(5, (2, 2), seed=1), temperature=1.0)
        >>> bool(r.converged), r.policies[0].shape
        (True, (5, 2))
    """
    temperature = check_scalar("temperature", temperature, low=0.0, low_open=True)
    tol = check_scalar("tol", tol, low=0.0, low_open=True)
    max_iter = check_scalar("max_iter", max_iter, low=1, integer=True)
    damping = check_scalar("damping", damping, low=0.0, high=1.0, low_open=True)
    homotopy = check_scalar("homotopy", homotopy, low=0, integer=True)
    inner_steps = check_scalar("inner_steps", inner_steps, low=1, integer=True)
    if method not in ("auto", "iterate", "newton"):
        raise ParameterError(f"method must be 'auto', 'iterate' or 'newton', got {method!r}")
    min_damping = check_scalar("min_damping", min_damping, low=0.0, high=1.0, low_open=True)
    patience = check_scalar("patience", patience, low=1, integer=True)
    newton_max_unknowns = check_scalar("newton_max_unknowns", newton_max_unknowns, low=0, integer=True)
    floor = min(damping, min_damping)
    g = _tensors(mg)
    newton_ok = method != "iterate" and S_sum_A(g) <= newton_max_unknowns
    torch_mode = g.batched
    n = g.n_agents
    B = g.mu.shape[0] if torch_mode else None
    if policies0 is None:
        pols = [torch.full((B, g.S, a), 1.0 / a, dtype=g.P.dtype, device=g.P.device) if torch_mode
                else np.full((g.S, a), 1.0 / a) for a in g.actions]
    else:
        pols = list(policies0) if torch_mode else validate_policies(mg, list(policies0), "policies0")
    zeros = (lambda: torch.zeros((B, g.S), dtype=g.P.dtype, device=g.P.device)) if torch_mode \
        else (lambda: np.zeros(g.S))
    V = [zeros() for _ in range(n)]
    factor = g.gamma / (1 - g.gamma)
    hist = []
    total = 0
    res = None
    stalled = np.zeros(B or 1, dtype=bool)     # per game: the iteration at the target temperature stalled
    stages = [] if method == "newton" else [temperature * 2.0 ** k for k in range(homotopy, -1, -1)]
    for T in stages:
        beta = (torch.full((B,), damping, dtype=g.P.dtype, device=g.P.device) if torch_mode
                else np.asarray(damping))
        prev = None
        best = since = None
        for stage_iter in range(max_iter):
            total += 1
            resp, moved = [], 0.0
            for i in range(n):
                P_bar, r_bar = marginal_tensors(g, i, pols)
                P_flat = P_bar.reshape(*P_bar.shape[:-3], g.S * g.actions[i], g.S)
                for _ in range(inner_steps):
                    Q = q_values(P_flat, r_bar, g.gamma, V[i])
                    V_new = T * _lse(Q / T)
                    step = _amax((V_new - V[i]).abs() if torch_mode else np.abs(V_new - V[i]))
                    V[i] = V_new
                moved = step if i == 0 else (torch.maximum(moved, step) if torch_mode else max(moved, step))
                resp.append(_softmax(q_values(P_flat, r_bar, g.gamma, V[i]) / T))
            approx = _residual(resp, pols)
            if history and T == temperature:
                hist.append(approx.detach().cpu().numpy() if torch_mode else float(approx))
            if float(approx.max()) <= tol / 2 and float((factor * moved).max()) <= tol * T / 4:
                exact, Q_ex, V_ex = logit_response(g, pols, T, V0=V)
                res = _residual(exact, pols)
                if float(res.max()) <= tol:
                    break
            if method == "auto":    # stall detection: the best residual has not halved for `patience` steps
                a_np = np.atleast_1d(approx.detach().cpu().numpy() if torch_mode else approx).astype(float)
                if best is None:
                    best, since = a_np.copy(), np.zeros_like(a_np)
                better = a_np < 0.5 * best
                best = np.where(better, a_np, best)
                since = np.where(better, 0, since + 1)
                if newton_ok:                       # slow linear progress: Newton finishes faster
                    since = np.where(stage_iter >= 4 * patience, np.maximum(since, patience), since)
                if np.all((since >= patience) | (a_np <= tol / 2)) and np.any(since >= patience):
                    break
            if prev is not None:
                worse = approx > prev
                if torch_mode:
                    beta = torch.where(worse, (beta / 2).clamp(min=floor), (beta * 1.25).clamp(max=damping))
                else:
                    beta = np.asarray(max(beta / 2, floor) if worse else min(beta * 1.25, damping))
            prev = approx
            b = beta[:, None, None] if torch_mode else beta
            pols = [(1 - b) * p + b * r for p, r in zip(pols, resp)]
        stalled = np.zeros(B or 1, dtype=bool) if since is None else since >= patience
    exact, Q_ex, V_ex = logit_response(g, pols, temperature, V0=V)
    res = _residual(exact, pols)
    if newton_ok:
        todo = [b for b in range(B)] if torch_mode else [None]
        todo = [b for b in todo if float(res[b] if torch_mode else res) > tol
                and (method == "newton" or bool(stalled[0 if b is None else b]))]
        for b in todo:
            Q_start = [q[b] for q in Q_ex] if torch_mode else Q_ex
            sol = _newton_path(_game_slice(g, b), temperature, Q_start, tol)
            if sol is None:
                continue
            if torch_mode:
                for p, q in zip(pols, sol):
                    p[b] = _softmax(q.to(p) / temperature)
            else:
                pols = [_softmax(q.numpy() / temperature) for q in sol]
        if todo:
            exact, Q_ex, V_ex = logit_response(g, pols, temperature, V0=V)
            res = _residual(exact, pols)
    converged = res <= tol
    if not bool(converged.all() if torch_mode else converged):
        warn_not_converged("soft_nash", residual=float(res.max()), tol=tol, iterations=total)
    if not torch_mode:
        res, converged = float(res), bool(converged)
    return SoftNashResult(pols, Q_ex, V_ex, res, None, converged, total,
                          (np.asarray(hist) if history else None), temperature)


def S_sum_A(g) -> int:
    r"""Number of unknowns :math:`S\sum_i A_i` of the Newton system of :func:`soft_nash`."""
    return int(g.S * sum(g.actions))


def _game_slice(g: GameTensors, b):
    """Game ``b`` of a batch (``None``: the one game) as unbatched float64 torch :class:`GameTensors`."""
    def t(x):
        x = x if b is None else x[b]
        return x.to(dtype=torch.float64, device="cpu") if _is_torch(x) else torch.tensor(x, dtype=torch.float64)
    gamma = float(g.gamma if b is None else g.gamma[b])
    return GameTensors(t(g.P), t(g.R), gamma, t(g.mu), g.actions, False)


def _soft_nash_equations(g: GameTensors, T: float):
    r"""``H(x)`` of :func:`soft_nash`'s Newton system, ``x`` the concatenated ``[S, A_i]`` soft action values."""
    sizes = [g.S * a for a in g.actions]

    def H(x):
        Qs = [q.reshape(g.S, a) for q, a in zip(torch.split(x, sizes), g.actions)]
        pis = [torch.softmax(q / T, dim=-1) for q in Qs]
        out = []
        for i, q in enumerate(Qs):
            P_bar, r_bar = marginal_tensors(g, i, pis)
            V = T * torch.logsumexp(q / T, dim=-1)
            out.append((q - r_bar - g.gamma * torch.einsum("sat,t->sa", P_bar, V)).reshape(-1))
        return torch.cat(out)

    return H


def _newton(g: GameTensors, T: float, x0, scale: float, max_iter: int = 60):
    """Newton with backtracking on ``||H||_inf`` from ``x0``; the root or ``None`` when it does not converge."""
    H = _soft_nash_equations(g, T)
    x = x0.clone()
    h = H(x)
    norm = float(h.abs().max())
    target = 4 * np.finfo(float).eps * scale
    for _ in range(max_iter):
        if norm <= target:
            return x
        J = torch.autograd.functional.jacobian(H, x, vectorize=True)
        try:
            d = torch.linalg.solve(J, -h)
        except RuntimeError:     # singular Jacobian (a bifurcation): let the caller shorten the step
            return None
        t = 1.0
        while t >= 1e-6:
            x_new = x + t * d
            h_new = H(x_new)
            n_new = float(h_new.abs().max())
            if np.isfinite(n_new) and n_new < (1 - 1e-4 * t) * norm:
                break
            t /= 2
        else:
            return x if norm <= 1e-9 * scale else None    # no further decrease at round-off level
        x, h, norm = x_new, h_new, n_new
    return x if norm <= 1e-9 * scale else None


def _newton_path(g: GameTensors, T: float, Q_start, tol: float):
    r"""Newton at ``T`` from ``Q_start``; failing that, the logit tracing path from a high temperature.

    Returns the list of ``[S, A_i]`` soft action values at ``T`` or ``None`` (the path could not be followed).
    """
    scale = max(float(g.R.abs().max()) / (1 - g.gamma), 1e-12)
    x = torch.cat([torch.as_tensor(q, dtype=torch.float64).reshape(-1) for q in Q_start])
    sol = _newton(g, T, x, scale)
    if sol is None:
        T_cur = max(10.0 * scale, T)
        uniform = [torch.full((g.S, a), 1.0 / a, dtype=torch.float64) for a in g.actions]
        x = torch.cat([marginal_tensors(g, i, uniform)[1].reshape(-1) for i in range(g.n_agents)])
        x = _newton(g, T_cur, x, scale)
        ratio = 0.5
        while x is not None and T_cur > T:
            T_next = max(T_cur * ratio, T)
            nxt = _newton(g, T_next, x, scale)
            if nxt is None:
                ratio = ratio ** 0.5
                if ratio > 0.999:
                    x = None
                continue
            x, T_cur, ratio = nxt, T_next, max(ratio ** 2, 0.1)
        sol = x
    if sol is None:
        return None
    sizes = [g.S * a for a in g.actions]
    return [q.reshape(g.S, a) for q, a in zip(torch.split(sol, sizes), g.actions)]


def _residual(resp, pols):
    if _is_torch(pols[0]):
        return torch.stack([(r - p).abs().amax(dim=(-2, -1)) for r, p in zip(resp, pols)]).amax(0)
    return np.asarray(max(float(np.max(np.abs(r - p))) for r, p in zip(resp, pols)))


# ----------------------------------------------------------------------------------------------
# Exact evaluation
# ----------------------------------------------------------------------------------------------
def agent_values(mg: MarkovGame, policies) -> np.ndarray:
    r"""Expected discounted return of every agent from ``mu``: ``[n]``, :math:`\mu^\top V_i^\pi`.

    Computed exactly in each agent's marginal MDP (:func:`mdp.policy_evaluation`).
    """
    pols = validate_policies(mg, policies)
    return np.array([float(mg.mu @ policy_evaluation(marginal_mdp(mg, i, pols), pols[i]))
                     for i in range(mg.n_agents)])


def nash_conv(mg: MarkovGame, policies, per_agent: bool = False):
    r"""NashConv :math:`\sum_i \big(\max_{\pi_i'} V_i(\pi_i', \pi_{-i}) - V_i(\pi)\big)` from ``mu``.

    Each best response is exact: :func:`mdp.policy_iteration` in agent ``i``'s marginal MDP (a stationary
    deterministic best response is optimal there). Zero exactly at a Nash equilibrium.

    Args:
        mg: the game; policies: ``n`` arrays ``[S, A_i]``.
        per_agent: return the ``[n]`` vector of gains instead of their sum.

    Returns:
        float (or ``[n]`` array), non-negative up to round-off.
    """
    pols = validate_policies(mg, policies)
    gains = []
    for i in range(mg.n_agents):
        m = marginal_mdp(mg, i, pols)
        best = float(mg.mu @ policy_iteration(m).V)
        gains.append(best - float(mg.mu @ policy_evaluation(m, pols[i])))
    gains = np.array(gains)
    return gains if per_agent else float(gains.sum())


# ----------------------------------------------------------------------------------------------
# Demonstrations
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Demonstrations:
    """Trajectories of a joint policy: ``states[E, H+1]``, ``actions[E, H, n]`` (int64 numpy arrays).

    ``states[:, t+1]`` is the state reached after ``actions[:, t]``. ``num_states`` and ``actions_per_agent``
    record the game's sizes, against which :func:`games.mamql.mamql` checks them.
    """

    states: np.ndarray
    actions: np.ndarray
    num_states: int
    actions_per_agent: tuple

    @property
    def episodes(self) -> int:
        return int(self.states.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.actions.shape[1])

    def check(self, mg: MarkovGame) -> None:
        """Raise :class:`ShapeError` naming the first out-of-range state or action for ``mg``."""
        s, a = np.asarray(self.states), np.asarray(self.actions)
        if s.ndim != 2 or a.ndim != 3 or a.shape[:2] != (s.shape[0], s.shape[1] - 1):
            raise ShapeError(f"demonstrations need states [E, H+1] and actions [E, H, n]; got {s.shape}, {a.shape}")
        if a.shape[2] != mg.n_agents:
            raise ShapeError(f"demonstrations have actions of {a.shape[2]} agents; the game has {mg.n_agents}")
        bad = (s < 0) | (s >= mg.S)
        if bad.any():
            e, t = np.argwhere(bad)[0]
            raise ShapeError(f"demonstrations.states[{e}, {t}] = {s[e, t]} is not a state in 0..{mg.S - 1}")
        for i, A in enumerate(mg.actions):
            bad = (a[..., i] < 0) | (a[..., i] >= A)
            if bad.any():
                e, t = np.argwhere(bad)[0]
                raise ShapeError(f"demonstrations.actions[{e}, {t}, {i}] = {a[e, t, i]} is not an action of "
                                 f"agent {i} in 0..{A - 1}")


def _joint_index(actions, sizes):
    idx = np.zeros(actions.shape[:-1], dtype=np.int64)
    for i, A in enumerate(sizes):
        idx = idx * A + actions[..., i]
    return idx


def sample_demonstrations(mg: MarkovGame, policies, episodes: int, horizon: int, seed: int) -> Demonstrations:
    r"""Sample ``episodes`` trajectories of length ``horizon`` of the joint policy from ``mu``.

    :math:`s_0\sim\mu`, :math:`a_{i,t}\sim\pi_i(\cdot|s_t)` independently, :math:`s_{t+1}\sim P(\cdot|s_t,a_t)`;
    all episodes advance together (vectorised inverse-CDF draws from ``numpy.random.default_rng(seed)``).

    Args:
        mg: the game; policies: ``n`` arrays ``[S, A_i]``; episodes, horizon: >= 1; seed: >= 0.

    Returns:
        :class:`Demonstrations`.
    """
    pols = validate_policies(mg, policies)
    E = check_scalar("episodes", episodes, low=1, integer=True)
    H = check_scalar("horizon", horizon, low=1, integer=True)
    seed = check_scalar("seed", seed, low=0, integer=True)
    rng = np.random.default_rng(seed)
    P = mg.P.reshape(mg.S, -1, mg.S)
    cdfP = np.cumsum(P, -1)
    cdfs = [np.cumsum(p, -1) for p in pols]

    def draw(cdf_rows):
        u = rng.random(cdf_rows.shape[0])[:, None] * cdf_rows[:, -1:]
        return np.minimum((cdf_rows <= u).sum(-1), cdf_rows.shape[-1] - 1)

    states = np.zeros((E, H + 1), dtype=np.int64)
    actions = np.zeros((E, H, mg.n_agents), dtype=np.int64)
    states[:, 0] = draw(np.broadcast_to(np.cumsum(mg.mu), (E, mg.S)))
    for t in range(H):
        s = states[:, t]
        for i in range(mg.n_agents):
            actions[:, t, i] = draw(cdfs[i][s])
        j = _joint_index(actions[:, t], mg.actions)
        states[:, t + 1] = draw(cdfP[s, j])
    return Demonstrations(states, actions, mg.S, mg.actions)


# ----------------------------------------------------------------------------------------------
# Torch-batched simulation of many games x seeds
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MarkovGameRollout:
    """``states[B, H+1]``, ``actions[B, H, n]``, ``rewards[B, H, n]`` and discounted ``returns[B, n]``."""

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    returns: torch.Tensor


class BatchedMarkovGame:
    r"""``B`` copies of one game, or ``B`` different games of equal shape, stepped as one tensor program.

    Next states and actions are drawn by inverse-CDF sampling (:func:`mdp.batched.sample_categorical`)
    from the ``torch.Generator`` passed in, so a seed fixes the whole batch (CPU or CUDA).

    Args:
        mg: a :class:`MarkovGame` (shared by every environment) or a list of ``B`` games.
        batch_size: ``B`` (must equal the list's length when a list is given).
        device: torch device; generator: a ``torch.Generator`` on that device (a fresh one when omitted).

    Example:
        >>> import torch
        >>> from games.markov_games import random_markov_game
        >>> mg = random_markov_game(4, (2, 2), seed=0)
        >>> env = BatchedMarkovGame(mg, 8, generator=torch.Generator().manual_seed(0))
        >>> env.rollout([torch.full((4, 2), 0.5)] * 2, horizon=5).returns.shape
        torch.Size([8, 2])
    """

    def __init__(self, mg, batch_size: int, device="cpu", generator: torch.Generator | None = None,
                 dtype=torch.float64):
        self.batch_size = check_scalar("batch_size", batch_size, low=1, integer=True)
        games = list(mg) if isinstance(mg, (list, tuple)) else [mg]
        if len(games) not in (1, self.batch_size):
            raise ShapeError(f"got {len(games)} games for batch_size {self.batch_size} (give 1 or batch_size)")
        g = stack_games(games, device=device, dtype=dtype)
        self.device = torch.device(device)
        self.actions = g.actions
        self.n_agents, self.S = g.n_agents, g.S
        M = len(games)
        self._game = (torch.arange(self.batch_size, device=self.device) if M > 1
                      else torch.zeros(self.batch_size, dtype=torch.long, device=self.device))
        self.P = g.P.reshape(M, self.S, -1, self.S)
        self.R = g.R.reshape(M, self.n_agents, self.S, -1)
        self.mu, self.gamma = g.mu, g.gamma
        self.generator = generator
        self.state = None

    def reset(self) -> torch.Tensor:
        """Draw ``s_0 ~ mu`` for every environment; returns ``states[B]``."""
        self.state = sample_categorical(self.mu[self._game], self.generator)
        return self.state

    def step(self, actions) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply joint actions ``[B, n]``; returns ``(next_states[B], rewards[B, n])``."""
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        a = torch.as_tensor(actions, device=self.device, dtype=torch.long)
        check_shape("actions", a, (self.batch_size, self.n_agents))
        for i, A in enumerate(self.actions):
            bad = (a[:, i] < 0) | (a[:, i] >= A)
            if bool(bad.any()):
                b = int(torch.nonzero(bad)[0])
                raise ShapeError(f"actions[{b}, {i}] = {int(a[b, i])} is not an action of agent {i} in 0..{A - 1}")
        j = torch.zeros(self.batch_size, dtype=torch.long, device=self.device)
        for i, A in enumerate(self.actions):
            j = j * A + a[:, i]
        agents = torch.arange(self.n_agents, device=self.device)[None]
        r = self.R[self._game[:, None], agents, self.state[:, None], j[:, None]]
        self.state = sample_categorical(self.P[self._game, self.state, j], self.generator)
        return self.state, r

    def rollout(self, policies, horizon: int) -> MarkovGameRollout:
        r"""Play ``horizon`` steps of the joint policy (``n`` tensors ``[S, A_i]`` or ``[B, S, A_i]``).

        ``returns[b, i]`` is :math:`\sum_{t<H}\gamma^t r_{i,t}` (an unbiased estimate of the discounted
        return truncated at ``H``).
        """
        H = check_scalar("horizon", horizon, low=1, integer=True)
        pols = [torch.as_tensor(p, device=self.device, dtype=self.P.dtype) for p in policies]
        if len(pols) != self.n_agents:
            raise ShapeError(f"policies has {len(pols)} entries; the game has {self.n_agents} agents")
        s = self.reset()
        states, acts, rews = [s], [], []
        ar = torch.arange(self.batch_size, device=self.device)
        for _ in range(H):
            a = torch.stack([sample_categorical(p[ar, s] if p.ndim == 3 else p[s], self.generator)
                             for p in pols], -1)
            s, r = self.step(a)
            states.append(s)
            acts.append(a)
            rews.append(r)
        R = torch.stack(rews, 1)
        disc = self.gamma[self._game][:, None] ** torch.arange(H, device=self.device, dtype=R.dtype)[None]
        return MarkovGameRollout(torch.stack(states, 1), torch.stack(acts, 1), R,
                                 (R * disc[..., None]).sum(1))

