r"""Networks of the relational latent SAC, each with a leading replica axis (``R`` independent copies).

**Networks** (:class:`RelationalNet`, parameter-shared over agents, one independent copy per replica).
:math:`h_s = \mathrm{relu}(W_s[o_{\rm self}; z])`, :math:`h_j = \mathrm{relu}(W_e e_j)`, attention weights
:math:`w_j = \mathrm{softmax}_j\big((W_q h_s)^\top W_k h_j/\sqrt H\big)` and
:math:`g = \sum_j w_j W_v h_j`; output :math:`W_2\,\mathrm{relu}(W_1[h_s; g])`. The latent one-hot
:math:`z` enters the query, so it changes the relational graph :math:`w` (as in the official code, where the
relation network is conditioned on :math:`z`). The actor outputs logits of :math:`\pi(a \mid o, z)`, the
critic :math:`Q(o, z, \cdot)` over the 5 moves.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from games.population.sac.env import ENTITY_FEATURES, SELF_FEATURES

__all__ = ["BLinear", "RelationalNet", "Encoder", "LatentTable", "polyak_update"]


@torch.no_grad()
def polyak_update(target, critic, tau: float) -> None:
    r"""Target-network update :math:`\bar\theta \leftarrow (1-\tau)\bar\theta + \tau\theta` (in place)."""
    for pt, pc in zip(target.parameters(), critic.parameters()):
        pt.mul_(1 - tau).add_(tau * pc)



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
