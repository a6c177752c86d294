r"""Reward recovery and policy metrics of the imitation / inverse-RL learners (:mod:`games.markov.mamql`).

**Reward recovery** (:func:`reward_recovery`): raw Pearson correlation of :math:`\hat r_i` with the true
marginal reward :math:`\bar r_i`, the relative least-squares *shaping residual*
:math:`\min_{\Phi,c}\|\bar r_i - \hat r_i - (\gamma\bar P_i\Phi - \Phi) - c\| / \|\bar r_i - \mathrm{mean}\|`
and the *shaping-invariant Pearson* correlation of both rewards after projecting out the shaping subspace
:math:`\{\gamma\bar P_i\Phi - \Phi + c\}` (an EPIC-style distance, invariant to shaping and scale).
Re-optimisation of recovered rewards (:func:`reoptimised_values`, :func:`transfer_returns`) and the
per-data-set metrics of the experiments (:func:`recovery_metrics`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from games.markov.irl import IRLResult, expert_data
from games.markov.marginal import agent_values, marginal_tensors
from games.markov.model import MarkovGame, validate_policies
from games.markov.solvers import soft_nash
from theory.validation import ShapeError, check_scalar

__all__ = ["RewardRecovery", "reward_recovery", "policy_kl", "policy_tv", "shaping_free_scale",
           "scale_normalised_rewards", "reoptimised_values", "transfer_returns", "recovery_metrics"]


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
        P_bar, r_bar = marginal_tensors(mg, i, expert)
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
    eq = soft_nash(_marginal_reward_game(mg, marginal_rewards), temperature, tol=1e-8)
    return agent_values(mg, eq.policies), eq.policies


def transfer_returns(mg_new: MarkovGame, marginal_rewards, temperature: float, homotopy: int = 0,
                     tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    r"""Reward recovery tested by transfer: re-optimise recovered rewards under *changed dynamics*.

    For every data set ``b`` the game ``mg_new`` (the changed dynamics, with the *true* rewards) gets the
    recovered marginal rewards :math:`R'_i(s,a) = \hat r_{i,b}(s,a_i)` in place of its own; its soft Nash
    equilibrium :math:`\hat\pi_b` at ``temperature`` (:func:`games.markov.solvers.soft_nash`, all data sets in
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
    expert = validate_policies(mg, expert)
    d = expert_data(mg, expert).weights[0][0].sum(-1).numpy()
    ms = [marginal_tensors(mg, i, expert) for i in range(mg.n_agents)]
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
