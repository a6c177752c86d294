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
import os
import platform
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

SCALES = ("smoke", "quick", "full")
DEFAULT_SEEDS = {"smoke": 1, "quick": 2, "full": 5}


class ConfigError(ValueError):
    """A bad experiment name, scale, device or config value."""


# ----------------------------------------------------------------------------------------------
# Claims
# ----------------------------------------------------------------------------------------------
VERDICTS = ("supported", "contradicted", "inconclusive")


class TheoremViolation(RuntimeError):
    """A claim marked ``theorem=True`` (must hold at any scale) was contradicted by the data."""


class UnexplainedVerdict(ValueError):
    """A contradicted claim without a ``cause`` (a verdict against a paper must say why)."""


#: The cause given to a claim that is not supported at the smoke scale and names none of its own: the
#: smoke scale checks that the pipeline runs (one seed, a few iterations), it does not test a paper.
SMOKE_CAUSE = "smoke scale: a pipeline check with too few seeds and iterations to test the paper"


@dataclass(frozen=True)
class Claim:
    r"""One checked statement of a paper: a measured value with its interval, judged against theory.

    Build claims with :meth:`at_least`, :meth:`at_most`, :meth:`within` or :meth:`equals`; the verdict is
    computed, never passed in. With the claimed region :math:`[\ell, u]` (``limit_low``, ``limit_high``;
    the theory value, widened only by the named ``slack``) and the interval :math:`[a, b]`:

    * **supported**: :math:`\ell \le a` and :math:`b \le u` (the whole interval on the claimed side,
      or inside the band);
    * **contradicted**: :math:`b < \ell` or :math:`a > u` (the whole interval on the wrong side);
    * **inconclusive**: otherwise (the interval straddles a limit, e.g. a single noisy run).

    Attributes:
        name, description: what is claimed, in words.
        measured, ci_low, ci_high, level: the estimate and its interval (``level = 1`` for exact values).
        theory: the theory value as shown (a number or ``[low, high]`` with ``None`` for an open end).
        kind: ``at_least`` | ``at_most`` | ``within`` | ``equals``.
        slack: a justified finite-sample or numerical allowance, printed next to the theory value.
        limit_low, limit_high: the limits actually applied (theory value -/+ slack).
        verdict: ``supported`` | ``contradicted`` | ``inconclusive``.
        theorem: an inequality that must hold at any scale: the pipeline fails when it is contradicted.
        reconstructed: the claim rests on a reconstruction of a detail the paper does not give.
        reference: where the theory value comes from (a section of ``docs/experiments.md``, a paper).
        cause: one line saying why the verdict is not *supported*, found before the verdict was accepted:
            parity with an independent implementation on the same instance and the reason the paper's
            number differs, or the metric/regime difference, or the scale (too few seeds). Written when the
            claim is built (it is read only when the verdict is contradicted or inconclusive);
            :func:`aggregate` refuses a contradicted claim at the quick or full scale without one.
    """

    name: str
    measured: float
    ci_low: float
    ci_high: float
    theory: Any
    kind: str
    verdict: str
    limit_low: float | None = None
    limit_high: float | None = None
    slack: float = 0.0
    level: float = 0.95
    theorem: bool = False
    description: str = ""
    reconstructed: bool = False
    reference: str = ""
    experiment: str = ""
    scale: str = ""
    cause: str = ""

    @property
    def passed(self) -> bool:
        """``verdict == "supported"``."""
        return self.verdict == "supported"

    @staticmethod
    def judge(interval, low: float | None, high: float | None) -> str:
        """The verdict of an interval against the region ``[low, high]`` (``None`` = open end)."""
        lo = -math.inf if low is None else float(low)
        hi = math.inf if high is None else float(high)
        a, b = float(interval.low), float(interval.high)
        if math.isnan(a) or math.isnan(b):
            return "inconclusive"
        if lo <= a and b <= hi:
            return "supported"
        if b < lo or a > hi:
            return "contradicted"
        return "inconclusive"

    @classmethod
    def _make(cls, name, interval, kind, theory, low, high, slack, **kw) -> "Claim":
        if not hasattr(interval, "low"):
            from theory.rates import Interval

            interval = Interval.point(interval)
        slack = float(slack)
        if not slack >= 0:
            raise ValueError(f"claim {name!r}: slack must be >= 0, got {slack}")
        lo = None if low is None else float(low) - slack
        hi = None if high is None else float(high) + slack
        return cls(name=name, measured=float(interval.estimate), ci_low=float(interval.low),
                   ci_high=float(interval.high), theory=theory, kind=kind,
                   verdict=cls.judge(interval, lo, hi), limit_low=lo, limit_high=hi, slack=slack,
                   level=float(getattr(interval, "level", 0.95)), **kw)

    @classmethod
    def at_least(cls, name: str, interval, bound: float, slack: float = 0.0, **kw) -> "Claim":
        """Claim ``quantity >= bound`` (supported when the whole interval is at or above ``bound - slack``)."""
        return cls._make(name, interval, "at_least", [float(bound), None], bound, None, slack, **kw)

    @classmethod
    def at_most(cls, name: str, interval, bound: float, slack: float = 0.0, **kw) -> "Claim":
        """Claim ``quantity <= bound`` (supported when the whole interval is at or below ``bound + slack``)."""
        return cls._make(name, interval, "at_most", [None, float(bound)], None, bound, slack, **kw)

    @classmethod
    def within(cls, name: str, interval, low: float, high: float, slack: float = 0.0, **kw) -> "Claim":
        """Claim ``low <= quantity <= high`` (a two-sided band, e.g. a rate's theory value +- a band)."""
        if low is None or high is None or not float(low) <= float(high):
            raise ValueError(f"claim {name!r}: within needs low <= high, got [{low}, {high}]")
        return cls._make(name, interval, "within", [float(low), float(high)], low, high, slack, **kw)

    @classmethod
    def equals(cls, name: str, value, reference: float, tol: float, **kw) -> "Claim":
        """A deterministic point claim: ``|value - reference| <= tol`` (``tol`` is the named slack)."""
        return cls._make(name, value, "equals", float(reference), reference, reference, tol, **kw)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("measured", "ci_low", "ci_high", "limit_low", "limit_high", "slack"):
            d[k] = _finite_or_none(d[k])
        d["passed"] = self.passed
        if self.verdict == "supported":  # a cause explains a verdict against the paper only
            d["cause"] = ""
        if isinstance(d["theory"], (list, tuple)):  # open ends as null: JSON (and Typst) has no Infinity
            d["theory"] = [None if x is None else (_finite_or_none(x) if isinstance(x, (int, float)) else x)
                           for x in d["theory"]]
        elif isinstance(d["theory"], float):
            d["theory"] = _finite_or_none(d["theory"])
        return d


