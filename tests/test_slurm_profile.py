"""profiles/slurm end to end: the smoke pipeline of two experiments through the Snakemake Slurm executor
plugin, against a simulated Slurm (tests/fake_slurm.py) whose sbatch runs each job locally and whose
sacct/squeue report its state in Slurm's formats.

The profile is used as a cluster user would: a copy of the repository, the account and partition lines of
profiles/slurm/config.yaml filled in as the README says, and `snakemake --profile profiles/slurm` with the
two experiments' claims files as targets. The test then reads the sbatch command lines the stand-in logged
and checks the resources every job asked for against the values the profile sets (written out here), and
that a job killed for memory on its first submission is submitted again with twice the memory and time
(`retries: 1`, `mem_mb: 8000 * attempt`) and the run still succeeds.

Only the plugin's polling cadence is changed (its back-off of +10 s per status check with no finished job
is capped at 2 s, see LAUNCH), so that the test stays within CI's time; every command it runs and every
output it parses is the plugin's own.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from reference_libs import require

ROOT = Path(__file__).resolve().parents[1]
FAKE = Path(__file__).with_name("fake_slurm.py")
COMMANDS = ("sbatch", "sacct", "squeue", "scancel", "sinfo", "scontrol", "srun", "sacctmgr", "sshare")
EXPERIMENTS = ("planning", "robust_iwocs")  # one seed each at smoke scale, a few seconds of CPU each
ACCOUNT, PARTITION = "theory_lab", "long"  # what the test's "user" writes into the profile (not the default)
OOM_JOB = "rule_planning_wildcards_smoke_0"  # the sbatch --comment of planning's seed-0 job

require("snakemake_executor_plugin_slurm")  # in the test extra: a failure in CI, a skip elsewhere

# `snakemake` with the plugin's status-check back-off capped at 2 s (see the module docstring).
LAUNCH = """
import sys
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor as R
p = R.next_seconds_between_status_checks
R.next_seconds_between_status_checks = p.setter(lambda self, v: p.fset(self, None if v is None else min(v, 2)))
from snakemake.cli import main
sys.argv[0] = "snakemake"
main()
"""


def _configure_profile(work):
    """Fill in account and partition in the copy's profile, exactly the two lines the README names."""
    path = work / "profiles" / "slurm" / "config.yaml"
    text = path.read_text()
    for old, new in (("# slurm_account: my_account", f"slurm_account: {ACCOUNT}"),
                     ("# slurm_partition: my_partition", f"slurm_partition: {PARTITION}")):
        assert text.count(old) == 1, f"profiles/slurm/config.yaml no longer has the line {old!r}"
        text = text.replace(old, new)
    path.write_text(text)


def _records(path):
    return [json.loads(ln) for ln in path.read_text().splitlines()] if path.exists() else []


