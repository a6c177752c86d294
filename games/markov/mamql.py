r"""Multi-agent inverse Q-learning (MAMQL; Haynam et al. 2025) in tabular form, its baselines, and reward
recovery modulo potential-based shaping.

**Reconstruction.** No MAMQL source is public; the algorithm below is a tabular reconstruction from the
paper's abstract and the IQ-Learn objective (Garg et al. 2021, ``Div99/IQ-Learn``), documented in
the MAMQL section of ``docs/experiments.md`` and section "Markov games and MAMQL" of the paper.

Each agent :math:`i` has a critic :math:`\bar Q_i(s, a_i)` *marginalised* over the other agents'
policies :math:`\pi_{-i}`, a Boltzmann policy :math:`\pi_i = \mathrm{softmax}(\bar Q_i/T)` and soft value
:math:`\bar V_i(s) = T\log\sum_{a_i} e^{\bar Q_i(s,a_i)/T}`. With the implied (marginal) reward

.. math:: \hat r_i(s,a_i) = \bar Q_i(s,a_i) - \gamma\,(\bar P_i \bar V_i)(s,a_i),\qquad
          \bar P_i(t|s,a_i) = \textstyle\sum_{a_{-i}}\pi_{-i}(a_{-i}|s)P(t|s,a),

agent :math:`i` maximises IQ-Learn's objective with the :math:`\chi^2` regulariser
:math:`\phi(x) = x - x^2/(4\alpha)` ("value_expert" form, expert occupancy :math:`\rho_E`):

.. math:: J_i(\bar Q_i) = \mathbb E_{\rho_E}\big[\phi(\hat r_i)\big] - \mathbb E_{\rho_E}\big[\bar V_i(s) -
          \gamma(\bar P_i\bar V_i)(s,a_i)\big] - \tfrac{1}{4\alpha}\big(\mathbb E_{\rho_R}-\mathbb E_{\rho_E}\big)
          [\hat r_i^2]

where :math:`\rho_R = (\rho_E + \rho_{\mathrm{ref}})/2` mixes the expert occupancy with a *reference*
distribution (``reference=``):

* ``"policy"`` (the online default; IQ-Learn's ``regularize`` option, the :math:`\chi^2` term on expert and
  policy samples): :math:`\rho_{\mathrm{ref}} = \rho_\pi`, the exact discounted occupancy of the current
  learned joint policy (computed from the model; offline, the demonstrated states with the learner's
  actions, :math:`d_E(s)\pi_i(a_i|s)`), held fixed within a round (policy samples are data, as in IQ-Learn)
  and refreshed between rounds;
* ``"uniform"`` (the offline default; **our documented choice**): :math:`\rho_{\mathrm{ref}}(s,a_i) =
  1/(S A_i)`, every state-action pair;
* ``"expert"``: :math:`\rho_R = \rho_E` (IQ-Learn's offline ``chi`` option; kept as an ablation).

With ``"expert"`` the objective does not penalise :math:`\hat r_i` on pairs the demonstrations never
show, and the likelihood rises without bound in the direction :math:`\bar Q_i(s,a)\to-\infty` of every
undemonstrated action: the supremum is not attained, the fitted probabilities of those actions fall towards
zero (1e-14 after 1,000 L-BFGS iterations on the Gems game) and the fit's result depends on its budget.
``"policy"`` bounds each round, but its fixed point puts an implied reward of about :math:`-4\alpha` on
undemonstrated actions and is reached only after about a hundred rounds on the Gems game. ``"uniform"``
makes the penalty coercive (the map :math:`\bar Q_i\mapsto\hat r_i` is the soft Bellman bijection, so
:math:`\sum_{s,a}\hat r_i^2\to\infty` as :math:`\|\bar Q_i\|\to\infty`): the maximum is attained and
finite, undemonstrated pairs get an implied reward shrunk towards zero (a zero-reward prior), and the
policy at undemonstrated states is the soft-optimal response to the recovered rewards in the model. Since
:math:`\mathbb E_{\rho_E}[\hat r - (\bar V - \gamma\bar P\bar V)] = T\,\mathbb E_{\rho_E}[\log\pi_i(a_i|s)]`, the
objective is the Boltzmann log-likelihood of the demonstrations plus a :math:`\chi^2` penalty on the
implied reward; as :math:`\alpha\to\infty` with the exact occupancy, :math:`\pi_i\to\pi_i^E` and
:math:`\hat r_i` equals the true marginal reward up to potential-based shaping.

The opponents in :math:`\bar P_i` are (``opponents=``) the other agents' *current learned* Boltzmann
policies (``"learned"``, online; the critics are then trained jointly: rounds of exact maximisation with
the opponents fixed, until the joint policy stops moving), their behaviour-cloned policies (``"bc"``,
offline), the uniform policy (``"uniform"``, an ablation) or the true expert policies (``"expert"``, an
oracle). Every agent's objective is maximised by L-BFGS (torch, batched over seeds/instances).

**Baselines** (:func:`behaviour_cloning`, :func:`independent_iq_learn`, :func:`ma_airl`): empirical action
frequencies; IQ-Learn per agent *without* marginalisation or a model (the next-state values come from the
demonstrated transitions :math:`(s, a_i, s')` only); tabular MA-AIRL (Yu et al. 2019) with discriminator
:math:`D = e^{f}/(e^{f} + \pi_i)`, :math:`f = g(s,a_i) + \gamma h(s') - h(s)`, alternated with soft-optimal
generator updates in the marginal MDP.

**Reward recovery** (:func:`reward_recovery`): raw Pearson correlation of :math:`\hat r_i` with the true
marginal reward :math:`\bar r_i`, the relative least-squares *shaping residual*
:math:`\min_{\Phi,c}\|\bar r_i - \hat r_i - (\gamma\bar P_i\Phi - \Phi) - c\| / \|\bar r_i - \mathrm{mean}\|`
and the *shaping-invariant Pearson* correlation of both rewards after projecting out the shaping subspace
:math:`\{\gamma\bar P_i\Phi - \Phi + c\}` (an EPIC-style distance, invariant to shaping and scale).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from games.markov_game import (Demonstrations, MarkovGame, marginal_tensors, soft_nash, soft_q, stack_games,
                               validate_policies)
from mdp.operators import policy_kernel, q_values
from theory.results import warn_not_converged
from theory.validation import ParameterError, ShapeError, check_scalar

__all__ = ["ExpertData", "IRLResult", "RewardRecovery", "expert_data", "demonstration_data", "mamql",
           "behaviour_cloning", "independent_iq_learn", "ma_airl", "reward_recovery", "policy_kl", "policy_tv",
           "transfer_returns",
           "implied_reward", "state_occupancy", "reoptimised_values", "recovery_metrics",
           "marginal_mdp_numpy"]

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
class IRLResult:
    r"""Result of an imitation / inverse-RL learner (per agent lists; ``[B, ...]`` when batched).

    Attributes:
        policies: ``[(B,) S, A_i]`` learned policies.
        q: ``[(B,) S, A_i]`` learned critics (``None`` for behaviour cloning).
        marginal_reward: ``[(B,) S, A_i]`` recovered marginal rewards (``None`` for behaviour cloning).
        residual: max-norm gradient of the objective at the returned critics with the opponents fixed at
            the returned policies (the stationarity residual; ``0`` for behaviour cloning).
        error_bound: ``None`` (no certified distance exists).
        converged: ``residual <= tol`` (``None`` when no test applies).
        iterations: optimisation rounds; history: per-round residuals when asked for.
        method: the learner's name.
    """

    policies: list
    q: Any
    marginal_reward: Any
    residual: float
    error_bound: Any
    converged: Any
    iterations: int
    history: Any = None
    method: str = ""


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


def behaviour_cloning(mg: MarkovGame, demos, smoothing: float = 1e-3) -> IRLResult:
    r"""Behaviour cloning: :math:`\pi_i(a|s) \propto \hat\rho_E(s,a) + \epsilon/(SA)`, uniform where unseen.

    Args:
        mg: the game; demos: :class:`Demonstrations`, a list of them, or :class:`ExpertData`;
        smoothing: :math:`\epsilon \ge 0` (additive smoothing, as a fraction of the total weight).
    """
    smoothing = check_scalar("smoothing", smoothing, low=0.0)
    data, sq = _as_data(mg, demos)
    return IRLResult(_squeeze(_bc_policies(data, smoothing), sq), None, None, 0.0, None, None, 0, None, "bc")


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


def _opponent_policies(kind, i, Qs, bc, expert, T, actions, like=None):
    out = []
    for j, A in enumerate(actions):
        if j == i:
            out.append(torch.full_like(bc[j], 1.0 / A))  # unused by the marginalisation
        elif kind == "learned":
            out.append(torch.softmax(Qs[j] / T, -1))
        elif kind == "bc":
            out.append(bc[j])
        elif kind == "uniform":
            out.append(torch.full_like(bc[j], 1.0 / A))
        else:
            out.append(expert[j])
    return out


_REFERENCES = ("uniform", "policy", "expert")


def _check_reference(reference, default):
    ref = default if reference is None else reference
    if ref not in _REFERENCES:
        raise ParameterError(f"reference must be 'uniform', 'policy' or 'expert', got {reference!r}")
    return ref


def _regulariser_weights(ref, w_E, cur=None, d_pi=None):
    r"""Per agent :math:`\rho_R = (\rho_E + \rho_{\mathrm{ref}})/2` ``[B, S, A_i]`` (module docstring)."""
    if ref == "expert":
        return list(w_E)
    if ref == "uniform":
        return [0.5 * (w + 1.0 / (w.shape[-2] * w.shape[-1])) for w in w_E]
    return [0.5 * (w + d_pi[..., None] * p) for w, p in zip(w_E, cur)]


def mamql(mg: MarkovGame, demos, temperature: float = 1.0, alpha: float = 10.0, online: bool = True,
          opponents: str | None = None, rounds: int = 50, max_iter: int = 1000, tol: float = 1e-7,
          expert_policies=None, seed: int = 0, device="cpu", history: bool = False,
          reference: str | None = None) -> IRLResult:
    r"""MAMQL, tabular reconstruction: jointly trained marginalised soft critics with the IQ-Learn objective.

    Maximises :math:`\sum_i J_i(\bar Q_i)` (module docstring) over tables ``Q_i[B, S, A_i]`` by L-BFGS. With
    ``opponents="learned"`` the marginalisation uses the others' current Boltzmann policies, and with
    ``reference="policy"`` the regulariser uses the learner's own occupancy; both are held fixed within a
    round, and rounds repeat until the joint policy moves by less than ``tol`` (at most ``rounds``).

    Args:
        mg: the game (its dynamics are known to the learner, as in the paper's model-based marginalisation).
        demos: :class:`Demonstrations`, a list of them (one per seed: batched) or :class:`ExpertData`.
        temperature: the learner's :math:`T = 1/\lambda > 0`.
        alpha: the :math:`\chi^2` regulariser's :math:`\alpha > 0` (larger = weaker).
        online: IQ-Learn online: the policy occupancy in the regulariser (``reference="policy"``) is the
            learned joint policy's exact occupancy (offline: the demonstrated states' occupancy).
        reference: the :math:`\chi^2` term's reference distribution ``"uniform" | "policy" | "expert"``
            (module docstring; default ``"policy"`` online, ``"uniform"`` offline).
        opponents: ``"learned" | "bc" | "uniform" | "expert"`` (default ``"learned"`` online, ``"bc"``
            offline).
        rounds: maximum rounds of opponent updates; max_iter: L-BFGS iterations per round.
        tol: stopping test on the stationarity residual and the policy movement between rounds.
        expert_policies: the true expert policies (needed for ``opponents="expert"`` only).
        seed: unused by the deterministic tabular learner (kept for the package's run signature).
        device: torch device; history: record the residual per round.

    Returns:
        :class:`IRLResult` with ``policies``, ``q`` and ``marginal_reward`` (numpy ``[S, A_i]`` for one data
        set, ``[B, S, A_i]`` for a list).

    Example:
        >>> from games.markov_games import random_markov_game
        >>> from games.markov_game import soft_nash
        >>> mg = random_markov_game(4, (2, 2), seed=0)
        >>> expert = soft_nash(mg, 1.0).policies
        >>> res = mamql(mg, expert_data(mg, expert), temperature=1.0, alpha=1e3)
        >>> float(abs(res.policies[0][0] - expert[0]).max()) < 1e-3
        True
    """
    T = check_scalar("temperature", temperature, low=0.0, low_open=True)
    alpha = check_scalar("alpha", alpha, low=0.0, low_open=True)
    rounds = check_scalar("rounds", rounds, low=1, integer=True)
    max_iter = check_scalar("max_iter", max_iter, low=1, integer=True)
    tol = check_scalar("tol", tol, low=0.0, low_open=True)
    check_scalar("seed", seed, low=0, integer=True)
    kind = opponents if opponents is not None else ("learned" if online else "bc")
    if kind not in ("learned", "bc", "uniform", "expert"):
        raise ParameterError(f"opponents must be 'learned', 'bc', 'uniform' or 'expert', got {opponents!r}")
    ref = _check_reference(reference, "policy" if online else "uniform")
    data, sq = _as_data(mg, demos)
    B, n, S = data.batch, mg.n_agents, mg.S
    dev = torch.device(device)
    g = stack_games([mg], device=dev)
    P1 = g.P.expand(B, *g.P.shape[1:])
    gt = type(g)(P1, g.R.expand(B, *g.R.shape[1:]), g.gamma.expand(B), g.mu.expand(B, -1), g.actions, True)
    gamma = gt.gamma
    w_E = [w.to(dev) for w in data.weights]
    bc = [p.to(dev) for p in _bc_policies(data, 1e-3)]
    expert = None
    if kind == "expert":
        if expert_policies is None:
            raise ParameterError("opponents='expert' needs expert_policies")
        expert = [torch.as_tensor(p, dtype=_DT, device=dev).expand(B, -1, -1)
                  for p in validate_policies(mg, expert_policies, "expert_policies")]
    critics = _Critics(B, S, mg.actions, alpha, dev)

    def setup(Qs):
        """Kernels and regulariser weights with the opponents implied by the critics ``Qs``."""
        cur = [torch.softmax(q / T, -1) for q in Qs]
        d_pi = None
        if ref == "policy":
            d_pi = state_occupancy(_joint_state_kernel(gt, cur), gt.mu, gamma) if online else w_E[0].sum(-1)
        kernels = []
        for i in range(n):
            opp = _opponent_policies(kind, i, Qs, bc, expert, T, mg.actions, None)
            P_bar, _ = marginal_tensors(gt, i, opp)
            kernels.append(P_bar.reshape(B, S * mg.actions[i], S))
        return kernels, _regulariser_weights(ref, w_E, cur, d_pi)

    hist = []
    prev = None
    move = 0.0
    it = 0
    adaptive = kind == "learned" or ref == "policy"
    for it in range(1, rounds + 1):
        kernels, w_R = setup(critics.tables())

        def objective(Qs, kernels=kernels, w_R=w_R):
            return sum(_iq_objective(Qs[i], kernels[i], gamma, T, w_E[i], w_R[i], alpha).sum() for i in range(n))

        critics.fit(objective, max_iter, tol)
        new = [torch.softmax(q / T, -1) for q in critics.tables()]
        move = float("inf") if prev is None else max(float((x - y).abs().max()) for x, y in zip(new, prev))
        prev = new
        if history:
            hist.append(move)
        if not adaptive or move <= tol:
            break
    # residual: the objective's gradient at the returned critics with the opponents they imply
    kernels, w_R = setup(critics.tables())
    residual = critics.residual(
        lambda Qs: sum(_iq_objective(Qs[i], kernels[i], gamma, T, w_E[i], w_R[i], alpha).sum() for i in range(n)))
    if adaptive:
        residual = max(residual, move)
    Qs = critics.tables()
    rewards = [implied_reward(Qs[i], kernels[i], gamma, T)[0] for i in range(n)]
    converged = residual <= tol
    if not converged:
        warn_not_converged("mamql", residual=residual, tol=tol, iterations=it)
    pols = [torch.softmax(q / T, -1) for q in Qs]
    return IRLResult(_squeeze(pols, sq), _squeeze(Qs, sq), _squeeze(rewards, sq), residual, None, converged, it,
                     np.asarray(hist) if history else None,
                     f"mamql[{kind}{', online' if online else ''}, {ref} reference]")


def _empirical_kernel(data: ExpertData, i: int):
    r"""Agent ``i``'s demonstrated next-state distribution :math:`\hat P(t|s,a_i)` ``[B, S*A_i, S]``; unseen
    ``(s, a_i)`` fall back to the state's pooled next states, then to uniform."""
    Tr = data.transitions[i]
    B, S, A, _ = Tr.shape
    tot = Tr.sum(-1, keepdim=True)
    pooled = Tr.sum(2, keepdim=True)
    ptot = pooled.sum(-1, keepdim=True)
    pooled = torch.where(ptot > 0, pooled / ptot.clamp(min=1e-300), torch.full_like(pooled, 1.0 / S))
    P = torch.where(tot > 0, Tr / tot.clamp(min=1e-300), pooled.expand_as(Tr))
    return P.reshape(B, S * A, S)


def independent_iq_learn(mg: MarkovGame, demos, temperature: float = 1.0, alpha: float = 10.0,
                         max_iter: int = 1000, tol: float = 1e-7, device="cpu",
                         reference: str = "uniform") -> IRLResult:
    r"""IQ-Learn per agent without marginalisation or a model (baseline).

    Agent :math:`i` maximises the same objective as :func:`mamql` offline, but its next-state values come
    from its demonstrated transitions :math:`(s, a_i, s')` only (the empirical kernel
    :math:`\hat P(t|s,a_i)`; unseen pairs use the state's pooled transitions, else uniform), treating the
    other agents as an unmodelled part of the environment. With the exact expert occupancy
    :math:`\hat P = \bar P_i^{\pi^E_{-i}}` and it coincides with MAMQL using the expert opponents.
    ``reference`` is the :math:`\chi^2` term's reference distribution, ``"uniform"`` (default) or
    ``"expert"``, as in :func:`mamql` offline.
    """
    T = check_scalar("temperature", temperature, low=0.0, low_open=True)
    alpha = check_scalar("alpha", alpha, low=0.0, low_open=True)
    max_iter = check_scalar("max_iter", max_iter, low=1, integer=True)
    tol = check_scalar("tol", tol, low=0.0, low_open=True)
    if reference not in ("uniform", "expert"):
        raise ParameterError(f"reference must be 'uniform' or 'expert', got {reference!r}")
    data, sq = _as_data(mg, demos)
    B, S = data.batch, mg.S
    dev = torch.device(device)
    gamma = torch.full((B,), mg.gamma, dtype=_DT, device=dev)
    kernels = [_empirical_kernel(data, i).to(dev) for i in range(mg.n_agents)]
    w_E = [w.to(dev) for w in data.weights]
    w_R = _regulariser_weights(reference, w_E)
    critics = _Critics(B, S, mg.actions, alpha, dev)

    def objective(Qs):
        return sum(_iq_objective(Qs[i], kernels[i], gamma, T, w_E[i], w_R[i], alpha).sum()
                   for i in range(mg.n_agents))

    critics.fit(objective, max_iter, tol)
    residual = critics.residual(objective)
    converged = residual <= tol
    if not converged:
        warn_not_converged("independent_iq_learn", residual=residual, tol=tol, iterations=1)
    Qs = critics.tables()
    rewards = [implied_reward(Qs[i], kernels[i], gamma, T)[0] for i in range(mg.n_agents)]
    pols = [torch.softmax(q / T, -1) for q in Qs]
    return IRLResult(_squeeze(pols, sq), _squeeze(Qs, sq), _squeeze(rewards, sq), residual, None, converged, 1,
                     None, "independent_iq")


def ma_airl(mg: MarkovGame, demos, temperature: float = 1.0, rounds: int = 100, disc_steps: int = 20,
            lr: float = 0.05, seed: int = 0, device="cpu") -> IRLResult:
    r"""Tabular MA-AIRL (baseline): per-agent AIRL discriminators against soft-optimal generators.

    Discriminator of agent :math:`i`: :math:`D(s,a_i,s') = \sigma\big(f(s,a_i,s') - \log\pi_i(a_i|s)\big)` with
    :math:`f = g(s,a_i) + \gamma h(s') - h(s)`; ``disc_steps`` Adam steps per round on the logistic loss
    :math:`-\mathbb E_{E}[\log D] - \mathbb E_{\pi}[\log(1-D)]` (expert transitions from the demonstrations,
    generator transitions from the exact occupancy of the current joint policy). Generator: the soft-optimal
    policy in agent :math:`i`'s marginal MDP against the others' current policies with reward
    :math:`\bar f(s,a_i) = g + \gamma\bar P_i h - h` (:func:`games.markov_game.soft_q`). The recovered marginal
    reward is :math:`g`. Reconstruction (no tabular MA-AIRL is published): exact generator occupancies
    replace the generator's samples.
    """
    T = check_scalar("temperature", temperature, low=0.0, low_open=True)
    rounds = check_scalar("rounds", rounds, low=1, integer=True)
    disc_steps = check_scalar("disc_steps", disc_steps, low=1, integer=True)
    lr = check_scalar("lr", lr, low=0.0, low_open=True)
    check_scalar("seed", seed, low=0, integer=True)
    data, sq = _as_data(mg, demos)
    B, n, S = data.batch, mg.n_agents, mg.S
    dev = torch.device(device)
    g0 = stack_games([mg], device=dev)
    gt = type(g0)(g0.P.expand(B, *g0.P.shape[1:]), g0.R.expand(B, *g0.R.shape[1:]), g0.gamma.expand(B),
                  g0.mu.expand(B, -1), g0.actions, True)
    gamma = gt.gamma
    w_E = [t.to(dev) for t in data.transitions]
    gs = [torch.zeros((B, S, A), dtype=_DT, device=dev, requires_grad=True) for A in mg.actions]
    hs = [torch.zeros((B, S), dtype=_DT, device=dev, requires_grad=True) for _ in mg.actions]
    opt = torch.optim.Adam(gs + hs, lr=lr)
    pols = [torch.full((B, S, A), 1.0 / A, dtype=_DT, device=dev) for A in mg.actions]
    V = [None] * n
    for _ in range(rounds):
        d = state_occupancy(_joint_state_kernel(gt, pols), gt.mu, gamma)
        kern, w_pi = [], []
        for i in range(n):
            P_bar, _ = marginal_tensors(gt, i, pols)
            kern.append(P_bar)
            w_pi.append((d[..., None] * pols[i])[..., None] * P_bar)
        for _ in range(disc_steps):
            opt.zero_grad()
            loss = 0.0
            for i in range(n):
                f = gs[i][..., None] + gamma[:, None, None, None] * hs[i][:, None, None, :] - hs[i][:, :, None, None]
                logit = f - torch.log(pols[i].clamp(min=1e-300))[..., None]
                loss = loss + (w_E[i] * torch.nn.functional.softplus(-logit)).sum() \
                    + (w_pi[i] * torch.nn.functional.softplus(logit)).sum()
            loss.backward()
            opt.step()
        with torch.no_grad():
            new = []
            for i in range(n):
                zero = torch.zeros_like(gs[i])
                shaped = gs[i] + q_values(kern[i].reshape(B, -1, S), zero, gamma, hs[i]) - hs[i][..., None]
                Q, V[i], _ = soft_q(kern[i], shaped, gamma, T, V0=V[i], tol=1e-10)
                new.append(torch.softmax(Q / T, -1))
            pols = new
    rewards = [x.detach() for x in gs]
    return IRLResult(_squeeze(pols, sq), None, _squeeze(rewards, sq), 0.0, None, None, rounds, None, "ma_airl")


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------
def policy_kl(expert, learned, state_weights) -> float:
    r""":math:`\sum_s d(s)\,\mathrm{KL}(\pi_E(\cdot|s)\,\|\,\pi(\cdot|s))` for one agent.

    Args:
        expert, learned: ``[S, A]`` policies; state_weights: ``d[S]``.
    """
    pe, pl, d = (np.asarray(x, dtype=np.float64) for x in (expert, learned, state_weights))
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pe > 0, pe * (np.log(pe) - np.log(np.maximum(pl, 1e-300))), 0.0)
    return float(d @ terms.sum(-1))


