"""Lazy package exports (PEP 562): a package ``__init__`` names its public objects without importing them.

A package ``__init__`` written as ::

    from theory.lazy import lazy_exports

    _EXPORTS = {"kuhn_poker": "games.efg.poker", "cfr": "games.efg.cfr"}   # name -> module defining it
    _SUBMODULES = {"mra": "games.population.mra"}                           # name -> module itself
    __all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)

imports ``games.efg.poker`` only when ``games.kuhn_poker`` is first read. Two things follow:

- ``import games`` costs nothing beyond the ``__init__`` itself, so a script pays only for what it uses;
- the pipeline's record of an experiment's sources (``experiments.sources``, which reads the two dict
  literals statically) contains only the modules the experiment uses, so editing one solver re-runs only
  the experiments that import it.

Both dicts must be literals of string constants: ``experiments.sources`` reads them without importing.
No exported name may equal the name of a module in the same package: importing ``pkg.name`` binds the
module to the attribute ``pkg.name`` and would shadow the export (``tests/test_lazy_exports.py`` checks
every package).
"""
from __future__ import annotations

import importlib

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str], submodules: dict[str, str] | None = None):
    """Return ``(__all__, __getattr__, __dir__)`` for ``package`` from its export tables.

    ``exports[name]`` is the absolute name of the module that defines ``name``; ``submodules[name]`` is
    the absolute name of a module exposed as the attribute ``name``. Reading an attribute in neither
    table raises ``AttributeError`` naming the package, as a plain module would.
    """
    submodules = dict(submodules or {})
    clash = sorted(set(exports) & set(submodules))
    if clash:
        raise ValueError(f"{package}: names {clash} are both exported objects and submodules")
    names = sorted(set(exports) | set(submodules))

    def __getattr__(name: str):
        import sys

        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
        elif name in submodules:
            value = importlib.import_module(submodules[name])
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)  # later reads skip __getattr__
        return value

    def __dir__():
        import sys

        return sorted(set(names) | set(vars(sys.modules[package])))

    return list(names), __getattr__, __dir__
