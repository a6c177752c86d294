"""theory.lazy: a package __init__ that imports nothing until a name is read (PEP 562); every lazy package of the
library names modules and objects that exist, and no exported object shares its name with a module of its package."""
import ast
import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from theory.lazy import lazy_exports


@pytest.fixture
def pkg(tmp_path, monkeypatch):
    root = tmp_path / "lazypkg"
    root.mkdir()
    (root / "__init__.py").write_text(textwrap.dedent("""
        from theory.lazy import lazy_exports
        _EXPORTS = {"answer": "lazypkg.impl"}
        _SUBMODULES = {"tools": "lazypkg.impl"}
        __all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
    """))
    (root / "impl.py").write_text("answer = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "lazypkg"
    for m in [m for m in sys.modules if m == "lazypkg" or m.startswith("lazypkg.")]:
        del sys.modules[m]


def test_nothing_imported_until_read(pkg):
    p = importlib.import_module(pkg)
    assert "lazypkg.impl" not in sys.modules
    assert p.__all__ == ["answer", "tools"]
    assert p.answer == 42
    assert "lazypkg.impl" in sys.modules
    assert p.tools is sys.modules["lazypkg.impl"]
    assert {"answer", "tools"} <= set(dir(p))


def test_unknown_name_raises_attribute_error(pkg):
    p = importlib.import_module(pkg)
    with pytest.raises(AttributeError, match="lazypkg.*nonexistent"):
        p.nonexistent


def test_clash_between_tables_is_refused():
    with pytest.raises(ValueError, match="both"):
        lazy_exports("x", {"a": "m"}, {"a": "m"})


def _lazy_packages():
    """Every package of theory, mdp and games whose __init__ uses theory.lazy (found by walking the tree)."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent
    out = []
    for top in ("theory", "mdp", "games", "experiments"):
        for init in sorted((root / top).rglob("__init__.py")):
            if "lazy_exports(" in init.read_text():
                out.append(".".join(init.parent.relative_to(root).parts))
    return out


def test_the_package_tree_has_lazy_inits():
    pkgs = _lazy_packages()
    assert {"theory", "mdp", "games", "games.efg", "games.markov", "games.population", "games.envs"} <= set(pkgs)


@pytest.mark.parametrize("package", _lazy_packages())
def test_every_export_resolves_and_no_export_is_shadowed_by_a_module(package):
    """Each name in _EXPORTS is defined by the module it names; no export shares a module file's name (importing
    that module would bind it over the export); each _SUBMODULES entry is a module."""
    import pathlib
    import types

    pkg = importlib.import_module(package)
    here = pathlib.Path(pkg.__file__).parent
    modules = {p.stem for p in here.glob("*.py")} | {p.name for p in here.iterdir() if (p / "__init__.py").exists()}
    exports, submodules = _tables(pkg)
    assert not set(exports) & modules, f"{package}: exports named like its modules: {set(exports) & modules}"
    for name, module in exports.items():
        defining = importlib.import_module(module)
        assert name in vars(defining), f"{package}.{name}: not defined in {module}"
        assert getattr(pkg, name) is vars(defining)[name]
    for name, module in submodules.items():
        assert isinstance(getattr(pkg, name), types.ModuleType) and getattr(pkg, name).__name__ == module


def _tables(pkg):
    import ast
    import pathlib

    tree = ast.parse(pathlib.Path(pkg.__file__).read_text())
    tables = {"_EXPORTS": {}, "_SUBMODULES": {}}
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) in tables:
            tables[node.targets[0].id] = ast.literal_eval(node.value)
    return tables["_EXPORTS"], tables["_SUBMODULES"]


def test_design_api_names_resolve():
    """The public API names of the architecture document, through the lazy packages."""
    import games
    import mdp
    import theory
    import theory.operators

    assert callable(games.kuhn_poker) and callable(games.leduc_poker) and callable(games.tiny_hanabi)
    for name in ("uniform_policy", "expected_return", "exploitability", "solve_zero_sum", "mmd", "md_search",
                 "mmd_search", "MarkovGame", "soft_nash", "sample_demonstrations", "mamql", "from_openspiel", "cfr"):
        assert callable(getattr(games, name)), name
    assert games.mra.train is games.population.train
    import games.envs
    assert callable(games.envs.kuhn_poker_env) and callable(games.envs.markov_game_env)
    import mdp.actor_critic
    import mdp.batched
    import mdp.constrained
    import mdp.envs
    import mdp.multiobjective
    import mdp.robust
    assert callable(mdp.batched.BatchedTabularMDP) and callable(mdp.envs.TabularEnv)
    assert callable(mdp.actor_critic.optimistic_actor_critic)
    for name in ("L1Ball", "KLBall", "LinfBall", "WassersteinBall", "FiniteModelSet", "ParametricSet",
                 "robust_value_iteration", "iwocs"):
        assert callable(getattr(mdp.robust, name)), name
    assert callable(mdp.constrained.lagrangian) and callable(mdp.constrained.two_stage_actor_critic)
    for name in ("hypervolume", "sparsity", "expected_utility", "cmorl"):
        assert callable(getattr(mdp.multiobjective, name)), name
    for name in ("TabularMDP", "FiniteHorizonMDP", "LinearMDP", "value_iteration", "policy_iteration",
                 "policy_evaluation", "backward_induction", "solve_occupancy_lp"):
        assert callable(getattr(mdp, name)), name
    for name in ("halpern", "vr_halpern", "vr_halpern_inexact", "eag", "extragradient", "vr_extragradient"):
        assert callable(getattr(theory, name)), name
    assert callable(theory.operators.least_squares) and callable(theory.operators.matrix_game)


# ---- every lazy package __init__ of the library ----------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ("theory", "mdp", "games", "experiments")


def _lazy_inits(root=ROOT, packages=LIBRARY):
    """``{package __init__ path: (_EXPORTS, _SUBMODULES)}`` of every lazily exporting package (read statically)."""
    from experiments.sources import lazy_tables

    out = {}
    for pkg in packages:
        for init in sorted((root / pkg).rglob("__init__.py")):
            exports, submodules = lazy_tables(init)
            if exports or submodules:
                out[init] = (exports, submodules)
    return out


def _module_file(root, module):
    base = root.joinpath(*module.split("."))
    for p in (base / "__init__.py", base.with_suffix(".py")):
        if p.exists():
            return p
    return None


def _top_level_names(path):
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
    return names


def _export_problems(root=ROOT, packages=LIBRARY):
    """Names that shadow a module of their package, and table entries that point nowhere."""
    bad = []
    for init, (exports, submodules) in _lazy_inits(root, packages).items():
        pkg = ".".join(init.parent.relative_to(root).parts)
        children = {p.stem for p in init.parent.glob("*.py") if p.stem != "__init__"}
        children |= {p.name for p in init.parent.iterdir() if (p / "__init__.py").exists()}
        for name, module in exports.items():
            path = _module_file(root, module)
            if name in children:
                bad.append(f"{pkg}.{name}: exported object shadowed by the module {pkg}.{name}")
            elif path is None:
                bad.append(f"{pkg}.{name}: no module {module}")
            elif name not in _top_level_names(path):
                bad.append(f"{pkg}.{name}: not a top-level name of {module}")
        for name, module in submodules.items():
            if _module_file(root, module) is None:
                bad.append(f"{pkg}.{name}: no module {module}")
            elif name in children and module != f"{pkg}.{name}":
                bad.append(f"{pkg}.{name}: submodule entry shadowed by the module {pkg}.{name}")
    return bad


def test_every_lazy_export_resolves_and_no_export_shares_a_module_name():
    inits = _lazy_inits()
    assert {ROOT / "mdp" / p / "__init__.py" for p in ("multiobjective", "robust", "constrained")} <= set(inits)
    assert _export_problems() == []


def test_the_export_check_sees_a_shadowed_export_and_a_dangling_entry(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "__init__.py").write_text(textwrap.dedent("""
        from theory.lazy import lazy_exports
        _EXPORTS = {"solve": "lib.solve", "fit": "lib.fitting", "gone": "lib.missing", "typo": "lib.fitting"}
        _SUBMODULES = {"fitting": "lib.fitting", "tools": "lib.tools"}
        __all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
    """))
    (lib / "solve.py").write_text("def solve():\n    pass\n")
    (lib / "fitting.py").write_text("from math import sqrt\n\n\ndef fit():\n    return sqrt\n")
    assert _export_problems(tmp_path, ("lib",)) == [
        "lib.solve: exported object shadowed by the module lib.solve", "lib.gone: no module lib.missing",
        "lib.typo: not a top-level name of lib.fitting", "lib.tools: no module lib.tools"]


@pytest.mark.parametrize("package, name, module", [
    ("mdp.multiobjective", "cmorl", "mdp.multiobjective.cmorl_solver"),
    ("mdp.robust", "iwocs", "mdp.robust.iwocs_solver"),
    ("mdp.constrained", "lagrangian", "mdp.constrained.primal_dual"),
])
def test_the_solver_functions_survive_an_import_of_their_module(package, name, module):
    """A fresh interpreter imports the defining module first (binding it to the package), then reads the export."""
    code = (f"import inspect, {module}, {package} as p\n"
            f"f = p.{name}\n"
            f"assert inspect.isfunction(f) and f.__module__ == {module!r}, f\n"
            f"assert f is {module}.{name}\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_a_model_module_loads_no_solver():
    """Importing mdp.multiobjective.models runs the package __init__, which must not load the solvers."""
    code = ("import sys, mdp.multiobjective.models\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mdp', 'theory')))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    loaded = set(ast.literal_eval(r.stdout.strip()))
    # the package chain, the model module and what it imports (mdp.generators, mdp.model, theory.validation)
    assert {"mdp.multiobjective", "mdp.multiobjective.models", "mdp.generators", "mdp.model"} <= loaded
    assert not loaded & {"mdp.multiobjective.cmorl_solver", "mdp.multiobjective.fronts", "mdp.planning",
                         "mdp.occupancy", "mdp.batched_planning"}
