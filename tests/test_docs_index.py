"""Every registered experiment is listed in the README's table and has its own section in docs/experiments.md."""
import re
from pathlib import Path

from experiments.registry import experiment_names

ROOT = Path(__file__).resolve().parents[1]


def test_every_experiment_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    missing = [n for n in experiment_names() if f"`{n}`" not in readme]
    assert not missing, f"README's experiment table lacks {missing}"


def test_every_experiment_has_a_docs_section():
    headings = set(re.findall(r"^#{2,3} (\S+)\s*$", (ROOT / "docs" / "experiments.md").read_text(), flags=re.M))
    missing = [n for n in experiment_names() if n not in headings]
    assert not missing, f"docs/experiments.md has no '## <name>' section for {missing}"
