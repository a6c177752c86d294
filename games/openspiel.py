"""Optional OpenSpiel interoperability (needs ``pip install open_spiel``; the core package does not).

:func:`to_openspiel_policy` walks an OpenSpiel game and the compiled game side by side, matching chance
outcomes and actions by their labels (our Kuhn and Leduc trees use OpenSpiel's action ids as labels), and
fills an ``open_spiel.python.policy.TabularPolicy`` keyed by OpenSpiel's information-state strings.
"""
from __future__ import annotations


from games.extensive_form import ExtensiveFormGame, GameError, TabularPolicy, validate_policy

OPENSPIEL_NAMES = {"kuhn_poker": "kuhn_poker", "leduc_poker": "leduc_poker"}


def load_openspiel_game(g: ExtensiveFormGame):
    import pyspiel

    if g.name not in OPENSPIEL_NAMES:
        raise GameError(f"no OpenSpiel counterpart is registered for {g.name!r}; pass os_game explicitly")
    return pyspiel.load_game(OPENSPIEL_NAMES[g.name])


def to_openspiel_policy(g: ExtensiveFormGame, policy: TabularPolicy, os_game=None):
    """Convert an (unbatched) :class:`TabularPolicy` to OpenSpiel's ``TabularPolicy`` for ``os_game``."""
    from open_spiel.python import policy as os_policy

    validate_policy(g, policy)
    if policy.batch_shape:
        raise ValueError(f"to_openspiel_policy needs an unbatched policy, got batch shape {policy.batch_shape}")
    pol = policy.numpy()
    os_game = load_openspiel_game(g) if os_game is None else os_game
    tab = os_policy.TabularPolicy(os_game)
    children = {}
    for h in range(1, g.num_histories):
        children[(int(g.h_parent[h]), g.h_label[h])] = h
    stack = [(os_game.new_initial_state(), 0)]
    while stack:
        s, h = stack.pop()
        if s.is_terminal():
            continue
        actions = [a for a, _ in s.chance_outcomes()] if s.is_chance_node() else s.legal_actions()
        if not s.is_chance_node():
            p = s.current_player()
            if g.h_player[h] != p:
                raise GameError(f"OpenSpiel history {s.history()} is a decision of player {p}; ours is not")
            I = g.h_infoset[h]
            labels = g.treeplex[p].actions[I]
            row = tab.policy_for_key(s.information_state_string(p))
            for a in actions:
                row[a] = pol.probs[p][I, labels.index(a)]
        for a in actions:
            if (h, a) not in children:
                raise GameError(f"OpenSpiel move {a} at history {s.history()} has no counterpart in {g.name}")
            stack.append((s.child(a), children[(h, a)]))
    return tab


def openspiel_exploitability(g: ExtensiveFormGame, policy: TabularPolicy, os_game=None) -> float:
    """OpenSpiel's C++ ``pyspiel.exploitability`` of ``policy`` (for cross-checks and benchmarks)."""
    import pyspiel

    os_game = load_openspiel_game(g) if os_game is None else os_game
    tab = to_openspiel_policy(g, policy, os_game)
    return float(pyspiel.exploitability(os_game, tab.to_dict() if hasattr(tab, "to_dict") else tab))
