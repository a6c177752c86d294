r"""The grid resource game for the relational latent SAC (C4): the game without its population, the
relational observation and batched episodes of latent-conditioned actors.

The game is :mod:`games.envs.resource_grid` (``n`` agents, ``K`` valued resource cells, congestion payoff
:math:`v_k / L_k`), stepped for ``R`` independent replicas x ``E`` episodes x ``n`` agents in one torch program
(:func:`games.envs.resource_grid.grid_step`, :func:`~games.envs.resource_grid.grid_rewards`).

**Relational observation** (:func:`entity_features`). Agent :math:`i` sees itself (cell / (size - 1),
:math:`n/12`, time :math:`t/T`) and a set of entities: every resource (offset, load / n, value / max value,
flag 1) and every other agent (offset, 0, 0, flag 0). The number of entities, :math:`K + n - 1`, changes
with the population; self-attention over them makes one network serve every :math:`n`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from games.envs.resource_grid import MOVES, ResourceGridEnv, grid_rewards, grid_step

__all__ = ["GridGame", "entity_features", "gumbel_max", "A", "SELF_FEATURES", "ENTITY_FEATURES"]

A = len(MOVES)
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



def gumbel_max(logits: torch.Tensor, generator: torch.Generator, shape=()) -> torch.Tensor:
    """Categorical samples ``[*shape, ...]`` (indices) by the Gumbel-max trick (hard Gumbel-softmax's forward)."""
    u = torch.rand((*shape, *logits.shape), generator=generator, device=logits.device).clamp_min(1e-20)
    return (logits - torch.log(-torch.log(u))).argmax(-1)



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
