"""Every usage example in the package's docstrings runs and prints what it says.

The modules are discovered (every module of ``theory``, ``mdp``, ``games`` and ``experiments`` whose source
holds a ``>>>`` example), so a new example cannot be left out of the run. ``# doctest: +SKIP`` is refused
unless the example is listed in ``SKIPPED`` with the reason it cannot run here.
"""
import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["theory", "mdp", "games", "experiments"]
SKIPPED: dict[str, str] = {}      # "module: example source" -> the reason it is not run


def _modules():
    out = []
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        names = [pkg] + [m.name for m in pkgutil.walk_packages(mod.__path__, pkg + ".")]
        for name in names:
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.origin and spec.origin.endswith(".py") and \
                    ">>>" in Path(spec.origin).read_text():
                out.append(name)
    return sorted(out)


MODULES = _modules()


def test_the_discovery_finds_the_known_examples():
    assert {"mdp.multiobjective.cmorl_solver", "mdp.multiobjective.fronts", "mdp.planning", "games.efg.openspiel",
            "mdp.constrained.primal_dual", "theory.variance_reduced"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    mod = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    tests = [t for t in finder.find(mod, name, module=mod) if t.examples]
    assert tests, f"{name} has '>>>' in its source but doctest finds no example"
    for t in tests:
        for ex in t.examples:
            if doctest.OPTIONFLAGS_BY_NAME["SKIP"] in ex.options and ex.options[doctest.OPTIONFLAGS_BY_NAME["SKIP"]]:
                key = f"{name}: {ex.source.strip()}"
                assert key in SKIPPED, f"skipped example without a stated reason in {t.name}: {ex.source!r}"
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0, result
