"""Independent reference evaluators for the games tests: plain recursion over the declarative tree."""
from __future__ import annotations

import itertools

import numpy as np

from games.efg.model import Chance, Terminal


def tree_value(node, policy):
    """Expected payoffs by recursion over the original nodes (no sequence form involved)."""
    if isinstance(node, Terminal):
        return np.array(node.payoffs)
    if isinstance(node, Chance):
        return sum(p * tree_value(ch, policy) for _, p, ch in node.outcomes)
    probs = policy.action_probabilities(node.player, node.infoset)
    return sum(probs[lab] * tree_value(ch, policy) for lab, ch in node.children)


def tree_action_values(node, policy, player, reach=1.0, acc=None):
    """q(I, a) = sum_h pi_{-i}(h) v(h a) / sum_h pi_{-i}(h), by recursion (own reach excluded)."""
    acc = {} if acc is None else acc
    if isinstance(node, Terminal):
        return acc
    if isinstance(node, Chance):
        for _, p, ch in node.outcomes:
            tree_action_values(ch, policy, player, reach * p, acc)
        return acc
    probs = policy.action_probabilities(node.player, node.infoset)
    if node.player == player:
        num, den = acc.setdefault(node.infoset, [dict(), 0.0])
        acc[node.infoset][1] = den + reach
        for lab, ch in node.children:
            num[lab] = num.get(lab, 0.0) + reach * tree_value(ch, policy)[player]
            tree_action_values(ch, policy, player, reach, acc)
    else:
        for lab, ch in node.children:
            tree_action_values(ch, policy, player, reach * probs[lab], acc)
    return acc


def pure_strategies(g, player):
    """All deterministic behavioural strategies of ``player`` as [I, A] one-hot arrays."""
    t = g.treeplex[player]
    for choice in itertools.product(*[range(len(a)) for a in t.actions]):
        P = np.zeros(t.mask.shape)
        P[np.arange(len(choice)), choice] = 1.0
        yield P