def policy_tv(expert, learned, state_weights) -> float:
    r""":math:`\sum_s d(s)\,\tfrac12\sum_a|\pi_E(a|s) - \pi(a|s)|` (occupancy-weighted total variation) for one
    agent. Unlike the KL it is bounded by 1 and does not depend on how a learner smooths actions it never
    saw demonstrated (the comparison metric of the MAMQL experiments).

    Args:
        expert, learned: ``[S, A]`` policies; state_weights: ``d[S]``.
    """
    pe, pl, d = (np.asarray(x, dtype=np.float64) for x in (expert, learned, state_weights))
    return float(d @ (0.5 * np.abs(pe - pl).sum(-1)))


@dataclass(frozen=True)
class RewardRecovery:
    """Reward-recovery metrics of one agent (see :func:`reward_recovery`)."""

    pearson: float
    shaping_residual: float
    shaped_pearson: float


def reward_recovery(r_true, r_hat, P_bar, gamma: float) -> RewardRecovery:
    r"""Compare a recovered marginal reward with the true one, modulo potential-based shaping.

    The shaping subspace of an MDP with kernel :math:`\bar P` is
    :math:`\mathcal H = \{(s,a)\mapsto \gamma\sum_t\bar P(t|s,a)\Phi(t) - \Phi(s) + c\}`. Returns the raw
    Pearson correlation over all pairs :math:`(s,a)`, the relative shaping residual
    :math:`\min_{h\in\mathcal H}\|\bar r - \hat r - h\|_2/\|\bar r - \overline{\bar r}\|_2` (0 when
    :math:`\hat r` is :math:`\bar r` reshaped) and the Pearson correlation of the components of
    :math:`\bar r` and :math:`\hat r` orthogonal to :math:`\mathcal H` (1 when :math:`\hat r` is a positive
    multiple of :math:`\bar r` up to shaping).

    Args:
        r_true, r_hat: ``[S, A]``; P_bar: ``[S, A, S]``; gamma: discount.
    """
    r_true = np.asarray(r_true, dtype=np.float64)
    r_hat = np.asarray(r_hat, dtype=np.float64)
    P_bar = np.asarray(P_bar, dtype=np.float64)
    if r_true.shape != r_hat.shape or r_true.ndim != 2 or P_bar.shape != (*r_true.shape, r_true.shape[0]):
        raise ShapeError(f"reward_recovery needs r_true, r_hat [S, A] and P_bar [S, A, S]; got {r_true.shape}, "
                         f"{r_hat.shape}, {P_bar.shape}")
    perp = _shaping_complement(P_bar, gamma)
    x, y = r_true.ravel(), r_hat.ravel()
    denom = np.linalg.norm(x - x.mean())
    res = float(np.linalg.norm(perp(x - y)) / denom) if denom > 0 else float("nan")
    px, py = perp(x), perp(y)
    sp = float(px @ py / (np.linalg.norm(px) * np.linalg.norm(py))) if np.linalg.norm(py) > 0 else 0.0
    pr = float(np.corrcoef(x, y)[0, 1]) if np.std(y) > 0 else 0.0
    return RewardRecovery(pr, res, sp)


