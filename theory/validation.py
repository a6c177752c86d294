r"""One input-check vocabulary for every public entry point (numpy and torch alike).

Every check raises a subclass of :class:`ModelError` (itself a ``ValueError``) whose message names the
argument, the offending index and the value, e.g. ``P[3, 1, :] sums to 0.97, not 1``. Scalars accept
Python and numpy numbers alike (a numpy integer radius, a ``float32`` tolerance) and refuse ``bool``,
NaN and non-numbers with the argument's name.

Example:
    >>> from theory.validation import check_scalar
    >>> check_scalar("gamma", 0.9, low=0.0, high=1.0, high_open=True)
    0.9
"""
from __future__ import annotations

import numbers

import numpy as np

from theory.backend import is_torch

__all__ = ["ROW_TOL", "ModelError", "ShapeError", "NotFiniteError", "NegativeProbabilityError",
           "NotStochasticError", "ParameterError", "as_float_array", "check_finite", "check_distributions",
           "check_shape", "check_scalar", "check_array", "format_index", "initial_distribution", "freeze"]

ROW_TOL = 1e-8


class ModelError(ValueError):
    """Base class of every validation error of the package."""


class ShapeError(ModelError):
    """An array has the wrong number of dimensions or mismatched sizes."""


class NotFiniteError(ModelError):
    """An array contains NaN or infinity."""


class NegativeProbabilityError(ModelError):
    """A probability is negative."""


class NotStochasticError(ModelError):
    """A distribution does not sum to one."""


class ParameterError(ModelError):
    """A scalar parameter (gamma, H, a tolerance, ...) is outside its allowed range or not a number."""


def as_float_array(x, dtype=np.float64, name: str = "array") -> np.ndarray:
    """A fresh, checked numpy copy (``dtype``, default float64) of a numpy array, a torch tensor (any device) or a
    nested sequence. Unlike :func:`theory.backend.to_numpy` (a plain conversion that keeps the dtype), it refuses
    ragged or non-numeric input with a package error.

    Raises:
        ShapeError: ``x`` is ragged or holds something that is not a number.
    """
    if is_torch(x):
        x = x.detach().cpu().numpy()
    try:
        return np.array(x, dtype=dtype)
    except (TypeError, ValueError):
        raise ShapeError(f"{name} must be a numeric array (numpy array, torch tensor or nested sequence); "
                         f"{_what_is_wrong(name, x)}") from None


def _is_seq(v) -> bool:
    return isinstance(v, (list, tuple)) or (isinstance(v, np.ndarray) and v.ndim > 0)


def _what_is_wrong(name: str, x) -> str:
    """Where a nested sequence is ragged or holds a non-number, in the package's words (no numpy internals)."""
    if not _is_seq(x):
        return f"got {type(x).__name__} {x!r:.80}"
    level = [((), x)]
    while level:
        seqs = [(i, v) for i, v in level if _is_seq(v)]
        if seqs and len(seqs) != len(level):
            (i, v), (j, w) = seqs[0], next((p for p in level if not _is_seq(p[1])))
            return (f"it is ragged: {name}[{format_index(i)}] is a sequence of length {len(v)} but "
                    f"{name}[{format_index(j)}] is {w!r:.40}") if i else f"it is ragged at {name}[{format_index(j)}]"
        if not seqs:
            for i, v in level:
                try:
                    float(v)
                except (TypeError, ValueError):
                    return f"{name}[{format_index(i)}] is {v!r:.40} ({type(v).__name__}), not a number"
            return f"got {type(x).__name__}"
        lengths = {len(v) for _, v in seqs}
        if len(lengths) > 1:
            (i, v) = seqs[0]
            j, w = next(p for p in seqs if len(p[1]) != len(v))
            where = lambda k: f"{name}[{format_index(k)}]" if k else name  # noqa: E731
            return (f"it is ragged: {where(i)} has length {len(v)} but {where(j)} has length {len(w)}")
        level = [(i + (k,), e) for i, v in seqs for k, e in enumerate(v)]
    return f"got {type(x).__name__}"


def format_index(index) -> str:
    return ", ".join(str(int(i)) for i in index)


def check_array(name: str, x, dtype=np.float64, ndim: int | None = None) -> np.ndarray:
    """Convert ``x`` to a numpy array of ``dtype`` (a copy) and check its number of dimensions."""
    a = as_float_array(x, dtype=dtype, name=name)
    if ndim is not None and a.ndim != ndim:
        raise ShapeError(f"{name} must have {ndim} dimension(s), got shape {a.shape}")
    return a


