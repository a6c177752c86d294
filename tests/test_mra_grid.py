"""C4: the batched grid dynamics, the contrastive MI estimate, the soft actor-critic update, trained best
responses against an exact dynamic programme, the encoder's first gradient and identification, NashConv's
action semantics (a copied best response gains 0 within a Hoeffding bound), fast adaptation (score-function
gradient against its closed-form expectation, Adam's first step), the experiment's training populations, bad
inputs and seeds (games.population.sac, games.envs.resource_grid, experiments.mra_grid)."""
import copy
import itertools
import math

import numpy as np
import pytest
import torch

from games.population import sac as mra_sac
from games.envs import resource_grid_env
from games.population.sac.env import _rollout
from games.population.sac.trainer import train_latent_sac
from games.envs.resource_grid import BatchedResourceGrid, grid_observations, grid_rewards, grid_step
from gpu_device import GPU
from theory.validation import ParameterError

DELTAS = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]  # stay, up, down, left, right (written out again here)


def _reference_step(pos, acts, size, resources, values):
    """Plain-Python dynamics: move, clip, count loads, share values."""
    new = [(min(max(p[0] + DELTAS[a][0], 0), size - 1), min(max(p[1] + DELTAS[a][1], 0), size - 1))
           for p, a in zip(pos, acts)]
    load = {tuple(c): sum(q == tuple(c) for q in new) for c in resources}
    rew = [values[[tuple(c) for c in resources].index(q)] / load[q] if q in load else 0.0 for q in new]
    return new, rew


