"""The Snakemake pipeline: config validation, lint, and a real smoke-scale run in a scratch copy."""
import shutil
import subprocess
from pathlib import Path

import pytest
from reference_libs import require

ROOT = Path(__file__).resolve().parents[1]


def _snake(*args, cwd=ROOT):
    return subprocess.run(["snakemake", *args], capture_output=True, text=True, cwd=cwd)


def test_dry_run_plans_one_job_per_experiment_and_seed():
    from experiments.registry import experiment_names, seeds_for

    r = _snake("-n", "--config", "scale=smoke", "--forceall")
    assert r.returncode == 0, r.stdout + r.stderr
    counts = {ln.split()[0]: int(ln.split()[-1]) for ln in r.stdout.splitlines()
              if len(ln.split()) == 2 and ln.split()[-1].isdigit()}
    for n in experiment_names():  # one rule per experiment, named after it (snakemake --forcerun NAME)
        assert counts.get(n) == seeds_for(n, "smoke"), n


def test_one_experiment_name_without_brackets_is_accepted():
    r = _snake("-n", "--config", "scale=smoke", "experiments=planning", "--forceall")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "planning" in r.stdout and "robust_iwocs" not in r.stdout


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


@pytest.mark.parametrize("games, needle", [
    ('["kuhn_poker","chess"]', "chess"),                        # not an allowed form: the schema stops it
    ('["kuhn_poker","tiny_hanabi_A"]', "zero-sum"),             # the common.smk check, naming the allowed forms
])
def test_bad_games_stop_before_any_job(games, needle):
    r = _snake("-n", "--config", f"games={games}")
    out = r.stdout + r.stderr
    assert r.returncode != 0 and needle in out and "run_experiment" not in out


def test_games_key_reaches_only_the_game_list_experiments():
    require("pyspiel")
    r = _snake("-n", "-p", "--forceall", "--config", "scale=smoke",
               'games=["kuhn_poker","leduc_poker","openspiel:liars_dice"]')
    assert r.returncode == 0, r.stdout + r.stderr
    env = """THEORYSIM_GAMES='["kuhn_poker", "leduc_poker", "openspiel:liars_dice"]' python -m experiments"""
    cmds = [ln for ln in r.stdout.splitlines() if "python -m experiments run" in ln]
    with_env = {ln.split(" run ")[1].split()[0] for ln in cmds if env in ln}
    assert with_env == {"update_equivalence_nash", "update_equivalence_mmds"}
    bad = _snake("-n", "--config", 'games=["openspiel:goofspiel(num_cards=3)"]')
    assert bad.returncode != 0 and "simultaneous moves" in bad.stdout + bad.stderr


def test_lint():
    r = _snake("--lint")
    assert r.returncode == 0, r.stdout + r.stderr


def test_smoke_pipeline_builds_paper(tmp_path):
    work = tmp_path / "repo"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(
        ".git", "results", "logs", ".snakemake", "__pycache__", "paper.pdf", "paper-*.pdf", "generated", "*.egg-info"))
    r = _snake("--config", "scale=smoke", "experiments=[planning]", "--cores", "2", cwd=work)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "claims:" in r.stdout + r.stderr, "verdict totals are printed at the end of every run"
    assert not (work / "paper" / "paper.pdf").exists(), "the smoke scale must not replace the quick paper"
    pdf = work / "paper" / "paper-smoke.pdf"
    assert pdf.exists() and pdf.read_bytes()[:4] == b"%PDF"
    assert (work / "results" / "planning" / "smoke.claims.json").exists()
    first = pdf.read_bytes()
    r = _snake("--config", "scale=smoke", "experiments=[planning]", "--cores", "2", "--forcerun", "paper",
               cwd=work)
    assert r.returncode == 0 and pdf.read_bytes() == first, "paper.pdf must be byte-stable"
    # Freshness: editing a library source that planning does not import changes nothing; editing one
    # it imports re-runs its jobs (the experiment's imported sources are the jobs' inputs; Snakemake
    # compares checksums, so a bare `touch` without an edit does not count as a change).
    for rel in ("theory/bounds.py", "mdp/planning.py"):
        with open(work / rel, "a") as fh:
            fh.write("# edited\n")
        r = _snake("-n", "--config", "scale=smoke", "experiments=[planning]", cwd=work)
        if rel == "theory/bounds.py":
            assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr, r.stdout[-2000:]
    assert r.returncode == 0 and "Updated input files: mdp/planning.py" in r.stdout, r.stdout[-2000:]
