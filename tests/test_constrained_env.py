"""The short-video CMDP generator and theorysim/ShortVideo-v0."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mdp.envs  # noqa: F401  (registers the environments)
from mdp import value_iteration
from mdp.envs.recommender import short_video_cmdp, short_video_features
from mdp.model import ParameterError


def test_generator_layout_and_formulas():
    sv = short_video_cmdp(Z=3, F=4, K=5, seed=2)
    m = sv.model
    assert (m.S, m.A) == (13, 5) and sv.aux_rewards.shape == (3, 13, 5)
    assert m.absorbing_states()[sv.left_state] and m.absorbing_states().sum() == 1
    assert np.isclose(m.mu[[sv.state(z, 0) for z in range(3)]].sum(), 1.0)
    z, f, k = 1, 3, 2                                    # f = F-1: fatigue factor 1 - 0.45
    a = sv.affinity[z, k]
    assert np.isclose(m.R[sv.state(z, f), k], sv.lengths[k] * (0.3 + a) * 0.55)
    assert np.isclose(m.P[sv.state(z, f), k, sv.left_state], np.clip(0.05 + 0.24 - 0.05 * a, 0.01, 0.95))
    assert np.array_equal(short_video_cmdp(Z=3, F=4, K=5, seed=2).aux_rewards, sv.aux_rewards)


def test_main_and_auxiliary_signals_are_in_tension():
    sv = short_video_cmdp(seed=0)
    m = sv.model
    main = value_iteration(m, tol=1e-12).policy
    ratios = []
    for c in sv.aux_rewards:
        best = value_iteration(m.with_rewards(c), tol=1e-12)
        J_main_pol = float(m.mu @ np.linalg.solve(np.eye(m.S) - m.gamma * np.einsum("sat,sa->st", m.P, main),
                                                  (c * main).sum(-1)))
        ratios.append(J_main_pol / float(m.mu @ best.V))
    assert max(ratios) < 0.99 and min(ratios) < 0.8     # the main-optimal policy gives up every other signal


def test_features_and_linear_form():
    sv = short_video_cmdp(Z=2, F=2, K=3, seed=0)
    phi = short_video_features(sv, "factored")
    assert phi.shape == (5, 3, (2 + 2) * 3 + 1)
    lin = sv.as_linear_mdp().to_tabular()
    assert np.allclose(lin.P, sv.model.P) and np.allclose(lin.R, sv.model.R)
    with pytest.raises(ParameterError, match="kind"):
        short_video_features(sv, "wavelets")
    with pytest.raises(ParameterError, match="F"):
        short_video_cmdp(F=1)


def test_environment_passes_check_env_and_reports_signals():
    env = gym.make("theorysim/ShortVideo-v0", Z=2, F=3, K=3, seed=1, max_steps=50)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert info["signal_names"] == ("watch_time", "like", "follow", "share")
    sv = env.unwrapped.cmdp
    obs2, reward, term, trunc, info = env.step(1)
    assert reward == pytest.approx(sv.model.R[obs, 1])
    assert info["signals"][0] == pytest.approx(reward)
    assert set(info["signals"][1:]) <= {0.0, 1.0}
    assert np.allclose(info["expected_signals"][1:], sv.aux_rewards[:, obs, 1])
