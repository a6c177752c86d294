r"""Magnetic mirror descent (MMD; Sokota et al., ICLR 2023) in sequence and behavioural form, batched.

**Local update** (one information set, action-value feedback :math:`q`, step :math:`\eta`, temperature
:math:`\alpha`, magnet :math:`\rho`) — the closed form of
:math:`\arg\max_\pi \eta\langle\pi,q\rangle - \eta\alpha\,\mathrm{KL}(\pi\|\rho) - \mathrm{KL}(\pi\|\pi_t)`:

.. math:: \pi_{t+1} \propto \left[\pi_t\,\rho^{\eta\alpha}\,e^{\eta q}\right]^{1/(1+\eta\alpha)}.

With :math:`\alpha = 0` it is mirror descent (multiplicative weights) :math:`\pi_{t+1}\propto\pi_t e^{\eta q}`.

**Behavioural MMD** (``form="behavioural"``; ``ssokota/mmd`` ``efg``): every information set of both
players applies the local update simultaneously with the reach-weighted action values
:math:`q_t(I,a)` of :func:`games.efg.evaluation.action_values`; the magnet moves as
:math:`\rho_{t+1}\propto\rho_t^{1-\gamma_m}\pi_{t+1}^{\gamma_m}` (``magnet_lr`` :math:`=\gamma_m`). With
``anneal=True`` the schedule is :math:`\alpha_t = \alpha/\sqrt t`, :math:`\eta_t = \eta/\sqrt t`. With a fixed
uniform magnet the last iterate converges to the agent QRE.

**Probability floor** (``floor > 0``, behavioural form only): the authors' code (``ssokota/mmd``,
``mmd/utils.py: project``) floors the unnormalised update :math:`w = e^{\ell-\max\ell}` (:math:`\ell` the
logits of the local update) at ``floor`` (1e-10 there) and renormalises,
:math:`\pi_{t+1} = \max(w, f)/\sum_a\max(w, f)`. (It also floors the entries of illegal actions in OpenSpiel's
padded rows and the magnet; with reach-normalised action values the first only rescales the opponent's reach,
which cancels, and the second is never active, since :math:`\rho^{1-\gamma_m}\pi^{\gamma_m}` stays above
:math:`f` when :math:`\pi` does.) The floor keeps vanishing probabilities at about 1e-10, so they recover
faster when they become useful: with the moving magnet it changes Leduc's last-iterate exploitability at
t = 1000 from 0.0910 (exact update) to 0.0847, and Kuhn's at t = 10,000 from 3.4e-15 to 3.8e-11 — the values
reported for the authors' setting.

**Sequence-form (dilated-entropy) MMD** (``form="sequence"``; OpenSpiel ``mmd_dilated``): with the dilated
entropy :math:`\psi(x)=\sum_I x_{p(I)}\sum_a \pi(a|I)\log\pi(a|I)` and
:math:`\nabla\psi(x)_{Ia} = \log\pi(a|I) + 1 - \#\mathrm{children}(Ia)`,

.. math:: x_{t+1} = \arg\max_x \langle c, x\rangle - \psi(x), \qquad
          c = \frac{\eta\,A_i y_t + \nabla\psi(x_t) [+\,\eta\alpha\nabla\psi(\rho_t)]}{1+\eta\alpha},

solved bottom-up: :math:`\pi(I) = \mathrm{softmax}(c_{I\cdot})` and :math:`c_{p(I)} \mathrel{+}=
\mathrm{logsumexp}(c_{I\cdot})`. Without a magnet (``magnet_lr = 0``) the regulariser is :math:`\alpha\psi`
and the last iterate converges linearly to the :math:`\alpha`-reduced-normal-form QRE; default step
:math:`\eta = \alpha/\max|A|^2` (OpenSpiel). With ``magnet_lr > 0`` the regulariser is the Bregman
divergence to a magnet :math:`\rho_t` that starts uniform and moves in behavioural form as above.
:class:`MMDSolver` is the stepping object (one simultaneous update per :meth:`MMDSolver.step`, as
OpenSpiel's ``MMDDilatedEnt.update_sequences``); :func:`mmd` is a loop over it.
"""
from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import torch
from tqdm import tqdm

