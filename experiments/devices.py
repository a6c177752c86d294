"""Devices, seeds and library versions of a run (the provenance columns of every result row)."""
from __future__ import annotations

import platform

import numpy as np

from experiments.registry import ConfigError

__all__ = ["resolve_device", "seed_everything", "versions"]

def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; ``cuda`` without a GPU is an error."""
    import torch

    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ConfigError(f"device must be one of auto, cpu, cuda (or cuda:N); got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but torch.cuda.is_available() is False")
    return str(device)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch's global generator (for code that uses it) and return a numpy Generator."""
    import torch

    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("theorysim", "numpy", "torch", "scipy", "cvxpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:  # pragma: no cover
            out[pkg] = "absent"
    return out
