r"""Tiny Hanabi games A–F (Sokota et al.'s common-payoff suite) and generic card-signalling games.

Two cards are dealt uniformly and independently (with replacement): :math:`c_1` to player 0 and
:math:`c_2` to player 1. Player 0 sees :math:`c_1` and acts :math:`a_1`; player 1 sees :math:`c_2` and
:math:`a_1` and acts :math:`a_2`; both receive ``payoffs[c1, c2, a1, a2]``. The payoff tables are the
published ones (``ssokota/tiny-hanabi``, ``tiny_hanabi/game/payoff_matrices.py``); game E equals
OpenSpiel's default ``tiny_hanabi``. Published optimal returns: A 2.25, B 1, C 2.5, D 2.5, E 10, F 7/3.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from games.efg.model import Chance, Decision, ExtensiveFormGame, PayoffShapeError, Terminal

_PAYOFFS = {
    "A": [[[[0, 1], [0, 0]], [[0, 1], [3, 2]]], [[[3, 3], [3, 2]], [[2, 0], [3, 3]]]],
    "B": [[[[1, 0], [1, 0]], [[0, 1], [0, 1]]], [[[0, 1], [0, 0]], [[1, 0], [1, 0]]]],
    "C": [[[[3, 0], [0, 3]], [[2, 0], [3, 3]]], [[[2, 2], [3, 0]], [[0, 1], [0, 2]]]],
    "D": [[[[3, 0], [1, 3]], [[3, 0], [3, 0]]], [[[3, 2], [0, 2]], [[0, 1], [0, 0]]]],
    "E": [[[[10, 0, 0], [4, 8, 4], [10, 0, 0]], [[0, 0, 10], [4, 8, 4], [0, 0, 10]]],
          [[[0, 0, 10], [4, 8, 4], [0, 0, 0]], [[10, 0, 0], [4, 8, 4], [10, 0, 0]]]],
    "F": [[[[0, 3], [3, 2]], [[0, 0], [0, 1]], [[3, 1], [2, 1]]],
          [[[0, 2], [0, 1]], [[1, 2], [1, 2]], [[0, 1], [0, 3]]],
          [[[1, 3], [1, 2]], [[0, 3], [2, 2]], [[3, 1], [3, 0]]]],
}
PUBLISHED_OPTIMA = {"A": 2.25, "B": 1.0, "C": 2.5, "D": 2.5, "E": 10.0, "F": 7 / 3}


class TinyHanabi(ExtensiveFormGame):
    """A compiled card-signalling game; ``payoffs[c1, c2, a1, a2]`` is kept as ``.payoffs``."""

    def __init__(self, payoffs, name: str = "tiny_hanabi"):
        P = np.asarray(payoffs, dtype=np.float64)
        if P.ndim != 4 or P.shape[0] != P.shape[1] or P.shape[2] != P.shape[3]:
            raise PayoffShapeError(f"{name}: payoffs must have shape [cards, cards, actions, actions], got {P.shape}")
        if not np.isfinite(P).all():
            raise PayoffShapeError(f"{name}: payoffs contain non-finite entries at {np.argwhere(~np.isfinite(P))[0]}")
        n, A = P.shape[0], P.shape[2]
        self.payoffs = P
        root = Chance({c1: (1 / n, Chance({c2: (1 / n, Decision(0, f"c1={c1}", {
            a1: Decision(1, f"c2={c2},a1={a1}", {a2: Terminal((P[c1, c2, a1, a2],) * 2) for a2 in range(A)})
            for a1 in range(A)})) for c2 in range(n)})) for c1 in range(n)})
        super().__init__(root, name=name, zero_sum=False)

    def optimal_value(self) -> float:
        """Best expected return over deterministic joint policies, by exhaustive enumeration.

        Player 1's best reply is computed per (c2, a1) for each of player 0's ``A**n`` pure policies, so
        the cost is ``A**n * n**2 * A**2``; deterministic policies suffice in a common-payoff game.
        """
        P = self.payoffs
        n, A = P.shape[0], P.shape[2]
        best = -np.inf
        for f in itertools.product(range(A), repeat=n):  # a1 = f[c1]
            # value of (c2, a1, a2): sum over c1 with f[c1] = a1
            V = np.zeros((n, A, A))
            for c1 in range(n):
                V[:, f[c1], :] += P[c1, :, f[c1], :]
            best = max(best, V.max(-1).sum() / n**2)
        return float(best)


@lru_cache(maxsize=None)
def tiny_hanabi(name: str = "E") -> TinyHanabi:
    """Tiny Hanabi game ``name`` in ``"A".."F"`` (cached)."""
    if name not in _PAYOFFS:
        raise ValueError(f"tiny_hanabi name must be one of {', '.join(_PAYOFFS)}; got {name!r}")
    g = TinyHanabi(_PAYOFFS[name], name=f"tiny_hanabi_{name}")
    g.published_optimum = PUBLISHED_OPTIMA[name]
    return g
