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
"""
from __future__ import annotations

import sys

import torch
from tqdm import tqdm

from games.efg.evaluation import (behavioural_form, bottom_up, exploitability_t, sequence_form, sequence_payoffs,
                              uniform_rows)
from games.efg.model import ExtensiveFormGame
from theory.validation import check_scalar
from games.efg.learners import LearnerRecorder, LearnerResult, record_points


def _regret_matching(R: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    pos = R.clamp_min(0.0) * mask
    tot = pos.sum(-1, keepdim=True)
    return torch.where(tot > 0, pos / torch.where(tot > 0, tot, torch.ones_like(tot)), uniform_rows(mask, R.dtype))


def cfr(g: ExtensiveFormGame, iterations: int = 1000, plus: bool = False, alternating: bool = True,
        record_at=None, target: float | None = None, device: str = "cpu", dtype=torch.float64) -> LearnerResult:
    """Run CFR (``plus=False``) or CFR+ (``plus=True``); ``.average_policy`` is the equilibrium estimate.

    ``target``: stop early once the average policy's exploitability (checked at the ``record_at`` points)
    is at most ``target``; ``converged`` then reports whether it was reached (``None`` without a target).
    ``residual`` is the average policy's exploitability (see :mod:`games.efg.learners`).

    Args:
        g: a two-player zero-sum :class:`ExtensiveFormGame`.
        iterations: budget of iterations (>= 1); plus: CFR+ (regret clipping, linear averaging).
        alternating: player 0 then player 1 against the updated opponent (False: simultaneous updates).
        record_at: iterations at which exploitabilities are recorded; target: early-stopping level.
        device, dtype: torch placement and precision.

    Returns:
        :class:`games.efg.learners.LearnerResult` (``average_policy`` is the equilibrium estimate).

    Example:
        >>> import games
        >>> r = games.cfr(games.kuhn_poker(), iterations=1000, plus=True, target=1e-3)
        >>> bool(r.converged), r.average_exploitability <= 1e-3
        (True, True)
    """
    iterations = check_scalar("iterations", iterations, low=1, integer=True)
    T = g.tensors(device, dtype)
    masks = [P.mask for P in T.players]
    probs = [uniform_rows(m, dtype).unsqueeze(0) for m in masks]
    R = [torch.zeros_like(p) for p in probs]
    avg_x = [torch.zeros(1, P.n_seq, dtype=dtype, device=device) for P in T.players]
    rec = LearnerRecorder(g, T, record_points(iterations, record_at))
    x = [sequence_form(T, i, probs[i]) for i in range(2)]
    done_t = iterations
    for t in tqdm(range(1, iterations + 1), disable=not sys.stderr.isatty(), desc="cfr", leave=False):
        w = float(t) if plus else 1.0
        x_iter = [xi for xi in x]
        for i in range(2):
            P = T.players[i]
            y = x[1 - i] if alternating else x_iter[1 - i]
            acc, _ = bottom_up(T, i, sequence_payoffs(T, i, y), "mean", probs[i])
            cfv = acc[..., 1:].unflatten(-1, (P.num_infosets, T.A))
            v = (cfv * probs[i]).sum(-1, keepdim=True)
            avg_x[i] += w * x[i]
            R[i] = R[i] + (cfv - v) * masks[i]
            if plus:
                R[i] = R[i].clamp_min(0.0)
            probs[i] = _regret_matching(R[i], masks[i])
            x[i] = sequence_form(T, i, probs[i])
        if rec.due(t):
            ae = rec.record(t, probs, avg_x)
            if target is not None and ae.max() <= target:
                done_t = t
                break
    # The equilibrium estimate is the average policy; its exploitability is the residual.
    residual = exploitability_t(T, tuple(behavioural_form(T, i, avg_x[i]) for i in range(2)))
    converged = None if target is None else (residual <= target).cpu().numpy()
    return rec.finish(tuple(probs), avg_x, residual, done_t, False, converged, "cfr+" if plus else "cfr", target)
