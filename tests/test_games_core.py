"""Game compilation, evaluators and the sequence-form LP against published values and brute force."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import games
from games import (Chance, Decision, GameError, PayoffShapeError, PerfectRecallError, PolicyError, TabularPolicy,
                   Terminal, best_response, expected_return, exploitability, kuhn_poker, leduc_poker, nash_conv,
                   normal_form_game, perturbed_rps, solve_zero_sum, tiny_hanabi, uniform_policy)
from games.efg.evaluation import policy_to_sequence, sequence_to_policy
from experiments.references import (KUHN_UNIFORM_EXPLOITABILITY, KUHN_VALUE, LEDUC_UNIFORM_EXPLOITABILITY,
                                     LEDUC_VALUE, TINY_HANABI_OPTIMA)
from games_reference import pure_strategies, tree_value


def kuhn_nash(a):
    """The published Kuhn equilibrium family (Kuhn 1950; experiments/references.py), parameter a in [0, 1/3]."""
    g = kuhn_poker()
    p0 = {"0": a, "1": 0.0, "2": 3 * a, "0pb": 0.0, "1pb": a + 1 / 3, "2pb": 1.0}      # prob of action 1
    p1 = {"0p": 1 / 3, "1p": 0.0, "2p": 1.0, "0b": 0.0, "1b": 1 / 3, "2b": 1.0}
    probs = []
    for i, d in enumerate((p0, p1)):
        t = g.treeplex[i]
        probs.append(np.array([[1 - d[k], d[k]] for k in t.keys]))
    return TabularPolicy(g, tuple(probs))





def _rand(mask, rng):
    p = rng.random(mask.shape) * mask + 1e-3 * mask
    return p / p.sum(1, keepdims=True)


def test_sizes_match_openspiel():
    k, l = kuhn_poker(), leduc_poker()
    assert k.num_infosets == 12 and [k.num_sequences(i) for i in (0, 1)] == [13, 13]
    assert l.num_infosets == 936 and [l.num_sequences(i) for i in (0, 1)] == [1093, 1093]
    # 13/120: the largest payoff entry of Leduc's sequence-form matrix
    assert l.max_abs_payoff_entry() == pytest.approx(13 / 120)


def test_uniform_exploitability_published():
    k, lp = kuhn_poker(), leduc_poker()
    assert exploitability(k, uniform_policy(k)) == pytest.approx(KUHN_UNIFORM_EXPLOITABILITY, abs=1e-12)
    assert nash_conv(kuhn_poker(), uniform_policy(kuhn_poker())) == pytest.approx(11 / 12, abs=1e-12)
    assert exploitability(lp, uniform_policy(lp)) == pytest.approx(LEDUC_UNIFORM_EXPLOITABILITY, abs=1e-6)


@pytest.mark.parametrize("a", [0.0, 1 / 6, 1 / 3])
def test_kuhn_nash_family(a):
    g = kuhn_poker()
    pol = kuhn_nash(a)
    assert exploitability(g, pol) < 1e-12
    assert expected_return(g, pol)[0] == pytest.approx(KUHN_VALUE, abs=1e-12)
    assert tree_value(g.root, pol)[0] == pytest.approx(KUHN_VALUE, abs=1e-12)


def test_lp_values():
    k = solve_zero_sum(kuhn_poker())
    assert k.value == pytest.approx(KUHN_VALUE, abs=1e-9) and k.residual < 1e-9 and k.converged
    assert k.solver == "scipy-highs"
    l = solve_zero_sum(leduc_poker())
    assert l.value == pytest.approx(LEDUC_VALUE, abs=1e-7) and l.residual < 1e-8
    r = solve_zero_sum(perturbed_rps())
    assert r.value == pytest.approx(0.5, abs=1e-9)
    np.testing.assert_allclose(r.policy.probs[0][0], [1 / 7, 3 / 7, 3 / 7], atol=1e-8)


def test_lp_rejects_common_payoff():
    with pytest.raises(GameError, match="not zero-sum"):
        solve_zero_sum(tiny_hanabi("A"))


@pytest.mark.parametrize("name", list("ABCDEF"))
def test_tiny_hanabi_optima(name):
    g = tiny_hanabi(name)
    published = TINY_HANABI_OPTIMA[name]
    assert g.optimal_value() == pytest.approx(published, abs=1e-12)
    # a best response pair never exceeds the optimum; the optimum is attained by some pure pair
    def best_pair_value(p0):
        br = best_response(g, TabularPolicy(g, (p0, uniform_policy(g).probs[1])), 1).policy
        return expected_return(g, TabularPolicy(g, (p0, br)))[0]

    best = max(best_pair_value(p0) for p0 in pure_strategies(g, 0))
    assert best == pytest.approx(published, abs=1e-12)


def test_tiny_hanabi_c_uniform():
    assert expected_return(tiny_hanabi("C"), uniform_policy(tiny_hanabi("C")))[0] == pytest.approx(1.5)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_expected_return_matches_tree_recursion(seed):
    rng = np.random.default_rng(seed)
    for g in (kuhn_poker(), tiny_hanabi("F")):
        pol = TabularPolicy(g, tuple(_rand(t.mask, rng) for t in g.treeplex))
        np.testing.assert_allclose(expected_return(g, pol), tree_value(g.root, pol), atol=1e-12)
        back = sequence_to_policy(g, policy_to_sequence(g, pol))
        for p, q in zip(back.probs, pol.probs):
            np.testing.assert_allclose(p, q, atol=1e-12)


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_best_response_is_max_over_pure_strategies(seed):
    rng = np.random.default_rng(seed)
    g = kuhn_poker()
    pol = TabularPolicy(g, tuple(_rand(t.mask, rng) for t in g.treeplex))
    for i in (0, 1):
        brute = max(tree_value(g.root, pol.with_player(i, s))[i] for s in pure_strategies(g, i))
        br = best_response(g, pol, i)
        assert br.value == pytest.approx(brute, abs=1e-12)
        assert tree_value(g.root, pol.with_player(i, br.policy))[i] == pytest.approx(brute, abs=1e-12)


def test_batched_torch_matches_numpy():
    g = leduc_poker()
    rng = np.random.default_rng(0)
    pols = [TabularPolicy(g, tuple(_rand(t.mask, rng) for t in g.treeplex)) for _ in range(3)]
    batch = TabularPolicy(g, tuple(torch.tensor(np.stack([p.probs[i] for p in pols])) for i in (0, 1)))
    e = exploitability(g, batch)
    assert torch.is_tensor(e) and e.shape == (3,)
    np.testing.assert_allclose(e.numpy(), [exploitability(g, p) for p in pols], atol=1e-12)


def test_networkx_views():
    g = kuhn_poker()
    G = g.to_networkx()
    import networkx as nx

    assert G.number_of_nodes() == g.num_histories and nx.is_arborescence(G)
    for i in (0, 1):
        assert nx.is_forest(g.infoset_graph(i).to_undirected())


# ---------------------------------------------------------------- bad inputs
def test_perfect_recall_violation_names_infoset():
    # player 0 acts, then acts again without remembering the first action
    root = Decision(0, "first", {"L": Decision(0, "forgot", {"x": Terminal((1, -1)), "y": Terminal((0, 0))}),
                                 "R": Decision(0, "forgot", {"x": Terminal((0, 0)), "y": Terminal((1, -1))})})
    with pytest.raises(PerfectRecallError, match="'forgot'.*perfect recall"):
        games.ExtensiveFormGame(root)


def test_inconsistent_actions_and_payoff_shapes():
    root = Chance({0: (0.5, Decision(0, "I", {"a": Terminal((1, -1)), "b": Terminal((0, 0))})),
                   1: (0.5, Decision(0, "I", {"a": Terminal((1, -1))}))})
    with pytest.raises(GameError, match="information set 'I' of player 0 has actions"):
        games.ExtensiveFormGame(root)
    with pytest.raises(PayoffShapeError, match="1 payoff"):
        games.ExtensiveFormGame(Decision(0, "I", {"a": Terminal((1,)), "b": Terminal((0, 0))}))
    with pytest.raises(GameError, match="sum 0.9"):
        games.ExtensiveFormGame(Chance({0: (0.5, Terminal((0, 0))), 1: (0.4, Terminal((0, 0)))}))
    with pytest.raises(PayoffShapeError, match=r"\[cards, cards, actions, actions\]"):
        games.TinyHanabi(np.zeros((2, 2, 2)))
    with pytest.raises(PayoffShapeError, match=r"B has shape \(2, 3\)"):
        normal_form_game(np.zeros((3, 3)), np.zeros((2, 3)))


def test_policy_validation_names_infoset():
    g = kuhn_poker()
    p = uniform_policy(g)
    bad = p.probs[0].copy()
    bad[g.treeplex[0].index("1pb")] = [0.5, 0.4]
    with pytest.raises(PolicyError, match="'1pb'.*sum to 0.9"):
        exploitability(g, p.with_player(0, bad))
    neg = p.probs[1].copy()
    neg[0] = [1.5, -0.5]
    with pytest.raises(PolicyError, match="player 1"):
        expected_return(g, p.with_player(1, neg))
    with pytest.raises(PolicyError, match="shape"):
        exploitability(g, p.with_player(1, np.ones((3, 2)) / 2))
    l = leduc_poker()
    pl = uniform_policy(l)
    ill = pl.probs[0].copy()
    ill[0] = 1 / 3  # infoset 0 has no fold
    with pytest.raises(PolicyError, match="illegal action"):
        exploitability(l, pl.with_player(0, ill))
