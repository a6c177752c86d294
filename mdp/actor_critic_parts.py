r"""The named pieces of the optimistic actor-critic (:mod:`mdp.actor_critic`): critics, switching rules, actors.

Each piece is one small object or function on a leading batch axis of ``B`` independent runs, so the learner
(:class:`mdp.actor_critic.ActorCriticSolver`) composes them instead of switching on mode strings:

* critics (``add`` data, ``compute`` :math:`\bar Q`, ``doubled`` / ``commit`` for rare switching):
  :class:`TabularCritic` (UCBVI-Hoeffding form) and :class:`LinearCritic` (LSVI-UCB, Jin et al. 2020), with
  the formulas of the module docstring of :mod:`mdp.actor_critic`;
* switching rules ``(critic, Q) -> (Q, switched)``: :func:`switch_every_episode` and :func:`switch_on_doubling`
  (counts doubled, tabular; :math:`\log\det\Lambda_h` grown by :math:`\log 2`, linear);
* actors (``policy(Q)``, ``update(Q, switched)``, ``final(Q)``): :class:`SoftmaxActor` (policy mirror descent
  :math:`\pi^{t+1}_h \propto \pi^t_h \exp(\eta_\tau \bar Q_h)`, :math:`\eta_\tau = \sqrt{\log|A|/\tau}`, reset at
  switches) and :class:`GreedyActor` (greedy on the critic).
"""
from __future__ import annotations

import math

import torch

from mdp.operators import q_values

__all__ = ["TabularCritic", "LinearCritic", "SoftmaxActor", "GreedyActor", "switch_every_episode",
           "switch_on_doubling"]


class TabularCritic:
    r"""Counts :math:`N_h(s,a)`, transition counts and reward sums; :math:`\bar Q` by optimistic backward
    induction on the empirical model (``optimism=False``: no bonus, unvisited pairs 0)."""

    def __init__(self, B, H, S, A, device, dtype, optimism: bool, bonus_scale: float, log_term: float):
        self.B, self.H, self.S, self.A = B, H, S, A
        self.device, self.dtype = device, dtype
        self.optimism, self.bonus_scale, self.log_term = optimism, bonus_scale, log_term
        self.rows = torch.arange(B, device=device)
        self.N = torch.zeros(B, H, S, A, device=device, dtype=dtype)
        self.Ntr = torch.zeros(B, H, S, A, S, device=device, dtype=dtype)
        self.Rsum = torch.zeros(B, H, S, A, device=device, dtype=dtype)
        self.N_last = None

    def add(self, states, actions, rewards):
        """One episode per run: ``states[H+1, B]``, ``actions[H, B]``, ``rewards[H, B]``."""
        rows = self.rows
        for h in range(self.H):
            s, a, s2 = states[h], actions[h], states[h + 1]
            self.N[rows, h, s, a] += 1
            self.Ntr[rows, h, s, a, s2] += 1
            self.Rsum[rows, h, s, a] += rewards[h]

    def compute(self):
        B, H, S, A = self.B, self.H, self.S, self.A
        n = self.N.clamp(min=1.0)
        P_hat = self.Ntr / n[..., None]
        r_hat = self.Rsum / n
        visited = self.N > 0
        Q = torch.zeros(B, H, S, A, device=self.device, dtype=self.dtype)
        V = torch.zeros(B, S, device=self.device, dtype=self.dtype)
        for h in range(H - 1, -1, -1):
            cap_h = float(H - h)
            q = q_values(P_hat[:, h].reshape(B, S * A, S), r_hat[:, h], 1.0, V)
            if self.optimism:
                q = q + self.bonus_scale * cap_h * torch.sqrt(self.log_term / n[:, h])
                q = torch.where(visited[:, h], q, torch.full_like(q, cap_h))
            else:
                q = torch.where(visited[:, h], q, torch.zeros_like(q))
            Q[:, h] = q.clamp(max=cap_h)
            V = Q[:, h].amax(-1)
        return Q

    def start(self):
        """Mark the data so far as the last switch's (before the first episode)."""
        self.N_last = self.N.clone()

    def doubled(self):
        """``[B]``: some count doubled since the last switch."""
        return ((self.N >= 2 * self.N_last) & (self.N > 0)).flatten(1).any(-1)

    def commit(self, switched):
        self.N_last = torch.where(switched[:, None, None, None], self.N, self.N_last)