def test_batched_grid_hand_worked_step():
    res = torch.tensor([[0, 0], [2, 2], [0, 2]])
    val = torch.tensor([1.0, 2.0, 4.0])
    pos = torch.tensor([[[0, 1], [1, 2], [2, 1]], [[0, 0], [0, 0], [2, 2]]])
    acts = torch.tensor([[3, 2, 4], [0, 4, 1]])  # game 0: left, down, right; game 1: stay, right, up
    new = grid_step(pos, acts, 3)
    assert new.tolist() == [[[0, 0], [2, 2], [2, 2]], [[0, 0], [0, 1], [1, 2]]]
    assert grid_rewards(new, res, val).tolist() == [[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
    # moving off the grid is a stay
    assert grid_step(torch.tensor([[0, 0]]), torch.tensor([1]), 3).tolist() == [[0, 0]]


@pytest.mark.parametrize("n", [3, 6])
def test_batched_grid_matches_reference_and_parallel_env(n):
    size, B = 4, 5
    g = BatchedResourceGrid(n=n, batch=B, size=size, max_cycles=12, seed=3)
    envs = [resource_grid_env(n=n, size=size, max_cycles=12) for _ in range(B)]
    pos = g.reset()
    res = envs[0].resources.tolist()
    vals = envs[0].values.tolist()
    for b, env in enumerate(envs):
        env.reset(seed=b)
        env._pos = pos[b].numpy().copy()
    rng = np.random.default_rng(0)
    for t in range(12):
        acts = rng.integers(0, 5, size=(B, n))
        before = g.pos.clone()
        new, rew, done = g.step(torch.as_tensor(acts))
        assert done == (t == 11)
        obs_b = g.observations()
        for b, env in enumerate(envs):
            ref_pos, ref_rew = _reference_step([tuple(p) for p in before[b].tolist()], acts[b], size, res, vals)
            assert [tuple(p) for p in new[b].tolist()] == ref_pos
            np.testing.assert_allclose(rew[b].numpy(), ref_rew, rtol=1e-6)
            obs, r, *_ = env.step({f"agent_{i}": int(acts[b, i]) for i in range(n)})
            assert [r[f"agent_{i}"] for i in range(n)] == pytest.approx(ref_rew)
            np.testing.assert_allclose(np.stack([obs[f"agent_{i}"] for i in range(n)]),
                                       obs_b[b].numpy().astype(np.float32))


def test_observation_hand_worked():
    # agent at (1, 0) on a 3x3 grid with resources (0,0), (2,2), (0,2); another agent on (0, 0)
    o = grid_observations(torch.tensor([[1, 0], [0, 0]]), torch.tensor([[0, 0], [2, 2], [0, 2]]), 3)
    expected = [0.5, 0.0, 2 / 12, -0.5, 0.0, 0.5, 0.5, 1.0, 0.0, -0.5, 1.0, 0.0]
    np.testing.assert_allclose(o[0].numpy(), expected)


def test_contrastive_mi_hand_computation():
    probs = torch.tensor([[0.8, 0.2], [0.5, 0.5], [0.1, 0.9]])  # pi(a | z) for Z = 3 latents
    logp = probs.log()[None]  # [1, Z, A]
    z = torch.tensor([0])
    z_k = torch.tensor([[0, 1, 2, 2, 1]])
    a = torch.tensor([0])
    # log(5 * .8) - log(.8 + .5 + .1 + .1 + .5) = log 4 - log 2
    assert mra_sac.contrastive_mi(logp, z, z_k, a).item() == pytest.approx(math.log(2.0), abs=1e-6)
    same = mra_sac.contrastive_mi(logp, z, torch.zeros(1, 5, dtype=torch.long), a)
    assert same.item() == pytest.approx(0.0, abs=1e-6)


def _tiny_nets(Z, H=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    actor = mra_sac.RelationalNet(1, Z, H, 5, gen)
    critic = mra_sac.RelationalNet(1, Z, H, 5, gen)
    target = mra_sac.RelationalNet(1, Z, H, 5, gen)  # deliberately different from the critic
    return actor, critic, target


def _batch(game, n=2, M=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    pos = torch.randint(0, game.size, (1, M, n, 2), generator=g)
    a = torch.randint(0, 5, (1, M, n), generator=g)
    pos2 = grid_step(pos, a, game.size)
    res, val = game.tensors("cpu")
    return dict(pos=pos, t=torch.tensor([[0.0, 1.0, game.horizon - 1.0]]),
                z=torch.randint(0, 2, (1, M, n), generator=g), a=a, r=grid_rewards(pos2, res, val), pos2=pos2)


def _hand_loss(nets, batch, game, gamma, alpha):
    """The soft actor-critic losses written out sample by sample."""
    actor, critic, target = nets
    M, n = batch["a"].shape[1:]
    crit, act = [], []
    for m in range(M):
        t = float(batch["t"][0, m])
        me, ent = mra_sac.entity_features(batch["pos"][0, m], t, game)
        me2, ent2 = mra_sac.entity_features(batch["pos2"][0, m], t + 1, game)
        for i in range(n):
            zoh = torch.nn.functional.one_hot(batch["z"][0, m, i], 2).float()[None, None]
            q = critic(me[i][None, None], ent[i][None, None], zoh)[0, 0]
            with torch.no_grad():
                q2 = target(me2[i][None, None], ent2[i][None, None], zoh)[0, 0]
                lg = actor(me2[i][None, None], ent2[i][None, None], zoh)[0, 0]
                pi2 = torch.exp(lg) / torch.exp(lg).sum()
                v2 = sum(pi2[b] * (q2[b] - alpha * torch.log(pi2[b])) for b in range(5))
                y = batch["r"][0, m, i] + (0.0 if t + 1 >= game.horizon else gamma * v2)
            crit.append((q[batch["a"][0, m, i]] - y) ** 2)
            lg = actor(me[i][None, None], ent[i][None, None], zoh)[0, 0]
            pi = torch.exp(lg) / torch.exp(lg).sum()
            act.append(sum(pi[b] * (alpha * torch.log(pi[b]) - q[b].detach()) for b in range(5)))
    return sum(crit) / len(crit), sum(act) / len(act)


def test_first_sac_update_matches_hand_written_soft_bellman_recursion():
    game = mra_sac.GridGame(size=3, horizon=3)
    cfg = mra_sac.SACConfig(latent_size=2, hidden=3, gamma=0.9, alpha=0.7, mi_weight=0.0, lr=0.01)
    nets = _tiny_nets(2)
    batch = _batch(game)
    loss = mra_sac.sac_loss(nets, batch, game, cfg, 2, torch.Generator().manual_seed(0))
    hand_nets = copy.deepcopy(nets)
    c, a = _hand_loss(hand_nets, batch, game, 0.9, 0.7)
    assert loss.critic.item() == pytest.approx(c.item(), rel=1e-5)
    assert loss.actor.item() == pytest.approx(a.item(), rel=1e-5, abs=1e-6)
    # the temperature matters: alpha = 0.1 gives a different loss (so a wrong alpha fails the test above)
    other = _hand_loss(hand_nets, batch, game, 0.9, 0.1)
    assert abs(other[0].item() - c.item()) > 1e-3
    # the first Adam step moves each parameter by -lr * g / (|g| + eps), g the hand-written gradient
    params = list(nets[0].parameters()) + list(nets[1].parameters())
    hand_params = list(hand_nets[0].parameters()) + list(hand_nets[1].parameters())
    grads = torch.autograd.grad(c + a, hand_params, allow_unused=True)
    mine = torch.autograd.grad(loss.total, params, retain_graph=True, allow_unused=True)
    for g, h in zip(mine, grads):
        if g is None or h is None:
            assert g is None and h is None
        else:
            torch.testing.assert_close(g, h, rtol=1e-4, atol=1e-7)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    opt.zero_grad()
    loss.total.backward()
    opt.step()
    for p, hp, g in zip(params, hand_params, grads):
        g = torch.zeros_like(hp) if g is None else g
        step = hp.detach() - cfg.lr * g / (g.abs() + 1e-8)
        big = g.abs() > 1e-4  # where the first Adam step is -lr * sign(g) to float precision
        torch.testing.assert_close(p.detach()[big], step[big], rtol=1e-5, atol=1e-7)
        assert ((p.detach() - hp.detach()).abs() <= cfg.lr * (1 + 1e-5)).all()


def test_mi_term_enters_the_loss_with_its_weight():
    game = mra_sac.GridGame(size=3, horizon=3)
    nets = _tiny_nets(2)
    batch = _batch(game)
    logits = torch.tensor([[0.3, -0.2]])
    cfg = mra_sac.SACConfig(latent_size=2, hidden=3, mi_weight=0.4, resamples=5)
    loss = mra_sac.sac_loss(nets, batch, game, cfg, 2, torch.Generator().manual_seed(1), logits)
    assert 0.0 < abs(loss.mi.item()) <= math.log(5) + 1e-6
    assert loss.total.item() == pytest.approx((loss.critic + loss.actor - 0.4 * loss.mi).item(), rel=1e-6)
    with pytest.raises(ParameterError, match="encoder_logits"):
        mra_sac.sac_loss(nets, batch, game, cfg, 2, torch.Generator().manual_seed(1))


def _exact_single_agent_value(game):
    """Dynamic programme over (cell, steps to go) of one agent alone; mean over uniform start cells."""
    res = dict(zip(game.resources, game.values))
    cells = list(itertools.product(range(game.size), repeat=2))
    V = {p: 0.0 for p in cells}
    for _ in range(game.horizon):
        V = {p: max(res.get(q, 0.0) + V[q] for q in
                    [(min(max(p[0] + d[0], 0), game.size - 1), min(max(p[1] + d[1], 0), game.size - 1))
                     for d in DELTAS]) for p in cells}
    return float(np.mean(list(V.values())))


@pytest.mark.parametrize("warm_start", [True, False])
def test_trained_best_response_reaches_the_exact_best_response_value(warm_start):
    """n = 1: the best response of the only agent is the optimal policy, whose value the DP gives (12.11)."""
    torch.manual_seed(0)
    game = mra_sac.GridGame(size=3, horizon=4)
    exact = _exact_single_agent_value(game)
    assert exact == pytest.approx(109 / 9)
    base = train_latent_sac([1], mra_sac.SACConfig(latent_size=2, hidden=32, iterations=1, episodes=1, batch=4), game,
                            replicas=2)
    cfg = mra_sac.SACConfig(latent_size=1, hidden=32, iterations=150, episodes=16, batch=64, alpha=0.5, updates=4,
                            lr=3e-3, tau=0.1)
    br = mra_sac.sac_best_response(base, 1, config=cfg, seed=0, warm_start=warm_start)
    assert br.config.latent_size == (2 if warm_start else 1)
    ret = mra_sac.episode_returns(base, 1, 4000, seed=5, br=br, greedy_br=True)[:, :, 0].mean(1)
    assert (ret <= exact + 0.3).all()  # sampling noise only: nothing beats the optimum
    assert (ret >= exact - 0.35).all(), ret


def test_approximate_nash_conv_is_n_times_the_one_agent_gain():
    game = mra_sac.GridGame(size=3, horizon=3)
    cfg = mra_sac.SACConfig(latent_size=2, hidden=8, iterations=2, episodes=2, batch=8)
    m = train_latent_sac([2, 3], cfg, game, replicas=2, seed=1)
    est = mra_sac.approximate_nash_conv(m, 4, episodes=8, seed=2)
    torch.testing.assert_close(est.gain, est.br_return - est.policy_return)
    torch.testing.assert_close(est.nash_conv, 4 * est.gain)
    j = mra_sac.episode_returns(m, 4, 8, seed=2 + 7).mean((1, 2))
    torch.testing.assert_close(est.policy_return, j)


def test_seeds_reproduce_and_differ():
    game = mra_sac.GridGame(size=3, horizon=3)
    cfg = mra_sac.SACConfig(latent_size=3, hidden=8, iterations=3, episodes=2, batch=8)
    a = train_latent_sac([2, 3], cfg, game, replicas=2, seed=4)
    b = train_latent_sac([2, 3], cfg, game, replicas=2, seed=4)
    c = train_latent_sac([2, 3], cfg, game, replicas=2, seed=5)
    torch.testing.assert_close(a.history, b.history)
    for p, q in zip(a.actor.parameters(), b.actor.parameters()):
        torch.testing.assert_close(p, q)
    assert not torch.equal(a.actor.h2.weight, c.actor.h2.weight)
    assert a.latent_weights(12).shape == (2, 3)
    torch.testing.assert_close(a.latent_weights(np.int64(12)).sum(-1), torch.ones(2))


def test_unimodal_has_no_mi_signal_and_one_latent():
    game = mra_sac.GridGame(size=3, horizon=3)
    m = train_latent_sac([2, 3], mra_sac.SACConfig(latent_size=1, hidden=8, iterations=1, episodes=1, batch=4), game,
                         replicas=1)
    torch.testing.assert_close(m.latent_weights(5), torch.ones(1, 1))


def test_bad_inputs():
    game = mra_sac.GridGame(size=3, horizon=2)
    cfg = mra_sac.SACConfig(latent_size=2, hidden=4, iterations=1, episodes=1, batch=4)
    with pytest.raises(ParameterError, match="populations"):
        train_latent_sac([], cfg, game)
    with pytest.raises(ParameterError, match=r"populations\[1\]"):
        train_latent_sac([3, 0], cfg, game)
    with pytest.raises(ParameterError, match="populations"):
        train_latent_sac([3, 2.5], cfg, game)
    with pytest.raises(ParameterError, match="latent_size"):
        mra_sac.SACConfig(latent_size=0)
    with pytest.raises(ParameterError, match="alpha"):
        mra_sac.SACConfig(alpha=-0.1)
    with pytest.raises(ParameterError, match="gamma"):
        mra_sac.SACConfig(gamma=0.0)
    with pytest.raises(ParameterError, match="replicas"):
        train_latent_sac([3], cfg, game, replicas=0)
    with pytest.raises(ParameterError, match="config"):
        train_latent_sac([3], {"latent_size": 2}, game)
    with pytest.raises(ParameterError, match="size"):
        mra_sac.GridGame(size=1)
    m = train_latent_sac([3], cfg, game, replicas=1)
    with pytest.raises(ParameterError, match="n must be >= 1"):
        mra_sac.approximate_nash_conv(m, 0)
    with pytest.raises(ParameterError, match="warm_start"):
        mra_sac.sac_best_response(m, 3, config=mra_sac.SACConfig(hidden=8))
    with pytest.raises(ParameterError, match="batch"):
        BatchedResourceGrid(n=3, batch=0)
    g = BatchedResourceGrid(n=3, batch=2)
    g.reset()
    with pytest.raises(ParameterError, match="shape"):
        g.step(torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(ParameterError, match="0..4"):
        g.step(torch.full((2, 3), 7))
    with pytest.raises(ParameterError, match="integer"):
        g.step(torch.zeros(2, 3))


@pytest.mark.gpu
def test_batched_grid_and_training_on_the_device_match_cpu():
    pos = torch.randint(0, 5, (64, 9, 2), generator=torch.Generator().manual_seed(0))
    acts = torch.randint(0, 5, (64, 9), generator=torch.Generator().manual_seed(1))
    res, val = mra_sac.GridGame().tensors("cpu")
    new = grid_step(pos, acts, 5)
    new_d = grid_step(pos.to(GPU), acts.to(GPU), 5)
    assert torch.equal(new, new_d.cpu())
    torch.testing.assert_close(grid_rewards(new, res, val), grid_rewards(new_d, res.to(GPU), val.to(GPU)).cpu())
    cfg = mra_sac.SACConfig(latent_size=3, hidden=8, iterations=3, episodes=2, batch=8)
    m = train_latent_sac([3, 6], cfg, mra_sac.GridGame(size=4, horizon=4), replicas=2, device=GPU)
    assert torch.isfinite(m.history).all() and m.actor.h2.weight.device.type == torch.device(GPU).type
    ad = mra_sac.adapt(m, 9, 2, params="all", episodes=2, batch=8)
    assert torch.isfinite(ad.history).all() and ad.encoder.logits.device.type == torch.device(GPU).type


def test_warm_started_best_response_starts_at_the_joint_policy():
    game = mra_sac.GridGame(size=3, horizon=3)
    cfg = mra_sac.SACConfig(latent_size=2, hidden=8, iterations=2, episodes=2, batch=8)
    m = train_latent_sac([2, 3], cfg, game, replicas=2, seed=3)
    still = mra_sac.SACConfig(latent_size=2, hidden=8, iterations=1, episodes=1, batch=4, lr=1e-12)
    br = mra_sac.sac_best_response(m, 3, config=still, seed=0)
    for p, q in zip(br.actor.parameters(), m.actor.parameters()):
        torch.testing.assert_close(p, q, atol=1e-9, rtol=0)
    cold = mra_sac.sac_best_response(m, 3, config=still, seed=0, warm_start=False)
    assert cold.config.latent_size == 1 and all(p.requires_grad for p in m.actor.parameters())


def test_encoder_gets_a_gradient_at_the_first_update():
    """The identification term is the encoder's only gradient path; at the old symmetric zero start (last layer and
    predictor 0) its gradient was exactly 0. Adam's first step moves a parameter by lr |g| / (|g| + 1e-8), so
    every encoder and predictor entry moving by ~lr (against the same run with the term off, where they do not
    move) means every entry got a non-zero gradient."""
    game = mra_sac.GridGame(size=3, horizon=3)
    lr = 1e-3
    cfg = mra_sac.SACConfig(latent_size=3, hidden=8, iterations=1, updates=1, episodes=2, batch=8, lr=lr)
    on = train_latent_sac([2, 3, 4], cfg, game, replicas=2, seed=0)
    off = train_latent_sac([2, 3, 4], mra_sac.SACConfig(**{**cfg.__dict__, "id_weight": 0.0}), game, replicas=2, seed=0)
    for (name, p), q in zip(on.encoder.named_parameters(), off.encoder.parameters()):
        step = (p - q).abs()
        assert (step > 0.5 * lr).all() and (step <= lr * (1 + 1e-4)).all(), (name, step)
    step = (on.predictor - off.predictor).abs()
    assert (step > 0.5 * lr).all() and (step <= lr * (1 + 1e-4)).all()


def _mutual_information(weights):
    """I(M; Z) in nats for M uniform over the rows of ``weights [M, Z]`` (written out here)."""
    M = len(weights)
    pz = [sum(w[z] for w in weights) / M for z in range(len(weights[0]))]
    return sum(w[z] * math.log(w[z] / pz[z]) for w in weights for z in range(len(w)) if w[z] > 0) / M


def test_latent_distribution_varies_with_the_population_after_a_short_training():
    """After 30 iterations p(z | n) differs between the training populations: I(M; Z) is more than 100 times that
    of the same run without the identification term (whose encoder stays at its random start), and p(.|2), p(.|4)
    are 0.05 apart in total variation. (At the old zero start both were exactly 0.)"""
    game = mra_sac.GridGame(size=3, horizon=3)
    cfg = mra_sac.SACConfig(latent_size=3, hidden=8, iterations=30, episodes=1, batch=4, updates=2, lr=1e-2)
    on = train_latent_sac([2, 3, 4], cfg, game, replicas=2, seed=0)
    off = train_latent_sac([2, 3, 4], mra_sac.SACConfig(**{**cfg.__dict__, "id_weight": 0.0}), game, replicas=2, seed=0)
    for r in range(2):
        w_on = [on.latent_weights(n)[r].tolist() for n in (2, 3, 4)]
        w_off = [off.latent_weights(n)[r].tolist() for n in (2, 3, 4)]
        assert _mutual_information(w_on) > 100 * _mutual_information(w_off) > 0
        assert 0.5 * sum(abs(a - b) for a, b in zip(w_on[0], w_on[2])) > 0.05


def test_a_best_response_that_copies_the_joint_policy_gains_nothing():
    """Both sides of the NashConv estimate are sampled, so a 'best response' equal to the joint policy (warm start,
    lr 1e-12) gains 0 in expectation. Each side is a mean of E episode returns in [0, T max v] = [0, 12], so by
    Hoeffding (Bonferroni over 2 R means, total level 1e-3) |gain| <= 2 * 12 sqrt(log(4 R / 1e-3) / (2 E)) for every
    replica. A greedy-scored copy (the old semantics) gains 0.7 to 2.8 in absolute value on some replicas."""
    game = mra_sac.GridGame(size=3, horizon=3)
    R, E = 8, 4000
    m = train_latent_sac([2, 3], mra_sac.SACConfig(latent_size=2, hidden=8, iterations=2, episodes=2, batch=8), game,
                         replicas=R, seed=3)
    still = mra_sac.SACConfig(latent_size=2, hidden=8, iterations=1, episodes=1, batch=4, lr=1e-12)
    est = mra_sac.approximate_nash_conv(m, 3, episodes=E, seed=0, config=still)
    bound = 2 * 12.0 * math.sqrt(math.log(4 * R / 1e-3) / (2 * E))
    assert (est.gain.abs() <= bound).all(), (est.gain, bound)


def test_latent_gradient_hand_computation_and_expectation():
    logits = torch.tensor([[0.2, -0.1, 0.4]])
    p = torch.softmax(logits, -1)[0].tolist()
    G = torch.tensor([[[1.0, 3.0], [0.0, 2.0]]])  # [R, E, n]
    z = torch.tensor([[[0, 2], [2, 1]]])
    mean = 6.0 / 4
    hand = [sum((G[0, e, i].item() - mean) * ((z[0, e, i].item() == k) - p[k]) for e in range(2) for i in range(2)) / 4
            for k in range(3)]
    torch.testing.assert_close(mra_sac.latent_gradient(G, z, logits)[0], torch.tensor(hand))
    # a bandit: G = c[z]; E[estimate] = (1 - 1/N) p_z (c_z - sum_k p_k c_k), the gradient of the mean return
    c = torch.tensor([1.0, 0.0, 2.5], dtype=torch.float64)
    N = 200_000
    zs = torch.multinomial(torch.tensor(p, dtype=torch.float64), N, replacement=True,
                           generator=torch.Generator().manual_seed(0)).reshape(1, N, 1)
    est = mra_sac.latent_gradient(c[zs], zs, logits.double())[0]
    pt = torch.tensor(p, dtype=torch.float64)
    exact = (1 - 1 / N) * pt * (c - (pt * c).sum())
    torch.testing.assert_close(est, exact, atol=0.012, rtol=0)


def test_adaptation_steps_budget_and_snapshots():
    game = mra_sac.GridGame(size=3, horizon=3)
    m = train_latent_sac([2, 3], mra_sac.SACConfig(latent_size=3, hidden=8, iterations=2, episodes=2, batch=8), game,
                         replicas=2, seed=1)
    before = copy.deepcopy(m.actor.state_dict())
    lat = mra_sac.adapt(m, 5, 1, params="latent", episodes=6, latent_lr=0.2, seed=3)
    # latent only: the networks are untouched, each logit moved by Adam's first step (at most lr, ~lr where g != 0)
    for p, q in zip(lat.actor.parameters(), m.actor.parameters()):
        assert torch.equal(p, q)
    step = (lat.encoder.logits - m.latent_logits(5)).abs()
    assert (step <= 0.2 * (1 + 1e-5)).all() and (step > 0.1).any()
    # first iterate pinned: replay the step's episodes (same generator), each agent's own score-function gradient
    # written out, then Adam's first step l + lr * g / (|g| + 1e-8) (ascent)
    l0 = m.latent_logits(5)
    _, ret = _rollout((game, m.actor, mra_sac.LatentTable(l0), 3), 5, 6, torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    torch.randint(0, game.size, (2, 6, 5, 2), generator=gen)  # the start cells, drawn first
    z = mra_sac.gumbel_max(l0[:, None, None, :].expand(2, 6, 5, 3), gen)  # then each agent's latent
    for r in range(2):
        p0 = torch.softmax(l0[r], -1).tolist()
        mean = ret[r].mean().item()
        g = [sum((ret[r, e, i].item() - mean) * ((z[r, e, i].item() == k) - p0[k]) for e in range(6) for i in range(5))
             / 30 for k in range(3)]
        want = [l0[r, k].item() + 0.2 * g[k] / (abs(g[k]) + 1e-8) for k in range(3)]
        torch.testing.assert_close(lat.encoder.logits[r], torch.tensor(want), atol=1e-5, rtol=0)
    assert lat.env_steps == 2 * 1 * 6 * 3
    # one run with snapshots equals separate runs; k = 0 is the zero-shot model; the input model is not modified
    k0, k1, k3 = mra_sac.adapt_path(m, 5, (0, 1, 3), params="all", episodes=2, seed=4)
    torch.testing.assert_close(k0.latent_logits(5), m.latent_logits(5))
    alone = mra_sac.adapt(m, 5, 3, params="all", episodes=2, seed=4)
    for p, q in zip(alone.actor.parameters(), k3.actor.parameters()):
        torch.testing.assert_close(p, q)
    torch.testing.assert_close(alone.latent_logits(5), k3.latent_logits(5))
    assert not torch.equal(k1.actor.h2.weight, m.actor.h2.weight)
    assert [k.env_steps for k in (k0, k1, k3)] == [0, 2 * 2 * 3, 3 * 2 * 2 * 3]
    for k, v in m.actor.state_dict().items():
        assert torch.equal(v, before[k])
    with pytest.raises(ParameterError, match="params"):
        mra_sac.adapt(m, 5, 1, params="encoder")
    with pytest.raises(ParameterError, match="ks"):
        mra_sac.adapt_path(m, 5, ())
    with pytest.raises(ParameterError, match="steps"):
        mra_sac.adapt(m, 5, -1)


def test_no_arm_trains_on_the_held_out_population(monkeypatch):
    """experiments.mra_grid: every training population is a training game (single-game: n = 9 only), the held-out
    n = 12 is reached only through adaptation, and every (method, parameters) arm gets the same adaptation budget."""
    import dataclasses

    from experiments import mra_grid

    trained, adapted = [], []
    real_train, real_path = mra_sac.train_latent_sac, mra_sac.adapt_path

    def train(pops, config, *a, **kw):
        trained.append(tuple(pops))
        return real_train(pops, dataclasses.replace(config, iterations=1), *a, **kw)

    def adapt_path(model, n, ks, **kw):
        adapted.append((n, tuple(ks), kw["episodes"], kw["updates"], kw["batch"]))
        return real_path(model, n, ks, **kw)

    monkeypatch.setattr(mra_sac, "train_latent_sac", train)
    monkeypatch.setattr(mra_sac, "adapt_path", adapt_path)
    frame = mra_grid.run(mra_grid.CONFIGS["smoke"], 0, "cpu")
    assert sorted(trained) == sorted([(3, 6, 9), (3, 6, 9), (9,)])
    assert len(adapted) == 5 and len(set(adapted)) == 1 and adapted[0][0] == 12
    held = frame[(frame.panel == "population") & (frame.n == 12)]
    assert not held.trained_on.astype(bool).any()