@dataclass(frozen=True)
class Measurement:
    """A descriptive number that is not a claim (a fraction, a count, a time): reported, never judged."""

    name: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    description: str = ""
    experiment: str = ""
    scale: str = ""

    @classmethod
    def of(cls, name: str, interval, description: str = "") -> "Measurement":
        if not hasattr(interval, "low"):
            return cls(name, float(interval), None, None, description)
        return cls(name, float(interval.estimate), float(interval.low), float(interval.high), description)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("value", "ci_low", "ci_high"):
            d[k] = _finite_or_none(d[k]) if d[k] is not None else None
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


def games_override() -> tuple | None:
    """The game list of :data:`GAMES_ENV` (validated), or ``None`` when it is unset or empty."""
    raw = os.environ.get(GAMES_ENV, "").strip()
    if not raw:
        return None
    try:
        games = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{GAMES_ENV} must be a JSON list of game names, got {raw!r} ({e})") from None
    if not isinstance(games, list) or not games:
        raise ConfigError(f"{GAMES_ENV} must be a non-empty JSON list of game names, got {raw!r}")
    from games import GameSpecError, check_game_spec

    try:
        return tuple(check_game_spec(g) for g in games)
    except GameSpecError as e:
        raise ConfigError(f"{GAMES_ENV}: {e}") from None


