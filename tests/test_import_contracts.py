"""The import-linter contracts (pyproject.toml, run by `lint-imports` in CI) see every import the library makes.

A layers contract says nothing about a module it does not name: a new solver left out of the "models below
solvers" contract could be imported by a model unnoticed. So every module of theory, mdp and games must be
named by exactly one layer of that contract (a package named in a layer covers its submodules). The only
modules in no layer are package ``__init__``s that re-export lazily and import nothing themselves.

import-linter reads the import statements; it does not see that importing ``pkg.sub.mod`` first runs
``pkg/__init__.py`` and ``pkg/sub/__init__.py``. An eager package ``__init__`` hands every importer of one
submodule what the ``__init__`` imports, unseen by the contracts. That is harmless for the layers when the
whole package lies in one layer (the ``__init__`` is then checked as a module of that layer, and whoever may
import a submodule may import the layer), but not for the game families: an eager ``games/envs/__init__.py``
would load the extensive-form and Markov families into every importer of ``games.envs.resource_grid``
(the population family). So a package ``__init__`` either re-exports lazily (``theory.lazy``, issue 24 item 7)
and imports nothing else, or lies whole in one layer outside ``games``.
"""
import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ("theory", "mdp", "games")


def _contract(cid):
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c.get("id") == cid]
    return contract


def _layer_entries(contract):
    return [[name.strip() for name in layer.split(":")] for layer in contract["layers"]]


def _modules(root=ROOT, packages=LIBRARY):
    """Every module of the packages as ``(dotted name, path)``, read from the file tree (nothing is imported)."""
    out = []
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if not all((root / Path(*parts[:i]) / "__init__.py").exists() for i in range(1, len(parts))):
                continue  # not inside a package (a stray script or data folder)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out.append((".".join(parts), path))
    return out


def _imports_only_lazy(path):
    """Whether a module's only imports are ``theory.lazy`` (a lazily re-exporting package ``__init__``)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import) and any(a.name != "theory.lazy" for a in node.names):
            return False
        if isinstance(node, ast.ImportFrom) and (node.level or node.module not in ("theory.lazy", "__future__")):
            return False
    return True


def _unplaced(modules, layers):
    """Modules named by no layer, or by more than one, of a layers contract: ``{module: [layer indices]}``."""
    bad = {}
    for name, path in modules:
        hits = [i for i, layer in enumerate(layers) for entry in layer
                if name == entry or name.startswith(entry + ".")]
        if len(hits) == 1 or (not hits and path.name == "__init__.py"):  # package __init__s: the next test
            continue
        bad[name] = hits
    return bad


def test_every_library_module_is_in_exactly_one_layer_of_the_models_below_solvers_contract():
    bad = _unplaced(_modules(), _layer_entries(_contract("models-below-solvers")))
    assert not bad, ("modules in no layer ([]) or in several layers of the 'models-below-solvers' import-linter "
                     f"contract in pyproject.toml (add each to the layer it belongs to): {bad}")


def _misplaced_eager_inits(modules, layers):
    """Eager package ``__init__``s (importing more than theory.lazy) that are in games or not whole in one layer."""
    bad = []
    for name, path in modules:
        if path.name != "__init__.py" or _imports_only_lazy(path):
            continue
        whole = [entry for layer in layers for entry in layer if name == entry or name.startswith(entry + ".")]
        if len(whole) != 1 or name.split(".")[0] == "games":
            bad.append(name)
    return bad


def test_eager_package_inits_lie_whole_in_one_layer_outside_games():
    bad = _misplaced_eager_inits(_modules(), _layer_entries(_contract("models-below-solvers")))
    assert not bad, f"package __init__s that must re-export lazily (theory.lazy; see this module's docstring): {bad}"


def test_the_check_sees_an_unplaced_module_and_a_doubly_placed_one(tmp_path):
    pkg = tmp_path / "lib"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from theory.lazy import lazy_exports\n_EXPORTS = {}\n")
    (pkg / "sub" / "__init__.py").write_text("from lib.sub.a import f\n")  # an eager __init__ must be placed
    for name in ("model.py", "solver.py", "new.py"):
        (pkg / name).write_text("")
    (pkg / "sub" / "a.py").write_text("")
    modules = _modules(tmp_path, ("lib",))
    assert {m for m, _ in modules} == {"lib", "lib.sub", "lib.sub.a", "lib.model", "lib.solver", "lib.new"}
    layers = [["lib.solver", "lib.sub"], ["lib.model", "lib.sub.a"]]
    assert _unplaced(modules, layers) == {"lib.new": [], "lib.sub.a": [0, 1]}  # "lib" (an __init__): next test
    assert [_imports_only_lazy(path) for _, path in modules if path.name == "__init__.py"] == [True, False]
    assert _misplaced_eager_inits(modules, layers) == []  # lib.sub is eager but whole in layer 0
    assert _misplaced_eager_inits(modules, [["lib.solver"], ["lib.sub.a"]]) == ["lib.sub"]  # not whole in a layer
    games = tmp_path / "games"
    (games / "envs").mkdir(parents=True)
    (games / "__init__.py").write_text("")
    (games / "envs" / "__init__.py").write_text("from games.envs.aec import env\n")
    assert _misplaced_eager_inits(_modules(tmp_path, ("games",)), [["games.envs"]]) == ["games.envs"]