def _shaping_complement(P_bar, gamma: float):
    r"""The orthogonal projector onto the complement of the shaping-and-offset subspace
    :math:`\mathcal H = \{(s,a)\mapsto \gamma\sum_t\bar P(t|s,a)\Phi(t) - \Phi(s) + c\}` of ``P_bar [S, A, S]``,
    as a function of a flattened reward ``[S * A]`` (the single source of :func:`reward_recovery` and
    :func:`shaping_free_scale`)."""
    P_bar = np.asarray(P_bar, dtype=np.float64)
    S, A = P_bar.shape[:2]
    E = np.repeat(np.eye(S), A, axis=0)  # (s, a) -> Phi(s)
    H = np.column_stack([gamma * P_bar.reshape(S * A, S) - E, np.ones(S * A)])
    Qm, _ = np.linalg.qr(H)
    Qm = Qm[:, :np.linalg.matrix_rank(H)]

    def perp(x):
        return x - Qm @ (Qm.T @ x)

    return perp


def shaping_free_scale(r, P_bar, gamma: float) -> float:
    r"""Scale of a marginal reward modulo shaping: the root mean square over :math:`(s, a)` of the residual of
    its best fit by a potential-based shaping term plus a constant,

    .. math:: \sigma(r) = \min_{h\in\mathcal H}\|r - h\|_2 / \sqrt{SA},

    :math:`\mathcal H` the shaping-and-offset subspace of ``P_bar`` (see :func:`reward_recovery`); a standard
    deviation over :math:`(s, a)` that ignores what shaping can add. :math:`\sigma(c\,r + h) = |c|\,\sigma(r)`.

    Args:
        r: ``[S, A]``; P_bar: ``[S, A, S]``; gamma: discount.
    """
    r = np.asarray(r, dtype=np.float64)
    P_bar = np.asarray(P_bar, dtype=np.float64)
    if r.ndim != 2 or P_bar.shape != (*r.shape, r.shape[0]):
        raise ShapeError(f"shaping_free_scale needs r [S, A] and P_bar [S, A, S]; got {r.shape}, {P_bar.shape}")
    return float(np.linalg.norm(_shaping_complement(P_bar, gamma)(r.ravel())) / np.sqrt(r.size))