from games.efg.evaluation import (action_values, behavioural_form, bottom_up, sequence_form, sequence_payoffs,
                                  uniform_rows)
from games.efg.learners import LearnerRecorder, LearnerResult, record_points
from games.efg.model import ExtensiveFormGame
from games.efg.policy import TabularPolicy
from theory.backend import is_torch, softmax
from theory.validation import check_scalar

_TINY = 1e-300


def mmd_local_update(pi: torch.Tensor, q: torch.Tensor, eta, alpha, magnet: torch.Tensor | None,
                     mask: torch.Tensor) -> torch.Tensor:
    r""":math:`\pi_{t+1}\propto[\pi\,\rho^{\eta\alpha}e^{\eta q}]^{1/(1+\eta\alpha)}` over legal actions.

    ``pi, q, magnet``: ``[..., I, A]``; ``eta, alpha`` broadcast against ``[..., 1, 1]``; ``magnet=None``
    means uniform (a constant, so it drops out of the softmax).
    """
    logits = torch.log(pi.clamp_min(_TINY)) + eta * q
    if magnet is not None:
        logits = logits + eta * alpha * torch.log(magnet.clamp_min(_TINY))
    logits = (logits / (1.0 + eta * alpha)).masked_fill(~mask, -torch.inf)
    return softmax(logits, -1)


def md_local_update(pi: torch.Tensor, q: torch.Tensor, eta, mask: torch.Tensor) -> torch.Tensor:
    r"""Mirror descent with action values, :math:`\pi_{t+1}\propto\pi_t e^{\eta q}` (MMD with :math:`\alpha=0`)."""
    return mmd_local_update(pi, q, eta, 0.0, None, mask)


def move_magnet(magnet: torch.Tensor, pi: torch.Tensor, lr, mask: torch.Tensor) -> torch.Tensor:
    r""":math:`\rho_{t+1}\propto\rho_t^{1-\gamma_m}\pi^{\gamma_m}` (geometric interpolation, renormalised)."""
    logits = (1 - lr) * torch.log(magnet.clamp_min(_TINY)) + lr * torch.log(pi.clamp_min(_TINY))
    return softmax(logits.masked_fill(~mask, -torch.inf), -1)


def _project_floor(p: torch.Tensor, floor: float, mask: torch.Tensor) -> torch.Tensor:
    r"""The authors' ``project`` of an MMD step's rows ``p``: :math:`w = p/\max p` (their unnormalised
    :math:`e^{\ell-\max\ell}`), floored at ``floor`` over the legal actions, renormalised."""
    w = torch.where(mask, (p / p.amax(-1, keepdim=True)).clamp_min(floor), torch.zeros_like(p))
    return w / w.sum(-1, keepdim=True)


def _batch_param(v, name, B=None):
    t = torch.as_tensor(v, dtype=torch.float64).reshape(-1)
    if not torch.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
    return t


