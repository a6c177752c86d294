"""One result convention across the package (theory.results): every public solver is walked here.

For each solver: a frozen dataclass (never a bare tuple) with ``residual`` (of the returned iterate),
``error_bound`` (certified or None), ``converged`` (None when nothing was tested) and ``iterations``;
and "converged implies the stated test held", checked by recomputing the certificate independently
where the solver has one.

Every result class is found by introspection (:func:`result_classes` walks ``theory``, ``mdp`` and
``games`` with :mod:`pkgutil`) and must subclass :class:`theory.results.SolverResult` without redeclaring
its fields.
"""
import dataclasses
import importlib
import inspect
import pkgutil

import numpy as np
import pytest
import torch

from theory.results import SolverResult, convention_violations

PACKAGES = ("theory", "mdp", "games")


def _is_result_class(cls) -> bool:
    if not dataclasses.is_dataclass(cls) or cls is SolverResult:
        return False
    names = {f.name for f in dataclasses.fields(cls)}
    return (issubclass(cls, SolverResult) or cls.__name__.endswith(("Result", "Solution"))
            or {"residual", "iterations"} <= names)


def result_classes() -> dict[str, type]:
    """Every public result dataclass defined in a public module of the packages, by class name."""
    out = {}
    for pkg in PACKAGES:
        root = importlib.import_module(pkg)
        for info in [None, *pkgutil.walk_packages(root.__path__, pkg + ".")]:
            name = pkg if info is None else info.name
            if any(part.startswith("_") for part in name.split(".")):
                continue
            mod = importlib.import_module(name)
            for attr, cls in vars(mod).items():
                if (inspect.isclass(cls) and cls.__module__ == name and not attr.startswith("_")
                        and _is_result_class(cls)):
                    out[cls.__name__] = cls
    return out


def test_every_result_class_subclasses_the_base():
    classes = result_classes()
    assert {"HalpernResult", "FixedPointResult", "LearnerResult", "PlanningResult"} <= set(classes)  # the walk works
    outside = sorted(n for n, c in classes.items() if not issubclass(c, SolverResult))
    assert outside == [], "result classes not subclassing SolverResult"


def test_adopted_results_keep_the_base_fields():
    """No subclass redeclares a base field: all keyword-only, ``error_bound`` etc. defaulting to None."""
    base = {f.name: f for f in dataclasses.fields(SolverResult)}
    for name, cls in result_classes().items():
        assert cls.__dataclass_params__.frozen, name
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for f, bf in base.items():
            assert fields[f].kw_only and fields[f].default is bf.default, (name, f)


def _garnet(S=12, A=3, gamma=0.9, seed=0):
    from mdp.generators import garnet

    return garnet(S, A, 4, gamma, seed=seed)


def _independent_bellman_residual(m, V):
    P = m.dense_P()
    TV = (m.R + m.gamma * np.einsum("sat,t->sa", P, V)).max(1)
    return float(np.abs(TV - V).max())


def case_value_iteration():
    from mdp import value_iteration

    m = _garnet()
    r = value_iteration(m, tol=1e-9)
    assert r.residual == pytest.approx(_independent_bellman_residual(m, r.V), abs=1e-12)
    assert r.value == pytest.approx(float(m.mu @ r.V))
    return r, 1e-9


def case_policy_iteration():
    from mdp import policy_iteration

    m = _garnet()
    r = policy_iteration(m)
    assert r.residual == pytest.approx(_independent_bellman_residual(m, r.V), abs=1e-12)
    return r, None


def case_policy_iteration_sparse():
    from mdp import policy_iteration
    from mdp.generators import garnet

    m = garnet(80, 4, 5, 0.9, seed=2, sparse=True)
    r = policy_iteration(m)                                  # through mdp.sparse.sparse_policy_iteration
    V = r.V
    TV = (m.R + m.gamma * (m.P_flat @ V).reshape(m.S, m.A)).max(1)
    assert r.residual == pytest.approx(float(np.abs(TV - V).max()), abs=1e-12)
    assert r.error_bound == pytest.approx(r.residual / (1 - m.gamma), rel=1e-12)
    assert r.solver == "policy_iteration"
    return r, None


