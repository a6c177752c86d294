"""The replay buffer of the relational latent SAC: circular, per population, with a replica axis."""
from __future__ import annotations

import torch

__all__ = ["ReplayBuffer"]


class ReplayBuffer:
    """Circular per-population replay of transitions ``[R, C, ...]``
    (of :func:`games.population.sac.trainer.train_latent_sac` and :func:`games.population.sac.adaptation.adapt`)."""

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
