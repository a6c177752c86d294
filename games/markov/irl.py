r"""What the imitation and inverse-RL learners of :mod:`games.markov.mamql` and
:mod:`games.markov.baselines` share: the expert's data (exact or empirical discounted occupancies, batched
over data sets), their result type, and the IQ-Learn objective with its critics.

The IQ-Learn objective of one agent (Garg et al. 2021; the :math:`\chi^2` regulariser and its reference
distribution are explained in :mod:`games.markov.mamql`) is :func:`_iq_objective`; the implied reward is

.. math:: \hat r_i(s,a_i) = \bar Q_i(s,a_i) - \gamma\,(\bar P_i \bar V_i)(s,a_i),\qquad
          \bar V_i(s) = T\log\textstyle\sum_{a_i} e^{\bar Q_i(s,a_i)/T}.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from games.markov.demonstrations import Demonstrations
from games.markov.marginal import marginal_tensors
from games.markov.model import MarkovGame, stack_games, validate_policies
from mdp.operators import policy_kernel, q_values
from theory.results import SolverResult
from theory.validation import ShapeError

__all__ = ["ExpertData", "IRLResult", "expert_data", "demonstration_data", "implied_reward", "state_occupancy"]

_DT = torch.float64


# ----------------------------------------------------------------------------------------------
# Data: expert occupancies (exact or empirical), batched over B data sets
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExpertData:
    r"""What the learners see of the expert, for ``B`` data sets (seeds) at once (torch float64).

    Attributes:
        weights: per agent ``[B, S, A_i]``: normalised discounted occupancy :math:`\rho_E(s, a_i)`
            (exact, or :math:`\propto \sum_{e,t}\gamma^t 1\{s_t=s, a_{i,t}=a_i\}` from demonstrations).
        transitions: per agent ``[B, S, A_i, S]``: :math:`\rho_E(s,a_i)\,\hat P(t|s,a_i)` (exact or counted).
        exact: built from exact occupancies (no sampling).
    """

    weights: list
    transitions: list
    exact: bool

    @property
    def batch(self) -> int:
        return int(self.weights[0].shape[0])


def state_occupancy(P_pi, mu, gamma):
    r"""Normalised discounted state occupancy :math:`d = (1-\gamma)\mu^\top(I-\gamma P_\pi)^{-1}`, ``[B, S]``.

    Args:
        P_pi: ``[B, S, S]`` torch; mu: ``[B, S]``; gamma: ``[B]``.
    """
    S = P_pi.shape[-1]
    eye = torch.eye(S, dtype=P_pi.dtype, device=P_pi.device)
    M = (eye - gamma[:, None, None] * P_pi).transpose(-1, -2)
    return (1 - gamma)[:, None] * torch.linalg.solve(M, mu[..., None])[..., 0]


def _joint_state_kernel(g, pols):
    P_bar, _ = marginal_tensors(g, 0, pols)
    return policy_kernel(P_bar, pols[0])


def expert_data(mg: MarkovGame, policies, batch: int = 1) -> ExpertData:
    """Exact expert occupancies of the joint policy ``policies`` (``batch`` identical copies)."""
    pols = validate_policies(mg, policies)
    g = stack_games([mg])
    tp = [torch.as_tensor(p, dtype=_DT)[None] for p in pols]
    d = state_occupancy(_joint_state_kernel(g, tp), g.mu, g.gamma)
    weights, trans = [], []
    for i in range(mg.n_agents):
        P_bar, _ = marginal_tensors(g, i, tp)
        w = d[..., None] * tp[i]
        weights.append(w.expand(batch, -1, -1).clone())
        trans.append((w[..., None] * P_bar).expand(batch, -1, -1, -1).clone())
    return ExpertData(weights, trans, True)


def demonstration_data(mg: MarkovGame, demos) -> ExpertData:
    r"""Empirical discounted occupancies of one :class:`Demonstrations` or a list of them (one per seed).

    Step :math:`t` of every episode gets weight :math:`\gamma^t`; weights are normalised to sum to one.
    """
    demos = [demos] if isinstance(demos, Demonstrations) else list(demos)
    if not demos:
        raise ShapeError("demonstration_data needs at least one Demonstrations")
    S = mg.S
    W = [np.zeros((len(demos), S, A)) for A in mg.actions]
    Tr = [np.zeros((len(demos), S, A, S)) for A in mg.actions]
    for b, d in enumerate(demos):
        if not isinstance(d, Demonstrations):
            raise TypeError(f"demos[{b}] is a {type(d).__name__}, not Demonstrations")
        d.check(mg)
        H = d.horizon
        disc = np.broadcast_to(mg.gamma ** np.arange(H), (d.episodes, H)).ravel()
        s, s2 = d.states[:, :-1].ravel(), d.states[:, 1:].ravel()
        for i in range(mg.n_agents):
            a = d.actions[..., i].ravel()
            np.add.at(W[i][b], (s, a), disc)
            np.add.at(Tr[i][b], (s, a, s2), disc)
        z = W[0][b].sum()
        for i in range(mg.n_agents):
            W[i][b] /= z
            Tr[i][b] /= z
    return ExpertData([torch.as_tensor(w, dtype=_DT) for w in W], [torch.as_tensor(t, dtype=_DT) for t in Tr],
                      False)


def _as_data(mg, data) -> tuple[ExpertData, bool]:
    """``(ExpertData, squeeze)``: squeeze the batch axis of results when one data set was given."""
    if isinstance(data, ExpertData):
        return data, False
    if isinstance(data, Demonstrations):
        return demonstration_data(mg, data), True
    if isinstance(data, (list, tuple)) and data and all(isinstance(d, Demonstrations) for d in data):
        return demonstration_data(mg, data), False
    raise TypeError(f"demos must be Demonstrations, a list of them or ExpertData, got {type(data).__name__}")


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IRLResult(SolverResult):
    r"""Result of an imitation / inverse-RL learner (per agent lists; ``[B, ...]`` when batched).

    Attributes:
        policies: ``[(B,) S, A_i]`` learned policies.
        Q: ``[(B,) S, A_i]`` learned critics (``None`` for behaviour cloning).
        marginal_reward: ``[(B,) S, A_i]`` recovered marginal rewards (``None`` for behaviour cloning).
        residual: max-norm gradient of the objective at the returned critics with the opponents fixed at
            the returned policies (the stationarity residual; ``0`` for behaviour cloning).
        error_bound: ``None`` (no certified distance exists).
        converged: ``residual <= tol`` (``None`` when no test applies).
        iterations: optimisation rounds; history: per-round residuals when asked for.
        solver: the learner's name.
    """

    policies: list
    Q: Any
    marginal_reward: Any
    solver: str = ""


def _squeeze(xs, squeeze):
    if xs is None:
        return None
    return [x[0].detach().cpu().numpy() if squeeze else x.detach().cpu().numpy() for x in xs]


# ----------------------------------------------------------------------------------------------
# Behaviour cloning
# ----------------------------------------------------------------------------------------------
def _bc_policies(data: ExpertData, smoothing: float):
    out = []
    for w in data.weights:
        A = w.shape[-1]
        c = w + smoothing * w.sum((-2, -1), keepdim=True) / w.shape[-2] / A
        tot = c.sum(-1, keepdim=True)
        out.append(torch.where(tot > 0, c / tot.clamp(min=1e-300), torch.full_like(c, 1.0 / A)))
    return out



# ----------------------------------------------------------------------------------------------
# The IQ-Learn objective (one agent, batched) and MAMQL
# ----------------------------------------------------------------------------------------------
def implied_reward(Q, P_flat, gamma, temperature):
    r""":math:`\hat r = Q - \gamma\,\bar P\,\bar V` with :math:`\bar V = T\,\mathrm{logsumexp}(Q/T)`: ``[B, S, A]``.

    Args:
        Q: ``[B, S, A]``; P_flat: ``[B, S*A, S]`` (marginal or empirical kernel); gamma: ``[B]``; temperature: T.
    """
    V = temperature * torch.logsumexp(Q / temperature, -1)
    zero = torch.zeros_like(Q)
    return Q - q_values(P_flat, zero, gamma, V), V


def _iq_objective(Q, P_flat, gamma, T, w_E, w_R, alpha):
    r_hat, V = implied_reward(Q, P_flat, gamma, T)
    ll = (w_E * (Q - V[..., None])).sum((-2, -1))  # E_E[r_hat] - E_E[V - gamma P V] = T E_E[log pi]
    reg = (w_R * r_hat ** 2).sum((-2, -1)) / (4 * alpha)
    return ll - reg


class _Critics:
    r"""Tables ``Q_i[B, S, A_i]`` parametrised as :math:`Q = Z - \bar Z + \kappa\,c(s)` for L-BFGS.

    The likelihood term pins the within-state differences of :math:`Q` strongly and the per-state level
    (the shaping direction) only through the :math:`\chi^2` term of weight :math:`1/(4\alpha)`; scaling the
    level by :math:`\kappa = \sqrt{\max(\alpha, 1)}` equalises the curvature (about 20x fewer iterations at
    :math:`\alpha = 500`). The optimum in :math:`Q` is unchanged.
    """

    def __init__(self, B, S, actions, alpha, device):
        self.kappa = float(np.sqrt(max(alpha, 1.0)))
        self.Z = [torch.zeros((B, S, A), dtype=_DT, device=device, requires_grad=True) for A in actions]
        self.c = [torch.zeros((B, S), dtype=_DT, device=device, requires_grad=True) for _ in actions]

    def q(self, i):
        Z = self.Z[i]
        return Z - Z.mean(-1, keepdim=True) + self.kappa * self.c[i][..., None]

    def tables(self):
        return [self.q(i).detach() for i in range(len(self.Z))]

    def fit(self, objective, max_iter, tol):
        """Maximise ``objective(list of Q tables)`` (a scalar tensor) by L-BFGS with strong Wolfe search."""
        opt = torch.optim.LBFGS(self.Z + self.c, lr=1.0, max_iter=max_iter, max_eval=int(max_iter * 1.5),
                                tolerance_grad=tol / 10, tolerance_change=1e-30, history_size=50,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = -objective([self.q(i) for i in range(len(self.Z))])
            loss.backward()
            return loss

        opt.step(closure)

    def residual(self, objective) -> float:
        """Max-norm gradient of ``objective`` with respect to the Q tables at the current point."""
        qs = [q.requires_grad_(True) for q in self.tables()]
        objective(qs).backward()
        return max(float(q.grad.abs().max()) for q in qs)



def _regulariser_weights(ref, w_E, cur=None, d_pi=None):
    r"""Per agent :math:`\rho_R = (\rho_E + \rho_{\mathrm{ref}})/2` ``[B, S, A_i]`` (module docstring)."""
    if ref == "expert":
        return list(w_E)
    if ref == "uniform":
        return [0.5 * (w + 1.0 / (w.shape[-2] * w.shape[-1])) for w in w_E]
    return [0.5 * (w + d_pi[..., None] * p) for w, p in zip(w_E, cur)]
