r"""The two-stage constrained actor-critic (TSCAC; Cai, Xue et al., WWW 2023), exact tabular form.

**Stage one** learns one policy :math:`\pi_i` per auxiliary signal :math:`i = 1..k`, each with its own
critic (the paper's Eq. 3, an actor-critic on :math:`A_i`). :func:`stage_one_policies` offers

* ``"npg"``: the actor-critic's expected update with an exact critic, i.e. natural policy gradient on a
  softmax policy, :math:`\pi_{t+1}(a|s) \propto \pi_t(a|s)\exp(\eta A_i^{\pi_t}(s,a)/\sigma_i)`
  (:math:`\sigma_i` the span of :math:`r_i`), from the uniform policy;
* ``"soft"``: a controlled prior, the soft-optimal policy :math:`\pi_i \propto \exp(Q^{\rm soft}_i/\tau_i)`
  with :math:`\tau_i` found by bisection so that :math:`J_i(\pi_i) = q\,J_i^{\max}` for a chosen quality
  :math:`q` (how good stage one is; an experimental control, not part of the paper).

*Reconstruction — the tempered prior:* the paper does not say how stochastic the stage-one priors are (the
authors' released code spreads a fixed mass around the stage-one action by hand). ``"npg"`` priors are
:math:`(1-\epsilon)\,\mathrm{softmax}(\theta_i/\tau) + \epsilon/A` with the actor's logits :math:`\theta_i`
(``prior_temperature`` :math:`\tau`, ``prior_spread`` :math:`\epsilon`, both reported in the result). The
defaults :math:`\tau = 1, \epsilon = 0` come from ``benchmarks/bench_constrained.py --priors 20``: on 20
short-video instances at :math:`\beta = 0.5` TSCAC is feasible on 95% with the actor itself, 90% with
:math:`\tau \in \{2, 4\}`, 80% with :math:`\epsilon = 0.1`, 20% with :math:`\epsilon = 0.3` (the soft prior of
quality 0.99: 95%), and the mean :math:`J_0/J_{\rm LP}` falls the same way.

The sample-based stage one is :func:`mdp.constrained.sampled.sampled_stage_one`.

**Stage two** (the paper's Eq. 5 and its Lemma): per state,
:math:`\max_\pi \mathbb E_{a\sim\pi}[A_0(s,a)]` s.t. :math:`\mathrm{KL}(\pi(\cdot|s)\,\|\,\pi_i(\cdot|s)) \le
\epsilon_i`, whose solution with multipliers :math:`\lambda_i` (:math:`\Lambda = \sum_j \lambda_j`) is

.. math:: \pi^\star(a|s) = \frac{1}{Z(s)} \prod_i \pi_i(a|s)^{\lambda_i/\Lambda}\,
          \exp\!\big(A_0(s,a)/\Lambda\big) \qquad\text{(Lemma; :func:`closed_form_policy`)}.

*Reconstruction:* the paper's actor regresses onto :math:`\pi^\star` computed from the critic of the
current main policy; with exact critics this is the fixed-point iteration
:math:`\pi_{k+1} = \pi^\star[A_0^{\pi_k}]` (:func:`stage_two`), started from the geometric mixture of the
stage-one policies (the :math:`\Lambda\to\infty` limit). For small :math:`\Lambda` the undamped map cycles
(it approaches greedy policy iteration's switching); after 10 updates without a 10% drop of the residual the
update is damped, :math:`\pi_{k+1} \propto \pi_k^{1-\alpha}(\pi^\star[A_0^{\pi_k}])^{\alpha}` with :math:`\alpha`
halved each time, which keeps the same fixed points (the actor's small gradient steps in the paper). As in
production, all :math:`\lambda_i` are equal,
:math:`\lambda_i = \lambda`.

**Choosing** :math:`\lambda` (:func:`two_stage_actor_critic`): the paper tunes :math:`\lambda` by hand; we
search one dimension. Stage two is solved, from large to small :math:`\lambda`, each solve warm-started at the
solution for the next larger :math:`\lambda`, on a geometric grid of ``grid`` values of
:math:`\lambda / \sigma_0` (:math:`\sigma_0 = \max|r_0|`) and at :math:`\lambda = \infty`; between the feasible
grid point of highest main value and its infeasible smaller neighbour, ``refine`` bisection steps in
:math:`\log\lambda` move toward the feasibility boundary (the main value usually rises as :math:`\lambda`
falls). The best feasible policy found is returned. When no evaluated :math:`\lambda` is feasible the result
says so (``feasible=False``, a :class:`NoFeasibleLambdaWarning`, and the :math:`\lambda` with the largest
:math:`\min_i J_i/C_i`): the guarantee is "feasible whenever a grid point, a bisection point or
:math:`\lambda = \infty` is".
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from mdp.constrained.core import (check_cmdp, constraint_ratios, is_feasible, max_signal_values,
                                  require_achievable, signal_values)
from mdp.model import ParameterError, ShapeError, TabularMDP, validate_policy
from mdp.operators import q_values
from mdp.planning import policy_evaluation
from theory.backend import softmax
from theory.fixed_point import certified_fixed_point
from theory.results import SolverResult, warn_not_converged
from theory.validation import check_scalar, as_float_array

__all__ = ["closed_form_policy", "stage_one_policies", "stage_two", "StageTwoResult", "TwoStageResult",
           "two_stage_actor_critic", "NoFeasibleLambdaWarning", "soft_optimal_policy", "DEFAULT_PRIOR_TEMPERATURE",
           "DEFAULT_PRIOR_SPREAD"]


DEFAULT_PRIOR_TEMPERATURE = 1.0
r"""Default tempering :math:`\tau` of the ``"npg"`` stage-one priors (chosen from benchmarks/bench_constrained.py)."""
DEFAULT_PRIOR_SPREAD = 0.0
r"""Default uniform mass :math:`\epsilon` mixed into the ``"npg"`` stage-one priors (same evidence)."""


class NoFeasibleLambdaWarning(RuntimeWarning):
    """No multiplier tried by the one-dimensional search gives a feasible stage-two policy."""


def closed_form_policy(priors, advantage, lambdas) -> np.ndarray:
    r"""The Lemma: :math:`\pi^\star \propto \prod_i \pi_i^{\lambda_i/\Lambda} \exp(A/\Lambda)`, per state.

    Args:
        priors: ``[k, S, A]`` stage-one policies (rows are distributions; zeros allowed).
        advantage: ``[S, A]`` main advantage :math:`A_0` (any per-state shift cancels).
        lambdas: ``[k]`` multipliers :math:`\lambda_i \ge 0` with :math:`\Lambda = \sum_i \lambda_i > 0`
            (a scalar means the same :math:`\lambda` for every signal).

    Returns:
        ``[S, A]`` the policy :math:`\pi^\star`.
    """
    pri = as_float_array(priors, name="priors")
    if pri.ndim == 2:
        pri = pri[None]
    adv = as_float_array(advantage, name="advantage")
    if pri.ndim != 3 or adv.shape != pri.shape[1:]:
        raise ShapeError(f"priors has shape {pri.shape} and advantage {adv.shape}; expected [k, S, A] and [S, A]")
    lam = np.atleast_1d(as_float_array(lambdas, name="lambdas"))
    if lam.shape == (1,):
        lam = np.full(pri.shape[0], lam[0])
    if lam.shape != (pri.shape[0],):
        raise ShapeError(f"lambdas has shape {lam.shape}; expected ({pri.shape[0]},)")
    for i, v in enumerate(lam):
        check_scalar(f"lambdas[{i}]", v, low=0.0)
    Lam = float(lam.sum())
    if not Lam > 0:
        raise ParameterError(f"lambdas sum to {Lam}; the Lemma needs sum(lambdas) > 0")
    with np.errstate(divide="ignore"):
        logp = np.log(pri)
    w = lam / Lam
    logits = np.where(w[:, None, None] > 0, logp, 0.0)
    logits = (w[:, None, None] * logits).sum(0) + adv / Lam
    return softmax(logits)


def soft_optimal_policy(m: TabularMDP, reward, tau: float, tol: float = 1e-9) -> np.ndarray:
    r"""Soft-optimal policy :math:`\pi \propto \exp(Q^{\rm soft}/\tau)`, :math:`V = \tau\log\sum_a e^{Q/\tau}`.

    The soft Bellman operator is a :math:`\gamma`-contraction, solved by the package's certified loop.
    """
    tau = check_scalar("tau", tau, low=0.0, low_open=True)
    r = as_float_array(reward, name="reward")

    def step(V):
        Q = q_values(m.P_flat, r, m.gamma, V) / tau
        top = Q.max(-1)
        return tau * (top + np.log(np.exp(Q - top[:, None]).sum(-1)))

    fp = certified_fixed_point(step, np.zeros(m.S), m.gamma, tol=tol, max_iter=100_000, who="soft_optimal_policy")
    return softmax(q_values(m.P_flat, r, m.gamma, fp.V) / tau)


def stage_one_policies(m: TabularMDP, aux_rewards, method: str = "npg", quality: float = 0.95,
                       iterations: int = 50, step_size: float = 10.0, temperature: float = 1.0,
                       spread: float = 0.0) -> np.ndarray:
    r"""Stage one: one policy per auxiliary signal (module docstring).

    Args:
        m: the model; aux_rewards: ``[k, S, A]``.
        method: ``"npg"`` (exact actor-critic / natural policy gradient) or ``"soft"`` (soft-optimal prior
            of prescribed quality).
        quality: ``"soft"`` only: target :math:`J_i(\pi_i)/J_i^{\max}` in ``(J_i(\text{uniform})/J_i^{\max}, 1)``.
        iterations, step_size: ``"npg"`` only: number of updates and :math:`\eta`.
        temperature: ``"npg"`` only: the tempered prior :math:`\pi_i^{(\tau)}(a|s) \propto
            \exp(\theta_i(s,a)/\tau)`, :math:`\theta_i` the actor's logits after ``iterations`` updates
            (:math:`\tau = 1`: the actor itself; :math:`\tau > 1` spreads its mass over the other actions).
        spread: ``"npg"`` only: mix :math:`\epsilon` of the uniform policy into the tempered prior,
            :math:`(1-\epsilon)\,\pi_i^{(\tau)} + \epsilon/A` (the authors' released code spreads a fixed mass
            around the stage-one action by hand; this is our reconstruction of that choice).

    Returns:
        ``[k, S, A]`` stage-one policies.
    """
    C, _ = check_cmdp(m, aux_rewards, who="stage_one_policies")
    temperature = check_scalar("temperature", temperature, low=0.0, low_open=True)
    spread = check_scalar("spread", spread, low=0.0, high=1.0)
    out = []
    if method == "npg":
        iterations = check_scalar("iterations", iterations, low=1, integer=True)
        step_size = check_scalar("step_size", step_size, low=0.0, low_open=True)
        for c in C:
            sigma = max(float(c.max() - c.min()), 1e-12) / (1.0 - m.gamma)
            mc = m.with_rewards(c)
            logits = np.zeros((m.S, m.A))
            for _ in range(iterations):
                pi = softmax(logits)
                V = policy_evaluation(mc, pi)
                Q = q_values(m.P_flat, c, m.gamma, V)
                logits = logits + step_size * (Q - V[:, None]) / sigma
            out.append((1.0 - spread) * softmax(logits / temperature) + spread / m.A)
        return np.stack(out)
    if method != "soft":
        raise ParameterError(f"method must be 'npg' or 'soft', got {method!r}")
    quality = check_scalar("quality", quality, low=0.0, high=1.0, high_open=True)
    best = max_signal_values(m, C)
    uniform = np.full((m.S, m.A), 1.0 / m.A)
    for i, c in enumerate(C):
        floor = signal_values(m, C[i:i + 1], uniform)[1][0] / best[i]
        if quality <= floor:
            raise ParameterError(f"quality is {quality}; aux_rewards[{i}]'s uniform policy already reaches "
                                 f"{floor:.4g} of its maximum: ask for more")
        sigma = max(float(np.abs(c).max()), 1e-12)
        lo, hi = np.log(1e-8 * sigma), np.log(1e4 * sigma)    # quality(lo) ~ 1, quality(hi) ~ floor
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            q = signal_values(m, C[i:i + 1], soft_optimal_policy(m, c, np.exp(mid)))[1][0] / best[i]
            lo, hi = (mid, hi) if q > quality else (lo, mid)
        out.append(soft_optimal_policy(m, c, np.exp(0.5 * (lo + hi))))
    return np.stack(out)


@dataclass(frozen=True)
class StageTwoResult(SolverResult):
    r"""Result of :func:`stage_two` (the base fields of :class:`theory.results.SolverResult` are keyword-only).

    Attributes:
        policy: ``[S, A]``.
        residual: :math:`\max_{s,a}|\pi^\star[A_0^\pi] - \pi|` of the returned :math:`\pi` (fixed-point residual).
        error_bound: ``None``; converged: ``residual <= tol``; iterations: closed-form updates.
        history: per-iteration residuals when asked for.
    """

    policy: np.ndarray


def stage_two(m: TabularMDP, priors, lambdas, tol: float = 1e-8, max_iter: int = 500,
              history: bool = False, warn: bool = True, pi0=None) -> StageTwoResult:
    r"""Stage two with exact critics: iterate :math:`\pi \leftarrow \pi^\star[A_0^\pi]` (Lemma) to a fixed point.

    Args:
        m: the model (main reward ``m.R``); priors: ``[k, S, A]``; lambdas: scalar or ``[k]``.
        tol: stop when the sup change of the policy is at most ``tol``.
        max_iter: budget of closed-form updates.
        history: record the residuals.
        warn: warn (:class:`~theory.results.NotConvergedWarning`) when the budget runs out.
        pi0: ``[S, A]`` starting policy (a warm start); the stage-one mixture by default.

    Returns:
        :class:`StageTwoResult`.
    """
    pri = as_float_array(priors, name="priors")
    if pri.ndim != 3 or pri.shape[1:] != (m.S, m.A):
        raise ShapeError(f"priors has shape {pri.shape}; expected [k, {m.S}, {m.A}]")
    tol = check_scalar("tol", tol, low=0.0, low_open=True)
    max_iter = check_scalar("max_iter", max_iter, low=1, integer=True)
    closed_form_policy(pri, np.zeros((m.S, m.A)), lambdas)        # validates lambdas once
    lam = np.atleast_1d(np.asarray(lambdas, dtype=float))
    lam = np.full(pri.shape[0], lam[0]) if lam.shape == (1,) else lam
    Lam = float(lam.sum())
    with np.errstate(divide="ignore"):                            # the Lemma's A-independent part, once
        base = sum(np.log(p) * (li / Lam) for p, li in zip(pri, lam) if li > 0)

    def lemma(A):
        return softmax(base + A / Lam)

    if pi0 is None:
        with np.errstate(divide="ignore"):
            pi = softmax(np.log(pri).mean(0))
    else:
        pi = validate_policy(pi0, m.S, m.A, name="pi0")
    hist = []
    res = np.inf
    alpha, best, since = 1.0, np.inf, 0
    k = 0
    for k in range(1, max_iter + 1):
        V = policy_evaluation(m, pi)
        A = q_values(m.P_flat, m.R, m.gamma, V) - V[:, None]
        target = lemma(A)
        res = float(np.abs(target - pi).max())
        hist.append(res)
        if res <= tol:          # pi itself passes the test: return it (its residual is res)
            break
        best, since = (res, 0) if res < 0.9 * best else (best, since + 1)
        if since >= 10:                       # no progress: the undamped map cycles; damp it
            alpha, best, since = alpha / 2, res, 0
        with np.errstate(divide="ignore"):
            pi = target if alpha == 1.0 else softmax((1 - alpha) * np.log(pi) + alpha * np.log(target))
    if res > tol:                 # the budget ran out: the residual of the returned (last updated) pi
        V = policy_evaluation(m, pi)
        A = q_values(m.P_flat, m.R, m.gamma, V) - V[:, None]
        res = float(np.abs(lemma(A) - pi).max())
    if res > tol:
        if warn:
            warn_not_converged("stage_two", residual=res, tol=tol, iterations=k)
    return StageTwoResult(pi, residual=res, error_bound=None, converged=bool(res <= tol), iterations=k,
                          history=np.asarray(hist) if history else None)


@dataclass(frozen=True)
class TwoStageResult(SolverResult):
    r"""Result of :func:`two_stage_actor_critic` (the base fields of :class:`theory.results.SolverResult` are
    keyword-only).

    Attributes:
        policy: ``[S, A]`` the chosen stage-two policy.
        lam: the chosen :math:`\lambda` (``inf``: the stage-one mixture).
        feasible: whether ``policy`` meets every constraint (exact values).
        value, constraint_values, constraint_ratios: :math:`J_0`, ``[k]`` :math:`J_i`, ``[k]`` :math:`J_i / C_i`.
        priors: ``[k, S, A]`` stage-one policies; prior_values: ``[k]`` :math:`J_i(\pi_i)`.
        search: structured array over every :math:`\lambda` tried (``lam``, ``value``, ``min_ratio``,
            ``feasible``, ``converged``), sorted by ``lam``.
        message: what the search found, in words.
        residual: the stage-two fixed-point residual of ``policy``; error_bound: ``None``;
        converged: that residual <= the stage-two ``tol``; iterations: closed-form updates in total;
        oracle_calls: stage-two solves (one per :math:`\lambda` tried); history: ``None``.
        prior_temperature, prior_spread: the tempering :math:`\tau` and uniform mass :math:`\epsilon` of the
            ``"npg"`` stage-one priors (``None`` when the priors are ``"soft"`` or given).
    """

    policy: np.ndarray
    lam: float
    feasible: bool
    value: float
    constraint_values: np.ndarray
    constraint_ratios: np.ndarray
    priors: np.ndarray
    prior_values: np.ndarray
    search: np.ndarray
    message: str
    prior_temperature: float | None = None
    prior_spread: float | None = None


def two_stage_actor_critic(m: TabularMDP, aux_rewards, thresholds, seed=0, stage_one: str = "npg",
                           priors=None, quality: float = 0.95, stage_one_iterations: int = 50,
                           lambdas=None, grid: int = 13, refine: int = 6, tol: float = 1e-8,
                           max_iter: int = 500, prior_temperature: float = DEFAULT_PRIOR_TEMPERATURE,
                           prior_spread: float = DEFAULT_PRIOR_SPREAD) -> TwoStageResult:
    r"""TSCAC with exact critics and a one-dimensional search over :math:`\lambda` (module docstring).

    Args:
        m: :class:`TabularMDP` (main signal ``m.R``); aux_rewards: ``[k, S, A]``; thresholds: ``[k]``.
        seed: unused by the exact method (kept for a uniform signature with the sample-based one).
        stage_one: ``"npg"`` or ``"soft"`` (see :func:`stage_one_policies`); ignored when ``priors`` is given.
        priors: ``[k, S, A]`` stage-one policies to use instead.
        quality, stage_one_iterations: passed to :func:`stage_one_policies`.
        prior_temperature, prior_spread: ``"npg"`` only: the tempered prior
            :math:`(1-\epsilon)\,\mathrm{softmax}(\theta_i/\tau) + \epsilon/A` (:func:`stage_one_policies`).
            *Reconstruction:* the paper does not say how stochastic its stage-one priors are; the authors'
            released code spreads a fixed mass around the stage-one action by hand. The defaults
            (:data:`DEFAULT_PRIOR_TEMPERATURE`, :data:`DEFAULT_PRIOR_SPREAD`) were chosen from the table of
            ``benchmarks/bench_constrained.py --priors`` (feasibility rate and value against the exact LP over
            short-video instances): tempering or spreading the exact actor-critic's prior lowered both there.
        lambdas: the :math:`\lambda` values to try instead of the default grid
            ``max|r_0| * geomspace(1e-3, 1e3, grid)`` (each > 0).
        grid: size of the default grid; refine: bisection steps toward the feasibility boundary.
        tol, max_iter: stage-two fixed-point tolerance and budget per :math:`\lambda`.

    Returns:
        :class:`TwoStageResult`.

    Raises:
        InfeasibleConstraintsError: a threshold exceeds the largest value its signal reaches under any policy
            (thresholds feasible one by one but not together give ``feasible=False`` instead).

    Example:
        >>> from mdp.envs.recommender import short_video_cmdp
        >>> from mdp.constrained import thresholds_between, two_stage_actor_critic
        >>> sv = short_video_cmdp(Z=3, F=3, K=4, seed=0)
        >>> C = thresholds_between(sv.model, sv.aux_rewards, 0.25)
        >>> r = two_stage_actor_critic(sv.model, sv.aux_rewards, C, stage_one="soft", quality=0.99)
        >>> r.policy.shape, r.feasible
        ((10, 4), True)
    """
    C, t = check_cmdp(m, aux_rewards, thresholds, who="two_stage_actor_critic")
    require_achievable(m, C, t, who="two_stage_actor_critic")
    tau = eps = None
    if priors is None:
        if stage_one not in ("npg", "soft"):
            raise ParameterError(f"stage_one must be 'npg' or 'soft', got {stage_one!r}")
        if stage_one == "npg":
            tau = check_scalar("prior_temperature", prior_temperature, low=0.0, low_open=True)
            eps = check_scalar("prior_spread", prior_spread, low=0.0, high=1.0)
            pri = stage_one_policies(m, C, stage_one, quality, stage_one_iterations, temperature=tau, spread=eps)
        else:
            pri = stage_one_policies(m, C, stage_one, quality, stage_one_iterations)
    else:
        pri = np.stack([validate_policy(p, m.S, m.A, name=f"priors[{i}]")
                        for i, p in enumerate(as_float_array(priors, name="priors"))])
        if pri.shape[0] != C.shape[0]:
            raise ShapeError(f"priors has {pri.shape[0]} policies for {C.shape[0]} auxiliary signals")
    scale = max(float(np.abs(m.R).max()), 1e-12)
    lams = (scale * np.geomspace(1e-3, 1e3, check_scalar("grid", grid, low=2, integer=True))
            if lambdas is None else np.atleast_1d(as_float_array(lambdas, name="lambdas")))
    for i, v in enumerate(lams):
        check_scalar(f"lambdas[{i}]", v, low=0.0, low_open=True)
    refine = check_scalar("refine", refine, low=0, integer=True)
    tried: dict[float, tuple] = {}

    def evaluate(lam: float):
        if lam not in tried:
            if np.isinf(lam):
                with np.errstate(divide="ignore"):
                    pi = softmax(np.log(pri).mean(0))
                st = StageTwoResult(pi, residual=0.0, error_bound=None, converged=True, iterations=0)
            else:   # warm start at the solution for the nearest larger lambda already solved
                above = [x for x in tried if x > lam]
                st = stage_two(m, pri, lam, tol=tol, max_iter=max_iter, warn=False,
                               pi0=tried[min(above)][0].policy if above else None)
            J0, J = signal_values(m, C, st.policy)
            tried[lam] = (st, J0, J, is_feasible(J, t), float(np.nanmin(constraint_ratios(J, t))))
        return tried[lam]

    evaluate(np.inf)
    for lam in sorted((float(x) for x in lams), reverse=True):
        evaluate(lam)
    feas = [lam for lam, v in tried.items() if v[3]]
    if feas and refine:
        best = max(feas, key=lambda lam: tried[lam][1])
        below = [lam for lam in sorted(tried) if lam < best]
        if below and not tried[below[-1]][3]:
            lo, hi = np.log(below[-1]), np.log(best) if np.isfinite(best) else np.log(below[-1]) + np.log(1e3)
            for _ in range(refine):
                mid = 0.5 * (lo + hi)
                lo, hi = (lo, mid) if evaluate(float(np.exp(mid)))[3] else (mid, hi)
    feas = [lam for lam, v in tried.items() if v[3]]
    _, _, J_pri = None, None, np.array([signal_values(m, C[i:i + 1], pri[i])[1][0] for i in range(len(C))])
    if feas:
        lam = max(feas, key=lambda x: tried[x][1])
        msg = f"feasible at lambda = {lam:.4g} ({len(feas)} of {len(tried)} values tried are feasible)"
    else:
        lam = max(tried, key=lambda x: tried[x][4])
        msg = (f"no lambda tried ({len(tried)} values from {min(tried):.3g} to inf) gives a feasible policy: the "
               f"best min_i J_i/C_i is {tried[lam][4]:.4g} at lambda = {lam:.4g}; the stage-one policies reach "
               f"J_i/C_i = {np.round(constraint_ratios(J_pri, t), 4).tolist()}")
        warnings.warn(f"two_stage_actor_critic: {msg}", NoFeasibleLambdaWarning, stacklevel=2)
    st, J0, J, ok, _ = tried[lam]
    dt = [("lam", float), ("value", float), ("min_ratio", float), ("feasible", bool), ("converged", bool)]
    search = np.array(sorted((x, v[1], v[4], v[3], v[0].converged) for x, v in tried.items()), dtype=dt)
    its = sum(v[0].iterations for v in tried.values())
    return TwoStageResult(st.policy, float(lam), bool(ok), float(J0), J, constraint_ratios(J, t), pri, J_pri,
                          search, msg, prior_temperature=tau, prior_spread=eps, residual=float(st.residual),
                          error_bound=None, converged=bool(st.converged), iterations=int(its), oracle_calls=len(tried))