def case_sparse_policy_iteration():
    from mdp.generators import garnet
    from mdp.sparse import sparse_policy_iteration

    m = garnet(80, 4, 5, 0.9, seed=2, sparse=True)
    r = sparse_policy_iteration(m, tol=1e-8)
    V = r.V
    TV = (m.R + m.gamma * (m.P_flat @ V).reshape(m.S, m.A)).max(1)
    assert r.residual == pytest.approx(float(np.abs(TV - V).max()), abs=1e-12)
    assert r.solver == "sparse_policy_iteration" and r.converged and r.policy_gap_bound <= 1e-8
    return r, None


def case_backward_induction():
    from mdp import backward_induction
    from mdp.generators import combination_lock

    return backward_induction(combination_lock(H=4, A=3, seed=0)), None


def case_congestion_equilibrium():
    from scipy import stats

    from games.population.congestion import congestion_family

    r = congestion_family((1, 2, 4)).equilibrium(9, tol=1e-12)
    b = np.arange(9)
    u = np.array([v * np.sum(stats.binom.pmf(b, 8, p) / (1 + b)) for v, p in zip((1, 2, 4), r.mixture)])
    assert r.residual == pytest.approx(9 * (u.max() - r.mixture @ u), abs=1e-12)
    return r, 1e-12


def case_best_latent_weights():
    from games.population.congestion import best_latent_weights, congestion_family

    return best_latent_weights(congestion_family((1, 2, 4)), 6, [[0, 0, 1], [.5, .5, 0]]), None


def case_occupancy_lp():
    from mdp import solve_occupancy_lp

    r = solve_occupancy_lp(_garnet())
    assert r.residual <= 1e-6 and r.error_bound is not None
    return r, None


def case_batched_value_iteration():
    from mdp.batched_planning import batched_value_iteration

    ms = [_garnet(seed=s, gamma=g) for s, g in ((0, 0.5), (1, 0.9))]
    P = torch.as_tensor(np.stack([m.dense_P() for m in ms]))
    R = torch.as_tensor(np.stack([m.R for m in ms]))
    r = batched_value_iteration(P, R, torch.tensor([0.5, 0.9], dtype=torch.float64), tol=1e-9)
    for i, m in enumerate(ms):
        assert float(r.residual[i]) == pytest.approx(_independent_bellman_residual(m, r.V[i].numpy()), abs=1e-12)
    return r, 1e-9


def case_certified_fixed_point():
    from theory.fixed_point import certified_fixed_point

    r = certified_fixed_point(lambda V: 1.0 + 0.5 * V, np.zeros(3), 0.5, 1e-10)
    assert abs(r.V - 2.0).max() <= r.error_bound  # the fixed point is 2 exactly
    return r, 1e-10


def case_certified_fixed_point_out_of_budget():
    import warnings

    from theory.fixed_point import certified_fixed_point

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = certified_fixed_point(lambda V: 1.0 + 0.5 * V, np.zeros(3), 0.5, 1e-10, max_iter=5)
    # after 5 steps the step size is 2^-4: the certificate 0.5/(1-0.5) * 2^-4 is far above the tolerance
    assert r.converged is False and r.error_bound == pytest.approx(2.0 ** -4)
    return r, 1e-10


def _halpern_case(name):
    def case():
        import theory
        from theory.operators import random_least_squares

        op = random_least_squares(64, d=5, seed=0)
        r = getattr(theory, name)(op, np.zeros(op.dim), eps=1e-3, max_calls=20_000, seed=0)
        assert r.residual == pytest.approx(float(np.linalg.norm(op.full(r.x))), rel=1e-9)
        return r, 1e-3
    return case


