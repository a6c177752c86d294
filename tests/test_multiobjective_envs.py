"""Multi-objective environments: MO-Gymnasium conventions, and step-by-step agreement with MO-Gymnasium's
own deep-sea-treasure and fruit-tree when it is installed."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from reference_libs import require

import mdp.envs  # noqa: F401  (registers the environments)
from mdp.envs import TabularEnv
from mdp.envs.deep_sea_treasure import DeepSeaTreasureEnv, pareto_front as dst_front
from mdp.envs.fruit_tree import FruitTreeEnv
from mdp.multiobjective import random_momdp
from theory.validation import ParameterError


def _rollouts(ours, theirs, episodes, seed):
    rng = np.random.default_rng(seed)
    for ep in range(episodes):
        o1, _ = ours.reset(seed=ep)
        o2, _ = theirs.reset(seed=ep)
        assert np.array_equal(o1, o2)
        for _ in range(200):
            a = int(rng.integers(ours.action_space.n))
            s1, r1, t1, u1, _ = ours.step(a)
            s2, r2, t2, u2, _ = theirs.step(a)
            assert np.array_equal(s1, s2)
            assert np.allclose(r1, r2) and r1.dtype == r2.dtype == np.float32
            assert t1 == t2
            if t1 or u1 or u2:
                assert t1 or u1 == u2       # gymnasium's TimeLimit also truncates a terminal 100th step
                break


@pytest.mark.parametrize("kind,env_id", [("convex", "deep-sea-treasure-v0"),
                                         ("concave", "deep-sea-treasure-concave-v0")])
def test_dst_matches_mo_gymnasium_step_by_step(kind, env_id):
    mo_gym = require("mo_gymnasium")
    theirs = mo_gym.make(env_id)
    ours = DeepSeaTreasureEnv(kind)
    _rollouts(ours, theirs, 30, seed=1)
    assert np.allclose(ours.reward_space.low, theirs.unwrapped.reward_space.low)
    assert np.allclose(ours.reward_space.high, theirs.unwrapped.reward_space.high)
    for g in (1.0, 0.99):
        assert np.allclose(ours.pareto_front(g), theirs.unwrapped.pareto_front(g))


@pytest.mark.parametrize("depth", [5, 6, 7])
def test_fruit_tree_matches_mo_gymnasium_step_by_step(depth):
    mo_gym = require("mo_gymnasium")
    theirs = mo_gym.make("fruit-tree-v0", depth=depth)
    ours = FruitTreeEnv(depth)
    _rollouts(ours, theirs, 20, seed=2)
    assert np.allclose(ours.pareto_front(0.99), theirs.unwrapped.pareto_front(0.99))


def test_linear_reward_wrapper():
    mo_gym = require("mo_gymnasium")
    env = mo_gym.wrappers.LinearReward(DeepSeaTreasureEnv("convex"), weight=np.array([0.5, 0.5]))
    env.reset(seed=0)
    _, r, _, _, info = env.step(1)                      # down from (0, 0): the 0.7 treasure
    assert r == pytest.approx(0.5 * 0.7 - 0.5)
    assert np.allclose(info["vector_reward"], [0.7, -1.0])


def test_generic_tabular_env_exposes_reward_space_and_passes_check_env():
    from gymnasium.utils.env_checker import check_env

    m = random_momdp(6, 3, 3, seed=0)
    env = TabularEnv(m, max_steps=20)
    assert env.reward_space.shape == (3,)
    assert np.allclose(env.reward_space.low, m.R.reshape(-1, 3).min(0), atol=1e-6)
    env.reset(seed=0)
    _, r, *_ = env.step(0)
    assert r.shape == (3,) and env.reward_space.contains(r.astype(np.float32))
    check_env(env, skip_render_check=True)
    check_env(DeepSeaTreasureEnv("convex"), skip_render_check=True)


def test_registered_ids_and_bad_arguments():
    env = gym.make("theorysim/DeepSeaTreasure-v0", kind="concave")
    assert np.allclose(env.unwrapped.pareto_front(1.0), dst_front("concave", 1.0))
    assert gym.make("theorysim/FruitTree-v0", depth=5).unwrapped.reward_space.shape == (6,)
    with pytest.raises(ParameterError, match="kind"):
        DeepSeaTreasureEnv("mirrored")
    with pytest.raises(ParameterError, match="depth"):
        FruitTreeEnv(8)
