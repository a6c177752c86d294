"""MMD's iterates pinned against references written here and against OpenSpiel's ``mmd_dilated``.

* A hand-written recursion of the MMD update (Sokota et al., ICLR 2023, Eq. of the closed form
  :math:`\\pi_{t+1}\\propto[\\pi_t\\rho_t^{\\eta\\alpha}e^{\\eta q_t}]^{1/(1+\\eta\\alpha)}`,
  :math:`\\rho_{t+1}\\propto\\rho_t^{1-\\gamma}\\pi_{t+1}^{\\gamma}`) on matrix games, in numpy float64 from 1/3.
* The authors' probability floor (``ssokota/mmd``'s ``project``: every entry of OpenSpiel's padded action row,
  illegal ones included, floored at 1e-10 after each policy and magnet update), written here per row.
* OpenSpiel's Python ``MMDDilatedEnt`` (sequence form, dilated entropy) on Kuhn and Leduc: an independent
  implementation of the sequence-form update.
"""
import numpy as np
import pytest
import torch

from games import Chance, Decision, ExtensiveFormGame, Terminal, leduc_poker, mmd, perturbed_rps
from games.efg.normal_form import PERTURBED_RPS

RPS = (PERTURBED_RPS - PERTURBED_RPS.min()) / (PERTURBED_RPS.max() - PERTURBED_RPS.min())


def _softmax(z):
    w = np.exp(z - z.max())
    return w / w.sum()


def _hand_mmd(A, alpha, eta, magnet_lr, n, anneal=False):
    """Simultaneous behavioural MMD on the zero-sum matrix game ``A`` (player 0 maximises x^T A y)."""
    x = np.full(A.shape[0], 1.0) / A.shape[0]
    y = np.full(A.shape[1], 1.0) / A.shape[1]
    rx, ry = x.copy(), y.copy()
    out = []
    for t in range(1, n + 1):
        s = 1 / np.sqrt(t) if anneal else 1.0
        e, a = eta * s, alpha * s
        qx, qy = A @ y, -A.T @ x
        x, y = (_softmax((np.log(x) + e * a * np.log(rx) + e * qx) / (1 + e * a)),
                _softmax((np.log(y) + e * a * np.log(ry) + e * qy) / (1 + e * a)))
        if magnet_lr:
            rx = _softmax((1 - magnet_lr) * np.log(rx) + magnet_lr * np.log(x))
            ry = _softmax((1 - magnet_lr) * np.log(ry) + magnet_lr * np.log(y))
        out.append((x, y))
    return out


def _run(g, n, **kw):
    got = {}
    mmd(g, iterations=n, record_at=range(1, n + 1), callback=lambda s: got.__setitem__(
        s.iterations, [q.cpu().numpy()[0] for q in s.probs]), **kw)
    return [got[t] for t in range(1, n + 1)]


@pytest.mark.parametrize("kw", [dict(alpha=0.1, form="sequence"),                      # eta = alpha / max|A|^2
                                dict(alpha=0.1, eta=0.3, form="behavioural"),
                                dict(alpha=1.0, eta=0.1, magnet_lr=0.05, form="behavioural"),
                                dict(alpha=1.0, eta=1.0, form="behavioural", anneal=True)])
def test_first_iterates_equal_hand_recursion_on_perturbed_rps(kw):
    """On a matrix game the dilated entropy is the entropy, so both forms follow the same recursion. The start
    is 1/3 in float64: a float32 start (0.3333333433) is 1e-8 off at the first iterate."""
    n = 6
    eta = kw.get("eta", kw["alpha"] / np.abs(RPS).max() ** 2)
    ref = _hand_mmd(RPS, kw["alpha"], eta, kw.get("magnet_lr", 0.0), n, kw.get("anneal", False))
    got = _run(perturbed_rps(), n, **kw)
    for t in range(n):
        for i in range(2):
            np.testing.assert_allclose(got[t][i][0], ref[t][i], rtol=0, atol=1e-15, err_msg=f"t={t + 1} player {i}")


# -- the authors' probability floor -------------------------------------------------------------------------
# Chance picks a 4x3 game (row 3 strictly dominated; its probability reaches the floor) or a 2x2 game whose
# rows are padded to 4 columns: the padded (illegal) entries carry the floor, as in OpenSpiel's arrays.
G1 = np.vstack([RPS, RPS.min(0) - 10.0])
G2 = np.array([[1.0, -1.0], [-1.0, 0.5]])


def _floor_game():
    def nf(M, tag):
        return Decision(0, f"r{tag}", {r: Decision(1, f"c{tag}", {c: Terminal((M[r, c], -M[r, c]))
                                                                  for c in range(M.shape[1])})
                                       for r in range(M.shape[0])})
    return ExtensiveFormGame(Chance({0: (0.5, nf(G1, 1)), 1: (0.5, nf(G2, 2))}), name="floor_game")


def _project(w, f):
    w = np.maximum(w, f)
    return w / w.sum()


