"""Tabular behavioural policies of a two-player game, and their validation.

Policies are :class:`TabularPolicy` objects: one array per player over information sets × actions
(``[..., I_i, A]``, leading batch axes allowed, numpy or torch), zero on illegal actions. The same type
serves any model with per-player "information states" and legal masks (a Markov game's states are
information states with all actions legal).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from games.efg.model import ExtensiveFormGame
from theory.backend import is_torch, to_numpy

__all__ = ["PolicyError", "TabularPolicy", "uniform_policy", "validate_game_policy"]


class PolicyError(ValueError):
    """A policy that is not a distribution over the legal actions at some information set."""


@dataclass(frozen=True)
class TabularPolicy:
    """One ``[..., I_i, A]`` probability array per player (numpy or torch; leading batch axes allowed).

    ``game`` supplies the information-set keys and legal masks (anything with ``treeplex[i].keys`` and
    ``.mask``). Use :func:`validate_game_policy` to check it; evaluators call it for you.
    """

    game: Any
    probs: tuple

    @property
    def batch_shape(self) -> tuple:
        return tuple(self.probs[0].shape[:-2])

    def numpy(self) -> "TabularPolicy":
        return TabularPolicy(self.game, tuple(np.asarray(to_numpy(p), dtype=np.float64) for p in self.probs))

    def torch(self, device="cpu", dtype=torch.float64) -> "TabularPolicy":
        return TabularPolicy(self.game, tuple(torch.as_tensor(p, device=device, dtype=dtype) for p in self.probs))

    def select(self, index) -> "TabularPolicy":
        """One element (or slice) of the batch."""
        return TabularPolicy(self.game, tuple(p[index] for p in self.probs))

    def action_probabilities(self, player: int, key) -> dict:
        """``{action_label: probability}`` at one information set (unbatched policies)."""
        t = self.game.treeplex[player]
        I = t.index(key)
        row = self.probs[player][..., I, :]
        row = to_numpy(row)
        return {lab: float(row[a]) for a, lab in enumerate(t.actions[I])}

    def with_player(self, player: int, probs) -> "TabularPolicy":
        ps = list(self.probs)
        ps[player] = probs
        return TabularPolicy(self.game, tuple(ps))


def uniform_policy(g: ExtensiveFormGame) -> TabularPolicy:
    """Uniform over the legal actions at every information set (float64 numpy)."""
    return TabularPolicy(g, tuple((m := t.mask.astype(np.float64)) / m.sum(1, keepdims=True) for t in g.treeplex))


def validate_game_policy(g: ExtensiveFormGame, policy: TabularPolicy, atol: float = 1e-6) -> None:
    """Raise :class:`PolicyError` naming the information set where ``policy`` is not a distribution."""
    if not isinstance(policy, TabularPolicy):
        raise PolicyError(f"expected a TabularPolicy, got {type(policy).__name__}")
    if len(policy.probs) != g.num_players:
        raise PolicyError(f"policy has {len(policy.probs)} player arrays; the game has {g.num_players} players")
    batch = None
    for i, (t, p) in enumerate(zip(g.treeplex, policy.probs)):
        p = to_numpy(p) if is_torch(p) else np.asarray(p, dtype=np.float64)
        if p.shape[-2:] != t.mask.shape:
            raise PolicyError(f"player {i}'s policy has shape {p.shape}; expected [..., {t.num_infosets}, "
                              f"{g.num_actions}] (information sets x actions)")
        if batch is None:
            batch = p.shape[:-2]
        elif p.shape[:-2] != batch:
            raise PolicyError(f"player {i}'s batch shape {p.shape[:-2]} differs from player 0's {batch}")
        bad = ~np.isfinite(p) | (p < -atol)
        if bad.any():
            idx = np.argwhere(bad)[0]
            raise PolicyError(f"player {i}, information set {t.keys[idx[-2]]!r}: probability of action "
                              f"{idx[-1]} is {p[tuple(idx)]!r} (batch index {tuple(idx[:-2])})")
        illegal = (np.abs(p) > atol) & ~t.mask
        if illegal.any():
            idx = np.argwhere(illegal)[0]
            raise PolicyError(f"player {i}, information set {t.keys[idx[-2]]!r}: illegal action {idx[-1]} has "
                              f"probability {p[tuple(idx)]:.6g} (legal actions {t.actions[idx[-2]]})")
        s = p.sum(-1)
        off = np.abs(s - 1.0) > atol
        if off.any():
            idx = np.argwhere(off)[0]
            raise PolicyError(f"player {i}, information set {t.keys[idx[-1]]!r}: probabilities sum to "
                              f"{s[tuple(idx)]:.6g}, not 1 (batch index {tuple(idx[:-1])})")
