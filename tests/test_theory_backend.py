"""theory.backend against closed forms, a cvxpy QP for the simplex projection, and numpy/torch parity."""
import math

import numpy as np
import pytest
import torch

from theory.backend import is_torch, log_softmax, logsumexp, namespace, project_simplex, softmax, to_numpy


def test_kind_test_and_namespace():
    assert is_torch(torch.zeros(2)) and is_torch(torch.nn.Parameter(torch.zeros(2)))
    assert not is_torch(np.zeros(2)) and not is_torch([1.0]) and not is_torch(1.0)
    assert namespace(torch.zeros(1)) is torch and namespace(np.zeros(1)) is np
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    assert isinstance(to_numpy(t), np.ndarray) and to_numpy(t).tolist() == [1.0, 2.0]


# closed forms: lse(log a) = log sum a; softmax(log a) = a / sum a
A = np.array([[1.0, 2.0, 5.0], [3.0, 3.0, 3.0]])


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_closed_forms(kind):
    x = np.log(A) + np.array([[0.0], [800.0]])  # the shift of row 2 overflows a naive exp
    xx = torch.as_tensor(x) if kind == "torch" else x
    lse = to_numpy(logsumexp(xx))
    assert lse == pytest.approx([math.log(8.0), 800.0 + math.log(9.0)], rel=1e-15, abs=1e-12)
    assert to_numpy(logsumexp(xx, keepdims=True)).shape == (2, 1)
    assert to_numpy(softmax(xx)) == pytest.approx(A / A.sum(1, keepdims=True), rel=1e-14)
    # x itself carries a rounding of ulp(800)/2 = 5.7e-14 in row 2, which x - lse(x) keeps
    assert to_numpy(log_softmax(xx)) == pytest.approx(np.log(A / A.sum(1, keepdims=True)), rel=0, abs=2e-13)
    # another axis: columns of the transpose
    assert to_numpy(softmax(xx.T, axis=0)) == pytest.approx((A / A.sum(1, keepdims=True)).T, rel=1e-14)
    assert to_numpy(logsumexp(xx.T, axis=0)) == pytest.approx(lse, rel=1e-15)
    assert to_numpy(log_softmax(xx.T, axis=0)) == pytest.approx(to_numpy(log_softmax(xx)).T, rel=0, abs=1e-15)


def test_logsumexp_infinite_rows():
    x = np.array([[-np.inf, -np.inf], [0.0, -np.inf], [np.inf, 0.0]])
    assert logsumexp(x).tolist() == [-np.inf, 0.0, np.inf]
    assert softmax(np.array([0.0, -np.inf])).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("fn", [logsumexp, softmax, log_softmax, project_simplex])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_and_kind_preserved(fn, dtype):
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(dtype)
    assert fn(x).dtype == np.dtype(dtype)
    t = torch.as_tensor(x)
    assert fn(t).dtype == getattr(torch, dtype) and is_torch(fn(t))
    assert fn(np.array([[1, 2, 3]])).dtype == np.float64  # integers are computed in float64


def _qp_projection(v):
    import cvxpy as cp

    p = cp.Variable(v.size)
    cp.Problem(cp.Minimize(cp.sum_squares(p - v)), [p >= 0, cp.sum(p) == 1]).solve(solver=cp.CLARABEL,
                                                                                   tol_gap_abs=1e-12,
                                                                                   tol_gap_rel=1e-12,
                                                                                   tol_feas=1e-12)
    return p.value


def test_project_simplex_against_qp():
    rng = np.random.default_rng(1)
    V = np.concatenate([rng.normal(scale=s, size=(10, 6)) for s in (0.1, 1.0, 10.0)])
    P = project_simplex(V)
    for v, p in zip(V, P):
        assert p == pytest.approx(_qp_projection(v), abs=1e-7)
    assert np.all(P >= 0) and P.sum(-1) == pytest.approx(np.ones(len(V)), abs=1e-12)
    # batched over two leading axes gives the same rows
    assert np.array_equal(project_simplex(V.reshape(3, 10, 6)).reshape(30, 6), P)


def test_project_simplex_closed_forms():
    # a point of the simplex is its own projection; a shift by c*1 does not move the projection
    p = np.array([0.2, 0.3, 0.5])
    assert project_simplex(p) == pytest.approx(p, abs=1e-15)
    assert project_simplex(p + 7.0) == pytest.approx(p, abs=1e-14)
    # (2, 0, 0) -> vertex e_1; (0.5, 0.5, -3) -> (0.5, 0.5, 0); uniform v -> uniform
    assert project_simplex(np.array([2.0, 0.0, 0.0])).tolist() == [1.0, 0.0, 0.0]
    assert project_simplex(np.array([0.5, 0.5, -3.0])).tolist() == [0.5, 0.5, 0.0]
    assert project_simplex(np.full(4, -2.0)).tolist() == [0.25] * 4


@pytest.mark.parametrize("fn", [logsumexp, softmax, log_softmax, project_simplex])
def test_numpy_torch_parity(fn):
    x = np.random.default_rng(2).normal(size=(2, 5, 7))
    assert to_numpy(fn(torch.as_tensor(x))) == pytest.approx(fn(x), rel=1e-13, abs=1e-15)
