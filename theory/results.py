r"""The package's one result convention, and the warning every solver raises when it stops early.

Every iterative solver (exact planning, batched and robust DP, IWOCS, the Halpern family, MMD, CFR,
constrained, multi-objective and game solvers) returns a small frozen dataclass, never a bare tuple,
whose shared fields mean the same thing everywhere:

``residual``
    the residual of the *returned* iterate (each solver's docstring says which residual: a Bellman
    residual :math:`\|\mathcal T V - V\|_\infty`, an operator norm :math:`\|F x\|`, an exploitability, ...).
``error_bound``
    a certified bound on the distance of the returned iterate to the solution, ``None`` where the
    method has none.
``converged``
    whether the solver's stated stopping test held for the returned iterate (usually
    ``error_bound <= tol``); ``None`` when no test was asked for (a fixed iteration budget).
``iterations``
    the number of iterations (updates) performed.
``oracle_calls``
    where the method counts oracle calls (component evaluations, worst-case oracles).
``history``
    the per-iteration record when asked for with ``history=True``, else ``None``.

Every result class subclasses :class:`SolverResult` (a frozen, keyword-only dataclass holding the six
fields above), so ``isinstance(r, SolverResult)`` identifies a solver's answer and the fields have one
meaning and one default everywhere (``error_bound``, ``converged``, ``oracle_calls`` and ``history``
default to ``None``: a forgotten field never claims an exact answer). The base fields are keyword-only:
a subclass declares its own fields (positional or not) without redeclaring the base ones, and is built
as ``Sub(own, fields, residual=..., iterations=..., error_bound=...)``.

Unified names of the other fields (a subclass uses these spellings, never a synonym):

``policy`` / ``policies``
    one policy / a sequence with one policy per player.
``V`` / ``Q``
    state / state-action values, capitalised as in the planning results (never ``v`` / ``q``).
``solver``
    the name of the algorithm or LP backend used (never ``method``).
``x``
    the returned iterate of an operator solver.

Batched results (one instance per leading index) hold ``residual``, ``error_bound`` and ``converged`` *per
instance* (arrays), never a maximum over the batch; the caller reduces. ``iterations`` is per instance where
instances stop at different iterations, and one integer where every instance runs the same updates (a batched
loop that stops when all instances have met the test).

Non-convergence is reported (``converged=False``) and warned about with :class:`NotConvergedWarning`
(the package's only not-converged warning class), never hidden. :func:`convention_violations` is what
the package's tests use to check a result.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any

__all__ = ["SolverResult", "NotConvergedWarning", "warn_not_converged", "RESULT_FIELDS", "convention_violations"]

RESULT_FIELDS = ("residual", "error_bound", "converged", "iterations")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SolverResult:
    r"""Base of every solver result: the shared fields of the module docstring, all keyword-only.

    Attributes:
        residual: residual of the returned iterate (float, or an array with one entry per instance).
        iterations: iterations (updates) performed (int, or per instance).
        error_bound: certified bound on the distance to the solution, ``None`` where there is none.
        converged: whether the stated stopping test held; ``None`` when none was asked for.
        oracle_calls: oracle calls made, where the method counts them, else ``None``.
        history: per-iteration record when asked for, else ``None``.
    """

    residual: Any
    iterations: Any
    error_bound: Any = None
    converged: Any = None
    oracle_calls: Any = None
    history: Any = None


class NotConvergedWarning(RuntimeWarning):
    """A solver stopped at its budget before its stated stopping test held."""


def warn_not_converged(who: str, residual=None, tol=None, iterations=None, stacklevel: int = 3) -> None:
    """Warn that ``who`` stopped before its stopping test held (``converged=False`` in its result)."""
    parts = []
    if iterations is not None:
        parts.append(f"after {iterations} iterations")
    if residual is not None:
        parts.append(f"residual {float(residual):.3g}")
    if tol is not None:
        parts.append(f"tolerance {float(tol):.3g}")
    warnings.warn(f"{who} did not converge ({', '.join(parts)}); the result is the last iterate "
                  "(converged=False)", NotConvergedWarning, stacklevel=stacklevel)


def convention_violations(result, tol=None) -> list[str]:
    """List the ways ``result`` breaks the convention (empty when it keeps it).

    Checks: a frozen dataclass; the fields of :data:`RESULT_FIELDS` present; ``residual`` a finite
    non-negative number (or array of them); ``error_bound`` ``None`` or non-negative; ``converged``
    ``None``, a bool or a bool array; ``iterations`` a non-negative integer (or array); and, when ``tol``
    is given, ``converged`` implies ``error_bound <= tol`` (or ``residual <= tol`` when there is no bound).
    """
    import numpy as np

    out = []
    if not dataclasses.is_dataclass(result) or isinstance(result, type):
        return [f"{type(result).__name__} is not a dataclass instance"]
    if not result.__dataclass_params__.frozen:
        out.append(f"{type(result).__name__} is not frozen")
    for f in RESULT_FIELDS:
        if not hasattr(result, f):
            out.append(f"missing field {f!r}")
    if out:
        return out

    from theory.backend import to_numpy as arr

    r = arr(result.residual).astype(float)
    if not (np.all(np.isfinite(r)) and np.all(r >= 0)):
        out.append(f"residual {result.residual!r} is not finite and non-negative")
    eb = result.error_bound
    if eb is not None and not np.all(arr(eb).astype(float) >= 0):
        out.append(f"error_bound {eb!r} is negative")
    c = result.converged
    if c is not None and arr(c).dtype != bool:
        out.append(f"converged {c!r} is neither None nor boolean")
    it = arr(result.iterations)
    if not (np.issubdtype(it.dtype, np.integer) and np.all(it >= 0)):
        out.append(f"iterations {result.iterations!r} is not a non-negative integer")
    if tol is not None and c is not None:
        cert = arr(eb if eb is not None else result.residual).astype(float)
        conv = np.broadcast_to(arr(c), cert.shape) if cert.ndim else arr(c)
        if np.any(conv & (cert > tol * (1 + 1e-9) + 1e-15)):
            out.append(f"converged is True but the certificate {cert.max():.3g} exceeds tol {tol:.3g}")
    return out
