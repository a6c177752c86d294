r"""Demonstrations of a joint policy in a Markov game: trajectories sampled exactly from the model."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from games.markov.model import MarkovGame, validate_policies
from theory.validation import ShapeError, check_scalar

__all__ = ["Demonstrations", "sample_demonstrations"]


# ----------------------------------------------------------------------------------------------
# Demonstrations
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Demonstrations:
    """Trajectories of a joint policy: ``states[E, H+1]``, ``actions[E, H, n]`` (int64 numpy arrays).

    ``states[:, t+1]`` is the state reached after ``actions[:, t]``. ``num_states`` and ``actions_per_agent``
    record the game's sizes, against which :func:`games.markov.mamql.mamql` checks them.
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
