"""Update-equivalence search (Algorithm 1, reconstructed) against the exact global update and the published
tables (docs/experiments.md)."""
import numpy as np
import pytest

from games import (TabularPolicy, expected_return, exploitability, kuhn_poker, leduc_poker, md_search, mmd,
                   mmd_search, tiny_hanabi, uniform_policy)
from games.efg.search import exact_action_values, sampled_action_values, search
from experiments.references import KUHN_MMD_SEARCH_EXPLOITABILITY
from games_reference import tree_action_values


def _random_interior(g, rng):
    return TabularPolicy(g, tuple(np.where(t.mask, rng.dirichlet(np.ones(g.num_actions), t.mask.shape[0]), 0.0)
                                  for t in g.treeplex))


@pytest.mark.parametrize("game", [lambda: tiny_hanabi("C"), kuhn_poker])
def test_exact_search_is_the_global_md_update(game):
    """Update equivalence: the joint searched policy equals one step of global behavioural MD."""
    g = game()
    rng = np.random.default_rng(0)
    blue = _random_interior(g, rng)
    searched = md_search(g, blue, eta=0.7)
    glob = mmd(g, 0.0, eta=0.7, form="behavioural", iterations=1, init=blue).policy
    for i in (0, 1):
        np.testing.assert_allclose(searched.probs[i], glob.probs[i], atol=1e-13)


def test_exact_q_matches_tree_recursion():
    g = tiny_hanabi("F")
    blue = _random_interior(g, np.random.default_rng(1))
    q = exact_action_values(g, blue)
    for i in (0, 1):
        for k, (num, den) in tree_action_values(g.root, blue, i).items():
            I = g.treeplex[i].index(k)
            np.testing.assert_allclose(q[i][I, :len(num)], [num[a] / den for a in sorted(num)], atol=1e-12)


def test_sampled_q_converges_to_exact():
    g = tiny_hanabi("E")
    blue = _random_interior(g, np.random.default_rng(2))
    K = 4000
    qh = sampled_action_values(g, blue, K, rng=3)
    q = exact_action_values(g, blue)
    # payoffs lie in [0, 10]: a K-sample mean has standard deviation <= 5 / sqrt(K); allow 5 of them
    for i in (0, 1):
        assert np.abs(qh[i] - q[i]).max() < 5 * 5 / np.sqrt(K)


def test_sampling_is_seeded():
    g = kuhn_poker()
    u = uniform_policy(g)
    a, b = md_search(g, u, 1.0, particles=5, seed=4), md_search(g, u, 1.0, particles=5, seed=4)
    for i in (0, 1):
        np.testing.assert_array_equal(a.probs[i], b.probs[i])


@pytest.mark.parametrize("name, md, greedy, p2", [("A", 1.6924, 2.25, 1.875), ("C", 1.6037, 1.25, 1.875),
                                                  ("E", 4.3525, 8.0, 6.0)])
def test_tiny_hanabi_search_table(name, md, greedy, p2):
    """Uniform blueprint, eta = 1 / payoff range (docs/experiments.md#update_equivalence_search)."""
    g = tiny_hanabi(name)
    u = uniform_policy(g)
    eta = 1 / np.ptp(g.payoffs)
    assert expected_return(g, md_search(g, u, eta))[0] == pytest.approx(md, abs=1e-4)
    assert expected_return(g, search(g, u, "greedy"))[0] == pytest.approx(greedy, abs=1e-12)
    assert expected_return(g, search(g, u, "greedy", players=(1,)))[0] == pytest.approx(p2, abs=1e-12)


@pytest.mark.parametrize("name", list("ABCDEF"))
def test_md_update_never_decreases_return_for_small_eta(name):
    """Theorem 1 (common payoff): the global MD update with eta * range <= 1 does not lower the return."""
    g = tiny_hanabi(name)
    rng = np.random.default_rng(5)
    eta = 1 / np.ptp(g.payoffs)
    for _ in range(50):
        blue = _random_interior(g, rng)
        assert expected_return(g, md_search(g, blue, eta))[0] >= expected_return(g, blue)[0] - 1e-12


def test_mmd_search_with_blueprint_magnet_is_md_with_smaller_step():
    g = kuhn_poker()
    blue = _random_interior(g, np.random.default_rng(6))
    eta, alpha = 2.0, 0.5
    a = mmd_search(g, blue, eta, alpha, magnet=blue)
    b = md_search(g, blue, eta / (1 + eta * alpha))
    for i in (0, 1):
        np.testing.assert_allclose(a.probs[i], b.probs[i], atol=1e-13)


def test_mmd_search_table():
    """Uniform blueprint, uniform magnet, exact q (docs/experiments.md#update_equivalence_mmds)."""
    k, l = kuhn_poker(), leduc_poker()
    got = exploitability(k, mmd_search(k, uniform_policy(k), 1.0, 1.0))
    assert got == pytest.approx(KUHN_MMD_SEARCH_EXPLOITABILITY, abs=5e-4)
    assert exploitability(k, mmd_search(k, uniform_policy(k), 0.1, 0.1)) == pytest.approx(0.392, abs=5e-4)
    assert exploitability(l, mmd_search(l, uniform_policy(l), 10.0, 0.1)) == pytest.approx(2.722, abs=5e-4)
    assert exploitability(l, mmd_search(l, uniform_policy(l), 1.0, 2.0)) == pytest.approx(1.712, abs=5e-4)


def test_search_bad_inputs():
    g = kuhn_poker()
    u = uniform_policy(g)
    with pytest.raises(ValueError, match="particles must be >= 1"):
        md_search(g, u, 1.0, particles=0)
    with pytest.raises(ValueError, match="update must be"):
        search(g, u, "argmax")
    with pytest.raises(ValueError, match="eta must be finite"):
        md_search(g, u, -1.0)
