r"""General-sum Markov games: the validated model and its arrays (one game in numpy, a stack in torch).

An :math:`n`-agent discounted Markov game is :math:`(S, \{A_i\}, P, \{r_i\}, \gamma, \mu)` with
``P[s, a_1, ..., a_n, t]`` and ``R[i, s, a_1, ..., a_n]``. Policies are one array per agent,
``pi_i[S, A_i]`` (stationary, independent across agents given the state).

Solvers live apart: marginal MDPs and exact evaluation in :mod:`games.markov.marginal`, soft Nash
equilibria in :mod:`games.markov.solvers`, demonstrations in :mod:`games.markov.demonstrations` and the
torch simulator in :mod:`games.markov.simulation`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from theory.validation import (ModelError, ShapeError, check_distributions, check_finite, check_scalar,
                               check_shape, freeze, initial_distribution, as_float_array)

__all__ = ["MarkovGame", "MarkovGameTensors", "validate_policies", "stack_games"]


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
        >>> from games.markov.model import MarkovGame
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
        P = as_float_array(self.P, name="P")
        R = as_float_array(self.R, name="R")
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
        mu = initial_distribution(self.mu, S)
        freeze(P, R, mu)
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
        p = as_float_array(p, name=f"{name}[{i}]")
        check_shape(f"{name}[{i}]", p, (mg.S, mg.actions[i]))
        check_distributions(f"{name}[{i}]", p)
        out.append(p)
    return out


# ----------------------------------------------------------------------------------------------
# Tensors: one game (numpy) or a stack of games (torch, leading batch axis)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MarkovGameTensors:
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


def stack_games(games: Sequence[MarkovGame], device="cpu", dtype=torch.float64) -> MarkovGameTensors:
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

    return MarkovGameTensors(t([g.P for g in games]), t([g.R for g in games]), t([g.gamma for g in games]),
                       t([g.mu for g in games]), games[0].actions, True)


def _tensors(mg) -> MarkovGameTensors:
    if isinstance(mg, MarkovGameTensors):
        return mg
    if isinstance(mg, MarkovGame):
        return MarkovGameTensors(mg.P, mg.R, mg.gamma, mg.mu, mg.actions, False)
    if isinstance(mg, (list, tuple)):
        return stack_games(mg)
    raise TypeError(f"expected a MarkovGame, a list of MarkovGames or MarkovGameTensors, got {type(mg).__name__}")
