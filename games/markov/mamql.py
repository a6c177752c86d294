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

Baselines live in :mod:`games.markov.baselines`, reward-recovery metrics in :mod:`games.markov.recovery`,
the shared data, result type and IQ-Learn objective in :mod:`games.markov.irl`.
"""
from __future__ import annotations

import numpy as np
import torch

from games.markov.irl import (_DT, IRLResult, _as_data, _bc_policies, _Critics, _iq_objective,
                              _joint_state_kernel, _regulariser_weights, _squeeze, implied_reward,
                              state_occupancy)
from games.markov.marginal import marginal_tensors
from games.markov.model import MarkovGame, stack_games, validate_policies
from theory.results import warn_not_converged
from theory.validation import ParameterError, check_scalar

__all__ = ["mamql"]


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
        >>> from games.markov.instances import random_markov_game
        >>> from games.markov.solvers import soft_nash
        >>> from games.markov.irl import expert_data
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
    return IRLResult(_squeeze(pols, sq), _squeeze(Qs, sq), _squeeze(rewards, sq),
                     f"mamql[{kind}{', online' if online else ''}, {ref} reference]", residual=residual,
                     converged=converged, iterations=it, history=np.asarray(hist) if history else None)
