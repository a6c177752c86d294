"""Per-experiment cost of a pipeline run, from Snakemake's ``benchmark:`` files."""
from __future__ import annotations

from pathlib import Path

__all__ = ["job_timings"]

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
