"""Every game learner computes in the requested dtype from its first operation.

A uniform row over ``k`` legal actions must be ``1/k`` rounded once in the requested dtype: dividing the boolean
legal-action mask (which computes in torch's default float32) and casting afterwards gives 0.3333333433 for 1/3,
which put CFR+ 1e-8 off OpenSpiel's solver at the first iteration. The game below makes the uniform row observable
at every iteration: player 0's payoff does not depend on its own action, so its regrets and action values are 0
and every learner keeps (CFR: regret matching's fallback; MMD: the start and the magnet) the uniform row.
"""
import numpy as np
import pytest
import torch

from games import Chance, ExtensiveFormGame, cfr, mmd, normal_form_game, uniform_policy

LEARNERS = {
    "cfr": lambda g, n, dt: cfr(g, n, dtype=dt),
    "cfr+": lambda g, n, dt: cfr(g, n, plus=True, dtype=dt),
    "cfr simultaneous": lambda g, n, dt: cfr(g, n, alternating=False, dtype=dt),
    "cfr+ simultaneous": lambda g, n, dt: cfr(g, n, plus=True, alternating=False, dtype=dt),
    "mmd sequence": lambda g, n, dt: mmd(g, 0.1, iterations=n, dtype=dt),
    "mmd sequence magnet": lambda g, n, dt: mmd(g, 0.1, eta=0.5, magnet_lr=0.1, iterations=n, dtype=dt),
    "mmd behavioural magnet": lambda g, n, dt: mmd(g, 1.0, eta=0.1, magnet_lr=0.05, form="behavioural",
                                                   iterations=n, dtype=dt),
    "mmd behavioural annealing": lambda g, n, dt: mmd(g, 1.0, eta=1.0, form="behavioural", anneal=True,
                                                      iterations=n, dtype=dt),
}


def _indifferent_game():
    """Chance picks a 3x2 or a 5x3 matrix game; player 0's payoff depends only on player 1's action."""
    def sub(m, n):
        return normal_form_game(np.tile(np.arange(n, dtype=float) - 1.0, (m, 1))).root

    a, b = sub(3, 2), sub(5, 3)
    # distinct information-set keys per branch
    from games import Decision, Terminal

    def rekey(node, tag):
        if isinstance(node, Terminal):
            return node
        return Decision(node.player, f"{node.infoset}{tag}", {lab: rekey(ch, tag) for lab, ch in node.children})

    return ExtensiveFormGame(Chance({0: (0.5, rekey(a, "3")), 1: (0.5, rekey(b, "5"))}), name="indifferent")


@pytest.mark.parametrize("name", LEARNERS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_learners_keep_the_requested_dtype_and_an_exact_uniform_row(name, dtype):
    g = _indifferent_game()
    t0 = g.treeplex[0]
    k = t0.mask.sum(1)
    assert sorted(k.tolist()) == [3, 5]
    np_dt = np.float64 if dtype == torch.float64 else np.float32
    # 1/k computed once in the requested precision, independently of the package
    ref = (np.ones(1, dtype=np_dt) / k.astype(np_dt)).astype(np.float64)
    tol = 1e-15 if dtype == torch.float64 else 2 ** -24
    for n in (1, 4):  # the first iterate and a later one
        r = LEARNERS[name](g, n, dtype)
        for pol in (r.policy, r.average_policy):
            for p in pol.probs:
                assert p.dtype == np_dt, (name, n, p.dtype)
            row = pol.probs[0].astype(np.float64)
            for I in range(t0.num_infosets):
                np.testing.assert_allclose(row[I, :k[I]], ref[I], rtol=0, atol=tol, err_msg=f"{name} t={n}")
                assert np.all(row[I, k[I]:] == 0)


def test_uniform_policy_is_exact():
    g = _indifferent_game()
    u = uniform_policy(g)
    k = g.treeplex[0].mask.sum(1)
    assert u.probs[0].dtype == np.float64
    for I in range(k.size):
        assert np.all(u.probs[0][I, :k[I]] == 1.0 / k[I])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_behavioural_form_of_unreached_rows_is_an_exact_uniform_row(dtype):
    """Where the parent sequence has no mass the behavioural form is uniform: 1/k in the requested dtype."""
    from games.efg.evaluation import behavioural_form

    g = _indifferent_game()
    T = g.tensors("cpu", dtype)
    t0 = g.treeplex[0]
    k = t0.mask.sum(1)
    p = behavioural_form(T, 0, torch.zeros(2, t0.n_seq, dtype=dtype))
    assert p.dtype == dtype
    np_dt = np.float64 if dtype == torch.float64 else np.float32
    ref = (np.ones(1, dtype=np_dt) / k.astype(np_dt)).astype(np.float64)
    got = p.numpy().astype(np.float64)
    for I in range(k.size):
        np.testing.assert_allclose(got[:, I, :k[I]], ref[I], rtol=0, atol=1e-15 if dtype == torch.float64 else 0)
