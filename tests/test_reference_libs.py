"""The parity tests' reference libraries are installed by the test extra and never skip in CI."""
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# import name -> distribution name on PyPI
DIST = {"pyspiel": "open_spiel", "mo_gymnasium": "mo-gymnasium",
        "snakemake_executor_plugin_slurm": "snakemake-executor-plugin-slurm"}
MISSING = "no_such_reference_library_xyz"


def test_every_required_reference_library_is_in_the_test_extra():
    used = set()
    for f in (ROOT / "tests").glob("test_*.py"):
        if f.name == Path(__file__).name:  # this file probes require() itself
            continue
        used |= set(re.findall(r"""require\(["']([\w.]+)["']\)""", f.read_text()))
    assert {"pyspiel", "mo_gymnasium"} <= used
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    names = {re.split(r"[<>=!~ \[]", r, maxsplit=1)[0].lower().replace("_", "-") for r in extra}
    for mod in used:
        assert DIST.get(mod, mod).lower().replace("_", "-") in names, f"{mod} is required by a test but not in [test]"


def test_a_missing_reference_library_fails_in_ci_and_skips_elsewhere(monkeypatch):
    from reference_libs import require

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="missing in CI"):
        require(MISSING)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require(MISSING)
    monkeypatch.setenv("CI", "true")
    assert require("json").dumps([1]) == "[1]"
