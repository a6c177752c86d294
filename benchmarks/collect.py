"""Concatenate benchmarks/results/*.md into benchmarks/RESULTS.md (run after the bench_*.py scripts)."""
from pathlib import Path

HERE = Path(__file__).resolve().parent

parts = ["# Benchmark results", "",
         "Each section is written by one `benchmarks/bench_*.py` script; every ratio is against a baseline "
         "measured in the same run on the machine named in the section. Regenerate with "
         "`python benchmarks/bench_<area>.py && python benchmarks/collect.py`.", ""]
for f in sorted((HERE / "results").glob("*.md")):
    text = f.read_text().strip().splitlines()
    parts += ["#" + line if line.startswith("#") else line for line in text] + [""]
(HERE / "RESULTS.md").write_text("\n".join(parts) + "\n")
print(f"wrote {HERE / 'RESULTS.md'}")
