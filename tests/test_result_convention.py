"""One result convention across the package (theory.results): every public solver is walked here.

For each solver: a frozen dataclass (never a bare tuple) with ``residual`` (of the returned iterate),
``error_bound`` (certified or None), ``converged`` (None when nothing was tested) and ``iterations``;
and "converged implies the stated test held", checked by recomputing the certificate independently
where the solver has one.
"""
import numpy as np
import pytest
import torch

from theory.results import convention_violations


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


def case_backward_induction():
    from mdp import backward_induction
    from mdp.generators import combination_lock

    return backward_induction(combination_lock(H=4, A=3, seed=0)), None


def case_occupancy_lp():
    from mdp import solve_occupancy_lp

    r = solve_occupancy_lp(_garnet())
    assert r.residual <= 1e-6 and r.error_bound is not None
    return r, None


def case_batched_value_iteration():
    from mdp.batched import batched_value_iteration

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


CASES = {name[5:]: fn for name, fn in dict(globals()).items() if name.startswith("case_")}
CASES.update({name: _halpern_case(name) for name in ("halpern", "vr_halpern", "vr_halpern_inexact", "eag",
                                                     "extragradient", "vr_extragradient")})


@pytest.mark.parametrize("name", sorted(CASES))
def test_solver_keeps_the_result_convention(name):
    result, tol = CASES[name]()
    assert convention_violations(result, tol=tol) == []


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
