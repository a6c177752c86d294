r"""Counterfactual regret minimisation (CFR; Zinkevich et al. 2007) and CFR+ (Tammelin 2014), vectorised.

Per iteration and player :math:`i` (alternating: player 0 then player 1 against the updated opponent;
simultaneous: both against the same iterate), with opponent sequence form :math:`y`:

* counterfactual values :math:`\mathrm{cfv}(I,a)` — one bottom-up expectation pass over the treeplex
  (:func:`games.efg.evaluation.bottom_up`), :math:`v(I) = \sum_a \pi(a|I)\,\mathrm{cfv}(I,a)`;
* regrets :math:`R(I,a) \mathrel{+}= \mathrm{cfv}(I,a) - v(I)`; CFR+ clips, :math:`R \leftarrow [R]^+`;
* regret matching :math:`\pi(a|I)\propto[R(I,a)]^+` (uniform when all are :math:`\le 0`);
* average strategy in sequence form, :math:`\bar x \mathrel{+}= w_t x^t` with :math:`w_t = 1` (CFR) or
  :math:`w_t = t` (CFR+, linear averaging).

The average strategy converges to a Nash equilibrium in two-player zero-sum games at rate
:math:`O(1/\sqrt T)` (CFR+ is typically much faster in practice).

:class:`CFRSolver` is the stepping object (OpenSpiel's ``CFRSolver`` / ``CFRPlusSolver`` shape: :meth:`CFRSolver.step`
is their ``evaluate_and_update_policy``); :func:`cfr` is a loop over it.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from tqdm import tqdm

from games.efg.evaluation import (behavioural_form, bottom_up, exploitability_t, sequence_form, sequence_payoffs,
                              uniform_rows)
from games.efg.learners import LearnerRecorder, LearnerResult, record_points
from games.efg.model import ExtensiveFormGame
from games.efg.policy import TabularPolicy
from theory.validation import check_scalar


def _regret_matching(R: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    pos = R.clamp_min(0.0) * mask
    tot = pos.sum(-1, keepdim=True)
    return torch.where(tot > 0, pos / torch.where(tot > 0, tot, torch.ones_like(tot)), uniform_rows(mask, R.dtype))


class CFRSolver:
    r"""CFR (``plus=False``) or CFR+ (``plus=True``) on a two-player zero-sum game, one iteration per :meth:`step`.

    The state starts at the uniform policy with zero regrets and an empty average. ``probs`` holds the
    current policy (one ``[1, I, A]`` tensor per player), ``average_sequence`` the weighted sums
    :math:`\sum_t w_t x^t` of the sequence forms; ``policy`` and ``average_policy`` are their
    :class:`~games.efg.policy.TabularPolicy` views.

    Args:
        g: a two-player zero-sum :class:`~games.efg.model.ExtensiveFormGame`.
        plus: CFR+ (regret clipping, linear averaging).
        alternating: player 0 then player 1 against the updated opponent (False: simultaneous updates).
        device, dtype: torch placement and precision.
    """

    def __init__(self, g: ExtensiveFormGame, plus: bool = False, alternating: bool = True, device: str = "cpu",
                 dtype=torch.float64):
        self.game, self.plus, self.alternating = g, bool(plus), bool(alternating)
        T = self.tensors = g.tensors(device, dtype)
        self._masks = [P.mask for P in T.players]
        self._probs = [uniform_rows(m, dtype).unsqueeze(0) for m in self._masks]
        self._regrets = [torch.zeros_like(p) for p in self._probs]
        self._avg_x = [torch.zeros(1, P.n_seq, dtype=dtype, device=device) for P in T.players]
        self._x = [sequence_form(T, i, self._probs[i]) for i in range(2)]
        self.iterations = 0

    def step(self) -> None:
        """One CFR(+) iteration (both players; see the module docstring)."""
        T, masks, probs, R, avg_x, x = self.tensors, self._masks, self._probs, self._regrets, self._avg_x, self._x
        t = self.iterations + 1
        w = float(t) if self.plus else 1.0
        x_iter = [xi for xi in x]
        for i in range(2):
            P = T.players[i]
            y = x[1 - i] if self.alternating else x_iter[1 - i]
            acc, _ = bottom_up(T, i, sequence_payoffs(T, i, y), "mean", probs[i])
            cfv = acc[..., 1:].unflatten(-1, (P.num_infosets, T.A))
            v = (cfv * probs[i]).sum(-1, keepdim=True)
            avg_x[i] += w * x[i]
            R[i] = R[i] + (cfv - v) * masks[i]
            if self.plus:
                R[i] = R[i].clamp_min(0.0)
            probs[i] = _regret_matching(R[i], masks[i])
            x[i] = sequence_form(T, i, probs[i])
        self.iterations = t

    evaluate_and_update_policy = step  # OpenSpiel's name

    @property
    def probs(self) -> tuple:
        """The current policy: one ``[1, I, A]`` tensor per player."""
        return tuple(self._probs)

    @property
    def regrets(self) -> tuple:
        """The cumulative (CFR+: clipped) regrets, one ``[1, I, A]`` tensor per player."""
        return tuple(self._regrets)

    @property
    def average_sequence(self) -> tuple:
        """The weighted sums of the sequence forms, one ``[1, n_seq]`` tensor per player."""
        return tuple(self._avg_x)

    @property
    def policy(self) -> TabularPolicy:
        """The current policy (float numpy)."""
        return TabularPolicy(self.game, tuple(p[0].cpu().numpy() for p in self._probs))

    @property
    def average_policy(self) -> TabularPolicy:
        """The average policy (the equilibrium estimate; float numpy)."""
        if self.iterations == 0:
            raise ValueError("the average policy needs at least one step()")
        T = self.tensors
        return TabularPolicy(self.game, tuple(behavioural_form(T, i, self._avg_x[i])[0].cpu().numpy()
                                              for i in range(2)))

    def result(self, recorder: LearnerRecorder | None = None, target: float | None = None,
               stacklevel: int = 4) -> LearnerResult:
        """The :class:`~games.efg.learners.LearnerResult` of the iterations so far.

        ``residual`` is the average policy's exploitability; ``converged`` is ``residual <= target``
        (``None`` without a target). ``recorder`` supplies the record arrays (empty without one).
        """
        if self.iterations == 0:
            raise ValueError("result() needs at least one step()")
        T = self.tensors
        rec = recorder if recorder is not None else LearnerRecorder(self.game, T, np.zeros(0, dtype=int))
        # The equilibrium estimate is the average policy; its exploitability is the residual.
        residual = exploitability_t(T, tuple(behavioural_form(T, i, self._avg_x[i]) for i in range(2)))
        converged = None if target is None else (residual <= target).cpu().numpy()
        return rec.finish(tuple(self._probs), self._avg_x, residual, self.iterations, False, converged,
                          "cfr+" if self.plus else "cfr", target, stacklevel=stacklevel)


def cfr(g: ExtensiveFormGame, iterations: int = 1000, plus: bool = False, alternating: bool = True,
        record_at=None, target: float | None = None, device: str = "cpu", dtype=torch.float64,
        callback=None) -> LearnerResult:
    """Run CFR (``plus=False``) or CFR+ (``plus=True``); ``.average_policy`` is the equilibrium estimate.

    A loop over :class:`CFRSolver`. ``target``: stop early once the average policy's exploitability
    (checked at the ``record_at`` points) is at most ``target``; ``converged`` then reports whether it was
    reached (``None`` without a target). ``residual`` is the average policy's exploitability (see
    :mod:`games.efg.learners`).

    Args:
        g: a two-player zero-sum :class:`ExtensiveFormGame`.
        iterations: budget of iterations (>= 1); plus: CFR+ (regret clipping, linear averaging).
        alternating: player 0 then player 1 against the updated opponent (False: simultaneous updates).
        record_at: iterations at which exploitabilities are recorded; target: early-stopping level.
        device, dtype: torch placement and precision.
        callback: ``callback(solver)``, called with the :class:`CFRSolver` after each step.

    Returns:
        :class:`games.efg.learners.LearnerResult` (``average_policy`` is the equilibrium estimate).

    Example:
        >>> import games
        >>> r = games.cfr(games.kuhn_poker(), iterations=1000, plus=True, target=1e-3)
        >>> bool(r.converged), r.average_exploitability <= 1e-3
        (True, True)
    """
    iterations = check_scalar("iterations", iterations, low=1, integer=True)
    solver = CFRSolver(g, plus, alternating, device, dtype)
    rec = LearnerRecorder(g, solver.tensors, record_points(iterations, record_at))
    for _ in tqdm(range(iterations), disable=not sys.stderr.isatty(), desc="cfr", leave=False):
        solver.step()
        ae = rec(solver)
        if callback is not None:
            callback(solver)
        if target is not None and ae is not None and ae.max() <= target:
            break
    return solver.result(rec, target, stacklevel=5)
