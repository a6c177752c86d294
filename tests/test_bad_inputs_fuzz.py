"""Malformed inputs through the public API: every failure must be the package's own clear error.

Hypothesis draws one malformed value for one argument of a public entry point (all other arguments
valid). The call may succeed (the value was acceptable, e.g. a numpy integer where an int is expected)
or raise; a raised error must be a ``ValueError``/``TypeError`` raised from the package's own code (the
innermost frame is in ``theory/``, ``mdp/``, ``games/`` or ``experiments/``), never a raw numpy, torch,
scipy or pyarrow traceback. Valid numpy scalars (``np.int64(2)``, ``np.float32(1e-3)``) must be accepted.
"""
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
OURS = tuple(str(ROOT / p) for p in ("theory", "mdp", "games", "experiments"))

NUMPY_WORDS = ("inhomogeneous", "gufunc", "could not convert", "setting an array element", "has no attribute")
BAD = [None, "abc", [], [[1.0, 2.0], [3.0]], float("nan"), float("inf"), -1, 0, -0.5, True,
       np.array([]), np.full((2, 2), np.nan), np.zeros((1, 1, 1, 1, 1)), {"a": 1}, 2.5, -3]


def _model():
    from mdp.generators import garnet

    return garnet(6, 2, 3, 0.9, seed=0)


def _entry_points():
    import games
    import theory
    from mdp import (TabularMDP, policy_evaluation, policy_iteration, solve_occupancy_lp,
                     value_iteration)
    from mdp.batched import BatchedTabularMDP
    from theory.operators import random_least_squares

    from games.envs import markov_game_env
    from games.efg.model import Terminal
    from games.markov.instances import random_markov_game
    from mdp import bellman_residual
    from mdp.constrained import lagrangian, thresholds_between, two_stage_actor_critic
    from mdp.envs.recommender import short_video_cmdp
    from theory.operators import least_squares

    m = _model()
    P, R = m.dense_P(), m.R
    op = random_least_squares(16, d=3, seed=0)
    kuhn = games.kuhn_poker()
    import mdp.multiobjective as mo
    from mdp.envs.deep_sea_treasure import deep_sea_treasure

    import mdp.grouping as grp

    mom = mo.random_momdp(4, 2, 2, 0.9, seed=0)
    hier = grp.hierarchical_mdp(S=3, A=4, seed=0)
    hm = hier.model
    dst = deep_sea_treasure("convex", 0.99)
    sv = short_video_cmdp(Z=2, F=2, K=3, seed=0)
    cmdp_t = thresholds_between(sv.model, sv.aux_rewards, 0.25)
    return {
        "TabularMDP": (lambda P=P, R=R, gamma=0.9: TabularMDP(P, R, gamma), ("P", "R", "gamma")),
        "value_iteration": (lambda tol=1e-6, max_iter=1000, V0=None: value_iteration(m, tol=tol, max_iter=max_iter,
                                                                                     V0=V0), ("tol", "max_iter", "V0")),
        "policy_iteration": (lambda max_iter=100, pi0=None: policy_iteration(m, max_iter=max_iter, pi0=pi0),
                             ("max_iter", "pi0")),
        "policy_evaluation": (lambda pi=np.full((6, 2), 0.5): policy_evaluation(m, pi), ("pi",)),
        "solve_occupancy_lp": (lambda aux_rewards=None, thresholds=None: solve_occupancy_lp(
            m, aux_rewards=aux_rewards, thresholds=thresholds), ("aux_rewards", "thresholds")),
        "BatchedTabularMDP": (lambda batch_size=4: BatchedTabularMDP(m, batch_size), ("batch_size",)),
        "halpern": (lambda eps=1e-2, max_calls=200, x0=np.zeros(3): theory.halpern(op, x0, eps=eps,
                                                                                 max_calls=max_calls),
                    ("eps", "max_calls", "x0")),
        "mmd": (lambda alpha=0.1, iterations=5: games.mmd(kuhn, alpha=alpha, iterations=iterations),
                ("alpha", "iterations")),
        "hypervolume": (lambda front=np.ones((2, 2)), ref=np.zeros(2): mo.hypervolume(front, ref), ("front", "ref")),
        "expected_utility": (lambda front=np.ones((2, 2)), weights=np.full((1, 2), 0.5):
                             mo.expected_utility(front, weights), ("front", "weights")),
        "sparsity": (lambda front=np.ones((2, 2)): mo.sparsity(front), ("front",)),
        "igd": (lambda known_front=np.ones((2, 2)), front=np.ones((2, 2)): mo.igd(known_front, front),
                ("known_front", "front")),
        "epsilon_constraint": (lambda objective=0, thresholds=np.array([-np.inf, 0.0]):
                               mo.epsilon_constraint(mom, objective, thresholds), ("objective", "thresholds")),
        "cmorl": (lambda ref=None, beta=0.9, n_select=1, rounds=0, delta=0.5: mo.cmorl(
            mom, ref=ref, beta=beta, n_select=n_select, rounds=rounds, delta=delta, eval_weights=np.eye(2)),
                  ("ref", "beta", "n_select", "rounds", "delta")),
        "pareto_value_iteration": (lambda gamma=0.9, tol=1e-12, epsilon=None, max_points=2000:
                                   mo.pareto_value_iteration(dst, gamma=gamma, tol=tol, epsilon=epsilon,
                                                             max_points=max_points),
                                   ("gamma", "tol", "epsilon", "max_points")),
        "check_grouping": (lambda groups=np.array([0, 0, 1, 1]): grp.check_grouping(groups, 4), ("groups",)),
        "estimate_grouped_model": (lambda groups=np.array([0, 0, 1, 1]), N=8: grp.estimate_grouped_model(
            hm, groups, N), ("groups", "N")),
        "grouping_bound": (lambda eps_R=0.1, K=2, N=8, T=3, delta=0.1: grp.grouping_bound(
            eps_R, 0.1, K, N, T, 2, 0.9, 1.0, delta), ("eps_R", "K", "N", "T", "delta")),
        "select_grouping": (lambda N=8, T=3: grp.select_grouping(hm, hier.groupings, N, T), ("N", "T")),
        "grouping_losses": (lambda N_values=(8,), T_values=(2,), seeds=2: grp.grouping_losses(
            hm, hier.groupings, N_values, T_values, seeds), ("N_values", "T_values", "seeds")),
        "cfr": (lambda iterations=5: games.cfr(kuhn, iterations=iterations), ("iterations",)),
        "bellman_residual": (lambda V=np.zeros(6): bellman_residual(m, V), ("V",)),
        "vr_halpern": (lambda op=op, batch_size=None: theory.vr_halpern(op, np.zeros(3), eps=1e-2, max_calls=50,
                                                                      batch_size=batch_size), ("op", "batch_size")),
        "least_squares": (lambda A=np.eye(3), b=np.ones(3), rho=0.0: least_squares(A, b, rho), ("A", "b", "rho")),
        "Terminal": (lambda payoffs=(1.0, -1.0): Terminal(payoffs=payoffs), ("payoffs",)),
        "linear_scalarisation": (lambda ref=None, budget=3: mo.linear_scalarisation(mom, budget, ref=ref,
                                                                                     eval_weights=np.eye(2)),
                                 ("ref", "budget")),
        "lagrangian": (lambda thresholds=cmdp_t, dual_step="cutting_plane", iterations=5: lagrangian(
            sv.model, sv.aux_rewards, thresholds, dual_step=dual_step, iterations=iterations),
                       ("thresholds", "dual_step", "iterations")),
        "two_stage_actor_critic": (lambda stage_one="soft", quality=0.99: two_stage_actor_critic(
            sv.model, sv.aux_rewards, cmdp_t, stage_one=stage_one, quality=quality), ("stage_one", "quality")),
        "markov_game_env": (lambda max_steps=5: markov_game_env(random_markov_game(2, (2, 2), seed=0), max_steps)
                            .state(), ("max_steps",)),
        "exploitability": (lambda policy=None: games.exploitability(kuhn, policy if policy is not None
                                                                    else games.uniform_policy(kuhn)), ("policy",)),
    }


