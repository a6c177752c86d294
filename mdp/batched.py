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
gymnasium adapter :class:`TabularVectorEnv` adds it (``AutoresetMode.NEXT_STEP``).

The exact solvers below (:func:`batched_value_iteration`, :func:`batched_policy_evaluation`,
:func:`batched_backward_induction`) are the batched twins of :mod:`mdp.planning`, written on the same
operators of :mod:`mdp.operators` with a leading batch axis.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mdp.model import FiniteHorizonMDP, ModelError, ParameterError, ShapeError, TabularMDP
from mdp.operators import bellman_optimality, greedy_policy, policy_average, policy_kernel, policy_reward, q_values
from theory.fixed_point import certified_fixed_point

__all__ = ["BatchedTabularMDP", "Rollout", "stack_models", "batched_value_iteration", "BatchedPlanningResult",
           "batched_policy_evaluation", "batched_backward_induction", "sample_categorical",
           "TabularVectorEnv"]


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


# ----------------------------------------------------------------------------------------------
# Batched exact solvers (same operators as mdp.planning)
# ----------------------------------------------------------------------------------------------
def _flat(P: torch.Tensor) -> torch.Tensor:
    *lead, S, A, S2 = P.shape
    return P.reshape(*lead, S * A, S2)


@dataclass(frozen=True)
class BatchedPlanningResult:
    """Result of :func:`batched_value_iteration` (per-instance fields are ``[B]`` tensors).

    Attributes:
        V: ``[B, S]`` values of the returned iterate; ``Q``: ``[B, S, A]`` its action values.
        residual: ``[B]`` Bellman residuals ``||T V - V||_inf`` of the returned ``V``.
        error_bound: ``[B]`` certified bounds on ``||V - V*||_inf``.
        converged: ``[B]`` whether each instance met ``error_bound <= tol``.
        iterations: backups performed (the batch stops when every instance is certified).
        history: ``[iterations, B]`` step sizes when asked for, else ``None``.
    """

    V: torch.Tensor
    Q: torch.Tensor
    residual: torch.Tensor
    error_bound: torch.Tensor
    converged: torch.Tensor
    iterations: int
    history: np.ndarray | None = None

    @property
    def policy(self) -> torch.Tensor:
        """Greedy one-hot policies ``[B, S, A]`` of ``Q``."""
        return greedy_policy(self.Q)


def batched_value_iteration(P, R, gamma, tol: float = 1e-8, max_iter: int = 100_000, V0=None,
                            device=None, history: bool = False) -> BatchedPlanningResult:
    r"""Value iteration on ``B`` models at once: ``P[B, S, A, S]``, ``R[B, S, A]``, ``gamma`` scalar or ``[B]``.

    The same certified loop as :func:`mdp.planning.value_iteration`
    (:func:`theory.fixed_point.certified_fixed_point` with per-instance :math:`\gamma_b`), stopping when
    :math:`\max_b \gamma_b\|V^b_{k+1}-V^b_k\|_\infty/(1-\gamma_b) \le` ``tol``.

    Args:
        P: ``[B, S, A, S]`` kernels (numpy or torch); R: ``[B, S, A]``; gamma: scalar or ``[B]`` in [0, 1).
        tol: certified accuracy (> 0); max_iter: budget of backups; V0: ``[B, S]`` start (zeros).
        device: torch device (default: ``P``'s device, or CPU for numpy input).
        history: record per-iteration step sizes.

    Returns:
        :class:`BatchedPlanningResult`.
    """
    P = _tensor(P, device or getattr(P, "device", "cpu"), getattr(P, "dtype", torch.float64)
                if isinstance(P, torch.Tensor) else torch.float64)
    R = _tensor(R, P.device, P.dtype)
    g = _tensor(gamma, P.device, P.dtype)
    if g.ndim == 0:
        g = g.expand(P.shape[0])
    if P.ndim != 4 or R.shape != P.shape[:3]:
        raise ShapeError(f"P must be [B, S, A, S] and R [B, S, A]; got {tuple(P.shape)}, {tuple(R.shape)}")
    if g.shape != (P.shape[0],):
        raise ShapeError(f"gamma must be a scalar or [{P.shape[0]}], got shape {tuple(g.shape)}")
    if torch.any(g >= 1) or torch.any(g < 0):
        raise ParameterError(f"every gamma must lie in [0, 1), got {g.tolist()}")
    Pf = _flat(P)
    V = torch.zeros(P.shape[:2], device=P.device, dtype=P.dtype) if V0 is None else _tensor(V0, P.device, P.dtype)
    if V.shape != P.shape[:2]:
        raise ShapeError(f"V0 has shape {tuple(V.shape)}, expected {tuple(P.shape[:2])}")
    fp = certified_fixed_point(lambda V: bellman_optimality(Pf, R, g, V)[0], V, g, tol, max_iter,
                               "batched_value_iteration", history=history)
    return BatchedPlanningResult(fp.V, q_values(Pf, R, g, fp.V), fp.residual, fp.error_bound, fp.converged,
                                 fp.iterations, fp.history)


