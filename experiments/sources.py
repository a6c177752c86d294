"""Static facts about experiment modules, read from their source without importing them.

Importing an experiment pulls in torch, cvxpy and the solvers (seconds per job); the registry, the
Snakefile and the report need only names, seeds, titles and captions, so they read them here with
:mod:`ast`. :func:`source_files` follows first-party imports (``theory``, ``mdp``, ``games``,
``experiments``) transitively, so that each pipeline job depends on exactly the library sources its
experiment imports: editing ``mdp/robust/...`` re-runs the robust experiments and nothing else.
:func:`code_hash` hashes those files' contents; every result row records it.
"""
from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

__all__ = ["ROOT", "FIRST_PARTY", "experiment_files", "static_attributes", "source_files", "code_hash",
           "library_files", "dependents"]

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("theory", "mdp", "games", "experiments")
INFRA = {"claims", "registry", "devices", "runner", "timings", "plotting", "paper", "sources", "frames", "references",
         "__main__", "__init__"}


def experiment_files() -> dict[str, Path]:
    """``{name: path}`` of modules in ``experiments/`` that define ``CONFIGS`` at top level."""
    out = {}
    for path in sorted((ROOT / "experiments").glob("*.py")):
        if path.stem.startswith("_") or path.stem in INFRA:
            continue
        if "CONFIGS" in _top_level_names(path):
            out[path.stem] = path
    return out


@functools.lru_cache(maxsize=None)
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _top_level_names(path: Path) -> set[str]:
    names = set()
    for node in _tree(path).body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def static_attributes(path: Path, names=("TITLE", "CAPTION", "SEEDS")) -> dict:
    """Top-level literal assignments (strings, numbers, dicts of them) of ``path``."""
    out = {}
    for node in _tree(Path(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            key = node.targets[0].id
            if key in names:
                try:
                    out[key] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return out


def _module_path(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] not in FIRST_PARTY:
        return None
    base = ROOT.joinpath(*parts)
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    return None


def _imports(path: Path) -> set[str]:
    """First-party modules imported anywhere in ``path`` (module level or inside functions)."""
    pkg = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name == "__init__.py":
        pkg = pkg.rsplit(".", 1)[0] + "." if "." in pkg else pkg + "."
    out = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.rsplit(".", node.level)[0] if "." in pkg else pkg
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # `from pkg import submodule`
    mods = set()
    for m in out:
        parts = m.strip(".").split(".")
        for k in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__ too
            mods.add(".".join(parts[:k]))
    return {m for m in mods if m.split(".")[0] in FIRST_PARTY}


@functools.lru_cache(maxsize=None)
def source_files(name: str) -> tuple[str, ...]:
    """Repository-relative paths of every first-party source that experiment ``name`` imports."""
    files = experiment_files()
    if name not in files:
        raise KeyError(name)
    seen: set[Path] = set()
    todo = [files[name]]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for mod in _imports(path):
            p = _module_path(mod)
            if p is not None and p not in seen:
                todo.append(p)
    return tuple(sorted(str(p.relative_to(ROOT)) for p in seen))


def code_hash(name: str) -> str:
    """SHA-256 (12 hex digits) of the contents of :func:`source_files` ``(name)``."""
    h = hashlib.sha256()
    for rel in source_files(name):
        h.update(rel.encode() + b"\0" + (ROOT / rel).read_bytes() + b"\0")
    return h.hexdigest()[:12]


def library_files() -> list[str]:
    """Repository-relative paths of every first-party source outside the experiment modules themselves."""
    exps = {str(p.relative_to(ROOT)) for p in experiment_files().values()}
    out = []
    for pkg in FIRST_PARTY:
        out += [str(p.relative_to(ROOT)) for p in sorted((ROOT / pkg).rglob("*.py"))]
    return sorted(f for f in out if f not in exps)


def dependents() -> dict[str, list[str]]:
    """``{library file: [experiments whose sources include it]}`` for every :func:`library_files` entry."""
    out: dict[str, list[str]] = {f: [] for f in library_files()}
    for name in experiment_files():
        for f in source_files(name):
            if f in out:
                out[f].append(name)
    return out
