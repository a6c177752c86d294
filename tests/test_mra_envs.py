"""The grid resource-occupation ParallelEnv: PettingZoo API, seeding and the congestion payoff."""
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from games.envs import resource_grid_env
from theory.validation import ParameterError


@pytest.mark.parametrize("n", [3, 6, 9, 12])
def test_parallel_api(n):
    parallel_api_test(resource_grid_env(n=n), num_cycles=200)


def test_seeding():
    parallel_seed_test(lambda: resource_grid_env(n=6))


def test_payoff_is_value_over_load():
    env = resource_grid_env(n=3, size=3, values=(1.0, 2.0, 4.0), resources=[(0, 0), (2, 2), (0, 2)])
    env.reset(seed=0)
    env._pos[:] = [[0, 1], [1, 2], [2, 1]]
    # agent 0 moves left onto (0, 0); agents 1 and 2 move onto (2, 2) (down, right)
    _, rew, _, _, _ = env.step({"agent_0": 3, "agent_1": 2, "agent_2": 4})
    assert rew == {"agent_0": 1.0, "agent_1": 1.0, "agent_2": 1.0}
    _, rew, _, _, _ = env.step({"agent_0": 0, "agent_1": 1, "agent_2": 0})  # agent 1 leaves to (1, 2)
    assert rew == {"agent_0": 1.0, "agent_1": 0.0, "agent_2": 2.0}


def test_truncation_and_bad_inputs():
    env = resource_grid_env(n=3, max_cycles=2)
    env.reset(seed=1)
    acts = {a: 0 for a in env.agents}
    env.step(acts)
    *_, trunc, _ = env.step(acts)
    assert all(trunc.values()) and env.agents == []
    with pytest.raises(ParameterError, match="n must be >= 1"):
        resource_grid_env(n=0)
    env.reset(seed=0)
    with pytest.raises(ParameterError, match="agent_0"):
        env.step({"agent_0": 7, "agent_1": 0, "agent_2": 0})
    with pytest.raises(ParameterError, match="values"):
        resource_grid_env(n=3, values=(1, -1))
