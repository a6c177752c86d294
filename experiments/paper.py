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

from experiments import core

PAPER = Path("paper")


def build(scale: str, claims_files, figure_files, out: str | Path = "paper/paper.pdf",
          paper_dir: str | Path = PAPER) -> Path:
    import typst

    paper_dir = Path(paper_dir)
    gen = paper_dir / "generated"
    (gen / "figures").mkdir(parents=True, exist_ok=True)
    claims = []
    for f in sorted(map(str, claims_files)):
        payload = json.loads(Path(f).read_text())
        for c in payload["claims"]:
            c.setdefault("experiment", payload["experiment"])
            c["title"] = payload.get("title", payload["experiment"])
            claims.append(c)
    figures = {}
    for f in sorted(map(str, figure_files)):
        f = Path(f)
        # pipeline figures are results/<experiment>/<scale>.<ext>; others are named <experiment>.<ext>
        name = f.parent.name if f.stem in core.SCALES else f.stem
        target = gen / "figures" / f"{name}{f.suffix}"
        if f.resolve() != target.resolve():
            shutil.copyfile(f, target)
        figures[name] = f"generated/figures/{target.name}"
    meta = {}
    for name in core.experiment_names():
        d = core.describe(name)
        meta[name] = {"title": d["title"], "caption": d["caption"]}
    sections = sorted(p.name for p in (paper_dir / "sections").glob("*.typ"))
    _write(gen / "claims.json", claims)
    _write(gen / "figures.json", figures)
    _write(gen / "experiments.json", meta)
    _write(gen / "sections.json", sections)
    _write(gen / "build.json", {"scale": scale, "versions": core.versions()})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    typst.compile(str(paper_dir / "paper.typ"), output=str(out), root=str(paper_dir.resolve()))
    return out


def _write(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
