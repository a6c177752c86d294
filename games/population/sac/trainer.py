r"""MRA on the grid resource game (C4): a relational, latent-conditioned soft actor-critic and trained best responses.

The game is :mod:`games.envs.resource_grid` (``n`` agents, ``K`` valued resource cells, congestion payoff
:math:`v_k / L_k`), stepped for ``R`` independent replicas x ``E`` episodes x ``n`` agents in one torch program
(:func:`games.envs.resource_grid.grid_step`, :func:`~games.envs.resource_grid.grid_rewards`).

``latent_size=1`` is the unimodal (Reptile-like shared policy) baseline: the MI estimate is then identically
0. Training on a single population is the single-game baseline.

Reconstructions (the official code is MAAC-based): the critic is per agent and sees every agent's cell
through the relational entities but not their actions (MAAC's critic attends over the others' actions);
one critic, no double-Q; the temperature :math:`\alpha` sits inside the discount as in standard SAC
(MAAC subtracts :math:`\log\pi'/\text{reward\_scale}` outside it); the MI bonus is maximised directly by
the actor (the code trains only its relation network on it, as a reward); the game predictor is a table
:math:`q(m\mid z)` (the code's ``TaskPred`` also reads observations); the encoder learns only through the
identification term, and its last layer and the predictor start at small random values (:class:`Encoder`,
:data:`PREDICTOR_INIT`; a zero start is a symmetric point with exactly zero gradient); the fast-adaptation
routine (:func:`adapt`) is ours, the paper's is not released.

The observation and episodes are in :mod:`games.population.sac.env`, the networks in
:mod:`games.population.sac.networks`, the loss in :mod:`games.population.sac.loss`, approximate NashConv in
:mod:`games.population.sac.evaluation` and fast adaptation in :mod:`games.population.sac.adaptation`.

Example:
    >>> from games.population.sac.trainer import train_latent_sac
    >>> from games.population.sac.env import GridGame
    >>> from games.population.sac.loss import SACConfig
    >>> cfg = SACConfig(latent_size=2, hidden=8, iterations=2, episodes=2, batch=8)
    >>> model = train_latent_sac([3, 6], config=cfg, game=GridGame(size=3, horizon=3), replicas=2)
    >>> model.latent_weights(9).shape
    torch.Size([2, 2])
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import nn

from games.population.congestion import check_populations
from games.population.sac.buffer import ReplayBuffer
from games.population.sac.env import A, GridGame, _rollout
from games.population.sac.loss import SACConfig, sac_loss
from games.population.sac.networks import Encoder, RelationalNet, polyak_update
from theory.validation import ParameterError, check_scalar

__all__ = ["GridSACModel", "train_latent_sac", "sac_best_response", "PREDICTOR_INIT"]

PREDICTOR_INIT = 0.5
r"""Half-width of the uniform initial logits of the game predictor :math:`q(m\mid z)` (reconstruction)."""


@dataclass(frozen=True)
class GridSACModel:
    """A trained joint policy for ``R`` replicas.

    Attributes:
        game: the grid game; config: the hyperparameters; populations: the training populations.
        actor, critic: :class:`RelationalNet` (``R`` replicas each); encoder: :class:`Encoder` (``None`` for
            latent-free best responses); predictor: ``[R, Z, |M|]`` logits of :math:`q(m\\mid z)`.
        env_steps: joint environment steps of training (all replicas); history: ``[iterations, R]`` mean
            training return per agent and episode.
    """

    game: GridGame
    config: SACConfig
    populations: tuple
    actor: nn.Module = field(repr=False)
    critic: nn.Module = field(repr=False)
    encoder: nn.Module | None = field(repr=False)
    predictor: torch.Tensor | None = field(repr=False)
    env_steps: int = 0
    history: torch.Tensor | None = field(default=None, repr=False)

    @property
    def replicas(self) -> int:
        return int(self.actor.s.weight.shape[0])

    @property
    def device(self):
        return self.actor.s.weight.device

    def latent_logits(self, n) -> torch.Tensor:
        """``[R, Z]`` logits of :math:`p(z\\mid n)` (any ``n >= 1``)."""
        n = check_scalar("n", n, low=1, integer=True)
        if self.encoder is None:
            return torch.zeros(self.replicas, 1, device=self.device)
        with torch.no_grad():
            return self.encoder(n)

    def latent_weights(self, n) -> torch.Tensor:
        """``[R, Z]`` :math:`p(z\\mid n)`."""
        return torch.softmax(self.latent_logits(n), -1)



def _learn(populations, cfg, game, replicas, seed, device, fixed=None, warm=False, progress=None, desc="SAC"):
    """The shared SAC loop: training a joint policy (``fixed=None``) or agent 0's best response to the model
    ``fixed`` (from scratch, latent-free, or, with ``warm``, starting from ``fixed``'s actor and critic)."""
    from tqdm.auto import tqdm

    dev = torch.device(device)
    init = torch.Generator().manual_seed(seed)
    gen = torch.Generator(device=dev).manual_seed(seed + 1)
    Z = cfg.latent_size if fixed is None else (fixed.config.latent_size if warm else 1)
    actor = RelationalNet(replicas, Z, cfg.hidden, A, init).to(dev)
    critic = RelationalNet(replicas, Z, cfg.hidden, A, init).to(dev)
    target = RelationalNet(replicas, Z, cfg.hidden, A, init).to(dev)
    if warm:
        actor.load_state_dict(fixed.actor.state_dict())
        critic.load_state_dict(fixed.critic.state_dict())
    target.load_state_dict(critic.state_dict())
    for p in target.parameters():
        p.requires_grad_(False)
    encoder = Encoder(replicas, Z, init).to(dev) if fixed is None else None
    M = len(populations)
    # small random logits: at q = uniform the identification term has no gradient for the encoder (Encoder)
    predictor = (nn.Parameter(((torch.rand(replicas, Z, M, generator=init) * 2 - 1) * PREDICTOR_INIT).to(dev))
                 if fixed is None else None)
    params = list(actor.parameters()) + list(critic.parameters())
    if fixed is None:
        params += list(encoder.parameters()) + [predictor]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    buffers = [ReplayBuffer(cfg.buffer) for _ in populations]
    history, steps = [], 0
    for _ in tqdm(range(cfg.iterations), desc=desc, disable=None if progress is None else not progress):
        rets = []
        for j, n in enumerate(populations):
            with torch.no_grad():
                if fixed is None:
                    trans, ret = _rollout((game, actor, encoder, Z), n, cfg.episodes, gen)
                    rets.append(ret.mean((1, 2)))
                else:
                    trans, ret = _rollout((game, fixed.actor, fixed.encoder, fixed.config.latent_size), n,
                                          cfg.episodes, gen, br=(actor, Z))
                    rets.append(ret[:, :, 0].mean(1))
            buffers[j].add(trans)
            steps += replicas * cfg.episodes * game.horizon
        history.append(torch.stack(rets).mean(0).cpu())
        for _ in range(cfg.updates):
            loss = 0.0
            for j, n in enumerate(populations):
                enc = encoder(n) if encoder is not None else None
                batch = buffers[j].sample(cfg.batch, gen)
                loss = loss + sac_loss((actor, critic, target), batch, game, cfg, Z, gen, enc,
                                       first_agent_only=fixed is not None).total
                if fixed is None and M > 1 and Z > 1 and cfg.id_weight > 0:
                    pz = torch.softmax(enc, -1)
                    lq = torch.log_softmax(predictor, -1)[:, :, j]  # [R, Z]
                    loss = loss - cfg.id_weight * (pz * lq).sum(-1).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            polyak_update(target, critic, cfg.tau)
    return GridSACModel(game, replace(cfg, latent_size=Z), tuple(populations), actor, critic, encoder,
                        None if predictor is None else predictor.detach(), steps, torch.stack(history))


def train_latent_sac(populations, config: SACConfig = SACConfig(), game: GridGame = GridGame(), replicas: int = 4,
          seed: int = 0, device="cpu", progress: bool | None = None) -> GridSACModel:
    r"""Train the relational latent soft actor-critic on several populations at once (module docstring).

    Args:
        populations: training populations (positive integers, e.g. ``(3, 6, 9)``); one entry trains the
            single-game baseline.
        config: hyperparameters (``latent_size=1``: the unimodal baseline).
        game: the grid game.
        replicas: independent trainings batched in one torch program (``R``).
        seed: the run is a pure function of (populations, config, game, replicas, seed, device).
        device: torch device (``"cpu"``, ``"cuda"``).
        progress: tqdm bar (``None``: only on a terminal).

    Returns:
        :class:`GridSACModel`.

    Example:
        >>> m = train_latent_sac([3], SACConfig(latent_size=1, hidden=8, iterations=1, episodes=1, batch=4),
        ...           GridGame(size=3, horizon=2), replicas=1)
        >>> m.env_steps
        2
    """
    pops = check_populations("populations", populations)
    if not isinstance(config, SACConfig):
        raise ParameterError(f"config must be a SACConfig, got {type(config).__name__}")
    if not isinstance(game, GridGame):
        raise ParameterError(f"game must be a GridGame, got {type(game).__name__}")
    replicas = check_scalar("replicas", replicas, low=1, integer=True)
    seed = check_scalar("seed", seed, low=0, integer=True)
    return _learn(pops, config, game, replicas, seed, device, progress=progress,
                  desc=f"SAC |Z|={config.latent_size} n={pops}")



def sac_best_response(model: GridSACModel, n, config: SACConfig | None = None, seed: int = 0, warm_start: bool = True,
                  progress: bool | None = None) -> GridSACModel:
    """Train agent 0's best response on population ``n`` against the other ``n - 1`` agents playing ``model``.

    Same SAC learner without the information terms and, by default, the budget of ``model``'s training: its
    iterations and updates, and its episodes and minibatch times the number of its populations.

    Args:
        model: the fixed joint policy of the other agents.
        n: the population.
        config: best-response hyperparameters (default: ``model``'s with the budget above; ``mi_weight`` is
            set to 0).
        seed: seeds the training.
        warm_start: start from ``model``'s actor and critic (agent 0 keeps its sampled latent as an input), so
            the trained deviation starts at the policy itself; ``False``: a fresh latent-free network.
        progress: tqdm bar.

    Returns:
        :class:`GridSACModel` of the best response (``encoder`` ``None``).
    """
    n = check_scalar("n", n, low=1, integer=True)
    k = len(model.populations)
    cfg = config if config is not None else replace(model.config, episodes=model.config.episodes * k,
                                                    batch=model.config.batch * k)
    if not isinstance(cfg, SACConfig):
        raise ParameterError(f"config must be a SACConfig or None, got {type(config).__name__}")
    cfg = replace(cfg, mi_weight=0.0)
    if warm_start and cfg.hidden != model.config.hidden:
        raise ParameterError(f"warm_start needs config.hidden = model's {model.config.hidden}, got {cfg.hidden}")
    for p in model.actor.parameters():
        p.requires_grad_(False)
    try:
        return _learn((n,), cfg, model.game, model.replicas, check_scalar("seed", seed, low=0, integer=True),
                      model.device, fixed=model, warm=bool(warm_start), progress=progress,
                      desc=f"best response n={n}")
    finally:
        for p in model.actor.parameters():
            p.requires_grad_(True)