def _hand_floored(M, alpha, eta, gm, n, f, width):
    """ssokota/mmd ``MMD.__update_infostate`` on one matrix game, rows padded to ``width`` entries."""
    k0, k1 = M.shape
    x = np.zeros(width)
    y = np.zeros(width)
    x[:k0], y[:k1] = 1 / k0, 1 / k1
    rx, ry = x.copy(), y.copy()
    out = []
    for _ in range(n):
        q = (M @ y[:k1], -M.T @ x[:k0])
        new = []
        for p, r, k, qq in ((x, rx, k0, q[0]), (y, ry, k1, q[1])):
            e = (np.log(p[:k]) + eta * alpha * np.log(r[:k]) + eta * qq) / (1 + eta * alpha)
            w = np.zeros(width)
            w[:k] = np.exp(e - e.max())
            new.append(_project(w, f))
        x, y = new
        with np.errstate(divide="ignore"):
            rx = _project(rx ** (1 - gm) * x ** gm, f)
            ry = _project(ry ** (1 - gm) * y ** gm, f)
        out.append((x[:k0] / x[:k0].sum(), y[:k1] / y[:k1].sum()))
    return out


def test_floor_equals_the_authors_projection():
    g = _floor_game()
    n, f = 150, 1e-10
    kw = dict(alpha=1.0, eta=1.0, magnet_lr=0.05, form="behavioural")
    got = _run(g, n, floor=f, **kw)
    exact = _run(g, n, **kw)
    ref1 = _hand_floored(G1, 1.0, 1.0, 0.05, n, f, g.num_actions)
    ref2 = _hand_floored(G2, 1.0, 1.0, 0.05, n, f, g.num_actions)
    r0, c0 = (g.treeplex[i].index(k) for i, k in ((0, "r1"), (1, "c1")))
    r1, c1 = (g.treeplex[i].index(k) for i, k in ((0, "r2"), (1, "c2")))
    assert min(ref1[t][0][3] for t in range(n)) < 1e-9  # the dominated row reaches the floor
    for t in range(n):
        np.testing.assert_allclose(got[t][0][r0, :4], ref1[t][0], rtol=1e-9, atol=1e-14, err_msg=f"t={t + 1}")
        np.testing.assert_allclose(got[t][1][c0, :3], ref1[t][1], rtol=1e-9, atol=1e-14, err_msg=f"t={t + 1}")
        np.testing.assert_allclose(got[t][0][r1, :2], ref2[t][0], rtol=1e-9, atol=1e-14, err_msg=f"t={t + 1}")
        np.testing.assert_allclose(got[t][1][c1, :2], ref2[t][1], rtol=1e-9, atol=1e-14, err_msg=f"t={t + 1}")
    # and the floor matters: the exact update leaves the dominated row far below it
    assert exact[-1][0][r0, 3] < 1e-3 * got[-1][0][r0, 3]


def test_floor_rejects_bad_values():
    with pytest.raises(ValueError, match="floor must lie in"):
        mmd(perturbed_rps(), 1.0, eta=0.1, form="behavioural", iterations=1, floor=0.5)
    with pytest.raises(ValueError, match="floor is defined for form='behavioural' only"):
        mmd(perturbed_rps(), 1.0, iterations=1, floor=1e-10)


# -- OpenSpiel's sequence-form MMD ----------------------------------------------------------------------------
@pytest.mark.parametrize("name, n", [("kuhn_poker", 5), ("leduc_poker", 2)])
def test_sequence_form_equals_openspiel_mmd_dilated(name, n):
    """OpenSpiel's MMDDilatedEnt (same alpha, its default step alpha / max|A|^2) and ours: the same iterates to
    round-off, and the same running average of sequence forms."""
    pyspiel = pytest.importorskip("pyspiel")
    from open_spiel.python.algorithms.mmd_dilated import MMDDilatedEnt

    from games.efg.openspiel import from_openspiel, from_openspiel_policy

    og = pyspiel.load_game(name)
    g = from_openspiel(og)
    ref = MMDDilatedEnt(og, 0.1)
    got = {}
    r = mmd(g, 0.1, iterations=n, record_at=range(1, n + 1),
            callback=lambda s: got.__setitem__(s.iterations, [q.numpy()[0].copy() for q in s.probs]))
    for t in range(1, n + 1):
        ref.update_sequences()
        pol = from_openspiel_policy(g, ref.get_policies(), os_game=og)
        for a, b in zip(got[t], pol.probs):
            np.testing.assert_allclose(a, b, rtol=0, atol=2e-15, err_msg=f"t={t}")
    avg = from_openspiel_policy(g, ref.get_avg_policies(), os_game=og)
    for a, b in zip(r.average_policy.probs, avg.probs):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-15)


def test_first_behavioural_iterate_on_leduc_equals_tree_recursion():
    """One behavioural MMD step on Leduc (three actions: the start is 1/3 or 1/2 per row) against the action
    values of a plain recursion over the declarative tree (tests/games_reference.py)."""
    from games import uniform_policy
    from games_reference import tree_action_values

    g = leduc_poker()
    alpha, eta = 1.0, 0.1
    r = mmd(g, alpha, eta=eta, magnet_lr=0.05, form="behavioural", iterations=1)
    u = uniform_policy(g)
    for i in (0, 1):
        ref = tree_action_values(g.root, u, i)
        t = g.treeplex[i]
        for key, (num, den) in ref.items():
            I = t.index(key)
            labs = t.actions[I]
            k = len(labs)
            q = np.array([num[lab] / den for lab in labs])
            # log(1/k) + eta*alpha*log(1/k) is a constant: the update is softmax(eta q / (1 + eta alpha))
            want = _softmax(eta * q / (1 + eta * alpha))
            np.testing.assert_allclose(r.policy.probs[i][I, :k], want, rtol=0, atol=1e-15, err_msg=key)
    assert torch.get_default_dtype() == torch.float32  # the package does not change torch's default dtype
