"""Reference libraries the tests compare against (OpenSpiel, MO-Gymnasium): a skip on a developer's
machine without them, a failure in CI.

They are in the ``test`` extra, so ``pip install -e ".[test]"`` (what ``.ci/run`` runs) installs them;
a parity test that silently skips where it counts hides exactly the defects it exists to find. When the
environment variable ``CI`` is set (CI sets ``CI=true``), a missing reference library is an error.
"""
import importlib
import os

import pytest


def require(module: str):
    """Import ``module``; in CI a missing module fails the test, elsewhere it skips with the install hint."""
    if os.environ.get("CI"):
        try:
            return importlib.import_module(module)
        except ImportError as e:
            pytest.fail(f"reference library {module!r} is missing in CI ({e}); it is in the 'test' extra: "
                        "pip install -e '.[test]'", pytrace=False)
    return pytest.importorskip(module, reason=f"reference library {module!r} not installed: "
                               "pip install -e '.[test]'")
