"""Registry: experiment names, configs per scale, jobs per scale and config hashes.

An *experiment* is a module in this package that defines

``CONFIGS``   ``{"smoke": Config(...), "quick": Config(...), "full": Config(...)}`` — frozen dataclasses;
``run(config, seed, device) -> pandas.DataFrame``  a pure function of its arguments (long format);
``claims(frame, config) -> list[Claim]``           checked claims computed from all seeds' rows
(:mod:`experiments.claims`);
``plot(frame, config) -> matplotlib.figure.Figure`` reads only the tidy frame;
``TITLE``, ``CAPTION`` (strings) and optionally ``SEEDS = {"smoke": 1, ...}`` (jobs per scale, a literal; absent
scales and an absent ``SEEDS`` take :data:`DEFAULT_SEEDS`; an experiment that batches its seeds inside one torch
program sets 1).

The registry discovers such modules by reading their source (:mod:`experiments.sources`), so adding an
experiment means adding one file: the CLI, the Snakefile and the paper's claims table pick it up without edits
elsewhere. It imports no model, solver or game family: an experiment that takes the pipeline's game list
(``GAMES_FROM_CONFIG = True``) brings its own ``check_game_spec``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
from types import ModuleType

__all__ = ["SCALES", "DEFAULT_SEEDS", "ConfigError", "GAMES_ENV", "experiment_names", "get_experiment",
           "games_override", "get_config", "seeds_for", "config_hash", "describe"]

SCALES = ("smoke", "quick", "full")
DEFAULT_SEEDS = {"smoke": 1, "quick": 2, "full": 5}


class ConfigError(ValueError):
    """A bad experiment name, scale, device or config value."""


def experiment_names() -> list[str]:
    """Names of all experiment modules (sorted), found without importing them (see :mod:`experiments.sources`)."""
    from experiments.sources import experiment_files

    return sorted(experiment_files())


def get_experiment(name: str) -> ModuleType:
    names = experiment_names()
    if name not in names:
        raise ConfigError(f"unknown experiment {name!r}; known experiments: {', '.join(names)}")
    mod = importlib.import_module(f"experiments.{name}")
    for attr in ("CONFIGS", "run", "claims", "plot"):
        if not hasattr(mod, attr):
            raise ConfigError(f"experiment module {name!r} lacks {attr!r}")
    return mod


GAMES_ENV = "THEORYSIM_GAMES"
"""Environment variable with a JSON list of game specs (``games.GAME_FORMS``) that replaces the ``games`` field
of every experiment declaring ``GAMES_FROM_CONFIG = True``; the Snakefile sets it from the ``games`` config key.
The list becomes part of the config (and of its hash), so a run stays a pure function of (config, seed, device)."""


def games_override(check) -> tuple | None:
    """The game list of :data:`GAMES_ENV`, each spec passed through ``check``, or ``None`` when it is unset or empty.

    ``check`` is the experiment's ``check_game_spec`` (``games.check_game_spec``, imported by every experiment
    that declares ``GAMES_FROM_CONFIG``); a ``ValueError`` it raises (``games.GameSpecError``) becomes a
    :class:`ConfigError`.
    """
    raw = os.environ.get(GAMES_ENV, "").strip()
    if not raw:
        return None
    try:
        games = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{GAMES_ENV} must be a JSON list of game names, got {raw!r} ({e})") from None
    if not isinstance(games, list) or not games:
        raise ConfigError(f"{GAMES_ENV} must be a non-empty JSON list of game names, got {raw!r}")
    try:
        return tuple(check(g) for g in games)
    except ValueError as e:
        raise ConfigError(f"{GAMES_ENV}: {e}") from None


def get_config(name: str, scale: str):
    """The experiment's config for ``scale`` (with the :data:`GAMES_ENV` game list where it opts in)."""
    mod = get_experiment(name)
    if scale not in mod.CONFIGS:
        raise ConfigError(f"scale {scale!r} is not defined for {name!r}; allowed: {', '.join(mod.CONFIGS)}")
    config = mod.CONFIGS[scale]
    games = games_override(mod.check_game_spec) if getattr(mod, "GAMES_FROM_CONFIG", False) else None
    return config if games is None else dataclasses.replace(config, games=games)


def seeds_for(name: str, scale: str) -> int:
    """Jobs (root seeds) of ``name`` at ``scale``: the module's literal ``SEEDS`` or :data:`DEFAULT_SEEDS`."""
    from experiments.sources import experiment_files, static_attributes

    files = experiment_files()
    if name not in files:
        raise ConfigError(f"unknown experiment {name!r}; known experiments: {', '.join(sorted(files))}")
    seeds = static_attributes(files[name]).get("SEEDS", DEFAULT_SEEDS)
    return int(seeds.get(scale, DEFAULT_SEEDS[scale]))


def config_hash(config) -> str:
    payload = json.dumps(dataclasses.asdict(config), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def describe(name: str) -> dict:
    """Name, title, caption and jobs per scale of an experiment, read without importing it."""
    from experiments.sources import experiment_files, static_attributes

    files = experiment_files()
    if name not in files:
        raise ConfigError(f"unknown experiment {name!r}; known experiments: {', '.join(sorted(files))}")
    attrs = static_attributes(files[name])
    return {"name": name, "title": attrs.get("TITLE", name), "caption": attrs.get("CAPTION", ""),
            "scales": list(SCALES), "seeds": {s: seeds_for(name, s) for s in SCALES}}
