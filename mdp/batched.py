r"""Torch-batched simulation and exact dynamic programming for many MDPs at once.

:class:`BatchedTabularMDP` steps ``B`` environments in lockstep as one tensor program (CPU here, CUDA
unchanged): states are a ``[B]`` integer tensor, next states are drawn by *inverse-CDF sampling*,

.. math:: s_{t+1} = \min\{t : F(t \mid s_t, a_t) > u\},\quad u \sim U[0,1),\quad
          F(t\mid s,a) = \textstyle\sum_{t' \le t} P(t'\mid s,a),

implemented with ``torch.searchsorted`` on precomputed cumulative rows (several times faster than
``torch.multinomial``, which rebuilds a distribution per call). Every random draw comes from the
``torch.Generator`` passed in, so a seed fixes the whole trajectory batch.

The environments may share one model or each have their own (a list of ``B`` models of equal shape).
Discounted models terminate in absorbing zero-reward states (``dones``); finite-horizon models end at
``t = H`` and may have time-varying kernels. There is no autoreset in the simulator itself; the
gymnasium adapter :class:`mdp.envs.vector.TabularVectorEnv` adds it (``AutoresetMode.NEXT_STEP``).

The batched exact solvers live in :mod:`mdp.batched_planning`; the gymnasium ``VectorEnv`` adapter in
:mod:`mdp.envs.vector`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mdp.model import FiniteHorizonMDP, ModelError, ShapeError, TabularMDP

__all__ = ["BatchedTabularMDP", "Rollout", "stack_models", "sample_categorical"]


def _tensor(x, device, dtype):
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(x), device=device, dtype=dtype)


def sample_categorical(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw per row of ``probs[..., K]`` by inverse CDF (rows need not be exactly normalised)."""
    cdf = probs.cumsum(-1)
    u = torch.rand(cdf.shape[:-1] + (1,), generator=generator, device=probs.device, dtype=probs.dtype)
    idx = torch.searchsorted(cdf, u * cdf[..., -1:], right=True)
    return idx.squeeze(-1).clamp_(max=probs.shape[-1] - 1)


def stack_models(models, device="cpu", dtype=torch.float64):
    """Stack equal-shape models into tensors ``P[M, T, S, A, S]``, ``R[M, T, S, A]``, ``mu[M, S]``, ``gamma[M]``.

    ``T = 1`` for discounted and time-homogeneous finite-horizon models, ``T = H`` otherwise.
    """
    models = list(models)
    if not models:
        raise ModelError("need at least one model")
    first = models[0]
    kind = type(first)
    if kind not in (TabularMDP, FiniteHorizonMDP):
        raise TypeError(f"expected TabularMDP or FiniteHorizonMDP models, got {kind.__name__}")
    Ps, Rs = [], []
    for i, m in enumerate(models):
        same_h = getattr(m, "H", None) == getattr(first, "H", None)
        if type(m) is not kind or (m.S, m.A) != (first.S, first.A) or not same_h:
            raise ShapeError(f"models[{i}] ({m!r}) does not match models[0] ({first!r})")
        if kind is TabularMDP:
            if m.n_objectives != 1:
                raise ModelError(f"models[{i}] has vector rewards; scalarise them first")
            Ps.append(m.dense_P()[None])
            Rs.append(m.R[None])
        else:
            homog = all(mm.homogeneous for mm in models)
            Ps.append(m.P[:1] if homog else m.P)
            Rs.append(m.R[:1] if homog else m.R)
    P = _tensor(np.stack(Ps), device, dtype)
    R = _tensor(np.stack(Rs), device, dtype)
    mu = _tensor(np.stack([m.mu for m in models]), device, dtype)
    gamma = _tensor([getattr(m, "gamma", 1.0) for m in models], device, dtype)
    return P, R, mu, gamma


@dataclass(frozen=True)
class Rollout:
    """``states[T+1, B]``, ``actions[T, B]``, ``rewards[T, B]``, ``dones[T, B]`` (done after step t)."""

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor


