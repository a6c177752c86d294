"""theorysim.theory.operators: finite-sum monotone operators with counted oracle calls (lazy exports).

:mod:`theory.operators.base` states the oracle protocol, the constants and the base class;
:mod:`~theory.operators.regression` holds least squares (cocoercive), :mod:`~theory.operators.saddle`
the monotone saddle-point operators, :mod:`~theory.operators.instances` the benchmark instances.
"""
from theory.lazy import lazy_exports

_EXPORTS = {
    "FiniteSumOperator": "theory.operators.base",
    "LipschitzConstants": "theory.operators.base",
    "lipschitz_constants": "theory.operators.base",
    "DENSE_MAX_DIM": "theory.operators.base",
    "LeastSquares": "theory.operators.regression",
    "least_squares": "theory.operators.regression",
    "MatrixGame": "theory.operators.saddle",
    "matrix_game": "theory.operators.saddle",
    "QuadraticMinMax": "theory.operators.saddle",
    "BallMinMax": "theory.operators.saddle",
    "regularized_minmax": "theory.operators.saddle",
    "policeman_burglar": "theory.operators.instances",
    "hard_quadratic": "theory.operators.instances",
    "random_least_squares": "theory.operators.instances",
    "AuthorsSetup": "theory.operators.instances",
    "authors_setup": "theory.operators.instances",
    "project_simplex": "theory.backend",
}
_SUBMODULES = {}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