def case_mmd():
    import games

    r = games.mmd(games.kuhn_poker(), alpha=0.05, iterations=200, tol=1e-3)
    return r, 1e-3


def case_mmd_no_test():
    import games

    r = games.mmd(games.kuhn_poker(), alpha=0.05, iterations=20)
    assert r.converged is None  # nothing was tested
    return r, None


def case_cfr():
    import games

    r = games.cfr(games.kuhn_poker(), iterations=400, plus=True, target=1e-2)
    assert r.residual == pytest.approx(float(games.exploitability(games.kuhn_poker(), r.average_policy)),
                                       abs=1e-12)
    return r, 1e-2


def _cmdp():
    from mdp.constrained import thresholds_between
    from mdp.envs.recommender import short_video_cmdp

    sv = short_video_cmdp(Z=2, F=3, K=3, seed=1)
    return sv.model, sv.aux_rewards, thresholds_between(sv.model, sv.aux_rewards, 0.3)


def case_lagrangian():
    from mdp.constrained import lagrangian

    m, C, t = _cmdp()
    r = lagrangian(m, C, t, iterations=5000, step_size=10.0, tol=1e-3)
    assert r.converged and r.error_bound is None
    return r, 1e-3


def case_stage_two():
    from mdp.constrained import closed_form_policy, stage_one_policies, stage_two

    m, C, _ = _cmdp()
    pri = stage_one_policies(m, C, "npg", iterations=20)
    r = stage_two(m, pri, 1.0, tol=1e-9)
    P_pi = np.einsum("sat,sa->st", m.P, r.policy)                 # independent recomputation of the residual
    V = np.linalg.solve(np.eye(m.S) - m.gamma * P_pi, (m.R * r.policy).sum(-1))
    A = m.R + m.gamma * np.einsum("sat,t->sa", m.P, V) - V[:, None]
    assert r.residual == pytest.approx(float(np.abs(closed_form_policy(pri, A, 1.0) - r.policy).max()), abs=1e-12)
    return r, 1e-9


def case_two_stage_actor_critic():
    from mdp.constrained import two_stage_actor_critic

    m, C, t = _cmdp()
    return two_stage_actor_critic(m, C, t, stage_one="npg"), None


def case_sampled_stage_two():
    from mdp.constrained import sampled_stage_two, stage_one_policies

    m, C, _ = _cmdp()
    r = sampled_stage_two(m, stage_one_policies(m, C, "npg", iterations=5), 1.0, seeds=2, iterations=5, envs=4,
                          horizon=5)
    assert r.converged is None  # a fixed budget: nothing was tested
    assert r.V.shape == (2, m.S) and np.shape(r.residual) == (2,)     # one critic and one residual per seed
    return r, None


def case_convex_coverage_set():
    from mdp.multiobjective import convex_coverage_set, random_momdp

    m = random_momdp(5, 3, 2, 0.9, seed=0)
    r = convex_coverage_set(m, tol=1e-9)
    # independent: the CCS attains the best utility of 20 random weights (policy iteration per weight)
    from mdp.multiobjective import scalarised_optimum

    W = np.random.default_rng(0).dirichlet(np.ones(2), size=20)
    gap = max(w @ scalarised_optimum(m, w)[0] - (r.vertices @ w).max() for w in W)
    assert gap <= r.error_bound + 1e-12
    return r, 1e-9


def case_epsilon_constraint():
    from mdp.multiobjective import epsilon_constraint, random_momdp

    m = random_momdp(5, 3, 2, 0.9, seed=0)
    lo = epsilon_constraint(m, 1, [-np.inf, -np.inf]).value[0]
    hi = epsilon_constraint(m, 0, [-np.inf, -np.inf]).value[0]
    thr = 0.5 * (lo + hi)                                     # a middle threshold on objective 0
    r = epsilon_constraint(m, 1, [thr, -np.inf])
    one = epsilon_constraint(m, 1, [thr, -np.inf], lexicographic=False)
    assert r.oracle_calls == 2 and one.oracle_calls == 1       # the lexicographic stage is a second LP
    assert r.error_bound is None and r.converged and 0 <= r.residual <= 1e-7 and r.iterations >= 1
    assert r.value[0] >= thr - 1e-6
    return r, None


