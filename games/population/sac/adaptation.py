r"""Fast adaptation of a trained relational latent SAC to a held-out population.

**Fast adaptation** (:func:`adapt`; the paper's evaluation: return on a held-out population after :math:`k`
first-order steps). Each step plays :math:`E` episodes on the new population :math:`n'` and then either moves
only the latent logits :math:`\ell` of :math:`p(z\mid n') = \mathrm{softmax}(\ell)` (``params="latent"``,
started at the encoder's :math:`p(z\mid n')`) along each agent's own score-function gradient of its episode
return, :math:`\hat\nabla_\ell = \frac{1}{En}\sum_{e,i}(G_{e,i} - \bar G)(\mathbf 1_{z_{e,i}} - p)` (one Adam
step, ascent), or, with ``params="all"``, additionally takes the SAC updates of the training loss on the actor
and critic from a replay of the adaptation episodes (no identification term: one population). Every method
gets the same steps, episodes and updates. (Reconstruction: the paper's adaptation routine is not released.)
"""
from __future__ import annotations

import copy

import torch

from games.population.sac.buffer import ReplayBuffer
from games.population.sac.env import _rollout
from games.population.sac.loss import sac_loss
from games.population.sac.networks import LatentTable, polyak_update
from games.population.sac.trainer import GridSACModel
from theory.validation import ParameterError, check_scalar

__all__ = ["latent_gradient", "adapt", "adapt_path"]


