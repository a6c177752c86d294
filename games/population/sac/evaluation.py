r"""Evaluation of a trained relational latent SAC: episode returns and approximate NashConv.

**Approximate NashConv** (:func:`approximate_nash_conv`). The game is symmetric, so one deviating agent
suffices: a best response for agent 0 (same SAC learner and budget, warm-started at the joint policy's actor and
critic, or a fresh latent-free network) is trained against the other :math:`n - 1` agents playing the fixed
joint policy; its one-agent gain is
:math:`\hat g = \hat J_{\rm BR} - \hat J` (returns per episode, undiscounted) and
:math:`\widehat{\mathrm{NashConv}} = n\,\hat g` (by symmetry every agent's gain has the same law). Both sides
are scored with the same action semantics, **sampled**: :math:`\hat J` plays the joint policy as it is played
(a stochastic policy; its greedy version is a different profile), and the best response is scored as the
stochastic deviation it is, so a best response that copies the joint policy gains 0 in expectation (a test).
Scoring the deviation greedily and the joint policy by sampling, as this module once did, credited the
deviation with the greedy-versus-sampled difference of the policy itself. A trained best response is only
approximate (and soft), so :math:`\hat g` estimates a lower bound of the true gain (up to sampling noise; it
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from games.population.sac.env import _rollout
from games.population.sac.loss import SACConfig
from games.population.sac.trainer import GridSACModel, sac_best_response
from theory.validation import check_scalar

__all__ = ["NashConvEstimate", "episode_returns", "approximate_nash_conv"]


@dataclass(frozen=True)
class NashConvEstimate:
    """:func:`approximate_nash_conv` per replica (``[R]`` tensors on the CPU).

    Attributes:
        n: the population.
        policy_return: :math:`\\hat J`, the mean return per agent and episode under the joint policy.
        br_return: :math:`\\hat J_{\\rm BR}`, agent 0's return with the trained best response.
        gain: :math:`\\hat J_{\\rm BR} - \\hat J`, the one-agent gain.
        nash_conv: :math:`n\\,\\hat g`, the approximate NashConv.
    """

    n: int
    policy_return: torch.Tensor
    br_return: torch.Tensor
    gain: torch.Tensor
    nash_conv: torch.Tensor



def episode_returns(model: GridSACModel, n, episodes: int, seed: int = 0, br: GridSACModel | None = None,
                    greedy_br: bool = False):
    """``[R, E, n]`` undiscounted episode returns of the joint policy on population ``n`` (every agent samples
    its action; agent 0 plays ``br``'s actor when given: a sample as well, or its most likely action when
    ``greedy_br``)."""
    n = check_scalar("n", n, low=1, integer=True)
    episodes = check_scalar("episodes", episodes, low=1, integer=True)
    gen = torch.Generator(device=model.device).manual_seed(check_scalar("seed", seed, low=0, integer=True))
    with torch.no_grad():
        _, ret = _rollout((model.game, model.actor, model.encoder, model.config.latent_size), n, episodes, gen,
                          br=None if br is None else (br.actor, br.config.latent_size), greedy_br=greedy_br)
    return ret



def approximate_nash_conv(model: GridSACModel, n, episodes: int = 64, seed: int = 0,
                          config: SACConfig | None = None, warm_start: bool = True,
                          progress: bool | None = None) -> NashConvEstimate:
    r"""Approximate NashConv :math:`n(\hat J_{\rm BR} - \hat J)` by a trained best response (module docstring).

    Args:
        model: the joint policy.
        n: the population.
        episodes: evaluation episodes per replica.
        seed: seeds the best-response training and the evaluations.
        config: best-response hyperparameters (default: :func:`games.population.sac.trainer.sac_best_response`'s).
        warm_start: see :func:`games.population.sac.trainer.sac_best_response`.
        progress: tqdm bar.

    Returns:
        :class:`NashConvEstimate` with ``[R]`` tensors.
    """
    n = check_scalar("n", n, low=1, integer=True)
    br = sac_best_response(model, n, config=config, seed=seed, warm_start=warm_start, progress=progress)
    j = episode_returns(model, n, episodes, seed=seed + 7).mean((1, 2)).cpu()
    # both sides sampled: a best response that copies the joint policy gains 0 in expectation
    jbr = episode_returns(model, n, episodes, seed=seed + 11, br=br, greedy_br=False)[:, :, 0].mean(1).cpu()
    return NashConvEstimate(n, j, jbr, jbr - j, n * (jbr - j))
