r"""The sequence-form arrays of a compiled :class:`~games.efg.model.ExtensiveFormGame`, on a torch device.

:meth:`ExtensiveFormGame.tensors(device, dtype) <games.efg.model.ExtensiveFormGame.tensors>` builds (and caches)
one :class:`SequenceFormTensors`: per player the treeplex (legal mask ``[I, A]``, parent sequence ``[I]``,
own-depth levels, number of child information sets per sequence) and the terminal list (last sequences
:math:`\sigma_0(z), \sigma_1(z)`, weights :math:`c(z)\,u_i(z)` and chance reach :math:`c(z)`), so that
:math:`x^\top A_i y = \sum_z c(z) u_i(z) x_{\sigma_0(z)} y_{\sigma_1(z)}`. The recursions over them live in
:mod:`games.efg.evaluation`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from games.efg.model import ExtensiveFormGame

__all__ = ["PlayerTensors", "SequenceFormTensors"]


@dataclass(frozen=True)
class PlayerTensors:
    """One player's treeplex arrays on the device."""

    mask: torch.Tensor          # [I, A] bool
    parent_seq: torch.Tensor    # [I] long
    levels: tuple               # ((s, e), ...)
    num_children: torch.Tensor  # [n_seq]
    n_seq: int
    num_infosets: int


@dataclass(frozen=True)
class SequenceFormTensors:
    """Device copies of the arrays the treeplex recursions need."""

    players: tuple
    terminal_seq: torch.Tensor      # [2, Z] long
    terminal_weight: torch.Tensor   # [Z, 2] c(z) u_i(z)
    terminal_reach: torch.Tensor    # [Z]
    A: int
    device: Any
    dtype: Any

    @staticmethod
    def build(g: ExtensiveFormGame, device, dtype) -> "SequenceFormTensors":
        ps = tuple(PlayerTensors(torch.as_tensor(t.mask, device=device),
                                 torch.as_tensor(t.parent_seq, device=device),
                                 t.levels, torch.as_tensor(t.num_children, device=device, dtype=dtype),
                                 t.n_seq, t.num_infosets) for t in g.treeplex)
        return SequenceFormTensors(ps, torch.as_tensor(g.terminal_seq, device=device),
                           torch.as_tensor(g.terminal_reach[:, None] * g.terminal_payoffs, device=device, dtype=dtype),
                           torch.as_tensor(g.terminal_reach, device=device, dtype=dtype), g.num_actions, device, dtype)
