"""Sphinx configuration of the theorysim API reference and guides.

Build (what CI runs, warnings are errors)::

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

The API pages are generated at build time by ``autosummary`` walking the four import packages recursively
(``docs/api.rst``), one page per public module, so a module added, moved or removed needs no edit here.
The generated stubs go to ``docs/api/`` (ignored by git) and are rebuilt from scratch on every build, so a
stub of a module that no longer exists cannot linger.
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout, not an installed copy

project = "theorysim"
author = "theorysim developers"
copyright = "theorysim developers, MIT licence"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# autodoc / autosummary: one page per public module (private `_name` modules and `__main__` are skipped);
# a module page documents what the module defines, not the names it imports or re-exports (re-exports are
# documented once, at their defining module), so no object is described twice.
autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = True
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"  # no bare type lists for undocumented dataclass fields
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = False
add_module_names = False

# napoleon: the package's docstrings are Google style. `Attributes:` of (frozen) dataclasses become
# `:ivar:` fields, so a field is not described a second time next to the dataclass's own attribute entry.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True
napoleon_use_rtype = False

# myst-parser for the Markdown guides in docs/.
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

html_theme = "furo"
html_title = "theorysim"


# ---------------------------------------------------------------------------------------------------------
# Two conventions of this package's docstrings that napoleon would misread, handled here once rather than
# by rewriting hundreds of docstrings:
#
# 1. An attribute's or property's docstring is prose ("An exact (deterministic) value: ``low == high``").
#    Napoleon reads the text before the first colon of such a docstring as the attribute's *type* and
#    cross-references it, so it is not run on attributes, data and properties.
# 2. An ``Args:`` or ``Attributes:`` entry may document several names at once (``Z, F, K: interests,
#    fatigue levels, categories``). Napoleon passes ``Z, F, K`` on as one field name, which Sphinx then
#    splits at the last space into a type ``Z, F,`` and a name ``K``. The names are joined without spaces
#    (``Z,F,K``) so the entry stays one field naming all of them.
_FIELD_SECTIONS = re.compile(r"^(\s*)(Args|Arguments|Parameters|Attributes|Keyword Args|Keyword Arguments|"
                             r"Other Parameters):\s*$")
_GROUPED_NAMES = re.compile(r"^(\s+)(\w+(?:\s*,\s*\w+)+)(\s*(?:\([^)]*\))?\s*:(?!:))")


def _join_grouped_names(lines: list[str]) -> None:
    """Join the names of grouped entries of Args/Attributes sections in place: ``a, b: text`` -> ``a,b: text``."""
    in_fields, section_indent, entry_indent = False, 0, None
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if _FIELD_SECTIONS.match(line):
            in_fields, section_indent, entry_indent = True, indent, None
            continue
        if indent <= section_indent:
            in_fields = False  # another section, or the text after this one
        if not in_fields:
            continue
        if entry_indent is None:
            entry_indent = indent
        if indent == entry_indent:
            m = _GROUPED_NAMES.match(line)
            if m:
                names = ",".join(n.strip() for n in m.group(2).split(","))
                lines[i] = m.group(1) + names + line[m.end(2):]


def setup(app):
    from sphinx.ext.napoleon import _process_docstring

    shutil.rmtree(DOCS / "api", ignore_errors=True)  # stubs of moved or removed modules would linger and warn

    ours = [lst for lst in app.events.listeners.get("autodoc-process-docstring", [])
            if lst.handler is _process_docstring]
    if len(ours) != 1:  # a napoleon that registers differently: fail loudly rather than process twice
        raise RuntimeError(f"expected napoleon's one autodoc-process-docstring listener, found {len(ours)}")
    app.disconnect(ours[0].id)

    def process_docstring(app, what, name, obj, options, lines):
        if what in ("attribute", "data", "property"):
            return
        _join_grouped_names(lines)
        _process_docstring(app, what, name, obj, options, lines)

    app.connect("autodoc-process-docstring", process_docstring)