class LinearCritic:
    r"""Gram matrices :math:`\Lambda_h` and a transition buffer; :math:`\bar Q` by least-squares value iteration
    with the elliptical bonus :math:`\beta\|\phi\|_{\Lambda_h^{-1}}` (``optimism=False``: no bonus)."""

    def __init__(self, B, H, S, A, device, dtype, optimism: bool, phi, ridge: float, capacity: int, beta: float):
        self.B, self.H, self.S, self.A = B, H, S, A
        self.device, self.dtype = device, dtype
        self.optimism, self.beta = optimism, beta
        self.Phi = phi                                                  # [S, A, d] tensor
        d = phi.shape[-1]
        self.Lam = ridge * torch.eye(d, device=device, dtype=dtype).expand(B, H, d, d).clone()
        self.buf_s = torch.zeros(B, capacity, H, dtype=torch.long, device=device)
        self.buf_a = torch.zeros_like(self.buf_s)
        self.buf_s2 = torch.zeros_like(self.buf_s)
        self.buf_r = torch.zeros(B, capacity, H, device=device, dtype=dtype)
        self.n_buf = 0
        self.logdet_last = None
        self._logdet = None

    def add(self, states, actions, rewards):
        """One episode per run: ``states[H+1, B]``, ``actions[H, B]``, ``rewards[H, B]``."""
        H = self.H
        for h in range(H):
            f = self.Phi[states[h], actions[h]]  # [B, d]
            self.Lam[:, h] += f[:, :, None] * f[:, None, :]
        self.buf_s[:, self.n_buf] = states[:H].T
        self.buf_a[:, self.n_buf] = actions.T
        self.buf_s2[:, self.n_buf] = states[1:].T
        self.buf_r[:, self.n_buf] = rewards.T
        self.n_buf += 1

    def compute(self):
        B, H, S, A, n_buf, Phi = self.B, self.H, self.S, self.A, self.n_buf, self.Phi
        Q = torch.zeros(B, H, S, A, device=self.device, dtype=self.dtype)
        V = torch.zeros(B, S, device=self.device, dtype=self.dtype)
        Lam_inv = torch.linalg.inv(self.Lam)
        for h in range(H - 1, -1, -1):
            cap_h = float(H - h)
            s, a = self.buf_s[:, :n_buf, h], self.buf_a[:, :n_buf, h]
            s2, r = self.buf_s2[:, :n_buf, h], self.buf_r[:, :n_buf, h]
            target = r + (V.gather(1, s2) if h < H - 1 else torch.zeros_like(r))
            f = Phi[s, a]  # [B, n, d]
            w = (Lam_inv[:, h] @ (f * target[..., None]).sum(1)[..., None])[..., 0]  # [B, d]
            q = torch.einsum("sad,bd->bsa", Phi, w)
            if self.optimism:
                quad = torch.einsum("sad,bde,sae->bsa", Phi, Lam_inv[:, h], Phi).clamp(min=0)
                q = q + self.beta * quad.sqrt()
            Q[:, h] = q.clamp(min=0.0, max=cap_h)
            V = Q[:, h].amax(-1)
        return Q

    def start(self):
        self.logdet_last = torch.logdet(self.Lam)

    def doubled(self):
        """``[B]``: some :math:`\\log\\det\\Lambda_h` grew by more than :math:`\\log 2` since the last switch."""
        self._logdet = torch.logdet(self.Lam)
        return ((self._logdet - self.logdet_last) > math.log(2.0)).any(-1)

    def commit(self, switched):
        self.logdet_last = torch.where(switched[:, None], self._logdet, self.logdet_last)


def switch_every_episode(critic, Q):
    """Recompute the critic after every episode (UCBVI, LSVI-UCB): ``(new Q, all True)``."""
    return critic.compute(), torch.ones(critic.B, dtype=torch.bool, device=critic.device)


def switch_on_doubling(critic, Q):
    """Rare switching: recompute the critic of the runs whose data doubled (``critic.doubled()``)."""
    switched = critic.doubled()
    if switched.any():
        Qn = critic.compute()
        Q = torch.where(switched[:, None, None, None], Qn, Q)
        critic.commit(switched)
    return Q, switched


class SoftmaxActor:
    r"""Policy mirror descent on the critic: logits :math:`\theta \mathrel{+}= \eta_\tau \bar Q`,
    :math:`\eta_\tau` = ``actor_scale`` :math:`\sqrt{\log|A|/\tau}`; ``reset=True`` zeroes logits and
    :math:`\tau` at every switch."""

    def __init__(self, B, H, S, A, device, dtype, reset: bool, actor_scale: float = 1.0):
        self.reset, self.actor_scale = reset, actor_scale
        self.logits = torch.zeros(B, H, S, A, device=device, dtype=dtype)
        self.tau = torch.zeros(B, device=device, dtype=dtype)
        self.log_a = math.log(A) if A > 1 else 1.0

    def policy(self, Q):
        return torch.softmax(self.logits, dim=-1)

    def update(self, Q, switched):
        if self.reset:
            self.logits = torch.where(switched[:, None, None, None], torch.zeros_like(self.logits), self.logits)
            self.tau = torch.where(switched, torch.zeros_like(self.tau), self.tau)
        self.tau = self.tau + 1
        eta = self.actor_scale * torch.sqrt(self.log_a / self.tau)
        self.logits = self.logits + eta[:, None, None, None] * Q

    def final(self, Q):
        return torch.softmax(self.logits, -1)


class GreedyActor:
    """Greedy one-hot policy of the current critic (UCBVI, LSVI-UCB)."""

    def __init__(self, A: int, dtype):
        self.A, self.dtype = A, dtype

    def policy(self, Q):
        return torch.nn.functional.one_hot(Q.argmax(-1), self.A).to(self.dtype)

    def update(self, Q, switched):
        pass

    final = policy