class MMDSolver:
    r"""MMD (see the module docstring) as a stepping object: :meth:`step` performs one simultaneous update.

    ``alpha``, ``eta``, ``magnet_lr`` may be scalars or 1-D sequences of equal length ``B`` (a batch of
    configurations run as one tensor program with a leading axis ``B``). ``eta=None`` picks
    ``alpha / max|A|^2`` (sequence form, OpenSpiel's default) and must be given for ``form="behavioural"``.
    ``init`` (uniform when ``None``) may carry a batch axis ``[B, I, A]``.

    State: ``probs`` (the current policy, one ``[B, I, A]`` tensor per player), ``average_sequence`` (the
    running mean of the sequence forms, the start included), ``magnets``; ``policy`` and
    ``average_policy`` are their :class:`~games.efg.policy.TabularPolicy` views; ``iterations`` counts steps.

    Args:
        g: a two-player :class:`ExtensiveFormGame`.
        alpha: regularisation temperature (>= 0), scalar or ``[B]``; eta: step size; magnet_lr: magnet step.
        form: ``"sequence"`` or ``"behavioural"``.
        anneal: :math:`\alpha_t = \alpha/\sqrt t`, :math:`\eta_t = \eta/\sqrt t`.
        device, dtype: torch placement and precision; init: starting policy.
        floor: probability floor of the authors' code (behavioural form only; see the module docstring);
            0 (default) is the exact update.
    """

    def __init__(self, g: ExtensiveFormGame, alpha, eta=None, magnet_lr=0.0, form: str = "sequence",
                 anneal: bool = False, device: str = "cpu", dtype=torch.float64, init: TabularPolicy | None = None,
                 floor: float = 0.0):
        if form not in ("sequence", "behavioural"):
            raise ValueError(f"form must be 'sequence' or 'behavioural', got {form!r}")
        floor = float(floor)
        if not (0.0 <= floor < 1.0 / g.num_actions):
            raise ValueError(f"floor must lie in [0, 1/{g.num_actions}), got {floor!r}")
        if floor > 0 and form != "behavioural":
            raise ValueError(f"floor is defined for form='behavioural' only, got form={form!r}")
        if not g.zero_sum and form == "sequence":
            warnings.warn(f"{g.name} is not zero-sum; sequence-form MMD ascends each player's own payoff")
        al = _batch_param(alpha, "alpha")
        if eta is None:
            if form == "behavioural":
                raise ValueError("eta must be given for form='behavioural'")
            et = al / g.max_abs_payoff_entry() ** 2
        else:
            et = _batch_param(eta, "eta")
        ml = _batch_param(magnet_lr, "magnet_lr")
        if (ml > 1).any():
            raise ValueError(f"magnet_lr must lie in [0, 1], got {magnet_lr!r}")
        init_b = 0 if init is None else int(np.prod(init.batch_shape)) if init.batch_shape else 0
        if init is not None and len(init.batch_shape) > 1:
            raise ValueError(f"init may have at most one batch axis, got batch shape {init.batch_shape}")
        self.batched = init_b > 0 or any(np.ndim(v) > 0 for v in (alpha, eta, magnet_lr))
        B = max(al.numel(), et.numel(), ml.numel(), init_b)
        for v, name in ((al, "alpha"), (et, "eta"), (ml, "magnet_lr")):
            if v.numel() not in (1, B):
                raise ValueError(f"{name} has {v.numel()} values; batched hyperparameters must all have length {B}")
        al, et, ml = (v.expand(B).to(device, dtype) for v in (al, et, ml))
        self.game, self.form, self.anneal, self.floor = g, form, bool(anneal), floor
        T = self.tensors = g.tensors(device, dtype)
        masks = self._masks = [P.mask for P in T.players]
        if init is None:
            self._probs = [uniform_rows(m, dtype).expand(B, *m.shape).clone() for m in masks]
        else:
            self._probs = [torch.as_tensor(p if is_torch(p) else np.asarray(p), device=device, dtype=dtype)
                           .expand(B, *masks[i].shape).clone() for i, p in enumerate(init.probs)]
        self._use_magnet = bool((ml > 0).any())
        self._magnets = [uniform_rows(m, dtype).expand(B, *m.shape).clone() for m in masks]
        self._x = [sequence_form(T, i, self._probs[i]) for i in range(2)]
        self._avg_x = [xi.clone() for xi in self._x]
        self._a3, self._e3, self._m3 = al[:, None, None], et[:, None, None], ml[:, None, None]
        self._a2, self._e2 = al[:, None], et[:, None]
        self.iterations = 0

    def _update(self, probs, x, magnets, s):
        """One simultaneous MMD step from (probs, x); returns the new behavioural policies."""
        T, masks, floor, use_magnet = self.tensors, self._masks, self.floor, self._use_magnet
        a3, e3, a2, e2 = self._a3, self._e3, self._a2, self._e2
        new = []
        if self.form == "behavioural":
            for i in range(2):
                q, _, _ = action_values(T, i, x[1 - i], probs[i])
                p = mmd_local_update(probs[i], q, e3 * s, a3 * s, magnets[i] if use_magnet else None, masks[i])
                new.append(_project_floor(p, floor, masks[i]) if floor > 0 else p)
            return new
        for i in range(2):
            P = T.players[i]
            grad_psi = torch.log(x[i][..., 1:].unflatten(-1, (P.num_infosets, T.A)).clamp_min(_TINY)
                                 / x[i][..., P.parent_seq].clamp_min(_TINY).unsqueeze(-1))
            c = torch.zeros_like(x[i])
            cm = c[..., 1:].unflatten(-1, (P.num_infosets, T.A))
            cm.copy_(grad_psi)
            if use_magnet:
                cm.add_(a3 * e3 * s * torch.log(magnets[i].clamp_min(_TINY)))
            c[..., 1:] += (1.0 - P.num_children[1:]) * (1.0 + a2 * e2 * s if use_magnet else 1.0)
            c = (c + e2 * s * sequence_payoffs(T, i, x[1 - i])) / (1.0 + e2 * a2 * s)
            _, pol = bottom_up(T, i, c, "lse")
            new.append(pol)
        return new

    def _scale(self, t: int) -> float:
        return 1.0 / math.sqrt(t) if self.anneal else 1.0

    def step(self) -> None:
        """One simultaneous MMD update of both players (and of the magnet when ``magnet_lr > 0``)."""
        T, masks = self.tensors, self._masks
        t = self.iterations + 1
        new = self._update(self._probs, self._x, self._magnets, self._scale(t))
        if self._use_magnet:
            self._magnets = [move_magnet(self._magnets[i], new[i], self._m3, masks[i]) for i in range(2)]
        self._probs = new
        self._x = [sequence_form(T, i, self._probs[i]) for i in range(2)]
        for i in range(2):
            self._avg_x[i] += (self._x[i] - self._avg_x[i]) / (t + 1)
        self.iterations = t

    @property
    def probs(self) -> tuple:
        """The current policy: one ``[B, I, A]`` tensor per player."""
        return tuple(self._probs)

    @property
    def magnets(self) -> tuple:
        """The current magnets: one ``[B, I, A]`` tensor per player (uniform unless ``magnet_lr > 0``)."""
        return tuple(self._magnets)

    @property
    def average_sequence(self) -> tuple:
        """The running mean of the sequence forms (start included), one ``[B, n_seq]`` tensor per player."""
        return tuple(self._avg_x)

    def _view(self, probs) -> TabularPolicy:
        sq = (lambda a: a) if self.batched else (lambda a: a[0])
        return TabularPolicy(self.game, tuple(sq(p).cpu().numpy() for p in probs))

    @property
    def policy(self) -> TabularPolicy:
        """The last iterate (float numpy; batch axis first when batched)."""
        return self._view(self._probs)

    @property
    def average_policy(self) -> TabularPolicy:
        """The reach-weighted average of the iterates (float numpy; batch axis first when batched)."""
        return self._view([behavioural_form(self.tensors, i, self._avg_x[i]) for i in range(2)])

    def update_residual(self) -> torch.Tensor:
        """How far one more update (not taken) would move the iterate: max-norm over both sequence forms, ``[B]``."""
        T = self.tensors
        nxt = self._update(self._probs, self._x, self._magnets, self._scale(self.iterations + 1))
        x_new = [sequence_form(T, i, nxt[i]) for i in range(2)]
        return torch.maximum((x_new[0] - self._x[0]).abs().amax(-1), (x_new[1] - self._x[1]).abs().amax(-1))

    def result(self, recorder: LearnerRecorder | None = None, tol: float | None = None,
               stacklevel: int = 4) -> LearnerResult:
        """The :class:`~games.efg.learners.LearnerResult` of the iterations so far.

        ``residual`` is :meth:`update_residual`; ``converged`` is ``residual <= tol`` (``None`` without
        ``tol``). ``recorder`` supplies the record arrays (empty without one).
        """
        rec = recorder if recorder is not None else LearnerRecorder(self.game, self.tensors, np.zeros(0, dtype=int))
        # Residual of the returned iterate: how far one more update (not taken) would move it.
        resid = self.update_residual()
        converged = None if tol is None else (resid <= tol).cpu().numpy()
        return rec.finish(tuple(self._probs), self._avg_x, resid, self.iterations, self.batched, converged, "mmd",
                          tol, stacklevel=stacklevel)


