"""PettingZoo AEC environments: api_test, seeding, and Monte Carlo returns against the exact evaluator."""
import numpy as np
import pytest
from pettingzoo.test import api_test, seed_test

from games import expected_return, kuhn_poker, uniform_policy
from games.envs import kuhn_poker_env, leduc_poker_env, tiny_hanabi_env


@pytest.mark.parametrize("make", [kuhn_poker_env, leduc_poker_env, lambda: tiny_hanabi_env("C")])
def test_api(make):
    api_test(make(), num_cycles=200)


def test_seed():
    seed_test(kuhn_poker_env, num_cycles=50)


def _play(env, seed, episodes, rng):
    env.reset(seed=seed)
    totals = np.zeros(2)
    for _ in range(episodes):
        env.reset()
        for agent in env.agent_iter():
            obs, rew, term, trunc, info = env.last()
            totals[int(agent[-1])] += rew
            if term or trunc:
                env.step(None)
                continue
            legal = np.flatnonzero(obs["action_mask"])
            env.step(int(rng.choice(legal)))
    return totals / episodes


def test_uniform_play_matches_exact_value():
    rng = np.random.default_rng(0)
    est = _play(kuhn_poker_env(), 7, 20000, rng)
    exact = expected_return(kuhn_poker(), uniform_policy(kuhn_poker()))
    # payoffs lie in [-2, 2]: 4 standard errors of a 20000-episode mean is below 0.06
    np.testing.assert_allclose(est, exact, atol=0.06)


def test_illegal_action_message():
    env = leduc_poker_env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="information set .* action 0 is not legal|action 7"):
        env.step(7)
