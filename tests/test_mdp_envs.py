import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mdp.envs  # noqa: F401  (registers the ids)
from mdp.envs import TabularEnv
from mdp.generators import combination_lock, garnet

IDS = ["theorysim/Garnet-v0", "theorysim/RiverSwim-v0", "theorysim/GridWorld-v0",
       "theorysim/CombinationLock-v0"]


@pytest.mark.parametrize("env_id", IDS)
def test_registered_envs_pass_check_env(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)


def test_make_with_module_prefix_and_kwargs():
    env = gym.make("mdp.envs:theorysim/Garnet-v0", S=7, A=2, max_steps=5)
    assert env.unwrapped.model.S == 7 and env.unwrapped.max_steps == 5


def test_seeded_trajectories_repeat():
    def traj(seed):
        env = TabularEnv(garnet(10, 3, 4, 0.9, seed=0), max_steps=30)
        obs, _ = env.reset(seed=seed)
        out = [int(obs)]
        for t in range(30):
            obs, *_ = env.step(t % 3)
            out.append(int(obs))
        return out

    assert traj(3) == traj(3) and traj(3) != traj(4)


def test_finite_horizon_env_truncates_at_H_and_toy_text_view():
    m = combination_lock(H=3, A=2, seed=0)
    env = TabularEnv(m)
    env.reset(seed=0)
    flags = [env.step(0)[3] for _ in range(3)]
    assert flags == [False, False, True]
    P = env.unwrapped.P
    assert abs(sum(p for p, *_ in P[0][0]) - 1.0) < 1e-12


def test_bad_inputs():
    with pytest.raises(TypeError):
        TabularEnv(np.zeros(3), 5)
    with pytest.raises(ValueError, match="max_steps"):
        TabularEnv(garnet(3, 2, 2, 0.9), None)
    env = TabularEnv(garnet(3, 2, 2, 0.9), 5)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not in"):
        env.step(7)