class BatchedTabularMDP:
    """``B`` tabular environments stepped as one tensor program.

    Args:
      m: a :class:`TabularMDP` / :class:`FiniteHorizonMDP`, or a sequence of ``B`` of them (equal shapes).
      batch_size: ``B``.
      device: ``"cpu"``, ``"cuda"``, ...
      generator: a seeded ``torch.Generator`` on ``device`` (a fresh unseeded one when omitted).
      dtype: float dtype of probabilities and rewards (``torch.float32`` default; float64 for checks).
    """

    def __init__(self, m, batch_size: int, device="cpu", generator: torch.Generator | None = None,
                 dtype=torch.float32):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        models = list(m) if isinstance(m, (list, tuple)) else [m]
        if len(models) not in (1, batch_size):
            raise ShapeError(f"got {len(models)} models for batch_size {batch_size}: give 1 or {batch_size}")
        self.device = torch.device(device)
        self.dtype = dtype
        self.batch_size = B = int(batch_size)
        self.generator = generator if generator is not None else torch.Generator(device=self.device)
        P, R, mu, gamma = stack_models(models, self.device, torch.float64)
        self.finite_horizon = isinstance(models[0], FiniteHorizonMDP)
        self.horizon = models[0].H if self.finite_horizon else None
        self.S, self.A = models[0].S, models[0].A
        self.num_models = P.shape[0]
        self.P = P.to(dtype)
        self.R = R.to(dtype)
        self.gamma = gamma.to(dtype)
        cdf = P.cumsum(-1)
        cdf[..., -1] = 1.0  # guard against round-off: u < 1 always lands in range
        self._cdf = cdf.to(dtype).contiguous()
        mcdf = mu.cumsum(-1)
        mcdf[..., -1] = 1.0
        self._mu_cdf = mcdf.to(dtype)
        self._model = (torch.arange(B, device=self.device) if self.num_models == B
                       else torch.zeros(B, dtype=torch.long, device=self.device))
        self._terminal = torch.zeros((self.num_models, self.S), dtype=torch.bool, device=self.device)
        if not self.finite_horizon:
            self._terminal = torch.as_tensor(np.stack([mm.absorbing_states() for mm in models]),
                                             device=self.device)
        self.t = 0
        self.states = torch.zeros(B, dtype=torch.long, device=self.device)

    # -- core --------------------------------------------------------------------------------------
    def _uniform(self, *shape):
        return torch.rand(*shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def reset(self) -> torch.Tensor:
        """Draw ``s_0 ~ mu`` for every environment; returns ``states[B]``."""
        self.t = 0
        u = self._uniform(self.batch_size, 1)
        self.states = torch.searchsorted(self._mu_cdf[self._model], u, right=True).squeeze(-1)
        self.states.clamp_(max=self.S - 1)
        return self.states

    def step(self, actions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Apply ``actions[B]``; returns ``(next_states[B], rewards[B], dones[B])``."""
        a = torch.as_tensor(actions, device=self.device).long()
        if a.shape != (self.batch_size,):
            raise ShapeError(f"actions has shape {tuple(a.shape)}, expected ({self.batch_size},)")
        if self.finite_horizon and self.t >= self.horizon:
            raise RuntimeError(f"episode is over (t = H = {self.horizon}); call reset()")
        h = min(self.t, self._cdf.shape[1] - 1)
        s = self.states
        rows = self._cdf[self._model, h, s, a]  # [B, S]
        u = self._uniform(self.batch_size, 1)
        nxt = torch.searchsorted(rows, u, right=True).squeeze(-1).clamp_(max=self.S - 1)
        rewards = self.R[self._model, h, s, a]
        self.t += 1
        if self.finite_horizon:
            dones = torch.full((self.batch_size,), self.t >= self.horizon, device=self.device)
        else:
            dones = self._terminal[self._model, nxt]
        self.states = nxt
        return nxt, rewards, dones

    def _policy_rows(self, pi: torch.Tensor, t: int) -> torch.Tensor:
        """``[B, A]`` action distribution of every environment at time ``t``."""
        S, A, B = self.S, self.A, self.batch_size
        if pi.shape == (S, A):
            return pi[self.states]
        if pi.shape == (B, S, A):
            return pi[torch.arange(B, device=self.device), self.states]
        if pi.ndim == 3 and pi.shape[1:] == (S, A):  # [T, S, A], time-dependent
            return pi[min(t, pi.shape[0] - 1)][self.states]
        if pi.ndim == 4 and pi.shape[0] == B and pi.shape[2:] == (S, A):  # [B, T, S, A]
            return pi[torch.arange(B, device=self.device), min(t, pi.shape[1] - 1), self.states]
        raise ShapeError(f"policy has shape {tuple(pi.shape)}; expected [S, A], [B, S, A], [T, S, A] or "
                         f"[B, T, S, A] with S={S}, A={A}, B={B}")

    def rollout(self, pi, horizon: int | None = None) -> Rollout:
        """Reset, then follow ``pi`` for ``horizon`` steps (default ``H`` for finite-horizon models)."""
        T = self._horizon(horizon)
        pi = _tensor(pi, self.device, self.dtype)
        states = [self.reset()]
        acts, rews, dns = [], [], []
        for t in range(T):
            a = sample_categorical(self._policy_rows(pi, t), self.generator)
            s, r, d = self.step(a)
            states.append(s)
            acts.append(a)
            rews.append(r)
            dns.append(d)
        return Rollout(torch.stack(states), torch.stack(acts), torch.stack(rews), torch.stack(dns))

    def estimate_return(self, pi, horizon: int | None = None) -> torch.Tensor:
        r"""One return per environment: :math:`\sum_{t<T}\gamma^t r_t` (``gamma = 1`` for finite horizon)."""
        T = self._horizon(horizon)
        pi = _tensor(pi, self.device, self.dtype)
        self.reset()
        ret = torch.zeros(self.batch_size, device=self.device, dtype=self.dtype)
        disc = torch.ones(self.batch_size, device=self.device, dtype=self.dtype)
        g = self.gamma[self._model]
        for t in range(T):
            a = sample_categorical(self._policy_rows(pi, t), self.generator)
            _, r, _ = self.step(a)
            ret += disc * r
            disc = disc * g
        return ret

    def _horizon(self, horizon):
        if horizon is None:
            if not self.finite_horizon:
                raise ValueError("horizon is required for discounted models")
            return self.horizon
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
        if self.finite_horizon and horizon > self.horizon:
            raise ValueError(f"horizon {horizon} exceeds the model's H = {self.horizon}")
        return int(horizon)
