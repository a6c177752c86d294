"""Running one job, aggregating seeds into claims, and drawing a figure: what the CLI and the Snakefile call."""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

from experiments.claims import SMOKE_CAUSE, Claim, TheoremViolation, UnexplainedVerdict, verdict_counts
from experiments.devices import resolve_device, seed_everything, versions
from experiments.registry import ConfigError, config_hash, get_config, get_experiment

__all__ = ["run_one", "aggregate", "make_figure"]

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