ENTRY = _entry_points()
CALLS = [(name, arg) for name, (_, args) in ENTRY.items() for arg in args]


def _raised_by_us(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(OURS)


@pytest.mark.parametrize("name, arg", CALLS, ids=[f"{n}-{a}" for n, a in CALLS])
@settings(max_examples=len(BAD), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(value=st.sampled_from(BAD))
def test_malformed_argument_gives_the_packages_own_error(name, arg, value):
    fn, _ = ENTRY[name]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(**{arg: value})
    except (ValueError, TypeError) as exc:
        assert _raised_by_us(exc), f"{name}({arg}={value!r}) raised a foreign error: {exc!r}"
        leaked = [w for w in NUMPY_WORDS if w in str(exc)]
        assert not leaked, f"{name}({arg}={value!r}) leaks numpy's words {leaked}: {exc}"
    except Exception as exc:  # noqa: BLE001 - anything else is a raw traceback
        pytest.fail(f"{name}({arg}={value!r}) raised {type(exc).__name__}: {exc}")


def test_numpy_scalars_are_accepted():
    from mdp import value_iteration
    from mdp.robust import L1Ball, robust_value_iteration

    m = _model()
    r = value_iteration(m, tol=np.float32(1e-6), max_iter=np.int64(10_000))
    assert r.converged
    rv = robust_value_iteration(m, L1Ball(m.dense_P(), np.int64(0)), tol=np.float32(1e-6))
    np.testing.assert_allclose(rv.V, r.V, atol=1e-5)  # radius 0: the nominal model