def get_config(name: str, scale: str):
    """The experiment's config for ``scale`` (with the :data:`GAMES_ENV` game list where it opts in)."""
    mod = get_experiment(name)
    if scale not in mod.CONFIGS:
        raise ConfigError(f"scale {scale!r} is not defined for {name!r}; allowed: {', '.join(mod.CONFIGS)}")
    config = mod.CONFIGS[scale]
    games = games_override() if getattr(mod, "GAMES_FROM_CONFIG", False) else None
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
    from experiments.sources import code_hash

    frame["code_hash"] = code_hash(name)
    for k, v in versions().items():
        frame[f"version_{k}"] = v
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(out, index=False)
    return frame


def _read_input(path):
    """One per-seed table; a missing or unreadable file is a :class:`ConfigError` naming ``inputs`` and the path."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"inputs: {str(path)!r} does not exist (expected a per-seed .parquet written by "
                          "`python -m experiments run`)")
    try:
        return pd.read_parquet(p)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a file that is not a table
        raise ConfigError(f"inputs: {str(path)!r} is not a readable parquet table ({type(e).__name__})") from None


def aggregate(name: str, scale: str, inputs, out: str | Path | None = None,
              claims_out: str | Path | None = None):
    """Concatenate per-seed tables, evaluate the experiment's claims, write both."""
    import pandas as pd

    mod = get_experiment(name)
    config = get_config(name, scale)
    frames = [_read_input(p) for p in inputs]
    if not frames:
        raise ConfigError(f"no inputs to aggregate for {name}/{scale}")
    frame = pd.concat(frames, ignore_index=True)
    claims = [dataclasses.replace(c, experiment=name, scale=scale) for c in mod.claims(frame, config)]
    for c in claims:
        if not isinstance(c, Claim):
            raise TypeError(f"{name}.claims returned {type(c).__name__}; build claims with Claim.at_least/"
                            "at_most/within/equals and descriptive numbers with Measurement")
    meas = [dataclasses.replace(m, experiment=name, scale=scale)
            for m in (mod.measurements(frame, config) if hasattr(mod, "measurements") else [])]
    if scale == "smoke":
        claims = [dataclasses.replace(c, cause=SMOKE_CAUSE) if c.verdict != "supported" and not c.cause else c
                  for c in claims]
    unexplained = [c for c in claims if c.verdict == "contradicted" and not c.cause.strip()]
    if unexplained:
        raise UnexplainedVerdict(
            "; ".join(f"{name}:{c.name} is contradicted (measured {c.measured:.6g} against {c.theory}) and "
                      "has no cause" for c in unexplained)
            + ": find the cause (parity with an independent implementation, the metric or the regime) and "
            "pass it as Claim(..., cause=...) before accepting a verdict against the paper")
    for c in claims:
        if c.verdict != "supported":
            warnings.warn(f"claim {name}:{c.name} is {c.verdict}: measured {c.measured:.4g} "
                          f"[{c.ci_low:.4g}, {c.ci_high:.4g}] vs theory {c.theory} (slack {c.slack:g})",
                          stacklevel=2)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(out, index=False)
    if claims_out is not None:
        Path(claims_out).parent.mkdir(parents=True, exist_ok=True)
        payload = {"experiment": name, "scale": scale, "title": getattr(mod, "TITLE", name),
                   "claims": [c.to_dict() for c in claims], "measurements": [m.to_dict() for m in meas],
                   "counts": verdict_counts(claims)}
        Path(claims_out).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    broken = [c for c in claims if c.theorem and c.verdict == "contradicted"]
    if broken:
        raise TheoremViolation("; ".join(f"{name}:{c.name} measured {c.measured:.6g} [{c.ci_low:.6g}, "
                                         f"{c.ci_high:.6g}] against {c.theory}" for c in broken)
                               + " (theorem claims must hold at any scale)")
    return frame, claims


def sample_cause(interval, limit: float, n: int, what: str = "seeds") -> str:
    """The cause of an *inconclusive* verdict that is a sample too small to decide, or ``""``.

    Returns ``"sample: n <what>; the interval [a, b] contains the limit <limit>"`` when the interval straddles
    ``limit`` and ``""`` otherwise, so that a claim whose whole interval lies on the wrong side (contradicted)
    is not explained away as noise: :func:`aggregate` then asks for a cause of its own.
    """
    lo, hi = float(interval.low), float(interval.high)
    if not lo <= float(limit) <= hi:
        return ""
    return f"sample: {n} {what}; the interval [{lo:.3g}, {hi:.3g}] contains the limit {float(limit):g}"


