"""theory.lazy: a package __init__ that imports nothing until a name is read (PEP 562)."""
import importlib
import sys
import textwrap

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
