"""``games.from_openspiel`` on OpenSpiel's catalogue, checked against OpenSpiel's own evaluators.

Every reference number here comes from OpenSpiel (C++ ``pyspiel.nash_conv`` / ``pyspiel.exploitability``, the
Python ``expected_game_score`` tree walk, ``sequence_form_lp`` with ECOS), never from the code under test.
"""
import numpy as np
import pytest
from reference_libs import require

pyspiel = require("pyspiel")

from games import (TabularPolicy, exploitability, expected_return, nash_conv, solve_zero_sum,  # noqa: E402
                   uniform_policy)
from games.efg.openspiel import (CATALOGUE, OpenSpielCompileError, from_openspiel, from_openspiel_policy,  # noqa: E402
                             to_openspiel_policy)

FAST = ["kuhn_poker", "leduc_poker", "liars_dice_4", "goofspiel", "goofspiel_4", "tiny_hanabi",
        "first_sealed_auction", "trade_comm", "oshi_zumo", "battleship"]
LARGE = ["liars_dice", "tiny_bridge_2p"]


def _compiled(name, cache={}):  # noqa: B006 - module-level cache of compiled games
    if name not in cache:
        cache[name] = from_openspiel(f"openspiel:{name}")
    return cache[name]


def _dirichlet(g, rng):
    probs = []
    for t in g.treeplex:
        p = rng.dirichlet(np.ones(g.num_actions), size=t.num_infosets) * t.mask
        probs.append(p / p.sum(1, keepdims=True))
    return TabularPolicy(g, tuple(probs))


def _os_policy(g, pol):
    return pyspiel.TabularPolicy(to_openspiel_policy(g, pol).to_dict())


def _check_against_openspiel(name):
    from open_spiel.python import policy as os_policy
    from open_spiel.python.algorithms import expected_game_score

    g = _compiled(name)
    og = g.openspiel_game
    # every OpenSpiel information state is one of ours and vice versa
    assert len(os_policy.TabularPolicy(og).state_lookup) == g.num_infosets
    rng = np.random.default_rng(7)
    for pol in [uniform_policy(g), _dirichlet(g, rng), _dirichlet(g, rng)]:
        cpp = _os_policy(g, pol)
        assert nash_conv(g, pol) == pytest.approx(pyspiel.nash_conv(og, cpp, False), abs=1e-9)
        if og.get_type().utility in (pyspiel.GameType.Utility.ZERO_SUM, pyspiel.GameType.Utility.CONSTANT_SUM):
            assert exploitability(g, pol) == pytest.approx(pyspiel.exploitability(og, cpp), abs=1e-9)
        tab = to_openspiel_policy(g, pol)
        ref = expected_game_score.policy_value(og.new_initial_state(), [tab, tab])
        np.testing.assert_allclose(expected_return(g, pol), ref, atol=1e-9, rtol=0)
        back = from_openspiel_policy(g, tab)
        for a, b in zip(back.probs, pol.probs):
            np.testing.assert_allclose(a, b, atol=0, rtol=0)