def _stop_leftover_jobs(state):
    for f in (state / "jobs").glob("*.json"):
        job = json.loads(f.read_text())
        if job["state"] in ("PENDING", "RUNNING") and job.get("pid"):
            try:
                os.killpg(job["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slurm")
    work, state, bin_dir = tmp / "repo", tmp / "state", tmp / "bin"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(
        ".git", "results", "logs", ".snakemake", "__pycache__", "paper.pdf", "paper-*.pdf", "generated",
        "*.egg-info", ".hypothesis"))
    _configure_profile(work)
    (state / "jobs").mkdir(parents=True)
    (state / "faults.json").write_text(json.dumps({OOM_JOB: ["OUT_OF_MEMORY"]}))
    bin_dir.mkdir()
    for cmd in COMMANDS:
        p = bin_dir / cmd
        p.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" {cmd} "$@"\n')
        p.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLURM_", "SBATCH_", "SRUN_")) and k != "SNAKEMAKE_PROFILE"}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", FAKE_SLURM_DIR=str(state),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    args = ["--profile", "profiles/slurm", "--config", "scale=smoke", "device=cpu",
            f"experiments=[{','.join(EXPERIMENTS)}]", "--slurm-init-seconds-before-status-checks", "1",
            *[f"results/{e}/smoke.claims.json" for e in EXPERIMENTS]]

    def snakemake():
        return subprocess.run([sys.executable, "-c", LAUNCH, *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=540)

    try:
        first = snakemake()
        calls_before_second = len(_records(state / "sbatch.jsonl"))
        second = snakemake()
    finally:
        _stop_leftover_jobs(state)
    return dict(work=work, state=state, first=first, second=second, calls_before_second=calls_before_second,
                submissions=_records(state / "sbatch.jsonl"), calls=_records(state / "calls.jsonl"),
                jobs={j["id"]: j for j in map(json.loads, map(Path.read_text, (state / "jobs").glob("*.json")))})


def test_the_profile_runs_two_experiments_to_their_claims(cluster_run):
    r = cluster_run["first"]
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert not _records(cluster_run["state"] / "unknown.jsonl"), "the plugin made a Slurm call the stand-in lacks"
    for e in EXPERIMENTS:
        claims = json.loads((cluster_run["work"] / "results" / e / "smoke.claims.json").read_text())
        assert claims["experiment"] == e and claims["claims"]
    # Every job ran through sbatch and, inside it, srun (the jobstep executor): 2 seeds + 2 aggregates.
    assert sum(c["cmd"] == "srun" for c in cluster_run["calls"]) == 4
    # The plugin followed its jobs with sacct, by the run's job name, and every job ended as Slurm reports.
    names = {s["options"]["--job-name"] for s in cluster_run["submissions"]}
    assert len(names) == 1
    status = [c["args"] for c in cluster_run["calls"] if c["cmd"] == "sacct" and "--parsable2" in c["args"]]
    assert status and all(a[a.index("--name") + 1] in names for a in status)
    states = sorted(j["state"] for j in cluster_run["jobs"].values())
    assert states == ["COMPLETED"] * 4 + ["OUT_OF_MEMORY"]


def test_each_job_requests_the_profiles_resources(cluster_run):
    work = str(cluster_run["work"])
    by_comment = {}
    for s in cluster_run["submissions"]:
        by_comment.setdefault(s["options"]["--comment"], []).append(s)
    seed = {"--time": "120", "--mem": "8000"}  # default-resources: runtime 120 * attempt, mem_mb 8000 * attempt
    light = {"--time": "30", "--mem": "4000"}  # set-resources: aggregate_experiment
    expected = {
        OOM_JOB: [seed, {"--time": "240", "--mem": "16000"}],  # the retry (attempt 2) asks for twice as much
        "rule_robust_iwocs_wildcards_smoke_0": [seed],
        "rule_aggregate_experiment_wildcards_planning_smoke": [light],
        "rule_aggregate_experiment_wildcards_robust_iwocs_smoke": [light],
    }
    assert sorted(by_comment) == sorted(expected)
    for comment, wanted in expected.items():
        got = by_comment[comment]
        assert len(got) == len(wanted), comment
        for submission, res in zip(got, wanted):
            o = submission["options"]
            assert {k: o.get(k) for k in res} == res, comment
            # threads: 1 in every rule -> one CPU; account and partition as written into the profile.
            assert (o["--cpus-per-task"], o["--ntasks"], o["--account"], o["--partition"]) == \
                ("1", "1", ACCOUNT, PARTITION), comment
            assert o["--chdir"] == work and o["--parsable"] is True and o["--export"] == "ALL"
            rule = comment.split("_wildcards_")[0]
            assert o["--output"].startswith(f"{work}/.snakemake/slurm_logs/{rule}/"), o["--output"]


def test_a_job_killed_for_memory_is_resubmitted_and_succeeds(cluster_run):
    tries = [s for s in cluster_run["submissions"] if s["options"]["--comment"] == OOM_JOB]
    assert [s["fault"] for s in tries] == ["OUT_OF_MEMORY", None]
    first, second = (cluster_run["jobs"][s["id"]] for s in tries)
    assert (first["state"], second["state"]) == ("OUT_OF_MEMORY", "COMPLETED")
    assert int(second["id"]) > int(first["id"])
    out = cluster_run["first"].stdout + cluster_run["first"].stderr
    assert f"SLURM-job '{first['id']}' failed, SLURM status is: 'OUT_OF_MEMORY'" in out
    # The failed job's Slurm log is kept (successful ones are removed) and shown (show-failed-logs).
    logs = list((cluster_run["work"] / ".snakemake" / "slurm_logs").rglob(f"{first['id']}.log"))
    assert len(logs) == 1 and "OUT_OF_MEMORY" in logs[0].read_text()
    assert (cluster_run["work"] / "results" / "planning" / "smoke" / "seed0.parquet").exists()


def test_config_on_the_command_line_keeps_the_profiles_full_scale():
    # The profile's pipeline keys come from a configfile, so --config changes only the keys it names (a
    # profile `config:` list is replaced as a whole by any --config: this run was planned at quick scale).
    r = subprocess.run(["snakemake", "-n", "-p", "--profile", "profiles/slurm", "--config", "experiments=planning",
                        "device=cpu"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = [ln for ln in r.stdout.splitlines() if "python -m experiments run planning" in ln]
    assert runs and all(" --scale full " in ln and " --device cpu " in ln for ln in runs), runs[:2]


def test_a_second_invocation_submits_nothing(cluster_run):
    r = cluster_run["second"]
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Nothing to be done" in r.stdout + r.stderr
    assert len(cluster_run["submissions"]) == cluster_run["calls_before_second"] == 5