def verdict_counts(claims) -> dict[str, int]:
    """``{"supported": k1, "contradicted": k2, "inconclusive": k3}`` over claim objects or dicts."""
    out = dict.fromkeys(VERDICTS, 0)
    for c in claims:
        out[c["verdict"] if isinstance(c, dict) else c.verdict] += 1
    return out


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
    """Name, title, caption and jobs per scale of an experiment, read without importing it."""
    from experiments.sources import experiment_files, static_attributes

    files = experiment_files()
    if name not in files:
        raise ConfigError(f"unknown experiment {name!r}; known experiments: {', '.join(sorted(files))}")
    attrs = static_attributes(files[name])
    return {"name": name, "title": attrs.get("TITLE", name), "caption": attrs.get("CAPTION", ""),
            "scales": list(SCALES), "seeds": {s: seeds_for(name, s) for s in SCALES}}


def job_timings(logs: str | Path, scale: str):
    """Per-experiment cost of the seed jobs of one scale, from Snakemake's ``benchmark:`` files.

    Every seed job writes ``logs/<exp>/<scale>/seed<k>.benchmark.tsv`` (columns ``s`` wall seconds,
    ``cpu_time``, ``max_rss`` MB). Returns one row per experiment, costliest first: ``experiment``,
    ``seeds``, ``wall_s`` (sum over seeds), ``max_job_s``, ``cpu_s``, ``max_rss_mb``.
    """
    import pandas as pd

    rows = []
    for f in sorted(Path(logs).glob(f"*/{scale}/seed*.benchmark.tsv")):
        t = pd.read_csv(f, sep="\t")
        if len(t):
            rows.append({"experiment": f.parent.parent.name, "wall_s": float(t["s"].iloc[-1]),
                         "cpu_s": float(pd.to_numeric(t["cpu_time"], errors="coerce").fillna(0).iloc[-1]),
                         "max_rss_mb": float(pd.to_numeric(t["max_rss"], errors="coerce").fillna(0).iloc[-1])})
    cols = ["experiment", "seeds", "wall_s", "max_job_s", "cpu_s", "max_rss_mb"]
    if not rows:
        return pd.DataFrame(columns=cols)
    g = pd.DataFrame(rows).groupby("experiment")
    out = pd.DataFrame({"seeds": g.size(), "wall_s": g["wall_s"].sum(), "max_job_s": g["wall_s"].max(),
                        "cpu_s": g["cpu_s"].sum(), "max_rss_mb": g["max_rss_mb"].max()}).reset_index()
    return out.sort_values("wall_s", ascending=False)[cols].reset_index(drop=True)


def summarize_claims(claims_files) -> str:
    """Verdict totals and every contradicted or inconclusive claim of the given ``claims.json`` files.

    Printed at the end of every ``snakemake`` run (the Snakefile's ``onsuccess``/``onerror``), so that
    contradicted claims are seen without opening the logs. Missing files (jobs not run) are skipped.
    """
    rows = []
    for f in claims_files:
        p = Path(f)
        if p.exists():
            payload = json.loads(p.read_text())
            rows += [dict(c, experiment=payload["experiment"]) for c in payload["claims"]]
    counts = verdict_counts(rows)
    lines = [f"claims: {len(rows)} checked — {counts['supported']} supported, {counts['contradicted']} "
             f"contradicted, {counts['inconclusive']} inconclusive"]
    for verdict in ("contradicted", "inconclusive"):
        for c in rows:
            if c["verdict"] == verdict:
                lo, hi = c.get("ci_low"), c.get("ci_high")
                ci = f"[{_g(lo)}, {_g(hi)}]"
                lines.append(f"  {verdict.upper():12s} {c['experiment']}:{c['name']} = {_g(c['measured'])} {ci} "
                             f"vs theory {c['theory']}{' (theorem)' if c.get('theorem') else ''}")
                lines.append(f"      cause: {c.get('cause') or 'NOT GIVEN'}")
    return "\n".join(lines)


def _g(x) -> str:
    return "unbounded" if x is None else f"{x:.4g}"
