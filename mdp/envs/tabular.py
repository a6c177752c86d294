"""Gymnasium environments over the package's tabular models."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from mdp.model import FiniteHorizonMDP, TabularMDP

__all__ = ["TabularEnv"]


class TabularEnv(gym.Env):
    """A :class:`TabularMDP` or :class:`FiniteHorizonMDP` as a ``gymnasium.Env``.

    Observations are ``np.int64`` state indices (``Discrete(S)``), actions ``Discrete(A)``. A discounted
    model *terminates* when it enters an absorbing zero-reward state and is *truncated* after
    ``max_steps``; a finite-horizon model is truncated at ``H`` (its time-varying kernel is indexed by the
    step, which ``info["t"]`` reports). Rewards are the expected rewards ``R[s, a]`` of the model. All
    randomness comes from ``self.np_random``, seeded by ``reset(seed=...)``. The model itself is
    ``env.unwrapped.model``. A multi-objective model (``R[S, A, m]``) pays ``float64[m]`` vector rewards and
    exposes ``reward_space`` (a ``Box`` with the per-objective range of the rewards of non-terminal states) and
    ``reward_dim``, as MO-Gymnasium environments do. ``env.unwrapped.P`` gives the toy-text dict form
    ``P[s][a] = [(prob, next_state, reward, terminated), ...]`` for tools that expect it.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, m, max_steps: int | None = None, render_mode: str | None = None):
        if not isinstance(m, (TabularMDP, FiniteHorizonMDP)):
            raise TypeError(f"TabularEnv needs a TabularMDP or FiniteHorizonMDP, got {type(m).__name__}")
        if isinstance(m, FiniteHorizonMDP):
            max_steps = m.H if max_steps is None else min(int(max_steps), m.H)
        if max_steps is None or int(max_steps) < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.model = m
        self.max_steps = int(max_steps)
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Discrete(m.S)
        self.action_space = gym.spaces.Discrete(m.A)
        if np.ndim(m.R) == (4 if isinstance(m, FiniteHorizonMDP) else 3):
            # multi-objective model (MO-Gymnasium convention): the per-objective range of the rewards
            # paid from non-terminal states
            live = ~m.absorbing_states()
            Rl = m.R[live] if live.any() else m.R
            flat = Rl.reshape(-1, Rl.shape[-1])
            self.reward_space = gym.spaces.Box(low=flat.min(0).astype(np.float32),
                                               high=flat.max(0).astype(np.float32), dtype=np.float32)
            self.reward_dim = int(flat.shape[1])
        self._finite = isinstance(m, FiniteHorizonMDP)
        self._P = m.P if self._finite else m.dense_P()[None]
        self._R = m.R if self._finite else m.R[None]
        self._terminal = np.zeros(m.S, bool) if self._finite else m.absorbing_states()
        self._state = 0
        self._t = 0

    @property
    def P(self):
        h = 0
        return {s: {a: [(float(p), int(t), float(np.asarray(self._R[h, s, a]).sum()), bool(self._terminal[t]))
                        for t, p in enumerate(self._P[h, s, a]) if p > 0]
                    for a in range(self.model.A)} for s in range(self.model.S)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._state = int(self.np_random.choice(self.model.S, p=self.model.mu))
        self._t = 0
        return np.int64(self._state), {"t": 0}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        h = self._t if self._finite else 0
        s, a = self._state, int(action)
        reward = self._R[h, s, a]
        nxt = int(self.np_random.choice(self.model.S, p=self._P[h, s, a]))
        self._state = nxt
        self._t += 1
        terminated = bool(self._terminal[nxt])
        truncated = (not terminated) and self._t >= self.max_steps
        r = np.asarray(reward, dtype=np.float64)
        return np.int64(nxt), (float(r) if r.ndim == 0 else r), terminated, truncated, {"t": self._t}

    def render(self):
        if self.render_mode == "ansi":
            return f"t={self._t} state={self._state}"
        return None
