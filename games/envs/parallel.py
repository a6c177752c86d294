"""A PettingZoo ``ParallelEnv`` that plays any :class:`games.markov.model.MarkovGame`.

Agents ``agent_0, ..., agent_{n-1}`` act simultaneously. Every agent observes the state index
(``np.int64`` in ``Discrete(S)``); ``infos[agent]["state"]`` repeats it and ``current_state`` holds it.
PettingZoo's global state, ``state()``, is ``[s, t]`` (state index and step count, an ``int64`` array in
``state_space = Box([0, 0], [S - 1, max_steps])``): everything the next step depends on. Rewards are
``R[i, s, a]`` of the state the joint action was taken in. Episodes never terminate (the game is discounted
and stationary) and are truncated after ``max_steps`` steps. All randomness (the initial state from ``mu``
and the transitions) comes from ``self.np_random``, seeded by ``reset(seed=...)``, so equal seeds give equal episodes
(``pettingzoo.test.parallel_seed_test``). ``render_mode="ansi"`` returns a text line, ``"human"`` prints it.

Example:
    >>> from games.markov.instances import random_markov_game
    >>> env = markov_game_env(random_markov_game(3, (2, 2), seed=0), max_steps=5)
    >>> obs, infos = env.reset(seed=0)
    >>> sorted(obs)
    ['agent_0', 'agent_1']
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from games.markov.model import MarkovGame
from theory.validation import ParameterError, check_scalar

__all__ = ["MarkovGameEnv", "markov_game_env"]


class MarkovGameEnv(ParallelEnv):
    """Parallel PettingZoo environment of a :class:`MarkovGame` (see the module docstring)."""

    metadata = {"render_modes": ["human", "ansi"], "name": "markov_game_v0", "is_parallelizable": True}

    def __init__(self, mg: MarkovGame, max_steps: int = 100, render_mode: str | None = None):
        if not isinstance(mg, MarkovGame):
            raise TypeError(f"mg must be a MarkovGame, got {type(mg).__name__}")
        self.max_steps = check_scalar("max_steps", max_steps, low=1, integer=True)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ParameterError(f"render_mode must be one of {self.metadata['render_modes']} or None, "
                                 f"got {render_mode!r}")
        self.mg = mg
        self.render_mode = render_mode
        self.possible_agents = [f"agent_{i}" for i in range(mg.n_agents)]
        self.agents = []
        self._obs = {a: spaces.Discrete(mg.S) for a in self.possible_agents}
        self._act = {a: spaces.Discrete(mg.actions[i]) for i, a in enumerate(self.possible_agents)}
        self._cdf = np.cumsum(mg.P.reshape(mg.S, -1, mg.S), -1)
        self.np_random = None
        self.current_state = 0
        self.t = 0
        self.state_space = spaces.Box(np.array([0, 0]), np.array([mg.S - 1, self.max_steps]), dtype=np.int64)
        self._last = None

    def state(self) -> np.ndarray:
        """The global state ``[s, t]`` (``int64``, in ``state_space``)."""
        return np.array([self.current_state, self.t], dtype=np.int64)

    def observation_space(self, agent):
        return self._obs[agent]

    def action_space(self, agent):
        return self._act[agent]

    def _draw(self, cdf) -> int:
        u = self.np_random.random() * cdf[-1]
        return int(min(np.searchsorted(cdf, u, side="right"), cdf.shape[0] - 1))

    def _observations(self):
        return {a: np.int64(self.current_state) for a in self.agents}

    def reset(self, seed=None, options=None):
        if seed is not None or self.np_random is None:
            self.np_random, _ = seeding.np_random(seed)
        self.agents = list(self.possible_agents)
        self.current_state = self._draw(np.cumsum(self.mg.mu))
        self.t = 0
        self._last = None
        return self._observations(), {a: {"state": int(self.current_state)} for a in self.agents}

    def step(self, actions):
        if not self.agents:
            raise RuntimeError("step() called on a finished episode; call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ParameterError(f"actions is missing agents {missing}")
        joint = 0
        acts = []
        for i, a in enumerate(self.possible_agents):
            x = int(actions[a])
            if not 0 <= x < self.mg.actions[i]:
                raise ParameterError(f"actions[{a!r}] = {x} is not an action in 0..{self.mg.actions[i] - 1}")
            acts.append(x)
            joint = joint * self.mg.actions[i] + x
        s = self.current_state
        rewards = {a: float(self.mg.R[(i, s, *acts)]) for i, a in enumerate(self.possible_agents)}
        self.current_state = self._draw(self._cdf[s, joint])
        self.t += 1
        self._last = (s, tuple(acts), rewards)
        trunc = self.t >= self.max_steps
        obs = self._observations()
        terminations = {a: False for a in self.agents}
        truncations = {a: trunc for a in self.agents}
        infos = {a: {"state": int(self.current_state)} for a in self.agents}
        if trunc:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terminations, truncations, infos

    def render(self):
        if self.render_mode is None:
            return None
        if self._last is None:
            text = f"t={self.t} state={self.current_state}"
        else:
            s, acts, r = self._last
            text = (f"t={self.t} state={s} actions={list(acts)} rewards="
                    f"{[round(v, 3) for v in r.values()]} -> {self.current_state}")
        if self.render_mode == "ansi":
            return text
        print(text)
        return None

    def close(self):
        pass


def markov_game_env(mg: MarkovGame, max_steps: int = 100, render_mode: str | None = None) -> MarkovGameEnv:
    """The PettingZoo ``ParallelEnv`` of ``mg`` truncated after ``max_steps`` steps."""
    return MarkovGameEnv(mg, max_steps, render_mode)