def case_deterministic_epsilon_constraint():
    from mdp.envs.deep_sea_treasure import deep_sea_treasure
    from mdp.multiobjective import deterministic_epsilon_constraint, pareto_value_iteration

    m = deep_sea_treasure("concave", 0.99)
    pareto = pareto_value_iteration(m)
    r = deterministic_epsilon_constraint(m, 0, [-np.inf, -10.0], pareto=pareto)
    # the treasure 16 nine steps away: 16 * 0.99^8 and a time cost -(1 - 0.99^9) / (1 - 0.99), both written out
    np.testing.assert_allclose(r.value, [16 * 0.99 ** 8, -(1 - 0.99 ** 9) / 0.01], rtol=1e-12)
    assert r.residual <= 1e-9 and r.iterations == pareto.iterations
    assert r.error_bound is None and r.converged is None       # a read-off: nothing tested
    return r, None


def case_pareto_value_iteration():
    from mdp.envs.deep_sea_treasure import deep_sea_treasure
    from mdp.multiobjective import pareto_value_iteration

    return pareto_value_iteration(deep_sea_treasure("convex", 0.99), tol=1e-12), 1e-12


def case_cmorl():
    from mdp.multiobjective import cmorl, random_momdp

    r = cmorl(random_momdp(5, 3, 2, 0.9, seed=0), rounds=1, n_select=1)
    assert r.converged is None and r.error_bound is None
    return r, None


def case_grouped_value_iteration():
    import math

    from mdp.generators import hierarchical_mdp
    from mdp.grouping import grouped_model
    from mdp.grouping_learning import grouped_value_iteration

    h = hierarchical_mdp(S=4, A=8, seed=0)
    g = grouped_model(h.model, h.groupings[1])
    r = grouped_value_iteration(g.P.reshape(4 * 2, 4), g.R, g.gamma, math.inf, vi_tol=1e-9)
    assert r.converged
    return r, 1e-9


def case_grouped_value_iteration_fixed_T():
    from mdp.generators import hierarchical_mdp
    from mdp.grouping import grouped_model
    from mdp.grouping_learning import grouped_value_iteration

    h = hierarchical_mdp(S=4, A=8, seed=0)
    g = grouped_model(h.model, h.groupings[1])
    r = grouped_value_iteration(g.P.reshape(4 * 2, 4), g.R, g.gamma, 5)
    assert r.converged is None  # a fixed number of backups: nothing was tested
    return r, None


CASES = {name[5:]: fn for name, fn in dict(globals()).items() if name.startswith("case_")}
CASES.update({name: _halpern_case(name) for name in ("halpern", "vr_halpern", "vr_halpern_inexact", "eag",
                                                     "extragradient", "vr_extragradient")})


@pytest.mark.parametrize("name", sorted(CASES))
def test_solver_keeps_the_result_convention(name):
    result, tol = CASES[name]()
    assert convention_violations(result, tol=tol) == []
    assert isinstance(result, SolverResult)


def test_convention_checker_catches_violations():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Bad:
        residual: float
        error_bound: float
        converged: bool
        iterations: int

    assert convention_violations((1.0, 2.0)) != []
    assert any("exceeds tol" in v for v in convention_violations(Bad(1.0, 0.5, True, 3), tol=0.1))
    assert any("residual" in v for v in convention_violations(Bad(float("nan"), None, False, 3)))
    assert convention_violations(Bad(1.0, 0.05, True, 3), tol=0.1) == []
