"""The compiled VR-Halpern iterations (theory.compiled) against the counted reference path.

The reference (``backend="python"``) charges every oracle use through ``op.full`` / ``op.batch`` and is
itself pinned against hand-written recursions of Algorithms 1 and 2 in test_theory_halpern.py (which
also runs those recursions against ``backend="numba"``). Here the compiled path must take the same draws,
make the same residual checks, charge the same number of oracle calls in bulk, and return iterates equal
to 1e-12, on several seeds, both algorithms and both operator families.
"""
import math
import warnings

import numpy as np
import pytest

from theory import compiled, vr_halpern, vr_halpern_inexact
from theory.operators import hard_quadratic, least_squares, policeman_burglar, random_least_squares
from theory.validation import ParameterError

needs_numba = pytest.mark.skipif(not compiled.HAVE_NUMBA, reason="numba is not installed")


def _instances():
    rng = np.random.default_rng(7)
    A = rng.normal(size=(60, 6))
    yield "least squares", random_least_squares(144, d=5, seed=2), None
    yield "least squares + l1", least_squares(A, rng.normal(size=60), rho=0.05), None
    for orientation, n in (("rows", 12), ("columns", 9)):
        op = policeman_burglar(n, seed=3, orientation=orientation)
        yield f"game ({orientation})", op, np.r_[np.full(op.m, 1 / op.m), np.full(op.k, 1 / op.k)]
    B = rng.normal(size=(7, 11))  # a rectangular game: components i >= m carry only a column
    from theory.operators import matrix_game

    op = matrix_game(B)
    yield "game (7 x 11)", op, np.r_[np.full(7, 1 / 7), np.full(11, 1 / 11)]


INSTANCES = list(_instances())


def _run(solver, op, x0, backend, **kw):
    op.reset_calls()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # budget-limited runs warn; both paths alike
        res = solver(op, x0, backend=backend, **kw)
    return res, op.calls


