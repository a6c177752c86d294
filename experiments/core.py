"""Experiment layer: registry, claims, tidy results and byte-stable figures.

An *experiment* is a module in this package that defines

``CONFIGS``   ``{"smoke": Config(...), "quick": Config(...), "full": Config(...)}`` — frozen dataclasses;
``run(config, seed, device) -> pandas.DataFrame``  a pure function of its arguments (long format);
``claims(frame, config) -> list[Claim]``           checked claims computed from all seeds' rows;
``plot(frame, config) -> matplotlib.figure.Figure`` reads only the tidy frame;
``TITLE``, ``CAPTION`` (strings) and optionally ``SEEDS = {"smoke": 1, ...}`` (jobs per scale; an
experiment that batches its seeds inside one torch program sets 1).

The registry discovers such modules by import, so adding an experiment means adding one file: the CLI,
the Snakefile and the paper's claims table pick it up without edits elsewhere.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
import pkgutil
import platform
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

SCALES = ("smoke", "quick", "full")
DEFAULT_SEEDS = {"smoke": 1, "quick": 2, "full": 5}
_INFRA = {"core", "plotting", "paper", "__main__"}


class ConfigError(ValueError):
    """A bad experiment name, scale, device or config value."""


# ----------------------------------------------------------------------------------------------
# Claims
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """One checked statement of a paper: a measured value with its 95% CI against theory.

    ``theory`` is a number (point prediction) or a ``(low, high)`` range (``None`` for an open end).
    ``passed`` is decided by the experiment (usually: the CI meets the range). ``reconstructed`` marks
    claims that rest on a reconstruction of an algorithm detail the paper does not give.
    """

    name: str
    measured: float
    ci_low: float
    ci_high: float
    theory: Any
    passed: bool
    description: str = ""
    reconstructed: bool = False
    experiment: str = ""
    scale: str = ""

    @staticmethod
    def in_range(name: str, interval, low: float | None, high: float | None, description: str = "",
                 reconstructed: bool = False, theory: Any = None) -> "Claim":
        """Pass when the interval ``interval`` (a ``theory.rates.Interval``) meets ``[low, high]``."""
        lo = -math.inf if low is None else low
        hi = math.inf if high is None else high
        ok = interval.low <= hi and lo <= interval.high
        return Claim(name, float(interval.estimate), float(interval.low), float(interval.high),
                     theory if theory is not None else [low, high], bool(ok), description, reconstructed)

    @staticmethod
    def at_most(name: str, interval, bound: float, description: str = "", reconstructed: bool = False,
                theory: Any = None) -> "Claim":
        """Pass when the whole interval lies at or below ``bound`` (an inequality that must hold)."""
        return Claim(name, float(interval.estimate), float(interval.low), float(interval.high),
                     theory if theory is not None else [None, bound], bool(interval.high <= bound),
                     description, reconstructed)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("measured", "ci_low", "ci_high"):
            d[k] = _finite_or_none(d[k])
        if isinstance(d["theory"], (list, tuple)):  # open ends as null: JSON (and Typst) has no Infinity
            d["theory"] = [None if x is None else (_finite_or_none(x) if isinstance(x, (int, float)) else x)
                           for x in d["theory"]]
        elif isinstance(d["theory"], float):
            d["theory"] = _finite_or_none(d["theory"])
        return d


def _finite_or_none(x):
    try:
        return float(x) if math.isfinite(float(x)) else None
    except (TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------
def experiment_names() -> list[str]:
    """Names of all experiment modules (sorted)."""
    import experiments as pkg

    names = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_") or info.name in _INFRA:
            continue
        mod = importlib.import_module(f"experiments.{info.name}")
        if hasattr(mod, "CONFIGS"):
            names.append(info.name)
    return sorted(names)


def get_experiment(name: str) -> ModuleType:
    names = experiment_names()
    if name not in names:
        raise ConfigError(f"unknown experiment {name!r}; known experiments: {', '.join(names)}")
    mod = importlib.import_module(f"experiments.{name}")
    for attr in ("CONFIGS", "run", "claims", "plot"):
        if not hasattr(mod, attr):
            raise ConfigError(f"experiment module {name!r} lacks {attr!r}")
    return mod


def get_config(name: str, scale: str):
    mod = get_experiment(name)
    if scale not in mod.CONFIGS:
        raise ConfigError(f"scale {scale!r} is not defined for {name!r}; allowed: {', '.join(mod.CONFIGS)}")
    return mod.CONFIGS[scale]


def seeds_for(name: str, scale: str) -> int:
    mod = get_experiment(name)
    return int(getattr(mod, "SEEDS", DEFAULT_SEEDS).get(scale, DEFAULT_SEEDS[scale]))


def config_hash(config) -> str:
    payload = json.dumps(dataclasses.asdict(config), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


# ----------------------------------------------------------------------------------------------
# Devices and seeds
# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# Running, aggregating, plotting
# ----------------------------------------------------------------------------------------------
def run_one(name: str, scale: str, seed: int, device: str = "cpu", out: str | Path | None = None):
    """Run one (experiment, scale, seed) job; add provenance columns; optionally write parquet."""
    import pandas as pd

    mod = get_experiment(name)
    config = get_config(name, scale)
    if seed < 0:
        raise ConfigError(f"seed must be >= 0, got {seed}")
    dev = resolve_device(device)
    seed_everything(seed)
    frame = mod.run(config, seed=seed, device=dev)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name}.run must return a pandas DataFrame, got {type(frame).__name__}")
    frame = frame.copy()
    frame["experiment"] = name
    frame["scale"] = scale
    frame["seed"] = seed
    frame["device"] = dev
    frame["config_hash"] = config_hash(config)
    for k, v in versions().items():
        frame[f"version_{k}"] = v
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(out, index=False)
    return frame


def aggregate(name: str, scale: str, inputs, out: str | Path | None = None,
              claims_out: str | Path | None = None):
    """Concatenate per-seed tables, evaluate the experiment's claims, write both."""
    import pandas as pd

    mod = get_experiment(name)
    config = get_config(name, scale)
    frames = [pd.read_parquet(p) for p in inputs]
    if not frames:
        raise ConfigError(f"no inputs to aggregate for {name}/{scale}")
    frame = pd.concat(frames, ignore_index=True)
    claims = [dataclasses.replace(c, experiment=name, scale=scale) for c in mod.claims(frame, config)]
    for c in claims:
        if not c.passed:
            warnings.warn(f"claim {name}:{c.name} did not pass: measured {c.measured:.4g} "
                          f"[{c.ci_low:.4g}, {c.ci_high:.4g}] vs theory {c.theory}", stacklevel=2)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(out, index=False)
    if claims_out is not None:
        Path(claims_out).parent.mkdir(parents=True, exist_ok=True)
        payload = {"experiment": name, "scale": scale, "title": getattr(mod, "TITLE", name),
                   "claims": [c.to_dict() for c in claims]}
        Path(claims_out).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return frame, claims


def make_figure(name: str, scale: str, results: str | Path, out: str | Path):
    import pandas as pd

    from experiments.plotting import save_figure, use_paper_style

    mod = get_experiment(name)
    config = get_config(name, scale)
    use_paper_style()
    frame = pd.read_parquet(results)
    fig = mod.plot(frame, config)
    save_figure(fig, out)
    return out


def describe(name: str) -> dict:
    mod = get_experiment(name)
    return {"name": name, "title": getattr(mod, "TITLE", name), "caption": getattr(mod, "CAPTION", ""),
            "scales": list(mod.CONFIGS), "seeds": {s: seeds_for(name, s) for s in mod.CONFIGS}}

