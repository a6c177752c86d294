"""Assemble and compile ``paper/paper.typ``: generated claims table, figure index, section list.

Everything under ``paper/generated/`` is written here from pipeline outputs; ``paper/sections/*.typ``
are hand-written prose (one file per system) that refer to figures and claims by experiment name
through the helpers in ``paper/lib.typ``. Typst is deterministic given ``#set document(date: none)``,
so the PDF is byte-stable.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from experiments import devices, registry

PAPER = Path("paper")


def build(scale: str, claims_files, figure_files, out: str | Path = "paper/paper.pdf",
          paper_dir: str | Path = PAPER) -> Path:
    import typst

    paper_dir = Path(paper_dir)
    gen = paper_dir / "generated"
    (gen / "figures").mkdir(parents=True, exist_ok=True)
    claims, measurements = [], []
    for f in sorted(map(str, claims_files)):
        payload = json.loads(Path(f).read_text())
        for c in payload["claims"]:
            c.setdefault("experiment", payload["experiment"])
            c["title"] = payload.get("title", payload["experiment"])
            claims.append(display_claim(c))
        for m in payload.get("measurements", []):
            m.setdefault("experiment", payload["experiment"])
            has_ci = m.get("ci_low") is not None or m.get("ci_high") is not None
            measurements.append(dict(m, value_s=num(m["value"]),
                                     ci_s=interval_text(m.get("ci_low"), m.get("ci_high")) if has_ci else "–"))
    figures = {}
    for f in sorted(map(str, figure_files)):
        f = Path(f)
        # pipeline figures are results/<experiment>/<scale>.<ext>; others are named <experiment>.<ext>
        name = f.parent.name if f.stem in registry.SCALES else f.stem
        target = gen / "figures" / f"{name}{f.suffix}"
        if f.resolve() != target.resolve():
            shutil.copyfile(f, target)
        figures[name] = f"generated/figures/{target.name}"
    meta = {}
    for name in registry.experiment_names():  # read statically: no experiment module is imported
        d = registry.describe(name)
        meta[name] = {"title": d["title"], "caption": d["caption"]}
    sections = sorted(p.name for p in (paper_dir / "sections").glob("*.typ"))
    _write(gen / "claims.json", claims)
    _write(gen / "measurements.json", measurements)
    _write(gen / "figures.json", figures)
    _write(gen / "experiments.json", meta)
    _write(gen / "sections.json", sections)
    _write(gen / "build.json", {"scale": scale, "versions": devices.versions()})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    typst.compile(str(paper_dir / "paper.typ"), output=str(out), root=str(paper_dir.resolve()))
    return out


def _write(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def num(x) -> str:
    """Four significant digits; never rounds a small number to 0 (3e-9 prints as 3e-09)."""
    if x is None:
        return "–"
    x = float(x)
    if x == 0:
        return "0"
    return f"{x:.4g}"


def interval_text(lo, hi) -> str:
    """``[lo, hi]``; an unbounded interval (one observation of a random quantity) prints as such."""
    if lo is None and hi is None:
        return "unbounded (1 obs.)"
    if lo is not None and hi is not None and lo == hi:
        return "exact"
    return f"[{'−∞' if lo is None else num(lo)}, {'∞' if hi is None else num(hi)}]"


def limit_text(c: dict) -> str:
    """The limit actually applied, as the claims table prints it (theory value; slack in its own column)."""
    kind, th = c["kind"], c["theory"]
    if kind == "at_least":
        return f"≥ {num(th[0])}"
    if kind == "at_most":
        return f"≤ {num(th[1])}"
    if kind == "within":
        return f"in [{num(th[0])}, {num(th[1])}]"
    return f"= {num(th)}"


def display_claim(c: dict) -> dict:
    """A claim with the strings the paper shows (the paper never formats numbers itself)."""
    return dict(c, measured_s=num(c["measured"]), ci_s=interval_text(c["ci_low"], c["ci_high"]),
                limit_s=limit_text(c), slack_s="–" if not c.get("slack") else num(c["slack"]))
