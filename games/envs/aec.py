"""A PettingZoo ``AECEnv`` that plays any :class:`games.efg.model.ExtensiveFormGame`.

Agents ``player_0`` and ``player_1`` act in turn; chance is sampled from ``self.np_random`` (seeded by
``reset(seed=...)``, so equal seeds give equal episodes). The observation of an agent is a dict with

* ``"observation"``: the index of its current information set (``np.int64``; the index equals
  ``game.treeplex[i].keys.index(key)``, i.e. the row of a :class:`~games.efg.model.TabularPolicy`),
  or ``I_i`` (one past the last) while it is not the agent's turn;
* ``"action_mask"``: ``int8[A]`` legal actions (all zero while waiting).

``infos[agent]["infoset"]`` carries the information-set key. Rewards are the terminal payoffs. The game's
action labels are in ``game.treeplex[i].actions``; environment actions are their indices.

Note: PettingZoo's own ``leduc_holdem_v4`` is RLCard's variant (different bet sizes); this environment
uses OpenSpiel's rules, so its equilibrium value is -0.0856 for player 0.
"""
from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from games.efg.model import ExtensiveFormGame


class ExtensiveFormEnv(AECEnv):
    metadata = {"render_modes": ["human", "ansi"], "name": "extensive_form_v0", "is_parallelizable": False}

    def __init__(self, game: ExtensiveFormGame, render_mode: str | None = None):
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.game = game
        self.render_mode = render_mode
        self.metadata = dict(self.metadata, name=f"{game.name}_v0")
        self.possible_agents = [f"player_{i}" for i in range(game.num_players)]
        A = game.num_actions
        self._obs_spaces = {a: spaces.Dict({
            "observation": spaces.Discrete(game.treeplex[i].num_infosets + 1),
            "action_mask": spaces.Box(0, 1, (A,), dtype=np.int8)}) for i, a in enumerate(self.possible_agents)}
        self._act_spaces = {a: spaces.Discrete(A) for a in self.possible_agents}
        self.np_random = None
        self.history = 0

    def observation_space(self, agent):
        return self._obs_spaces[agent]

    def action_space(self, agent):
        return self._act_spaces[agent]

    # ------------------------------------------------------------------------------------------
    def _advance_chance(self):
        g = self.game
        while g.h_player[self.history] == -1:
            s, n = g.h_child_start[self.history], g.h_num_children[self.history]
            p = g.h_prob[s: s + n]
            self.history = int(s + self.np_random.choice(n, p=p / p.sum()))

    def observe(self, agent):
        i = self.possible_agents.index(agent)
        g, h = self.game, self.history
        mask = np.zeros(g.num_actions, dtype=np.int8)
        if g.h_player[h] == i:
            obs = np.int64(g.h_infoset[h])
            mask[: g.h_num_children[h]] = 1
        else:
            obs = np.int64(g.treeplex[i].num_infosets)
        return {"observation": obs, "action_mask": mask}

    def _infos(self):
        g, h = self.game, self.history
        out = {}
        for i, a in enumerate(self.possible_agents):
            out[a] = {"infoset": g.treeplex[i].keys[g.h_infoset[h]]} if g.h_player[h] == i else {}
        return out

    def reset(self, seed=None, options=None):
        if seed is not None or self.np_random is None:
            self.np_random, _ = seeding.np_random(seed)
        self.agents = self.possible_agents[:]
        self.history = 0
        self._advance_chance()
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos = self._infos()
        self._finish_if_terminal(first=0)

    def _finish_if_terminal(self, first: int):
        g, h = self.game, self.history
        if g.h_player[h] == -2:
            for i, a in enumerate(self.agents):
                self.rewards[a] = float(g.h_payoff[h, i])
                self.terminations[a] = True
            self.agent_selection = self.agents[first]
        else:
            self.agent_selection = self.possible_agents[int(g.h_player[h])]

    def step(self, action):
        if self.terminations[self.agent_selection] or self.truncations[self.agent_selection]:
            self._was_dead_step(action)
            return
        agent = self.agent_selection
        g, h = self.game, self.history
        n = int(g.h_num_children[h])
        if action is None or not (0 <= int(action) < n):
            i = self.possible_agents.index(agent)
            raise ValueError(f"{agent} at information set {g.treeplex[i].keys[g.h_infoset[h]]!r}: action {action!r} "
                             f"is not legal (legal: 0..{n - 1} = {g.treeplex[i].actions[g.h_infoset[h]]})")
        self._cumulative_rewards[agent] = 0.0
        self.history = int(g.h_child_start[h] + int(action))
        self._advance_chance()
        self._clear_rewards()
        self._finish_if_terminal(first=(self.possible_agents.index(agent) + 1) % len(self.agents))
        self.infos = self._infos()
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def render(self):
        """PettingZoo's render contract: ``ansi`` returns the text, ``human`` prints it and returns ``None``,
        no render mode warns and returns ``None``."""
        if self.render_mode is None:
            gymnasium.logger.warn("You are calling render method without specifying any render mode.")
            return None
        g, h = self.game, self.history
        path = []
        while h > 0:
            path.append(g.h_label[h])
            h = g.h_parent[h]
        text = f"{g.name}: history {tuple(reversed(path))}"
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self):
        pass


def extensive_form_env(game: ExtensiveFormGame, render_mode: str | None = None):
    """An order-enforced AEC environment for ``game``."""
    return wrappers.OrderEnforcingWrapper(ExtensiveFormEnv(game, render_mode))


def kuhn_poker_env(render_mode: str | None = None):
    from games.efg.poker import kuhn_poker

    return extensive_form_env(kuhn_poker(), render_mode)


def leduc_poker_env(render_mode: str | None = None):
    from games.efg.poker import leduc_poker

    return extensive_form_env(leduc_poker(), render_mode)


def openspiel_env(game, render_mode: str | None = None, **params):
    """An order-enforced AEC environment for an OpenSpiel game compiled by :func:`games.from_openspiel`."""
    from games.efg.openspiel import from_openspiel

    return extensive_form_env(from_openspiel(game, **params), render_mode)


def tiny_hanabi_env(name: str = "E", render_mode: str | None = None):
    from games.efg.tiny_hanabi import tiny_hanabi

    return extensive_form_env(tiny_hanabi(name), render_mode)
