"""Generated files are not tracked: running the pipeline (what CI runs) leaves a clean checkout.

The pipeline's outputs are read from the workflow itself (``snakemake --summary`` lists every output file of
the DAG, at each scale), not from a list kept in this test. Besides its declared outputs the pipeline writes
rule logs and benchmarks under ``logs/`` (the ``log:``/``benchmark:`` directives of workflow/rules/*.smk),
Snakemake's own state under ``.snakemake/``, and the generated paper inputs under ``paper/generated/``
(experiments/paper.py). None of them may be tracked, and git must ignore all of them.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCALES = ("smoke", "quick", "full")
# Written by the pipeline besides the DAG's outputs (see the module docstring).
WRITTEN_FOLDERS = ("logs", ".snakemake", "paper/generated")

pytestmark = pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                                reason="needs a git checkout")


def _git(*args):
    r = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode in (0, 1), r.stderr
    return r


def _pipeline_outputs(scale):
    r = subprocess.run(["snakemake", "--summary", "--config", f"scale={scale}"], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rows = [ln.split("\t") for ln in r.stdout.splitlines()]
    assert rows and rows[0][:3] == ["output_file", "date", "rule"], r.stdout[:500]
    return {row[0] for row in rows[1:] if row and row[0]}


@pytest.fixture(scope="module")
def outputs():
    found = {scale: _pipeline_outputs(scale) for scale in SCALES}
    for scale, files in found.items():  # the summary really covers the DAG: the paper and every figure
        paper = "paper/paper.pdf" if scale == "quick" else f"paper/paper-{scale}.pdf"
        assert paper in files and f"results/planning/{scale}.claims.json" in files, (scale, sorted(files)[:5])
    return set().union(*found.values())


def test_no_tracked_file_is_a_pipeline_output(outputs):
    tracked = set(_git("ls-files").stdout.splitlines())
    assert not sorted(tracked & outputs), "pipeline outputs tracked in git (git rm --cached them)"
    under = sorted(f for f in tracked if any(f.startswith(d + "/") for d in WRITTEN_FOLDERS))
    assert not under, f"tracked files in folders the pipeline writes: {under}"


def test_git_ignores_every_pipeline_output(outputs):
    probes = sorted(outputs) + [f"{d}/planning/smoke/seed0.log" for d in WRITTEN_FOLDERS]
    r = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], input="\n".join(probes), text=True,
                       capture_output=True, cwd=ROOT)
    ignored = set(r.stdout.splitlines())
    missing = [p for p in probes if p not in ignored]
    assert not missing, f"pipeline outputs that git does not ignore (add them to .gitignore): {missing[:10]}"