def mmd(g: ExtensiveFormGame, alpha, eta=None, magnet_lr=0.0, iterations: int = 1000, form: str = "sequence",
        anneal: bool = False, record_at=None, tol: float | None = None, device: str = "cpu",
        dtype=torch.float64, init: TabularPolicy | None = None, callback=None, floor: float = 0.0) -> LearnerResult:
    r"""Run MMD (see the module docstring) for ``iterations`` simultaneous steps from ``init`` (uniform).

    A loop over :class:`MMDSolver` (which describes ``alpha``, ``eta``, ``magnet_lr``, ``form``, ``anneal``,
    ``init`` and ``floor``; scalars or ``[B]`` batches). ``record_at``: iterations at which exploitability is
    recorded (default: about 40 log-spaced points). ``tol``: if given, ``converged`` means the update
    residual of the returned iterate (how far one more MMD step would move it, max-norm over both sequence
    forms) is at most ``tol`` (a :class:`theory.results.NotConvergedWarning` otherwise); without ``tol``,
    ``converged`` is ``None``. ``callback(solver)`` is called with the :class:`MMDSolver` after each step
    (:func:`games.efg.learners.at_iterations` restricts it to given iterations).

    Args:
        g: a two-player :class:`ExtensiveFormGame`.
        alpha: regularisation temperature (>= 0), scalar or ``[B]``; eta: step size; magnet_lr: magnet step.
        iterations: number of simultaneous updates (>= 1); form: ``"sequence"`` or ``"behavioural"``.
        anneal: :math:`\alpha_t = \alpha/\sqrt t`, :math:`\eta_t = \eta/\sqrt t`.
        record_at, tol, device, dtype, init, callback: see above.
        floor: probability floor of the authors' code (behavioural form only; see the module docstring);
            0 (default) is the exact update.

    Returns:
        :class:`games.efg.learners.LearnerResult`: last iterate ``policy``, ``average_policy``, their
        exploitabilities, the record arrays, ``residual`` (update residual of the returned iterate),
        ``iterations``, ``converged``.

    Example:
        >>> import games
        >>> r = games.mmd(games.kuhn_poker(), alpha=0.05, iterations=2000)
        >>> r.exploitability < 0.05     # near the alpha-QRE, which is close to Nash for small alpha
        True
    """
    iterations = check_scalar("iterations", iterations, low=1, integer=True)
    solver = MMDSolver(g, alpha, eta, magnet_lr, form, anneal, device, dtype, init, floor)
    rec = LearnerRecorder(g, solver.tensors, record_points(iterations, record_at))
    for _ in tqdm(range(iterations), disable=not sys.stderr.isatty(), desc=f"mmd[{form}]", leave=False):
        solver.step()
        rec(solver)
        if callback is not None:
            callback(solver)
    return solver.result(rec, tol, stacklevel=5)
