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
