"""Compare two pipeline results trees exactly: did a change leave every experiment's numbers as they were?

Usage::

    python -m experiments.compare_results BASE NEW --scale quick [--experiments a b ...] [--added COLUMN ...]

``BASE`` and ``NEW`` are repository roots (or any folders) holding ``results/<exp>/<scale>/seed*.parquet``,
``results/<exp>/<scale>.parquet`` and ``results/<exp>/<scale>.claims.json``. Every seed table and aggregated
table must have the same columns in the same order, the same dtypes and the same values row by row (NaN equal
to NaN), and every claims file the same content. Three kinds of column are left out because they are not
results: the wall-clock columns (``wall_s`` and any ``*_seconds``) and ``code_hash`` (a hash of the sources,
which any edit changes). A column named with ``--added`` may be present in ``NEW`` only (a column a change adds
on purpose); it is reported. The exit status is 0 when every experiment is identical, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

__all__ = ["is_provenance_column", "compare_experiment", "main"]


def is_provenance_column(column: str) -> bool:
    """Whether ``column`` is a provenance column, not a result: wall-clock times and the source hash."""
    return column in ("wall_s", "code_hash") or column.endswith("_seconds")


def _table(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    return frame[[c for c in frame.columns if not is_provenance_column(c)]].reset_index(drop=True)


def _difference(a: pd.DataFrame, b: pd.DataFrame) -> str | None:
    if list(a.columns) != list(b.columns):
        return f"columns differ: {sorted(set(a.columns) ^ set(b.columns))}"
    if list(a.dtypes) != list(b.dtypes):
        return "dtypes differ"
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    if not a.equals(b):
        return f"values differ in columns {[c for c in a.columns if not a[c].equals(b[c])]}"
    return None


def compare_experiment(base: Path, new: Path, exp: str, scale: str, added=()) -> tuple[list[str], set[str]]:
    """``(differences, added columns seen)`` between the two trees for one experiment at one scale."""
    folder = base / "results" / exp
    files = sorted((folder / scale).glob("seed*.parquet")) + [folder / f"{scale}.parquet"]
    problems, seen = [], set()
    for f in files:
        g = new / f.relative_to(base)
        if not f.exists():
            problems.append(f"missing {f}")
            continue
        if not g.exists():
            problems.append(f"missing {g}")
            continue
        a, b = _table(f), _table(g)
        extra = [c for c in b.columns if c in added and c not in a.columns]
        seen.update(extra)
        msg = _difference(a, b.drop(columns=extra))
        if msg:
            problems.append(f"{f.relative_to(base)}: {msg}")
    claims = Path("results") / exp / f"{scale}.claims.json"
    if not (base / claims).exists() or not (new / claims).exists():
        problems.append(f"missing {claims}")
    elif json.loads((base / claims).read_text()) != json.loads((new / claims).read_text()):
        problems.append(f"{claims} differs")
    return problems, seen


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.compare_results", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("base", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--scale", default="quick")
    p.add_argument("--experiments", nargs="*", default=None, help="default: every experiment with claims in BASE")
    p.add_argument("--added", nargs="*", default=[], help="columns NEW may add on purpose")
    args = p.parse_args(argv)
    found = (args.base / "results").glob(f"*/{args.scale}.claims.json")
    exps = args.experiments or sorted(c.parent.name for c in found)
    if not exps:
        p.error(f"no results/<exp>/{args.scale}.claims.json under {args.base}")
    bad = 0
    for exp in exps:
        problems, seen = compare_experiment(args.base, args.new, exp, args.scale, set(args.added))
        note = f" (apart from the added column {', '.join(sorted(seen))})" if seen else ""
        print(f"{'DIFFERENT' if problems else 'IDENTICAL'} {exp}{note}" + "".join(f"\n    {m}" for m in problems))
        bad += bool(problems)
    print(f"{len(exps) - bad}/{len(exps)} identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