def scale_normalised_rewards(mg: MarkovGame, expert, marginal_rewards) -> tuple[list[np.ndarray], np.ndarray]:
    r"""Recovered marginal rewards rescaled to the true reward's scale modulo shaping.

    Agent :math:`i`'s recovered reward :math:`\hat r_{i,b}` of data set :math:`b` is multiplied by
    :math:`c_{i,b} = \sigma(\bar r_i)/\sigma(\hat r_{i,b})` (:func:`shaping_free_scale`, both in agent
    :math:`i`'s marginal MDP against the expert, the demonstrations' dynamics), :math:`\bar r_i` its true
    marginal reward; only the scale changes, the reward (shaping included) is otherwise kept. Re-optimising
    :math:`c\,\hat r` at temperature :math:`T` is re-optimising :math:`\hat r` at :math:`T/c`
    (:math:`\mathrm{softmax}(cQ/T)`), so :func:`transfer_returns` of the rescaled rewards compares rewards
    at a matched scale: invariant to :math:`\hat r\to k\hat r`, :math:`k>0`. A reward with no component
    off the shaping subspace (:math:`\sigma = 0`) is left unscaled.

    Args:
        mg: the game (the demonstrations' dynamics); expert: the expert policies;
        marginal_rewards: per agent ``[B, S, A_i]``.

    Returns:
        ``(rescaled rewards per agent [B, S, A_i], scale ratios [n, B])``, the ratios
        :math:`\sigma(\hat r_{i,b})/\sigma(\bar r_i)` (recovered over true; 1 = the true scale).
    """
    expert = validate_policies(mg, expert)
    rs = [np.asarray(r, dtype=np.float64) for r in marginal_rewards]
    if len(rs) != mg.n_agents or any(r.ndim != 3 or r.shape[1:] != (mg.S, a) for r, a in zip(rs, mg.actions)):
        raise ShapeError(f"marginal_rewards must hold {mg.n_agents} arrays [B, S, A_i] for S = {mg.S}, "
                         f"actions {mg.actions}; got shapes {[r.shape for r in rs]}")
    out, ratios = [], np.zeros((mg.n_agents, rs[0].shape[0]))
    for i, r in enumerate(rs):
        P_bar, r_bar = marginal_mdp_numpy(mg, i, expert)
        perp = _shaping_complement(P_bar, mg.gamma)
        true = np.linalg.norm(perp(np.asarray(r_bar, dtype=np.float64).ravel()))
        hat = np.array([np.linalg.norm(perp(rb.ravel())) for rb in r])
        ratios[i] = hat / true
        c = np.where(hat > 0, true / np.where(hat > 0, hat, 1.0), 1.0)
        out.append(r * c[:, None, None])
    return out, ratios