def batched_policy_evaluation(P, R, gamma, pi):
    r"""Exact :math:`V^\pi = (I-\gamma P_\pi)^{-1} r_\pi` for ``B`` policies at once (``torch.linalg.solve``).

    Args:
        P: ``[B, S, A, S]`` kernels, or one ``[S, A, S]`` kernel shared by every policy.
        R: ``[B, S, A]`` or shared ``[S, A]``; a trailing objective axis (``[..., S, A, m]``) gives vector
            values.
        gamma: scalar or ``[B]``.
        pi: ``[B, S, A]`` policies.

    Returns:
        ``V[B, S]`` (or ``[B, S, m]`` for vector rewards). :math:`P_\pi` is
        :func:`mdp.operators.policy_kernel`, the package's one definition.
    """
    pi = pi if isinstance(pi, torch.Tensor) else torch.as_tensor(np.asarray(pi), dtype=torch.float64)
    P = _tensor(P, pi.device, pi.dtype)
    R = _tensor(R, pi.device, pi.dtype)
    g = _tensor(gamma, pi.device, pi.dtype)
    if g.ndim == 0:
        g = g.expand(pi.shape[0])
    P_pi = policy_kernel(P, pi)
    vector = R.shape[-2:] != pi.shape[-2:]
    r_pi = torch.einsum("...sak,...sa->...sk", R, pi) if vector else policy_reward(R, pi)
    eye = torch.eye(pi.shape[1], device=pi.device, dtype=pi.dtype)
    return torch.linalg.solve(eye - g[:, None, None] * P_pi, r_pi)


def batched_backward_induction(P, R, pi=None):
    r"""Backward induction for ``B`` finite-horizon models, optionally evaluating policies.

    ``P`` is ``[B, H, S, A, S]`` (time-varying) or ``[B, S, A, S]`` (homogeneous; then ``R`` must be
    ``[B, H, S, A]`` to fix ``H``); ``pi`` is ``[B, H, S, A]`` or ``None`` (optimal).
    Returns ``(V[B, H+1, S], Q[B, H, S, A])``.
    """
    P = P if isinstance(P, torch.Tensor) else torch.as_tensor(np.asarray(P), dtype=torch.float64)
    R = _tensor(R, P.device, P.dtype)
    if R.ndim != 4:
        raise ShapeError(f"R must be [B, H, S, A], got {tuple(R.shape)}")
    B, H, S, A = R.shape
    if P.shape not in ((B, H, S, A, S), (B, S, A, S)):
        raise ShapeError(f"P has shape {tuple(P.shape)}; expected ({B}, {H}, {S}, {A}, {S}) or ({B}, {S}, {A}, {S})")
    if pi is not None:
        pi = _tensor(pi, P.device, P.dtype)
        if pi.shape != (B, H, S, A):
            raise ShapeError(f"pi has shape {tuple(pi.shape)}; expected ({B}, {H}, {S}, {A})")
    V = torch.zeros((B, H + 1, S), device=P.device, dtype=P.dtype)
    Q = torch.zeros((B, H, S, A), device=P.device, dtype=P.dtype)
    for h in range(H - 1, -1, -1):
        Ph = _flat(P[:, h] if P.ndim == 5 else P)
        Q[:, h] = q_values(Ph, R[:, h], 1.0, V[:, h + 1])
        V[:, h] = Q[:, h].amax(-1) if pi is None else policy_average(Q[:, h], pi[:, h])
    return V, Q


