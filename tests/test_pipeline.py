"""The Snakemake pipeline: config validation, lint, and a real smoke-scale run in a scratch copy."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _snake(*args, cwd=ROOT):
    return subprocess.run(["snakemake", *args], capture_output=True, text=True, cwd=cwd)


def test_dry_run_plans_one_job_per_experiment_and_seed():
    from experiments.core import experiment_names, seeds_for

    r = _snake("-n", "--config", "scale=smoke", "--forceall")
    assert r.returncode == 0, r.stdout + r.stderr
    expected = sum(seeds_for(n, "smoke") for n in experiment_names())
    line = [ln for ln in r.stdout.splitlines() if ln.strip().startswith("run_experiment")]
    assert line and int(line[0].split()[-1]) == expected


@pytest.mark.parametrize("override, needle", [
    ("scale=huge", "huge"),
    ("device=tpu", "tpu"),
    ("colour=red", "colour"),
])
def test_bad_config_stops_before_any_job(override, needle):
    r = _snake("-n", "--config", override)
    assert r.returncode != 0
    assert needle in (r.stdout + r.stderr)


def test_unknown_experiment_in_config_is_named():
    r = _snake("-n", "--config", "experiments=[nope]")
    assert r.returncode != 0 and "nope" in (r.stdout + r.stderr)


def test_lint():
    r = _snake("--lint")
    assert r.returncode == 0, r.stdout + r.stderr


def test_smoke_pipeline_builds_paper(tmp_path):
    work = tmp_path / "repo"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(
        ".git", "results", "logs", ".snakemake", "__pycache__", "paper.pdf", "generated", "*.egg-info"))
    r = _snake("--config", "scale=smoke", "experiments=[planning]", "--cores", "2", cwd=work)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    pdf = work / "paper" / "paper.pdf"
    assert pdf.exists() and pdf.read_bytes()[:4] == b"%PDF"
    assert (work / "results" / "planning" / "smoke.claims.json").exists()
    first = pdf.read_bytes()
    r = _snake("--config", "scale=smoke", "experiments=[planning]", "--cores", "2", "--forcerun", "paper",
               cwd=work)
    assert r.returncode == 0 and pdf.read_bytes() == first, "paper.pdf must be byte-stable"