def _marginal_reward_game(mg: MarkovGame, marginal_rewards) -> MarkovGame:
    r"""``mg`` with rewards :math:`R'_i(s, a) = \hat r_i(s, a_i)` (each agent's own action only)."""
    n = mg.n_agents
    R = np.zeros_like(mg.R)
    for i in range(n):
        shape = [1] * (n + 1)
        shape[0], shape[1 + i] = mg.S, mg.actions[i]
        R[i] = np.broadcast_to(np.asarray(marginal_rewards[i], dtype=np.float64).reshape(shape), R.shape[1:])
    return mg.with_rewards(R)


def reoptimised_values(mg: MarkovGame, marginal_rewards, temperature: float) -> tuple[np.ndarray, Any]:
    r"""True returns ``[n]`` of the soft Nash equilibrium of the game whose rewards are the recovered marginal
    rewards (:math:`R'_i(s,a) = \hat r_i(s,a_i)`), and that equilibrium's policies."""
    from games.markov_game import agent_values

    eq = soft_nash(_marginal_reward_game(mg, marginal_rewards), temperature, tol=1e-8)
    return agent_values(mg, eq.policies), eq.policies


def transfer_returns(mg_new: MarkovGame, marginal_rewards, temperature: float, homotopy: int = 0,
                     tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    r"""Reward recovery tested by transfer: re-optimise recovered rewards under *changed dynamics*.

    For every data set ``b`` the game ``mg_new`` (the changed dynamics, with the *true* rewards) gets the
    recovered marginal rewards :math:`R'_i(s,a) = \hat r_{i,b}(s,a_i)` in place of its own; its soft Nash
    equilibrium :math:`\hat\pi_b` at ``temperature`` (:func:`games.markov_game.soft_nash`, all data sets in
    one batched solve) is scored with the true rewards of ``mg_new``, normalised as

    .. math:: \frac{V(\hat\pi_b) - V(\mathrm{unif})}{V(\pi^\star) - V(\mathrm{unif})},

    :math:`V` the agents' summed true return in ``mg_new`` and :math:`\pi^\star` the soft Nash equilibrium of
    the true rewards under the same changed dynamics and temperature (1 = the true reward's optimum).
    A reward equal to the true one up to potential-based shaping *in the demonstrations' dynamics* need not
    transfer: the shaping term :math:`\gamma\bar P\Phi - \Phi` is not a shaping term under other dynamics.

    Args:
        mg_new: the game with changed dynamics and the true rewards.
        marginal_rewards: per agent ``[B, S, A_i]`` (an :attr:`IRLResult.marginal_reward` with a batch axis).
        temperature: the soft Nash temperature; homotopy, tol: passed to :func:`soft_nash`.

    Returns:
        ``(normalised [B], converged [B])``: the normalised true returns and whether each equilibrium met
        ``tol``.
    """
    from games.markov_game import agent_values

    T = check_scalar("temperature", temperature, low=0.0, low_open=True)
    rs = [np.asarray(r, dtype=np.float64) for r in marginal_rewards]
    if len(rs) != mg_new.n_agents or any(r.ndim != 3 or r.shape[1:] != (mg_new.S, a)
                                         for r, a in zip(rs, mg_new.actions)):
        raise ShapeError(f"marginal_rewards must hold {mg_new.n_agents} arrays [B, S, A_i] for S = {mg_new.S}, "
                         f"actions {mg_new.actions}; got shapes {[r.shape for r in rs]}")
    B = rs[0].shape[0]
    star = soft_nash(mg_new, T, tol=tol, homotopy=homotopy)
    v_star = agent_values(mg_new, star.policies).sum()
    v_u = agent_values(mg_new, mg_new.uniform_policies()).sum()
    games = [_marginal_reward_game(mg_new, [r[b] for r in rs]) for b in range(B)]
    eq = soft_nash(games, T, tol=tol, homotopy=homotopy)
    pols = [p.detach().cpu().numpy() for p in eq.policies]
    out = np.array([(agent_values(mg_new, [p[b] for p in pols]).sum() - v_u) / (v_star - v_u) for b in range(B)])
    return out, np.asarray(eq.converged.detach().cpu().numpy(), dtype=bool).reshape(B)



def recovery_metrics(mg: MarkovGame, expert, result: IRLResult) -> list[dict]:
    r"""Per data set ``b``: agent-averaged policy total variation to the expert (expert-occupancy weighted,
    :func:`policy_tv`), raw and shaping-invariant
    Pearson, shaping residual (``nan`` without rewards) and the learned joint policy's true return
    normalised as :math:`(V(\pi) - V(\mathrm{unif}))/(V(\pi_E) - V(\mathrm{unif}))` summed over agents.

    Args:
        mg: the game; expert: the expert policies; result: an :class:`IRLResult` with a batch axis.
    """
    from games.markov_game import agent_values

    expert = validate_policies(mg, expert)
    d = expert_data(mg, expert).weights[0][0].sum(-1).numpy()
    ms = [marginal_mdp_numpy(mg, i, expert) for i in range(mg.n_agents)]
    v_e = agent_values(mg, expert).sum()
    v_u = agent_values(mg, mg.uniform_policies()).sum()
    out = []
    for b in range(np.asarray(result.policies[0]).shape[0]):
        pols = [np.asarray(p[b]) for p in result.policies]
        row = {"tv": float(np.mean([policy_tv(expert[i], pols[i], d) for i in range(mg.n_agents)]))}
        if result.marginal_reward is not None:
            rr = [reward_recovery(ms[i][1], result.marginal_reward[i][b], ms[i][0], mg.gamma)
                  for i in range(mg.n_agents)]
            row.update(pearson=float(np.mean([r.pearson for r in rr])),
                       shaped_pearson=float(np.mean([r.shaped_pearson for r in rr])),
                       shaping_residual=float(np.mean([r.shaping_residual for r in rr])))
        else:
            row.update(pearson=np.nan, shaped_pearson=np.nan, shaping_residual=np.nan)
        row["normalised_return"] = float((agent_values(mg, pols).sum() - v_u) / (v_e - v_u))
        out.append(row)
    return out


def marginal_mdp_numpy(mg: MarkovGame, i: int, policies) -> tuple[np.ndarray, np.ndarray]:
    """``(P_bar [S, A_i, S], r_bar [S, A_i])`` of agent ``i`` against ``policies`` (numpy)."""
    return marginal_tensors(mg, i, validate_policies(mg, policies))