# ----------------------------------------------------------------------------------------------
# Gymnasium vector adapter
# ----------------------------------------------------------------------------------------------
def _vector_env_base():
    import gymnasium as gym

    return gym.vector.VectorEnv


class TabularVectorEnv(_vector_env_base()):
    """``gymnasium.vector.VectorEnv`` over :class:`BatchedTabularMDP`.

    Autoreset mode: ``AutoresetMode.NEXT_STEP`` (gymnasium's default): after a sub-environment ends
    (``terminated`` in an absorbing state, or ``truncated`` at ``max_steps``), its *next* ``step`` ignores
    the action, returns a fresh initial observation with reward 0 and ``terminated = truncated = False``.
    Observations and actions are numpy ``int64`` arrays; the simulation stays in torch on ``device``.
    """

    metadata = {"autoreset_mode": None}

    def __init__(self, m, num_envs: int, max_steps: int, device="cpu", dtype=torch.float32):
        import gymnasium as gym
        from gymnasium.vector import AutoresetMode
        from gymnasium.vector.utils import batch_space

        if not isinstance(m, TabularMDP):
            raise TypeError(f"TabularVectorEnv needs a TabularMDP (episodes end in absorbing states or at "
                            f"max_steps), got {type(m).__name__}")
        if max_steps is None or max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps!r}")
        self.metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}
        self.sim = BatchedTabularMDP(m, num_envs, device=device, dtype=dtype)
        self.num_envs = num_envs
        self.max_steps = int(max_steps)
        self.single_observation_space = gym.spaces.Discrete(m.S)
        self.single_action_space = gym.spaces.Discrete(m.A)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._elapsed = torch.zeros(num_envs, dtype=torch.long, device=self.sim.device)
        self._needs_reset = torch.zeros(num_envs, dtype=torch.bool, device=self.sim.device)

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.sim.generator.manual_seed(int(seed))
        states = self.sim.reset()
        self._elapsed.zero_()
        self._needs_reset.zero_()
        return states.cpu().numpy().astype(np.int64), {}

    def step(self, actions):
        sim = self.sim
        acts = torch.as_tensor(np.asarray(actions), device=sim.device).long()
        nxt, rew, term = sim.step(acts)
        self._elapsed += 1
        # sub-environments that finished last step restart now (NEXT_STEP semantics)
        if self._needs_reset.any():
            fresh = torch.searchsorted(sim._mu_cdf[sim._model], sim._uniform(self.num_envs, 1),
                                       right=True).squeeze(-1).clamp_(max=sim.S - 1)
            mask = self._needs_reset
            nxt = torch.where(mask, fresh, nxt)
            rew = torch.where(mask, torch.zeros_like(rew), rew)
            term = term & ~mask
            self._elapsed = torch.where(mask, torch.zeros_like(self._elapsed), self._elapsed)
        trunc = (self._elapsed >= self.max_steps) & ~term
        sim.states = nxt
        self._needs_reset = term | trunc
        return (nxt.cpu().numpy().astype(np.int64), rew.cpu().numpy().astype(np.float64),
                term.cpu().numpy(), trunc.cpu().numpy(), {})
