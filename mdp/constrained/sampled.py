r"""Sample-based TSCAC: stage one and stage two from simulated sessions, batched over seeds in one torch program.

Both stages are online actor-critics on a tabular softmax actor :math:`\pi_\theta(a|s) \propto e^{\theta_{sa}}`
with a tabular TD(0) critic :math:`V_\phi` of one signal (its own discount :math:`\gamma`), on ``envs``
sessions of ``horizon`` steps per seed and iteration, simulated by :class:`mdp.batched.BatchedTabularMDP`
(auxiliary signals sampled as Bernoulli events, :func:`mdp.envs.recommender.sample_signals`). With the TD
advantage :math:`\delta = r_i + \gamma V_\phi(s') - V_\phi(s)` of each sample:

* critic: :math:`V_\phi(s) \leftarrow V_\phi(s) + \beta\,\overline{\delta}(s)` (mean TD error of the
  samples at :math:`s`);
* actor: :math:`\theta \leftarrow \theta + \alpha\, \frac1n \sum w\,\nabla_\theta \log\pi_\theta(a|s)`, with
  :math:`\nabla_{\theta_{s\cdot}} \log \pi_\theta(a|s) = e_a - \pi_\theta(\cdot|s)`, where

  - stage one (the paper's Eq. 3, signal :math:`i`): :math:`w = \delta_i / \max|r_i|`;
  - stage two (the paper's actor loss, **reconstruction**): :math:`w \propto
    \prod_i \pi_i(a|s)^{\lambda_i/\Lambda}\exp(\delta_0/\Lambda) / \pi_b(a|s)` with :math:`\pi_b` the current
    actor (the data-collecting policy, online), the exponent clipped at 50 and the weights
    self-normalised over each seed's batch (dividing by their mean). The actor starts at the geometric
    mixture of the stage-one policies, as the exact stage two does. The normaliser :math:`Z(s)` of the Lemma
    is dropped, as the paper's sample form must, since only the sampled action's advantage is known.

The per-signal scale :math:`1/\max|r_i|` in stage one is also a reconstruction (the paper does not say how
the actor's step is set across signals whose rewards differ by three orders of magnitude).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from mdp.batched import BatchedTabularMDP
from mdp.constrained.core import check_cmdp
from mdp.envs.recommender import sample_signals
from mdp.model import ShapeError, TabularMDP
from theory.results import SolverResult
from theory.validation import check_scalar, as_float_array

__all__ = ["SampledResult", "sampled_stage_one", "sampled_stage_two"]


@dataclass(frozen=True)
class SampledResult(SolverResult):
    """Result of a sample-based stage (the base fields of :class:`theory.results.SolverResult` are keyword-only).

    Attributes:
        policy: ``[B, S, A]`` (stage two) or ``[B, k, S, A]`` (stage one) policies, one per seed (numpy).
        V: the matching critics' state values ``[B, S]`` or ``[B, k, S]``.
        residual: mean squared TD error of the returned critic on the last batch, per instance (per seed
            ``[B]``; stage one ``[B, k]``).
        error_bound: ``None``; converged: ``None`` (a fixed budget, no stopping test);
        iterations: actor-critic updates (the same for every seed); history: per-iteration mean squared TD
            errors when asked for.
    """

    policy: np.ndarray
    V: np.ndarray


def _actor_critic(m: TabularMDP, signal: np.ndarray, seeds: int, seed: int, iterations: int, envs: int,
                  horizon: int, actor_lr: float, critic_lr: float, device, stage_two=None, history=False,
                  aux_expected=None):
    """One actor-critic per seed on ``signal[S, A]`` (expected); ``stage_two = (priors[B,k,S,A], lam[k])``."""
    dev = torch.device(device)
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed))
    B, N = seeds, envs
    env = BatchedTabularMDP(m, B * N, device=dev, generator=gen, dtype=torch.float64)
    # expected signals of every (s, a): column 0 is the trained signal, the others ride along as Bernoulli draws
    sig = torch.as_tensor(np.array(signal, dtype=np.float64), device=dev)
    expected = sig[..., None] if aux_expected is None else torch.stack([sig, torch.as_tensor(
        np.array(aux_expected, dtype=np.float64), device=dev)], -1)
    sparse = aux_expected is not None
    alive_state = ~torch.as_tensor(m.absorbing_states(), device=dev)
    theta = torch.zeros(B, m.S, m.A, dtype=torch.float64, device=dev)
    if stage_two is not None:           # start at the stage-one mixture (the Lambda -> infinity limit)
        pri = stage_two[0] if stage_two[0].ndim == 4 else stage_two[0].expand(B, *stage_two[0].shape)
        theta = theta + torch.log(pri.clamp(min=1e-300)).mean(1)
    V = torch.zeros(B, m.S, dtype=torch.float64, device=dev)
    scale = max(float(np.abs(signal).max()), 1e-12)
    seed_of = torch.arange(B, device=dev).repeat_interleave(N)
    hist = []
    msq = torch.zeros(B, dtype=torch.float64, device=dev)
    for _ in tqdm(range(iterations), desc="actor-critic", disable=None, leave=False):
        pi = torch.softmax(theta, -1)
        roll = env.rollout(pi.repeat_interleave(N, 0), horizon)
        s, a, s2 = roll.states[:-1], roll.actions, roll.states[1:]          # [T, BN]
        b = seed_of.expand_as(s)
        ex = expected[s, a]                                                 # [T, BN, 1 or 2]
        if sparse:
            r = sample_signals(torch.cat([ex[..., :1] * 0, ex[..., 1:]], -1),
                               torch.rand(ex.shape, generator=gen, device=dev, dtype=ex.dtype))[..., 1]
        else:
            r = ex[..., 0]
        live = alive_state[s].to(torch.float64)
        delta = (r + m.gamma * V[b, s2] - V[b, s]) * live
        flat = (b * m.S + s).reshape(-1)
        cnt = torch.zeros(B * m.S, dtype=torch.float64, device=dev).index_add_(0, flat, live.reshape(-1))
        tot = torch.zeros(B * m.S, dtype=torch.float64, device=dev).index_add_(0, flat, delta.reshape(-1))
        V = V + critic_lr * (tot / cnt.clamp(min=1.0)).reshape(B, m.S)
        if stage_two is None:
            w = delta / scale
        else:
            priors, lam = stage_two
            Lam = float(lam.sum())
            if priors.ndim == 4:
                logp = torch.log(priors[b, :, s, a].clamp(min=1e-300))                  # [T, BN, k]
            else:
                logp = torch.log(priors[:, s, a].clamp(min=1e-300)).movedim(0, -1)     # [T, BN, k]
            logw = (lam * logp).sum(-1) / Lam
            logw = logw + (delta / Lam).clamp(max=50.0) - torch.log(pi[b, s, a])
            w = torch.exp(logw - logw.max()) * live
            per_seed = torch.zeros(B, dtype=torch.float64, device=dev).index_add_(0, b.reshape(-1), w.reshape(-1))
            n_live = torch.zeros(B, dtype=torch.float64, device=dev).index_add_(0, b.reshape(-1), live.reshape(-1))
            w = w / (per_seed / n_live.clamp(min=1.0)).clamp(min=1e-300)[b]
        grad = -(w * live)[..., None] * pi[b, s]                             # [T, BN, A]
        grad[..., :] += torch.nn.functional.one_hot(a, m.A) * (w * live)[..., None]
        G = torch.zeros(B * m.S, m.A, dtype=torch.float64, device=dev).index_add_(0, flat, grad.reshape(-1, m.A))
        n_live = torch.zeros(B, dtype=torch.float64, device=dev).index_add_(
            0, b.reshape(-1), live.reshape(-1)).clamp(min=1.0)
        theta = theta + actor_lr * G.reshape(B, m.S, m.A) / n_live[:, None, None]
        msq = torch.zeros(B, dtype=torch.float64, device=dev).index_add_(
            0, b.reshape(-1), (delta ** 2).reshape(-1)) / n_live
        if history:
            hist.append(msq.cpu().numpy())
    return torch.softmax(theta, -1), V, msq, (np.asarray(hist) if history else None)


def _common(m, seeds, iterations, envs, horizon, actor_lr, critic_lr):
    seeds = check_scalar("seeds", seeds, low=1, integer=True)
    iterations = check_scalar("iterations", iterations, low=1, integer=True)
    envs = check_scalar("envs", envs, low=1, integer=True)
    horizon = check_scalar("horizon", horizon, low=1, integer=True)
    actor_lr = check_scalar("actor_lr", actor_lr, low=0.0, low_open=True)
    critic_lr = check_scalar("critic_lr", critic_lr, low=0.0, high=1.0, low_open=True)
    return seeds, iterations, envs, horizon, actor_lr, critic_lr


def sampled_stage_one(m: TabularMDP, aux_rewards, seeds: int = 4, seed: int = 0, iterations: int = 200,
                      envs: int = 32, horizon: int = 40, actor_lr: float = 1.0, critic_lr: float = 0.5,
                      device="cpu", history: bool = False) -> SampledResult:
    r"""Stage one from samples: one actor-critic per auxiliary signal (its own TD critic), ``seeds`` runs at once.

    Args:
        m: model (dynamics; the main reward is not used); aux_rewards: ``[k, S, A]`` expected signals
            (sampled as Bernoulli events, so they must lie in ``[0, 1]``).
        seeds: independent runs batched together; seed: the torch generator's seed.
        iterations, envs, horizon: updates, sessions per seed and update, steps per session.
        actor_lr, critic_lr: :math:`\alpha`, :math:`\beta`.
        device: torch device.

    Returns:
        :class:`SampledResult` with ``policy[B, k, S, A]`` and critics ``V[B, k, S]``.
    """
    C, _ = check_cmdp(m, aux_rewards, who="sampled_stage_one")
    if C.min() < 0 or C.max() > 1:
        raise ValueError(f"aux_rewards must be event probabilities in [0, 1] to be sampled; got range "
                         f"[{C.min():.4g}, {C.max():.4g}]")
    args = _common(m, seeds, iterations, envs, horizon, actor_lr, critic_lr)
    pols, crits, res, hist = [], [], [], []
    for i, c in enumerate(C):
        pi, V, msq, h = _actor_critic(m, c, args[0], seed * 1009 + i, *args[1:], device, history=history,
                                      aux_expected=c)
        pols.append(pi.cpu().numpy())
        crits.append(V.cpu().numpy())
        res.append(msq.cpu().numpy())
        hist.append(h)
    return SampledResult(np.stack(pols, 1), np.stack(crits, 1), residual=np.stack(res, 1), error_bound=None,
                         converged=None, iterations=args[1], history=np.stack(hist, -1) if history else None)


def sampled_stage_two(m: TabularMDP, priors, lam, seeds: int = 4, seed: int = 0, iterations: int = 200,
                      envs: int = 32, horizon: int = 40, actor_lr: float = 1.0, critic_lr: float = 0.5,
                      device="cpu", history: bool = False) -> SampledResult:
    r"""Stage two from samples: the importance-weighted actor loss toward the Lemma's policy (module docstring).

    Args:
        m: model; its reward ``m.R`` is the main signal (watch time, used as its expectation).
        priors: ``[k, S, A]`` stage-one policies shared by all seeds, or ``[B, k, S, A]`` one set per seed.
        lam: :math:`\lambda` (scalar: equal for every signal) or ``[k]``, each >= 0 with a positive sum.
        seeds, seed, iterations, envs, horizon, actor_lr, critic_lr, device: as :func:`sampled_stage_one`.

    Returns:
        :class:`SampledResult` with ``policy[B, S, A]`` and ``V[B, S]`` (the main critic).
    """
    args = _common(m, seeds, iterations, envs, horizon, actor_lr, critic_lr)
    pri = as_float_array(priors, name="priors")
    if pri.shape[-2:] != (m.S, m.A) or pri.ndim not in (3, 4) or (pri.ndim == 4 and pri.shape[0] != args[0]):
        raise ShapeError(f"priors has shape {pri.shape}; expected [k, {m.S}, {m.A}] or [{args[0]}, k, {m.S}, {m.A}]")
    k = pri.shape[-3]
    lam_v = np.atleast_1d(as_float_array(lam, name="lam"))
    lam_v = np.full(k, lam_v[0]) if lam_v.shape == (1,) else lam_v
    if lam_v.shape != (k,):
        raise ShapeError(f"lam has shape {lam_v.shape}; expected a scalar or ({k},)")
    for i, v in enumerate(lam_v):
        check_scalar(f"lam[{i}]", v, low=0.0)
    if not lam_v.sum() > 0:
        raise ValueError(f"lam sums to {lam_v.sum()}; it must be positive")
    dev = torch.device(device)
    st = (torch.as_tensor(pri, device=dev, dtype=torch.float64), torch.as_tensor(lam_v, device=dev,
                                                                                  dtype=torch.float64))
    pi, V, msq, h = _actor_critic(m, m.R, args[0], seed, *args[1:], device, stage_two=st, history=history)
    return SampledResult(pi.cpu().numpy(), V.cpu().numpy(), residual=msq.cpu().numpy(), error_bound=None,
                         converged=None, iterations=args[1], history=h)