@pytest.mark.parametrize("name", FAST)
def test_catalogue_agrees_with_openspiel(name):
    _check_against_openspiel(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", LARGE)
def test_large_catalogue_agrees_with_openspiel(name):
    _check_against_openspiel(name)


@pytest.mark.parametrize("name", ["kuhn_poker", "leduc_poker", "goofspiel", "liars_dice_4", "oshi_zumo"])
def test_game_value_matches_openspiel_sequence_form_lp(name):
    from open_spiel.python.algorithms import sequence_form_lp

    g = _compiled(name)
    v_os = sequence_form_lp.solve_zero_sum_game(g.openspiel_game)[0]
    sol = solve_zero_sum(g)
    assert sol.value == pytest.approx(v_os, abs=1e-8)  # ECOS's own precision is about 1e-9
    # certified to 1e-9 by OpenSpiel itself: its C++ exploitability of our equilibrium is 0
    assert pyspiel.exploitability(g.openspiel_game, _os_policy(g, sol.policy)) <= 1e-9


@pytest.mark.slow
def test_liars_dice_value_certified_by_openspiel():
    """One die each: value -7/258 for player 0 (the LP of OpenSpiel is too slow here; its C++ best responses
    certify our equilibrium instead)."""
    g = _compiled("liars_dice")
    sol = solve_zero_sum(g)
    og = g.openspiel_game
    assert pyspiel.exploitability(og, _os_policy(g, sol.policy)) <= 1e-9
    assert pyspiel.expected_returns(og.new_initial_state(), _os_policy(g, sol.policy), -1, True)[0] == \
        pytest.approx(sol.value, abs=1e-9)
    assert sol.value == pytest.approx(-7 / 258, abs=1e-9)


def test_compiled_kuhn_equals_declarative_kuhn():
    """Same tree as games.efg.poker's Kuhn: equal values of equal policies mapped through the key strings."""
    from games import kuhn_poker

    g, k = _compiled("kuhn_poker"), kuhn_poker()
    assert [t.num_infosets for t in g.treeplex] == [t.num_infosets for t in k.treeplex]
    pol = _dirichlet(k, np.random.default_rng(3))
    mapped = from_openspiel_policy(g, to_openspiel_policy(k, pol))
    np.testing.assert_allclose(expected_return(g, mapped), expected_return(k, pol), atol=1e-12)
    # and the declarative Kuhn converts back unchanged (walk-based path)
    back = from_openspiel_policy(k, to_openspiel_policy(k, pol))
    for a, b in zip(back.probs, pol.probs):
        np.testing.assert_allclose(a, b, atol=0)


def test_labels_are_openspiel_strings_and_ids():
    g = _compiled("kuhn_poker")
    state = g.openspiel_game.new_initial_state().child(2).child(0)  # K to player 0, J to player 1
    key = state.information_state_string(0)
    I = g.treeplex[0].index(key)
    assert g.treeplex[0].actions[I] == tuple(state.legal_actions())


def test_chance_outcomes_and_returns_are_exact():
    g = _compiled("leduc_poker")
    # root: 6 cards, each 1/6 exactly as OpenSpiel gives it
    s, n = g.h_child_start[0], g.h_num_children[0]
    root = g.openspiel_game.new_initial_state()
    np.testing.assert_array_equal(g.h_prob[s:s + n], [p for _, p in root.chance_outcomes()])
    assert g.terminal_reach.sum() > 0
    assert np.abs(g.terminal_payoffs).max() == 13.0  # 1 ante + 2 + 2 + 4 + 4 raised in Leduc


def test_errors_name_the_reason():
    with pytest.raises(OpenSpielCompileError, match="3 players"):
        from_openspiel("kuhn_poker", players=3)
    with pytest.raises(OpenSpielCompileError, match="simultaneous moves.*turn_based=True"):
        from_openspiel("goofspiel", num_cards=3)
    with pytest.raises(OpenSpielCompileError, match="no information-state strings"):
        from_openspiel("pig")
    with pytest.raises(OpenSpielCompileError, match=r"has 9,457 histories, over the memory budget max_histories=1,000"):
        from_openspiel("leduc_poker", max_histories=1000)
    with pytest.raises(OpenSpielCompileError, match="max_histories must be a positive integer"):
        from_openspiel("kuhn_poker", max_histories=0)
    with pytest.raises(OpenSpielCompileError, match="cannot load game 'no_such_game'"):
        from_openspiel("no_such_game")
    g = from_openspiel("goofspiel", turn_based=True, num_cards=3, imp_info=True, points_order="descending")
    assert g.num_histories == _compiled("goofspiel").num_histories


class _ForgetfulState:
    """A Kuhn state whose information-state string forgets the betting (imperfect recall)."""

    def __init__(self, s):
        self._s = s

    def __getattr__(self, attr):
        return getattr(self._s, attr)

    def child(self, a):
        return _ForgetfulState(self._s.child(a))

    def information_state_string(self, p):
        return self._s.information_state_string(p)[0]


class _ForgetfulGame:
    def __init__(self):
        self._g = pyspiel.load_game("kuhn_poker")

    def __getattr__(self, attr):
        return getattr(self._g, attr)

    def new_initial_state(self):
        return _ForgetfulState(self._g.new_initial_state())

    def __str__(self):
        return "forgetful_kuhn"


def test_imperfect_recall_is_refused():
    with pytest.raises(OpenSpielCompileError, match="does not have perfect recall.*information set '0' of player 0"):
        from_openspiel(_ForgetfulGame())


def test_catalogue_names_load():
    for name, spec in CATALOGUE.items():
        assert pyspiel.load_game(spec).num_players() == 2, name


def test_from_openspiel_policy_accepts_every_policy_kind():
    """OpenSpiel's Python TabularPolicy, its dict form and a callable Policy
    (UniformRandomPolicy, queried per state) all convert to the same TabularPolicy."""
    from open_spiel.python import policy as os_policy

    g = _compiled("leduc_poker")
    uni = uniform_policy(g)
    tab = to_openspiel_policy(g, uni)
    for src in (tab, tab.to_dict(), os_policy.UniformRandomPolicy(g.openspiel_game)):
        back = from_openspiel_policy(g, src)
        for a, b in zip(back.probs, uni.probs):
            np.testing.assert_allclose(a, b, atol=1e-15)
    with pytest.raises(Exception, match="TabularPolicy, a dict or a Policy"):
        from_openspiel_policy(g, 3)
