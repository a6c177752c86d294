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

__all__ = ["ROOT", "FIRST_PARTY", "RUNNER_FILES", "experiment_files", "static_attributes", "source_files", "code_hash",
           "library_files", "dependents", "lazy_tables", "module_sources"]

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("theory", "mdp", "games", "experiments")
INFRA = {"claims", "registry", "devices", "runner", "timings", "fits", "plotting", "paper", "sources", "frames",
         "references", "__main__", "__init__"}


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


def _module_path(module: str, root: Path = ROOT, first_party=FIRST_PARTY) -> Path | None:
    """The file of first-party ``module`` (``pkg/__init__.py`` for a package) under ``root``, or ``None``."""
    parts = module.split(".")
    if parts[0] not in first_party or not all(parts):
        return None
    base = root.joinpath(*parts)
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    return None


@functools.lru_cache(maxsize=None)
def lazy_tables(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The ``_EXPORTS`` and ``_SUBMODULES`` dict literals of a package ``__init__`` (:mod:`theory.lazy`), or empty.

    ``_EXPORTS[name]`` is the module defining ``name``; ``_SUBMODULES[name]`` the module bound to ``name``.
    Read statically: a table that is not a literal of strings is an error, since the pipeline could not
    see what the package exports.
    """
    out: dict[str, dict[str, str]] = {"_EXPORTS": {}, "_SUBMODULES": {}}
    for node in _tree(path).body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        for t in targets:
            if isinstance(t, ast.Name) and t.id in out:
                try:
                    table = ast.literal_eval(node.value)
                except ValueError:
                    table = None
                if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                          for k, v in table.items()):
                    raise ValueError(f"{path}: {t.id} must be a dict literal of strings (read by "
                                     "experiments.sources without importing the package)")
                out[t.id] = table
    return out["_EXPORTS"], out["_SUBMODULES"]


def _attribute(module: str, name: str, root: Path, first_party, depth: int = 0) -> tuple[str | None, bool]:
    """What ``module.name`` loads: ``(defining module or None, whether the value is itself a module)``.

    For a package: its ``_EXPORTS`` entry (followed through a lazy package that re-exports the name), its
    ``_SUBMODULES`` entry, or a submodule file of that name; ``(None, False)`` when ``name`` is defined in the
    ``__init__`` itself (already a dependency) or ``module`` is not a first-party package.
    """
    path = _module_path(module, root, first_party)
    if path is None or path.name != "__init__.py" or depth > 20:
        return None, False
    exports, submodules = lazy_tables(path)
    if name in exports:
        target = exports[name]
        inner, is_module = _attribute(target, name, root, first_party, depth + 1)
        return (inner, is_module) if inner is not None else (target, False)
    if name in submodules:
        return submodules[name], True
    sub = f"{module}.{name}"
    if _module_path(sub, root, first_party) is not None:
        return sub, True
    return None, False


def _with_parents(module: str) -> set[str]:
    parts = module.strip(".").split(".")
    return {".".join(parts[:k]) for k in range(1, len(parts) + 1)}  # importing a.b.c runs a/__init__, a/b/__init__


def _imports(path: Path, root: Path = ROOT, first_party=FIRST_PARTY) -> set[str]:
    """First-party modules that ``path`` imports, anywhere in the file (module level or inside functions).

    ``import a.b.c`` imports ``a``, ``a.b`` and ``a.b.c``; ``from pkg import name`` imports ``pkg`` and what
    ``name`` is: a submodule, or through a lazy ``__init__`` (:func:`lazy_tables`) the module defining it;
    ``pkg.name`` read on a name bound to a first-party package (``import games`` then ``games.kuhn_poker``)
    loads what :func:`_attribute` says, along attribute chains (``games.mra.train``).
    """
    pkg = ".".join(path.relative_to(root).with_suffix("").parts)
    if path.name == "__init__.py":
        pkg = pkg.rsplit(".", 1)[0] + "." if "." in pkg else pkg + "."
    out: set[str] = set()
    bound: dict[str, str] = {}  # local name -> first-party module it is bound to

    def add(module: str) -> None:
        out.update(_with_parents(module))

    tree = _tree(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                add(a.name)
                if a.asname:
                    bound[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    bound[top] = top
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.rsplit(".", node.level)[0] if "." in pkg else pkg
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            mod = mod.strip(".")
            add(mod)
            for a in node.names:
                target, is_module = _attribute(mod, a.name, root, first_party)
                if target is not None:
                    add(target)
                    if is_module:
                        bound[a.asname or a.name] = target
    for node in ast.walk(tree):  # attribute chains on names bound to first-party modules
        if isinstance(node, ast.Attribute) and not isinstance(node.value, ast.Attribute):
            chain, cur = [], node
            while True:
                chain.append(cur.attr)
                parent = _parent_attribute(tree, cur)
                if parent is None:
                    break
                cur = parent
            if isinstance(node.value, ast.Name) and node.value.id in bound:
                module = bound[node.value.id]
                for name in chain:
                    target, is_module = _attribute(module, name, root, first_party)
                    if target is None:
                        break
                    add(target)
                    if not is_module:
                        break
                    module = target
    return {m for m in out if m.split(".")[0] in first_party}


def _parent_attribute(tree: ast.Module, node: ast.Attribute) -> ast.Attribute | None:
    """The ``Attribute`` node whose value is ``node`` (``a.b`` in ``a.b.c``), or ``None``."""
    return _attribute_parents(tree).get(id(node))


@functools.lru_cache(maxsize=None)
def _attribute_parents(tree: ast.Module) -> dict[int, ast.Attribute]:
    return {id(n.value): n for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Attribute)}


def module_sources(path: Path, root: Path = ROOT, first_party=FIRST_PARTY) -> set[Path]:
    """``path`` and every first-party file it imports, transitively (:func:`_imports`), under ``root``."""
    seen: set[Path] = set()
    todo = [Path(path)]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        for mod in _imports(p, root, first_party):
            q = _module_path(mod, root, first_party)
            if q is not None and q not in seen:
                todo.append(q)
    return seen


# The modules that run a seed job and write its table (the CLI, the runner, seeding and devices, the registry of
# configs, and the code hash it records): a seed job depends on them whatever its experiment imports.
RUNNER_FILES = ("experiments/__main__.py", "experiments/runner.py", "experiments/devices.py",
                "experiments/registry.py", "experiments/sources.py")


@functools.lru_cache(maxsize=None)
def source_files(name: str) -> tuple[str, ...]:
    """Repository-relative paths of every first-party source that experiment ``name`` imports, plus
    :data:`RUNNER_FILES` (the seed job's own code)."""
    files = experiment_files()
    if name not in files:
        raise KeyError(name)
    return tuple(sorted({str(p.relative_to(ROOT)) for p in module_sources(files[name])} | set(RUNNER_FILES)))


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
