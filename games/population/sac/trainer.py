r"""MRA on the grid resource game (C4): a relational, latent-conditioned soft actor-critic and trained best responses.

The game is :mod:`games.envs.resource_grid` (``n`` agents, ``K`` valued resource cells, congestion payoff
:math:`v_k / L_k`), stepped for ``R`` independent replicas x ``E`` episodes x ``n`` agents in one torch program
(:func:`games.envs.resource_grid.grid_step`, :func:`~games.envs.resource_grid.grid_rewards`).

**Relational observation** (:func:`entity_features`). Agent :math:`i` sees itself (cell / (size - 1),
:math:`n/12`, time :math:`t/T`) and a set of entities: every resource (offset, load / n, value / max value,
flag 1) and every other agent (offset, 0, 0, flag 0). The number of entities, :math:`K + n - 1`, changes
with the population; self-attention over them makes one network serve every :math:`n`.

**Networks** (:class:`RelationalNet`, parameter-shared over agents, one independent copy per replica).
:math:`h_s = \mathrm{relu}(W_s[o_{\rm self}; z])`, :math:`h_j = \mathrm{relu}(W_e e_j)`, attention weights
:math:`w_j = \mathrm{softmax}_j\big((W_q h_s)^\top W_k h_j/\sqrt H\big)` and
:math:`g = \sum_j w_j W_v h_j`; output :math:`W_2\,\mathrm{relu}(W_1[h_s; g])`. The latent one-hot
:math:`z` enters the query, so it changes the relational graph :math:`w` (as in the official code, where the
relation network is conditioned on :math:`z`). The actor outputs logits of :math:`\pi(a \mid o, z)`, the
critic :math:`Q(o, z, \cdot)` over the 5 moves.

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
can be negative).

**Fast adaptation** (:func:`adapt`; the paper's evaluation: return on a held-out population after :math:`k`
first-order steps). Each step plays :math:`E` episodes on the new population :math:`n'` and then either moves
only the latent logits :math:`\ell` of :math:`p(z\mid n') = \mathrm{softmax}(\ell)` (``params="latent"``,
started at the encoder's :math:`p(z\mid n')`) along each agent's own score-function gradient of its episode
return, :math:`\hat\nabla_\ell = \frac{1}{En}\sum_{e,i}(G_{e,i} - \bar G)(\mathbf 1_{z_{e,i}} - p)` (one Adam
step, ascent), or, with ``params="all"``, additionally takes the SAC updates of the training loss on the actor
and critic from a replay of the adaptation episodes (no identification term: one population). Every method
gets the same steps, episodes and updates. (Reconstruction: the paper's adaptation routine is not released.)

Example:
    >>> from games import mra_sac
    >>> cfg = mra_sac.SACConfig(latent_size=2, hidden=8, iterations=2, episodes=2, batch=8)
    >>> model = mra_sac.train([3, 6], config=cfg, game=mra_sac.GridGame(size=3, horizon=3), replicas=2)
    >>> model.latent_weights(9).shape
    torch.Size([2, 2])
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from games.envs.resource_grid import MOVES, ResourceGridEnv, grid_rewards, grid_step
from games.population import check_populations
from theory.validation import ParameterError, check_scalar

__all__ = ["GridGame", "SACConfig", "GridSACModel", "NashConvEstimate", "RelationalNet", "entity_features",
           "soft_value", "soft_target", "SACLoss", "sac_loss", "contrastive_mi", "gumbel_max", "train",
           "episode_returns", "best_response", "approximate_nash_conv", "LatentTable", "latent_gradient", "adapt",
           "adapt_path"]

A = len(MOVES)
PREDICTOR_INIT = 0.5
r"""Half-width of the uniform initial logits of the game predictor :math:`q(m\mid z)` (reconstruction)."""
SELF_FEATURES = 4
ENTITY_FEATURES = 5


@dataclass(frozen=True)
class GridGame:
    """The grid resource game without its population (see :class:`games.envs.resource_grid.ResourceGridEnv`).

    Attributes:
        size: grid side.
        values: resource values.
        horizon: episode length :math:`T`.
        resources: resource cells, ``None`` for the environment's default placement.
    """

    size: int = 5
    values: tuple = (1.0, 2.0, 4.0)
    horizon: int = 20
    resources: tuple | None = None

    def __post_init__(self):
        env = ResourceGridEnv(n=1, size=self.size, values=self.values, resources=self.resources,
                              max_cycles=self.horizon)
        object.__setattr__(self, "values", tuple(float(v) for v in env.values))
        object.__setattr__(self, "resources", tuple(tuple(int(c) for c in r) for r in env.resources))
        object.__setattr__(self, "size", env.size)
        object.__setattr__(self, "horizon", env.max_cycles)

    def tensors(self, device):
        return (torch.tensor(self.resources, dtype=torch.long, device=device),
                torch.tensor(self.values, dtype=torch.float32, device=device))


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


# ----------------------------------------------------------------------------------------------
# Pure functions
# ----------------------------------------------------------------------------------------------

@torch.no_grad()
def _polyak(target, critic, tau: float) -> None:
    r"""Target-network update :math:`\bar\theta \leftarrow (1-\tau)\bar\theta + \tau\theta` (in place)."""
    for pt, pc in zip(target.parameters(), critic.parameters()):
        pt.mul_(1 - tau).add_(tau * pc)


def entity_features(pos: torch.Tensor, t, game: GridGame) -> tuple[torch.Tensor, torch.Tensor]:
    """The relational observation of every agent (module docstring).

    Args:
        pos: ``[..., n, 2]`` integer cells.
        t: the step count (number or tensor broadcastable to ``pos.shape[:-2]``).
        game: the grid game.

    Returns:
        ``(self [..., n, 4], entities [..., n, K + n - 1, 5])``, ``float32``.
    """
    n = pos.shape[-2]
    dev = pos.device
    res, val = game.tensors(dev)
    s = float(game.size - 1)
    p = pos.float()
    lead = pos.shape[:-2]
    tt = torch.as_tensor(t, dtype=torch.float32, device=dev).expand(lead) / game.horizon
    me = torch.cat([p / s, torch.full((*lead, n, 1), n / 12.0, device=dev), tt[..., None, None].expand(*lead, n, 1)],
                   -1)
    on = (pos[..., :, None, :] == res).all(-1)
    load = on.sum(-2).float() / n  # [..., K]
    K = res.shape[0]
    rrel = (res.float() - p[..., :, None, :]) / s  # [..., n, K, 2]
    rfeat = torch.cat([rrel, load[..., None, :, None].expand(*lead, n, K, 1),
                       (val / val.max()).expand(*lead, n, K)[..., None], torch.ones(*lead, n, K, 1, device=dev)], -1)
    if n == 1:
        return me, rfeat
    idx = torch.tensor([[j for j in range(n) if j != i] for i in range(n)], device=dev)  # [n, n - 1]
    orel = (p[..., idx, :] - p[..., :, None, :]) / s  # [..., n, n - 1, 2]
    ofeat = torch.cat([orel, torch.zeros(*lead, n, n - 1, 3, device=dev)], -1)
    return me, torch.cat([rfeat, ofeat], -2)


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


def gumbel_max(logits: torch.Tensor, generator: torch.Generator, shape=()) -> torch.Tensor:
    """Categorical samples ``[*shape, ...]`` (indices) by the Gumbel-max trick (hard Gumbel-softmax's forward)."""
    u = torch.rand((*shape, *logits.shape), generator=generator, device=logits.device).clamp_min(1e-20)
    return (logits - torch.log(-torch.log(u))).argmax(-1)


# ----------------------------------------------------------------------------------------------
# Networks with a leading replica axis
# ----------------------------------------------------------------------------------------------
class BLinear(nn.Module):
    """``R`` independent linear layers: ``[R, N, i] -> [R, N, o]``."""

    def __init__(self, R: int, i: int, o: int, generator: torch.Generator, zero: bool = False):
        super().__init__()
        b = 1.0 / math.sqrt(i)
        w = torch.zeros(R, i, o) if zero else (torch.rand(R, i, o, generator=generator) * 2 - 1) * b
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(torch.zeros(R, o) if zero else (torch.rand(R, o, generator=generator) * 2 - 1) * b)

    def forward(self, x):
        shape = x.shape
        y = torch.baddbmm(self.bias[:, None, :], x.reshape(shape[0], -1, shape[-1]), self.weight)
        return y.reshape(*shape[:-1], -1)


class RelationalNet(nn.Module):
    """Self-attention over entities conditioned on the latent (module docstring); ``R`` replicas.

    ``forward(me [R, N, 4], ent [R, N, E, 5], z_onehot [R, N, Z]) -> [R, N, out]``.
    """

    def __init__(self, R: int, Z: int, H: int, out: int, generator: torch.Generator):
        super().__init__()
        self.H = H
        self.s = BLinear(R, SELF_FEATURES + Z, H, generator)
        self.e = BLinear(R, ENTITY_FEATURES, H, generator)
        self.q = BLinear(R, H, H, generator)
        self.k = BLinear(R, H, H, generator)
        self.v = BLinear(R, H, H, generator)
        self.h1 = BLinear(R, 2 * H, H, generator)
        self.h2 = BLinear(R, H, out, generator)

    def forward(self, me, ent, zoh):
        """``me [R, N, 4]``, ``ent [R, N, E, 5]``, ``zoh [R, N, Z]`` or ``[R, N, L, Z]`` (``L`` latents per sample,
        sharing the entity embeddings) -> ``[R, N, out]`` or ``[R, N, L, out]``."""
        he = torch.relu(self.e(ent))  # [R, N, E, H]
        k, v = self.k(he), self.v(he)
        multi = zoh.dim() == 4
        if multi:
            me = me[:, :, None].expand(*zoh.shape[:3], me.shape[-1])
        hs = torch.relu(self.s(torch.cat([me, zoh], -1)))  # [R, N, (L,) H]
        q = self.q(hs)
        if multi:
            w = torch.softmax(torch.einsum("rnlh,rneh->rnle", q, k) / math.sqrt(self.H), -1)
            g = torch.einsum("rnle,rneh->rnlh", w, v)
        else:
            w = torch.softmax(torch.einsum("rnh,rneh->rne", q, k) / math.sqrt(self.H), -1)
            g = torch.einsum("rne,rneh->rnh", w, v)
        return self.h2(torch.relu(self.h1(torch.cat([hs, g], -1))))


class Encoder(nn.Module):
    r"""``R`` game encoders :math:`p(z\mid n) = \mathrm{softmax}(f(n/10)/4)`, both layers drawn at random.

    The last layer must not start at zero: with it and the predictor :math:`q(m\mid z)` both at zero the
    identification loss :math:`-\sum_z p(z\mid n)\log q(n\mid z)` is :math:`\log|M|` for every :math:`p`, its
    gradient with respect to the encoder is exactly zero and stays zero (the encoder's only gradient path is this
    term), so :math:`p(z\mid n)` would be uniform for every :math:`n` forever. Random layers (scale
    :math:`1/\sqrt{\text{fan-in}}`, then divided by 4) start :math:`p(z\mid n)` near, not at, uniform.
    """

    def __init__(self, R: int, Z: int, generator: torch.Generator, hidden: int = 16):
        super().__init__()
        self.l1 = BLinear(R, 1, hidden, generator)
        self.l2 = BLinear(R, hidden, Z, generator)

    def forward(self, n: int):
        R = self.l1.weight.shape[0]
        x = torch.full((R, 1, 1), n / 10.0, device=self.l1.weight.device)
        return self.l2(torch.tanh(self.l1(x)))[:, 0] / 4.0  # [R, Z] logits


class LatentTable(nn.Module):
    r"""Free latent logits :math:`\ell` of :math:`p(z\mid n') = \mathrm{softmax}(\ell)` for one population
    :math:`n'` (``[R, Z]``), the parameters of latent-only adaptation (:func:`adapt`); ``forward(n)`` returns
    them for any ``n`` (an adapted model serves the population it was adapted to)."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = nn.Parameter(logits.detach().clone())

    def forward(self, n: int):
        return self.logits


# ----------------------------------------------------------------------------------------------
# Models and results
# ----------------------------------------------------------------------------------------------
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


def _onehot(z, Z):
    return torch.nn.functional.one_hot(z, Z).float()


def _act(actor, me, ent, z, Z, generator, greedy=False):
    """Sample actions for ``me [R, ..., 4]`` etc.; returns indices ``[R, ...]``."""
    R = me.shape[0]
    lead = me.shape[1:-1]
    logits = actor(me.reshape(R, -1, SELF_FEATURES), ent.reshape(R, -1, *ent.shape[-2:]),
                   _onehot(z.reshape(R, -1), Z)).reshape(R, *lead, A)
    return logits.argmax(-1) if greedy else gumbel_max(logits, generator)


def _rollout(model_like, n, episodes, generator, br=None, greedy_br=False):
    """Play ``episodes`` episodes per replica; returns the transitions and the returns ``[R, E, n]``.

    ``model_like = (game, actor, encoder, Z)`` plays every agent (agent 0 too unless ``br = (actor, Z_br)``;
    with ``Z_br > 1`` agent 0 keeps its own sampled latent).
    """
    game, actor, encoder, Z = model_like
    dev = next(actor.parameters()).device
    R = actor.s.weight.shape[0]
    res, val = game.tensors(dev)
    pos = torch.randint(0, game.size, (R, episodes, n, 2), generator=generator, device=dev)
    if encoder is None:
        z = torch.zeros(R, episodes, n, dtype=torch.long, device=dev)
    else:
        logits = encoder(n)  # [R, Z]
        z = gumbel_max(logits[:, None, None, :].expand(R, episodes, n, Z), generator)
    keys = ("pos", "t", "z", "a", "r", "pos2")
    out = {k: [] for k in keys}
    ret = torch.zeros(R, episodes, n, device=dev)
    for t in range(game.horizon):
        me, ent = entity_features(pos, t, game)
        a = _act(actor, me, ent, z, Z, generator)
        if br is not None:
            br_actor, br_Z = br
            z0 = z[:, :, :1] if br_Z > 1 else torch.zeros_like(z[:, :, :1])
            a0 = _act(br_actor, me[:, :, :1], ent[:, :, :1], z0, br_Z, generator, greedy_br)
            a = torch.cat([a0, a[:, :, 1:]], -1)
        pos2 = grid_step(pos, a, game.size)
        r = grid_rewards(pos2, res, val)
        ret += r
        for k, v in zip(keys, (pos, torch.full((R, episodes), t, device=dev), z, a, r, pos2)):
            out[k].append(v)
        pos = pos2
    return {k: torch.stack(v, 2).flatten(1, 2) for k, v in out.items()}, ret


class _Replay:
    """Circular per-population replay of transitions ``[R, C, ...]`` (private helper of :func:`train`)."""

    def __init__(self, capacity):
        self.capacity, self.data, self.ptr, self.size = capacity, None, 0, 0

    def add(self, batch):
        m = batch["t"].shape[1]
        if self.data is None:
            self.data = {k: torch.zeros((v.shape[0], self.capacity, *v.shape[2:]), dtype=v.dtype, device=v.device)
                         for k, v in batch.items()}
        idx = (self.ptr + torch.arange(m, device=batch["t"].device)) % self.capacity
        for k, v in batch.items():
            self.data[k][:, idx] = v
        self.ptr = (self.ptr + m) % self.capacity
        self.size = min(self.size + m, self.capacity)

    def sample(self, M, generator):
        R = self.data["t"].shape[0]
        dev = self.data["t"].device
        idx = torch.randint(0, self.size, (R, M), generator=generator, device=dev)
        rows = torch.arange(R, device=dev)[:, None]
        return {k: v[rows, idx] for k, v in self.data.items()}


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
    buffers = [_Replay(cfg.buffer) for _ in populations]
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
            _polyak(target, critic, cfg.tau)
    return GridSACModel(game, replace(cfg, latent_size=Z), tuple(populations), actor, critic, encoder,
                        None if predictor is None else predictor.detach(), steps, torch.stack(history))


def train(populations, config: SACConfig = SACConfig(), game: GridGame = GridGame(), replicas: int = 4,
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
        >>> m = train([3], SACConfig(latent_size=1, hidden=8, iterations=1, episodes=1, batch=4),
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


def best_response(model: GridSACModel, n, config: SACConfig | None = None, seed: int = 0, warm_start: bool = True,
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


def approximate_nash_conv(model: GridSACModel, n, episodes: int = 64, seed: int = 0,
                          config: SACConfig | None = None, warm_start: bool = True,
                          progress: bool | None = None) -> NashConvEstimate:
    r"""Approximate NashConv :math:`n(\hat J_{\rm BR} - \hat J)` by a trained best response (module docstring).

    Args:
        model: the joint policy.
        n: the population.
        episodes: evaluation episodes per replica.
        seed: seeds the best-response training and the evaluations.
        config: best-response hyperparameters (default: :func:`best_response`'s).
        warm_start: see :func:`best_response`.
        progress: tqdm bar.

    Returns:
        :class:`NashConvEstimate` with ``[R]`` tensors.
    """
    n = check_scalar("n", n, low=1, integer=True)
    br = best_response(model, n, config=config, seed=seed, warm_start=warm_start, progress=progress)
    j = episode_returns(model, n, episodes, seed=seed + 7).mean((1, 2)).cpu()
    # both sides sampled: a best response that copies the joint policy gains 0 in expectation
    jbr = episode_returns(model, n, episodes, seed=seed + 11, br=br, greedy_br=False)[:, :, 0].mean(1).cpu()
    return NashConvEstimate(n, j, jbr, jbr - j, n * (jbr - j))


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
        >>> m = train([3], SACConfig(latent_size=2, hidden=8, iterations=1, episodes=1, batch=4),
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
    buf = _Replay(max(cfg.buffer, steps * episodes * game.horizon))
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
                _polyak(target, critic, cfg.tau)
        if k in ks:
            snapshot(k)
    return [snaps[k] for k in ks]
