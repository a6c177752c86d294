r"""The loss of the relational latent SAC: hyperparameters, soft Bellman target, contrastive MI estimate.

**Latent.** :math:`p(z \mid n) = \mathrm{softmax}(f_\phi(n / 10) / 4)` (the code's ``TaskEncode``); each agent
draws its own :math:`z` once per episode by hard Gumbel-softmax (forward pass: the Gumbel-max sample).

**Losses** per training population, summed (one Adam step per update, Polyak target critic):

* soft Bellman target (discrete SAC, expectation over the next action, finite horizon :math:`T` with the time
  in the observation so :math:`V(o_T) = 0`; :func:`soft_target`):
  :math:`y = r + \gamma\,(1 - d)\sum_{a'}\pi(a'\mid o', z)\big(\bar Q(o', z, a') - \alpha\log\pi(a'\mid o', z)\big)`,
  critic loss :math:`(Q(o, z, a) - y)^2`;
* actor loss :math:`\sum_a \pi(a\mid o,z)\big(\alpha\log\pi(a\mid o,z) - Q(o,z,a)\big)`;
* mutual-information bonus (weight :math:`\beta`), the official code's contrastive estimate with
  :math:`K = 5` resampled latents :math:`z_k \sim p(\cdot\mid n)` and :math:`a \sim \pi(\cdot\mid o, z)`
  (:func:`contrastive_mi`): :math:`\hat I = \log(K\pi(a\mid o,z)) - \log\sum_k \pi(a\mid o, z_k)`;
* game identification (weight :math:`\lambda`): :math:`-\sum_z p(z\mid n)\log q(n\mid z)` with a predictor
  table :math:`q(m\mid z)` over the training populations (a variational bound on :math:`I(M; Z)`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from games.population.sac.env import A, GridGame, _onehot, entity_features, gumbel_max
from theory.validation import ParameterError, check_scalar

__all__ = ["SACConfig", "SACLoss", "sac_loss", "soft_value", "soft_target", "contrastive_mi"]


@dataclass(frozen=True)
class SACConfig:
    """Hyperparameters of the relational soft actor-critic (one value per field; module docstring)."""

    latent_size: int = 6
    hidden: int = 32
    gamma: float = 1.0
    alpha: float = 1.0 / 30.0
    lr: float = 3e-3
    tau: float = 0.05
    iterations: int = 100
    episodes: int = 8
    """Episodes per population, replica and iteration."""
    updates: int = 2
    """Gradient updates per iteration."""
    batch: int = 64
    """Transitions per population per update (each carries all learning agents)."""
    buffer: int = 4096
    """Replay capacity in transitions per population and replica."""
    mi_weight: float = 0.1
    id_weight: float = 0.05
    resamples: int = 5

    def __post_init__(self):
        for name in ("latent_size", "hidden", "iterations", "episodes", "updates", "batch", "buffer", "resamples"):
            check_scalar(name, getattr(self, name), low=1, integer=True)
        check_scalar("gamma", self.gamma, low=0.0, high=1.0, low_open=True)
        check_scalar("alpha", self.alpha, low=0.0)
        check_scalar("lr", self.lr, low=0.0, low_open=True)
        check_scalar("tau", self.tau, low=0.0, high=1.0, low_open=True)
        check_scalar("mi_weight", self.mi_weight, low=0.0)
        check_scalar("id_weight", self.id_weight, low=0.0)



def soft_value(q: torch.Tensor, logp: torch.Tensor, alpha: float) -> torch.Tensor:
    r""":math:`V = \sum_a \pi(a)\,(Q(a) - \alpha\log\pi(a))` over the last axis (``[..., A] -> [...]``)."""
    return (logp.exp() * (q - alpha * logp)).sum(-1)


def soft_target(r, q_next, logp_next, gamma: float, alpha: float, done=None) -> torch.Tensor:
    r"""The soft Bellman target :math:`y = r + \gamma(1 - d)\sum_{a'}\pi'(a')(\bar Q'(a') - \alpha\log\pi'(a'))`.

    Args:
        r: ``[...]`` rewards.
        q_next: ``[..., A]`` target-critic values at the next observation.
        logp_next: ``[..., A]`` log-policy at the next observation.
        gamma: discount; alpha: temperature.
        done: ``[...]`` 1 where the next observation is terminal (``None``: never).

    Returns:
        ``[...]`` the targets.
    """
    v = soft_value(q_next, logp_next, alpha)
    if done is not None:
        v = v * (1.0 - done.to(v.dtype))
    return r + gamma * v


def contrastive_mi(logp: torch.Tensor, z: torch.Tensor, z_k: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    r"""The official code's contrastive estimate :math:`\log(K\pi(a\mid o,z)) - \log\sum_{k=1}^K\pi(a\mid o,z_k)`.

    Args:
        logp: ``[..., Z, A]`` :math:`\log\pi(\cdot\mid o, z')` for every latent :math:`z'`.
        z: ``[...]`` the agent's latent (index).
        z_k: ``[..., K]`` the resampled latents.
        a: ``[...]`` the action.

    Returns:
        ``[...]`` the estimate (0 when every :math:`z_k = z`; at most :math:`\log K`).
    """
    la = logp.gather(-1, a[..., None, None].expand(*a.shape, logp.shape[-2], 1)).squeeze(-1)  # [..., Z]
    own = la.gather(-1, z[..., None]).squeeze(-1)
    res = la.gather(-1, z_k)
    return math.log(z_k.shape[-1]) + own - torch.logsumexp(res, -1)



@dataclass(frozen=True)
class SACLoss:
    """The terms of :func:`sac_loss` (scalars summed over replicas; ``mi`` is the mean estimate, 0 when off)."""

    total: torch.Tensor
    critic: torch.Tensor
    actor: torch.Tensor
    mi: torch.Tensor


def sac_loss(nets, batch: dict, game: GridGame, config: SACConfig, latent_size: int, generator: torch.Generator,
             encoder_logits: torch.Tensor | None = None, first_agent_only: bool = False) -> SACLoss:
    r"""The soft actor-critic loss (+ MI bonus) of one population's minibatch (module docstring).

    ``total = critic + actor - mi_weight * mi`` with, per replica, the means over the learning agents' samples of
    :math:`(Q(o,z,a) - y)^2`, :math:`y` from :func:`soft_target` (target critic, :math:`d = 1` at the horizon),
    and :math:`\sum_a\pi(a)(\alpha\log\pi(a) - Q(a))`; replicas are summed (their gradients stay separate).

    Args:
        nets: ``(actor, critic, target)`` :class:`RelationalNet` with ``R`` replicas.
        batch: transitions ``pos [R, M, n, 2]``, ``t [R, M]``, ``z, a [R, M, n]`` (long), ``r [R, M, n]``,
            ``pos2 [R, M, n, 2]``.
        game: the grid game; config: the hyperparameters.
        latent_size: :math:`Z` of the nets (1: every ``z`` is read as 0).
        generator: draws the MI estimate's action and :math:`K` resampled latents.
        encoder_logits: ``[R, Z]`` logits of :math:`p(z\mid n)` (needed when the MI bonus is on).
        first_agent_only: learn from agent 0's samples only (best responses).

    Returns:
        :class:`SACLoss`.
    """
    actor, critic, target = nets
    cfg, Z = config, latent_size
    R, M, n = batch["z"].shape
    me, ent = entity_features(batch["pos"], batch["t"], game)
    me2, ent2 = entity_features(batch["pos2"], batch["t"] + 1, game)
    sel = slice(0, 1) if first_agent_only else slice(None)

    def flat(x):
        return x[:, :, sel].reshape(R, -1, *x.shape[3:])

    me, ent, me2, ent2 = flat(me), flat(ent), flat(me2), flat(ent2)
    z = flat(batch["z"]) if Z > 1 else torch.zeros_like(flat(batch["z"]))
    a, r = flat(batch["a"]), flat(batch["r"])
    done = flat((batch["t"] + 1 >= game.horizon)[:, :, None].expand(R, M, n))
    zoh = _onehot(z, Z)
    q = critic(me, ent, zoh)
    with torch.no_grad():
        logp2 = torch.log_softmax(actor(me2, ent2, zoh), -1)
        y = soft_target(r, target(me2, ent2, zoh), logp2, cfg.gamma, cfg.alpha, done)
    critic_loss = ((q.gather(-1, a[..., None]).squeeze(-1) - y) ** 2).mean(1).sum()
    use_mi = cfg.mi_weight > 0 and Z > 1
    if use_mi:
        if encoder_logits is None:
            raise ParameterError("encoder_logits must be given when the MI bonus is on (mi_weight > 0, Z > 1)")
        N = me.shape[1]
        eye = torch.eye(Z, device=me.device)
        logp_all = torch.log_softmax(actor(me, ent, eye.expand(R, N, Z, Z)), -1)  # [R, N, Z, A]
        logp = logp_all.gather(2, z[..., None, None].expand(R, N, 1, A)).squeeze(2)
    else:
        logp = torch.log_softmax(actor(me, ent, zoh), -1)
    actor_loss = (logp.exp() * (cfg.alpha * logp - q.detach())).sum(-1).mean(1).sum()
    mi = torch.zeros((), device=me.device)
    if use_mi:
        a_s = gumbel_max(logp.detach(), generator)
        z_k = gumbel_max(encoder_logits.detach()[:, None, :].expand(R, me.shape[1], Z), generator, (cfg.resamples,))
        mi = contrastive_mi(logp_all, z, z_k.permute(1, 2, 0), a_s).mean(1).sum()
    return SACLoss(critic_loss + actor_loss - cfg.mi_weight * mi, critic_loss, actor_loss, mi)