def _assert_same(ref, ref_calls, fast, fast_calls):
    assert fast.iterations == ref.iterations
    assert fast.oracle_calls == ref.oracle_calls and fast_calls == ref_calls  # bulk count == per-call count
    np.testing.assert_array_equal(fast.calls, ref.calls)  # the same residual checks
    np.testing.assert_allclose(fast.residuals, ref.residuals, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(fast.x, ref.x, rtol=0, atol=1e-12)
    assert fast.converged == ref.converged


@needs_numba
@pytest.mark.parametrize("name,op,x0", INSTANCES, ids=[i[0] for i in INSTANCES])
@pytest.mark.parametrize("seed", [0, 1, 5])
def test_compiled_algorithm_1_equals_the_reference(name, op, x0, seed):
    x0 = np.zeros(op.dim) if x0 is None else x0
    budget = 300 * op.n  # crosses several blocks of DRAW_CHUNK draws
    kw = dict(eps=1e-9, max_calls=budget, seed=seed)
    ref, rc = _run(vr_halpern, op, x0, "python", **kw)
    fast, fc = _run(vr_halpern, op, x0, "numba", **kw)
    assert ref.iterations > 256
    _assert_same(ref, rc, fast, fc)


@needs_numba
@pytest.mark.parametrize("name,op,x0", INSTANCES, ids=[i[0] for i in INSTANCES])
@pytest.mark.parametrize("seed", [0, 3])
def test_compiled_algorithm_2_equals_the_reference(name, op, x0, seed):
    x0 = np.zeros(op.dim) if x0 is None else x0
    kw = dict(eps=1e-9, max_calls=80 * op.n + 7, seed=seed, inner_scale=0.5)  # the budget ends mid-inner-loop
    ref, rc = _run(vr_halpern_inexact, op, x0, "python", **kw)
    fast, fc = _run(vr_halpern_inexact, op, x0, "numba", **kw)
    assert ref.iterations >= 3
    _assert_same(ref, rc, fast, fc)
    # the authors' counting mode: op.calls counts the uncharged starts, oracle_calls does not
    ref, rc = _run(vr_halpern_inexact, op, x0, "python", uncharged_inner_start=True, **kw)
    fast, fc = _run(vr_halpern_inexact, op, x0, "numba", uncharged_inner_start=True, **kw)
    _assert_same(ref, rc, fast, fc)


@needs_numba
def test_compiled_algorithm_1_converges_at_the_same_check():
    op = random_least_squares(1024, d=20, seed=0)
    ref, rc = _run(vr_halpern, op, np.zeros(20), "python", eps=1e-3, max_calls=10**8, seed=0)
    fast, fc = _run(vr_halpern, op, np.zeros(20), "numba", eps=1e-3, max_calls=10**8, seed=0)
    assert ref.converged and fast.converged
    _assert_same(ref, rc, fast, fc)
    grad = op.A.T @ (op.A @ fast.x - op.b) / op.n  # the certificate ||F(x)||, by hand
    assert fast.residual == pytest.approx(np.linalg.norm(grad), rel=1e-12)


@needs_numba
def test_auto_uses_the_kernels_where_they_apply(monkeypatch):
    seen = []
    real_page, real_forb = compiled.page_steps, compiled.forb_steps
    monkeypatch.setattr(compiled, "page_steps", lambda *a, **k: seen.append("page") or real_page(*a, **k))
    monkeypatch.setattr(compiled, "forb_steps", lambda *a, **k: seen.append("forb") or real_forb(*a, **k))
    op = random_least_squares(64, d=3, seed=1)
    vr_halpern(op, np.zeros(3), eps=1e-4, max_calls=10**6, seed=0)
    vr_halpern_inexact(op, np.zeros(3), eps=1e-2, max_calls=10**6, seed=0)
    assert "page" in seen and "forb" in seen
    seen.clear()
    qp = hard_quadratic(6)  # no kernel for this family: auto takes the reference path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vr_halpern(qp, np.zeros(qp.dim), eps=1e-3, max_calls=2000, seed=0)
    assert seen == []


def test_fallback_without_numba_is_the_reference_path(monkeypatch):
    """With numba absent, backend="auto" runs the counted reference loop (same result as "python"), and
    backend="numba" says what to install."""
    op = random_least_squares(100, d=4, seed=3)
    ref, rc = _run(vr_halpern, op, np.zeros(4), "python", eps=1e-4, max_calls=10**6, seed=2)
    monkeypatch.setattr(compiled, "HAVE_NUMBA", False)

    def boom(*a, **k):
        raise AssertionError("the kernels must not run without numba")

    monkeypatch.setattr(compiled, "page_steps", boom)
    monkeypatch.setattr(compiled, "forb_steps", boom)
    res, calls = _run(vr_halpern, op, np.zeros(4), "auto", eps=1e-4, max_calls=10**6, seed=2)
    np.testing.assert_array_equal(res.x, ref.x)
    assert res.oracle_calls == ref.oracle_calls and calls == rc
    ref2, rc2 = _run(vr_halpern_inexact, op, np.zeros(4), "python", eps=1e-2, max_calls=10**5, seed=2)
    res2, c2 = _run(vr_halpern_inexact, op, np.zeros(4), "auto", eps=1e-2, max_calls=10**5, seed=2)
    np.testing.assert_array_equal(res2.x, ref2.x)
    assert c2 == rc2
    with pytest.raises(ImportError, match="numba"):
        vr_halpern(op, np.zeros(4), eps=1e-4, max_calls=100, backend="numba")


def test_bad_backends_and_unsupported_operators_are_refused():
    op = random_least_squares(16, d=3, seed=0)
    for solver in (vr_halpern, vr_halpern_inexact):
        with pytest.raises(ParameterError, match="backend.*'cuda'"):
            solver(op, np.zeros(3), eps=1e-3, max_calls=100, backend="cuda")
    if compiled.HAVE_NUMBA:
        qp = hard_quadratic(4)
        with pytest.raises(ParameterError, match="QuadraticMinMax"):
            vr_halpern(qp, np.zeros(qp.dim), eps=1e-3, max_calls=100, backend="numba")
        with pytest.raises(ParameterError, match="x0 of shape"):
            vr_halpern(op, np.zeros((2, 3)), eps=1e-3, max_calls=100, backend="numba")
    # the validation in front of both paths is unchanged
    with pytest.raises(ValueError, match="eps"):
        vr_halpern(op, np.zeros(3), eps=-1.0, max_calls=100, backend="auto")
    with pytest.raises(ValueError, match="dimension"):
        vr_halpern(op, np.zeros(4), eps=1e-3, max_calls=100, backend="auto")
    with pytest.raises(ValueError, match="non-finite"):
        vr_halpern_inexact(op, np.array([0.0, math.nan, 0.0]), eps=1e-3, max_calls=100, backend="auto")


def test_wrapped_oracles_take_the_reference_path():
    """An operator whose full/batch were replaced (e.g. to log calls) must see every call."""
    op = random_least_squares(64, d=3, seed=0)
    log = []
    full = op.full
    op.full = lambda u: log.append(1) or full(u)
    assert compiled.family(op) is None
    vr_halpern(op, np.zeros(3), eps=1e-3, max_calls=10**6, seed=0)
    assert log
