"""PettingZoo AEC environments: api_test, seeding, and Monte Carlo returns against the exact evaluator."""
import numpy as np
import pytest
from reference_libs import require
from pettingzoo.test import api_test, render_test, seed_test

from games import expected_return, kuhn_poker, uniform_policy
from games.envs import kuhn_poker_env, leduc_poker_env, openspiel_env, tiny_hanabi_env

ENVS = {"kuhn": kuhn_poker_env, "leduc": leduc_poker_env, "tiny_hanabi_C": lambda **kw: tiny_hanabi_env("C", **kw)}
# every catalogue game compiled from OpenSpiel, except the two largest (their compile takes seconds)
OPENSPIEL = ["kuhn_poker", "leduc_poker", "liars_dice_4", "goofspiel", "goofspiel_4", "tiny_hanabi",
             "first_sealed_auction", "trade_comm", "oshi_zumo", "battleship"]


def _make(name):
    if name in ENVS:
        return ENVS[name]
    require("pyspiel")
    return lambda **kw: openspiel_env(f"openspiel:{name}", **kw)


@pytest.mark.parametrize("name", list(ENVS) + OPENSPIEL)
def test_pettingzoo_api_seed_render(name):
    make = _make(name)
    api_test(make(), num_cycles=200)
    seed_test(make, num_cycles=50)
    render_test(make)


@pytest.mark.parametrize("name", ["kuhn", "goofspiel"])
def test_render_contract(name, capsys):
    """human prints and returns None; ansi returns the text and prints nothing; no mode returns None."""
    make = _make(name)
    env = make(render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert isinstance(text, str) and "history" in text
    assert capsys.readouterr().out == ""
    env = make(render_mode="human")
    env.reset(seed=0)
    assert env.render() is None
    assert "history" in capsys.readouterr().out
    env = make()
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render mode"):
        assert env.render() is None


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