def latent_gradient(returns: torch.Tensor, z: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    r"""Each agent's own score-function gradient of its return with respect to the latent logits (``[R, Z]``).

    :math:`\hat\nabla_\ell = \frac{1}{En}\sum_{e,i}(G_{e,i} - \bar G)(\mathbf 1_{z_{e,i}} - \mathrm{softmax}(\ell))`
    with the batch mean :math:`\bar G` per replica as baseline (module docstring, fast adaptation).

    Args:
        returns: ``[R, E, n]`` episode returns; z: ``[R, E, n]`` the latents the agents drew (long);
        logits: ``[R, Z]`` the logits they were drawn from.
    """
    G = returns.to(logits.dtype)
    adv = G - G.mean((1, 2), keepdim=True)
    onehot = torch.nn.functional.one_hot(z, logits.shape[-1]).to(logits.dtype)
    score = onehot - torch.softmax(logits, -1)[:, None, None, :]
    return (adv[..., None] * score).mean((1, 2))


def adapt(model: GridSACModel, n, steps: int, params: str = "latent", episodes: int | None = None,
          updates: int | None = None, batch: int | None = None, latent_lr: float = 0.3, seed: int = 0,
          progress: bool | None = None) -> GridSACModel:
    r"""Fast adaptation of a trained model to population ``n`` in ``steps`` steps (module docstring).

    Args:
        model: the trained joint policy (not modified).
        n: the (held-out) population.
        steps: adaptation steps :math:`k` (0: the zero-shot model, with :math:`p(z\mid n)` from its encoder).
        params: ``"latent"`` (the logits of :math:`p(z\mid n)` only) or ``"all"`` (the logits, the actor and the
            critic).
        episodes: episodes per step and replica (default: ``model.config.episodes``).
        updates: SAC updates per step (``"all"``; default ``model.config.updates``).
        batch: SAC minibatch in transitions (``"all"``; default ``model.config.batch``).
        latent_lr: Adam step size on the latent logits.
        seed: seeds the adaptation episodes.
        progress: tqdm bar.

    Returns:
        :class:`GridSACModel` whose ``encoder`` is a :class:`LatentTable` for ``n`` (the adapted
        :math:`p(z\mid n)`), ``env_steps`` the adaptation's joint environment steps (all replicas) and
        ``history`` ``[steps, R]`` the mean return per agent and episode of each step's episodes.

    Example:
        >>> from games.population.sac.env import GridGame
        >>> from games.population.sac.loss import SACConfig
        >>> from games.population.sac.trainer import train_latent_sac
        >>> m = train_latent_sac([3], SACConfig(latent_size=2, hidden=8, iterations=1, episodes=1, batch=4),
        ...           GridGame(size=3, horizon=2), replicas=1)
        >>> adapt(m, 5, 2, params="all", episodes=3).env_steps
        12
    """
    steps = check_scalar("steps", steps, low=0, integer=True)
    return adapt_path(model, n, (steps,), params, episodes, updates, batch, latent_lr, seed, progress)[0]


def adapt_path(model: GridSACModel, n, ks, params: str = "latent", episodes: int | None = None,
               updates: int | None = None, batch: int | None = None, latent_lr: float = 0.3, seed: int = 0,
               progress: bool | None = None) -> list:
    """One adaptation run (:func:`adapt`) of ``max(ks)`` steps, returning the adapted model after each ``k`` in
    ``ks`` (a list in the order of ``ks``; ``k = 0`` is the zero-shot model with a :class:`LatentTable`)."""
    from tqdm.auto import tqdm

    n = check_scalar("n", n, low=1, integer=True)
    if isinstance(ks, (int, float)) or len(ks) == 0:
        raise ParameterError(f"ks must be a non-empty sequence of steps, got {ks!r}")
    ks = [check_scalar(f"ks[{i}]", k, low=0, integer=True) for i, k in enumerate(ks)]
    if params not in ("latent", "all"):
        raise ParameterError(f"params must be 'latent' or 'all', got {params!r}")
    if not isinstance(model, GridSACModel):
        raise ParameterError(f"model must be a GridSACModel, got {type(model).__name__}")
    cfg = model.config
    episodes = check_scalar("episodes", cfg.episodes if episodes is None else episodes, low=1, integer=True)
    updates = check_scalar("updates", cfg.updates if updates is None else updates, low=1, integer=True)
    batch = check_scalar("batch", cfg.batch if batch is None else batch, low=1, integer=True)
    latent_lr = check_scalar("latent_lr", latent_lr, low=0.0, low_open=True)
    seed = check_scalar("seed", seed, low=0, integer=True)
    steps = max(ks)
    Z, game, R = cfg.latent_size, model.game, model.replicas
    dev = model.device
    actor, critic = copy.deepcopy(model.actor), copy.deepcopy(model.critic)
    for p in list(actor.parameters()) + list(critic.parameters()):
        p.requires_grad_(True)
    target = copy.deepcopy(model.critic)
    for p in target.parameters():
        p.requires_grad_(False)
    table = LatentTable(model.latent_logits(n)).to(dev)
    gen = torch.Generator(device=dev).manual_seed(seed)
    lat_opt = torch.optim.Adam(table.parameters(), lr=latent_lr)
    net_opt = torch.optim.Adam(list(actor.parameters()) + list(critic.parameters()), lr=cfg.lr) \
        if params == "all" else None
    buf = ReplayBuffer(max(cfg.buffer, steps * episodes * game.horizon))
    history, snaps = [], {}

    def snapshot(k):
        tab = copy.deepcopy(table)
        for p in tab.parameters():
            p.requires_grad_(False)
        snaps[k] = GridSACModel(game, cfg, model.populations, copy.deepcopy(actor), copy.deepcopy(critic), tab,
                                None, R * k * episodes * game.horizon,
                                torch.stack(history) if history else torch.zeros(0, R))

    if 0 in ks:
        snapshot(0)
    for k in tqdm(range(1, steps + 1), desc=f"adapt ({params}) n={n}",
                  disable=None if progress is None else not progress):
        with torch.no_grad():
            trans, ret = _rollout((game, actor, table, Z), n, episodes, gen)
        history.append(ret.mean((1, 2)).cpu())
        if Z > 1:
            z = trans["z"].reshape(R, episodes, game.horizon, n)[:, :, 0]  # one latent per agent and episode
            lat_opt.zero_grad()
            table.logits.grad = -latent_gradient(ret, z, table.logits.detach())  # Adam ascends the return
            lat_opt.step()
        if net_opt is not None:
            buf.add(trans)
            for _ in range(updates):
                loss = sac_loss((actor, critic, target), buf.sample(batch, gen), game, cfg, Z, gen,
                                table.logits.detach()).total
                net_opt.zero_grad()
                loss.backward()
                net_opt.step()
                polyak_update(target, critic, cfg.tau)
        if k in ks:
            snapshot(k)
    return [snaps[k] for k in ks]