def check_finite(name: str, x) -> None:
    """Raise :class:`NotFiniteError` naming the first NaN/inf entry of ``x`` (numpy or torch)."""
    if is_torch(x):
        import torch

        bad = ~torch.isfinite(x)
        if bool(bad.any()):
            i = tuple(int(j) for j in torch.nonzero(bad)[0])
            raise NotFiniteError(f"{name}[{format_index(i)}] is {float(x[i])} (must be finite)")
        return
    x = np.asarray(x)
    bad = ~np.isfinite(x)
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        raise NotFiniteError(f"{name}[{format_index(i)}] is {x[i]} (must be finite)" if i else
                             f"{name} is {x} (must be finite)")


def check_distributions(name: str, x, tol: float = ROW_TOL) -> None:
    """``x[..., k]`` must be finite, non-negative and sum to one along the last axis (within ``tol``)."""
    if is_torch(x):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ShapeError(f"{name} must have a non-empty last axis of probabilities, got shape {x.shape}")
    check_finite(name, x)
    neg = x < 0
    if neg.any():
        i = tuple(np.argwhere(neg)[0])
        raise NegativeProbabilityError(f"{name}[{format_index(i)}] is {x[i]:.6g} (probabilities must be >= 0)")
    sums = x.sum(axis=-1)
    off = np.abs(sums - 1.0) > tol
    if off.any():
        i = tuple(np.argwhere(off)[0]) if sums.ndim else ()
        where = f"{name}[{format_index(i)}, :]" if i else name
        raise NotStochasticError(f"{where} sums to {float(sums[i]):.10g}, not 1 (tolerance {tol})")


def check_shape(name: str, x, shape) -> None:
    """``x.shape`` must equal ``shape``; an entry ``None`` matches any size."""
    got = tuple(getattr(x, "shape", np.shape(x)))
    want = tuple(shape)
    if len(got) != len(want) or any(w is not None and g != w for g, w in zip(got, want)):
        shown = "(" + ", ".join("*" if w is None else str(w) for w in want) + ("," if len(want) == 1 else "") + ")"
        raise ShapeError(f"{name} has shape {got}, expected {shown}")


def check_scalar(name: str, value, low=None, high=None, low_open: bool = False, high_open: bool = False,
                 integer: bool = False):
    """Return ``value`` as a Python ``float`` (or ``int``) after checking its range.

    Args:
        name: the argument's name, used in the message.
        value: a Python or numpy number (a 0-d array or one-element tensor is accepted).
        low, high: bounds (``None`` = unbounded); ``low_open`` / ``high_open`` make them strict.
        integer: require an integral value and return an ``int``.

    Raises:
        ParameterError: not a real number, a bool, NaN, non-integral when ``integer``, or out of range.
    """
    v = value
    if is_torch(v) or isinstance(v, np.ndarray):
        if getattr(v, "ndim", 0) != 0 and np.size(v) != 1:
            raise ParameterError(f"{name} must be a scalar, got an array of shape {tuple(v.shape)}")
        v = v.item()
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise ParameterError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    if integer:
        if isinstance(v, numbers.Integral):
            v = int(v)
        elif float(v).is_integer():
            v = int(v)
        else:
            raise ParameterError(f"{name} must be an integer, got {value!r}")
    else:
        v = float(v)
        if v != v:
            raise ParameterError(f"{name} must be a number, got NaN")
    if low is not None and (v < low or (low_open and v == low)):
        raise ParameterError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ParameterError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return v


def initial_distribution(mu, S: int, name: str = "mu") -> np.ndarray:
    """A model's initial distribution ``mu[S]``: uniform when ``None``, else a checked float64 copy.

    Raises:
        ShapeError: ``mu`` is not of shape ``(S,)``; NotFiniteError, NegativeProbabilityError,
        NotStochasticError: ``mu`` is not a distribution.
    """
    if mu is None:
        return np.full(S, 1.0 / S)
    mu = as_float_array(mu, name=name)
    check_shape(name, mu, (S,))
    check_distributions(name, mu)
    return mu


def freeze(*arrays) -> None:
    """Make numpy arrays read-only (a frozen model must not be changed through its arrays); others are skipped."""
    for a in arrays:
        if isinstance(a, np.ndarray):
            a.flags.writeable = False
