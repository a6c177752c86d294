"""docs/conf.py's reading of grouped Args/Attributes entries (``a, b: text``) before napoleon sees them."""
import importlib.util
from pathlib import Path

CONF = Path(__file__).resolve().parents[1] / "docs" / "conf.py"


def _conf():
    spec = importlib.util.spec_from_file_location("docs_conf", CONF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines settings and helpers; the build's side effects are in setup()
    return module


def test_grouped_names_are_joined_in_field_sections_only():
    lines = [
        "Solve it.",
        "",
        "Attributes:",
        "    V, Q: values ``[S]`` and ``[S, A]``; see: below.",
        "    a, b (int): two counts",
        "      continued, still: prose",
        "    policy: greedy, one-hot.",
        "",
        "Returns:",
        "    value, gap: untouched (napoleon reads a type here)",
        "",
        "Args:",
        "    x, y, z: coordinates",
        "",
        "Notes, remarks: a sentence, not a field.",
    ]
    expected = list(lines)
    expected[3] = "    V,Q: values ``[S]`` and ``[S, A]``; see: below."
    expected[4] = "    a,b (int): two counts"
    expected[12] = "    x,y,z: coordinates"
    _conf()._join_grouped_names(lines)
    assert lines == expected
