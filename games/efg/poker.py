r"""Kuhn and Leduc poker with OpenSpiel's rules, written as declarative trees.

**Kuhn** (OpenSpiel ``kuhn_poker``): cards J, Q, K (0, 1, 2); chance deals player 0's card, then player
1's; ante 1 each; actions 0 = pass/check/fold, 1 = bet/call (bet size 1); player 0 acts first.
Information-set keys follow OpenSpiel's strings: own card then the betting letters, e.g. ``"0pb"``.
Game value for player 0: :math:`-1/18`; 12 information sets; 13 sequences per player.

**Leduc** (OpenSpiel ``leduc_poker``, two players): six cards 0..5 (rank = card // 2: J J Q Q K K); ante 1;
chance deals player 0's then player 1's private card, then (after round 1) one public card; raise sizes
2 (round 1) and 4 (round 2), at most 2 raises per round; actions 0 = fold (legal only when facing a bet),
1 = call/check, 2 = raise; player 0 starts both rounds; a pair with the public card wins, otherwise the
higher rank, ties split the pot. 936 information sets, 1,093 sequences per player, value −0.0856064.
"""
from __future__ import annotations

from functools import lru_cache

from games.efg.model import Chance, Decision, ExtensiveFormGame, Terminal

FOLD, CALL, RAISE = 0, 1, 2


def _kuhn_bets(c0: int, c1: int, hist: str):
    if hist in ("pp", "bb", "pbb"):
        stake = 1 if hist == "pp" else 2
        w = 1.0 if c0 > c1 else -1.0
        return Terminal((w * stake, -w * stake))
    if hist == "bp":
        return Terminal((1.0, -1.0))
    if hist == "pbp":
        return Terminal((-1.0, 1.0))
    p = len(hist) % 2
    card = c0 if p == 0 else c1
    return Decision(p, f"{card}{hist}", {0: _kuhn_bets(c0, c1, hist + "p"), 1: _kuhn_bets(c0, c1, hist + "b")})


@lru_cache(maxsize=None)
def kuhn_poker() -> ExtensiveFormGame:
    """Kuhn poker (OpenSpiel rules; see the module docstring). Cached: treat the game as immutable."""
    root = Chance({c0: (1 / 3, Chance({c1: (1 / 2, _kuhn_bets(c0, c1, "")) for c1 in range(3) if c1 != c0}))
                   for c0 in range(3)})
    return ExtensiveFormGame(root, name="kuhn_poker")


def _leduc_rank(private: int, public: int) -> int:
    lo, hi = sorted((private, public))
    if lo % 2 == 0 and hi == lo + 1:
        return 36 + lo  # a pair beats every high card
    return (hi // 2) * 6 + lo // 2


def _leduc_showdown(cards, public, ante):
    r0, r1 = _leduc_rank(cards[0], public), _leduc_rank(cards[1], public)
    if r0 == r1:
        return Terminal((0.0, 0.0))
    w = 1.0 if r0 > r1 else -1.0
    return Terminal((w * ante[1], -w * ante[1])) if w > 0 else Terminal((-ante[0], ante[0]))


def _leduc_round(cards, public, rnd, seqs, ante, stakes, raises, calls, player):
    """Betting in round ``rnd`` (1 or 2); ``seqs`` = (round-1 actions, round-2 actions) as tuples."""
    key = (f"{cards[player]}|{'' if public is None else public}|{''.join(map(str, seqs[0]))}|"
           f"{''.join(map(str, seqs[1]))}")
    children = {}
    for act in (FOLD, CALL, RAISE):
        if act == FOLD and not stakes > ante[player]:
            continue
        if act == RAISE and raises >= 2:
            continue
        s = list(seqs)
        s[rnd - 1] = s[rnd - 1] + (act,)
        s = tuple(s)
        a = list(ante)
        if act == FOLD:
            children[act] = Terminal((-ante[0], ante[0]) if player == 0 else (ante[1], -ante[1]))
            continue
        if act == CALL:
            a[player] = stakes
            nc = calls + 1
            done = (raises == 0 and nc == 2) or (raises > 0 and nc == 1)
            if not done:
                children[act] = _leduc_round(cards, public, rnd, s, tuple(a), stakes, raises, nc, 1 - player)
            elif rnd == 2:
                children[act] = _leduc_showdown(cards, public, a)
            else:
                children[act] = Chance({c: (1 / 4, _leduc_round(cards, c, 2, s, tuple(a), stakes, 0, 0, 0))
                                        for c in range(6) if c not in cards})
            continue
        new_stakes = stakes + (2 if rnd == 1 else 4)
        a[player] = new_stakes
        children[act] = _leduc_round(cards, public, rnd, s, tuple(a), new_stakes, raises + 1, 0, 1 - player)
    return Decision(player, key, children)


@lru_cache(maxsize=None)
def leduc_poker() -> ExtensiveFormGame:
    """Leduc poker (OpenSpiel rules; see the module docstring). Cached: treat the game as immutable."""
    root = Chance({c0: (1 / 6, Chance({c1: (1 / 5, _leduc_round((c0, c1), None, 1, ((), ()), (1, 1), 1, 0, 0, 0))
                                       for c1 in range(6) if c1 != c0})) for c0 in range(6)})
    return ExtensiveFormGame(root, name="leduc_poker")
