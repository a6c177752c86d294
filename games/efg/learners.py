r"""What MMD and CFR share: the result type, the record schedule and the exploitability recorder.

Both are stepping objects (:class:`games.efg.cfr.CFRSolver`, :class:`games.efg.mmd.MMDSolver`: ``step()``
performs one iteration, ``result()`` builds the result), and :func:`games.cfr` / :func:`games.mmd` are loops
over them. A loop calls its hooks after each step with the solver: the :class:`LearnerRecorder` (the record
arrays of the result) and the caller's ``callback(solver)``; :func:`at_iterations` turns a function of
``(t, probs)`` into such a callback that runs at given iterations only.

Both learners follow the package's result convention (:mod:`theory.results`):

* :func:`games.mmd` returns its **last iterate**; ``residual`` is the fixed-point residual of the MMD
  update at the returned iterate, :math:`\max_i\|x_i^{T+1} - x_i^T\|_\infty` over both players' sequence
  forms (one extra update is computed, not taken); ``converged`` is ``residual <= tol`` when ``tol`` is
  given, else ``None``.
* :func:`games.cfr` returns the **average** strategy as its equilibrium estimate; ``residual`` is that
  policy's exploitability (NashConv / 2: zero exactly at a Nash equilibrium of a zero-sum game);
  ``converged`` is ``residual <= target`` when ``target`` is given, else ``None``.

Neither method has a certified distance to its solution, so ``error_bound`` is ``None``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from games.efg.evaluation import behavioural_form, exploitability_t
from games.efg.policy import TabularPolicy
from theory.results import SolverResult, warn_not_converged

__all__ = ["LearnerResult", "record_points", "LearnerRecorder", "at_iterations"]


@dataclass(frozen=True)
class LearnerResult(SolverResult):
    """Result of :func:`games.mmd` and :func:`games.cfr` (batch axis first when batched).

    Attributes:
        policy: last iterate.
        average_policy: reach-weighted (sequence-form) average of the iterates.
        exploitability, average_exploitability: NashConv / 2 of the two, ``[B]`` or scalar.
        record_iterations: iterations at which the ``record_*`` arrays were taken.
        record_exploitability, record_average_exploitability: ``[len(record_iterations), B]``.

    Base fields (:class:`theory.results.SolverResult`, keyword-only): ``residual`` (see the module docstring;
    MMD: update residual of the last iterate, CFR: exploitability of the average policy; per instance when
    batched), ``iterations`` (updates performed), ``converged`` (the stated stopping test, ``None`` when none
    was asked for), ``error_bound`` ``None`` (no certified distance exists for these methods), ``history``
    ``None`` (the record arrays are the history).
    """

    policy: TabularPolicy
    average_policy: TabularPolicy
    exploitability: object
    average_exploitability: object
    record_iterations: np.ndarray
    record_exploitability: np.ndarray
    record_average_exploitability: np.ndarray


def record_points(iterations: int, record_at=None) -> np.ndarray:
    """Iterations at which to record: ``record_at`` (checked) or about 40 log-spaced points."""
    if record_at is None:
        return np.unique(np.geomspace(1, iterations, num=min(iterations, 40)).round().astype(int))
    pts = np.unique(np.asarray(list(record_at), dtype=int))
    if pts.size and (pts.min() < 1 or pts.max() > iterations):
        raise ValueError(f"record_at must lie in [1, {iterations}], got {pts.min()}..{pts.max()}")
    return pts


@dataclass
class LearnerRecorder:
    """Records last-iterate and average exploitability at the scheduled iterations and builds the result."""

    game: object
    tensors: object
    points: np.ndarray
    iterations_done: list = field(default_factory=list)
    last: list = field(default_factory=list)
    average: list = field(default_factory=list)

    def due(self, t: int) -> bool:
        return t in self._set

    def __post_init__(self):
        self._set = set(np.asarray(self.points).tolist())

    def __call__(self, solver):
        """The recording hook: record ``solver`` if its iteration is due (returns the average policy's
        exploitability ``[B]`` then, else ``None``)."""
        if not self.due(solver.iterations):
            return None
        return self.record(solver.iterations, solver.probs, solver.average_sequence)

    def record(self, t: int, probs, avg_x) -> np.ndarray:
        """Record at iteration ``t``; returns the average policy's exploitability ``[B]``."""
        T = self.tensors
        avg = tuple(behavioural_form(T, i, avg_x[i]) for i in range(2))
        ae = exploitability_t(T, avg).cpu().numpy()
        self.iterations_done.append(t)
        self.last.append(exploitability_t(T, tuple(probs)).cpu().numpy())
        self.average.append(ae)
        return ae

    def finish(self, probs, avg_x, residual, iterations: int, batched: bool, converged, who: str,
               tol=None, stacklevel: int = 4) -> LearnerResult:
        """Build the :class:`LearnerResult` (and warn when a requested test did not hold)."""
        T = self.tensors
        avg = tuple(behavioural_form(T, i, avg_x[i]) for i in range(2))
        e_last = exploitability_t(T, tuple(probs)).cpu().numpy()
        e_avg = exploitability_t(T, avg).cpu().numpy()
        resid = np.asarray(residual.cpu().numpy() if hasattr(residual, "cpu") else residual, dtype=float)
        if converged is not None and not bool(np.all(converged)):
            warn_not_converged(f"{who} on {self.game.name}", residual=float(np.max(resid)), tol=tol,
                               iterations=iterations, stacklevel=stacklevel)
        sq = (lambda a: a[0]) if not batched else (lambda a: a)
        pol = TabularPolicy(self.game, tuple(sq(p).cpu().numpy() for p in probs))
        apol = TabularPolicy(self.game, tuple(sq(p).cpu().numpy() for p in avg))
        n = len(self.iterations_done)
        width = int(probs[0].shape[0])  # the batch size B (1 when unbatched)
        rec_e = np.array(self.last).reshape(n, -1) if n else np.zeros((0, width))
        rec_ae = np.array(self.average).reshape(n, -1) if n else np.zeros((0, width))
        f = (lambda a: float(np.ravel(a)[0])) if not batched else (lambda a: a)
        conv = None if converged is None else (bool(np.all(converged)) if not batched else np.asarray(converged))
        return LearnerResult(pol, apol, f(e_last), f(e_avg), np.asarray(self.iterations_done, dtype=int),
                             rec_e, rec_ae, residual=f(resid), iterations=int(iterations), converged=conv)


def at_iterations(points, fn):
    """A ``callback(solver)`` that calls ``fn(t, probs)`` at the iterations ``points`` only.

    ``probs`` is the solver's current policy, one ``[B, I, A]`` tensor per player. Passing the same
    ``points`` as ``record_at`` calls ``fn`` where the result's record arrays are taken.
    """
    pts = set(np.asarray(list(points), dtype=int).tolist())

    def callback(solver):
        if solver.iterations in pts:
            fn(solver.iterations, solver.probs)

    return callback
