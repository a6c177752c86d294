"""A simulated Slurm for tests/test_slurm_profile.py: the commands the Snakemake Slurm executor plugin calls.

``python tests/fake_slurm.py COMMAND ARGS...`` behaves like the Slurm command COMMAND for the calls that
``snakemake-executor-plugin-slurm`` (2.x) and ``snakemake-executor-plugin-slurm-jobstep`` make, with the
output formats they parse:

- ``sbatch --parsable --job-name RUN --output LOG --export=ALL --comment C [-A acct] [-p part] -t MIN
  --mem MB --ntasks=1 --cpus-per-task=N -D WORKDIR --wrap="CMD"`` prints the new job id (``--parsable``)
  and runs CMD in the background, in WORKDIR, with stdout and stderr to LOG (``%j`` replaced by the id)
  and ``SLURM_JOB_ID`` and friends in its environment. The job is PENDING, then RUNNING, then COMPLETED
  (exit status 0) or FAILED (any other exit status).
- ``sacct -X --parsable2 --noheader --format=JobIdRaw,State ... --name RUN`` prints ``ID|STATE`` for every
  job named RUN; ``sacct -j ID.STEP --format=Reason --noheader`` (asked for failed jobs) prints nothing;
  ``sacct -nu USER -o Account%256`` (the plugin's account guess) prints the first account of the
  simulated cluster.
- ``squeue --format=%i|%T --states=all --noheader --name RUN`` prints the same lines as sacct.
- ``scancel ID...`` stops those jobs (CANCELLED).
- ``sinfo -o %P`` lists the partitions, the default one marked with ``*``.
- ``scontrol show config`` prints MinJobAge and MaxArraySize.
- ``sacctmgr -n -s list user USER format=account%256`` and ``sshare -U --format Account%256 --noheader``
  list the accounts of the user.
- ``srun [OPTIONS] CMD...`` (inside a job) runs CMD.

State lives in the folder ``$FAKE_SLURM_DIR``: ``jobs/ID.json`` per job, ``sbatch.jsonl`` (one line per
submission: the argv and the parsed options, which the test reads to check the resources each job asked
for), ``calls.jsonl`` (every command called) and ``unknown.jsonl`` (calls this stand-in does not model:
it exits 2 on them, and the test asserts that there are none). ``$FAKE_SLURM_DIR/faults.json`` maps a job
comment (``rule_NAME_wildcards_W1_W2``) to a list of terminal states that its successive submissions get
instead of running, e.g. ``{"rule_planning_wildcards_smoke_0": ["OUT_OF_MEMORY"]}``: the first
submission is killed for memory, as Slurm's cgroup OOM killer would do, and later ones run normally.
"""
from __future__ import annotations

import fcntl
import json
import os
import resource
import shlex
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

PARTITIONS = ("compute*", "long", "gpu")
ACCOUNTS = ("theory_lab",)
ACTIVE = ("PENDING", "RUNNING")


def state_dir() -> Path:
    d = os.environ.get("FAKE_SLURM_DIR")
    if not d:
        sys.exit("fake_slurm: FAKE_SLURM_DIR is not set")
    (Path(d) / "jobs").mkdir(parents=True, exist_ok=True)
    return Path(d)


@contextmanager
def locked():
    with open(state_dir() / "lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def append(name: str, record: dict) -> None:
    with locked(), open(state_dir() / name, "a") as fh:
        fh.write(json.dumps(record) + "\n")


def read_job(jobid: str) -> dict | None:
    p = state_dir() / "jobs" / f"{jobid}.json"
    return json.loads(p.read_text()) if p.exists() else None


def write_job(job: dict) -> None:
    p = state_dir() / "jobs" / f"{job['id']}.json"
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(job))
    tmp.replace(p)


def update_job(jobid: str, **changes) -> dict:
    with locked():
        job = read_job(jobid)
        if job["state"] not in ACTIVE and changes.get("state") in ACTIVE:
            return job  # cancelled meanwhile: never back to running
        job.update(changes)
        write_job(job)
        return job


def unknown(cmd: str, args: list[str]) -> int:
    append("unknown.jsonl", {"cmd": cmd, "args": args})
    print(f"fake_slurm: {cmd} {shlex.join(args)} is not modelled by tests/fake_slurm.py", file=sys.stderr)
    return 2


def parse_options(args: list[str]) -> tuple[dict, list[str]]:
    """sbatch-style options -> ({name: value}, rest). Handles --opt=value, --opt value, -X value, -Xvalue."""
    flags = {"--parsable", "--requeue", "--no-requeue"}
    short = {"-A": "--account", "-p": "--partition", "-t": "--time", "-D": "--chdir", "-C": "--constraint",
             "-J": "--job-name", "-o": "--output", "-n": "--ntasks", "-c": "--cpus-per-task", "-N": "--nodes"}
    opts, i = {}, 0
    while i < len(args):
        a = args[i]
        if not a.startswith("-"):
            break
        if a in flags:
            opts[a] = True
        elif a.startswith("--") and "=" in a:
            k, v = a.split("=", 1)
            opts[k] = v
        elif a in short or a.startswith("--"):
            opts[short.get(a, a)] = args[i + 1]
            i += 1
        elif a[:2] in short:
            opts[short[a[:2]]] = a[2:]
        else:
            opts[a] = True
        i += 1
    return opts, args[i:]


def sbatch(args: list[str]) -> int:
    opts, rest = parse_options(args)
    needed = ("--parsable", "--job-name", "--output", "--wrap", "--chdir")
    if rest or any(k not in opts for k in needed) or "--array" in opts:
        return unknown("sbatch", args)
    with locked():
        counter = state_dir() / "next_id"
        jobid = str(int(counter.read_text()) if counter.exists() else 1001)
        counter.write_text(str(int(jobid) + 1))
        faults_file = state_dir() / "faults.json"
        faults = json.loads(faults_file.read_text()) if faults_file.exists() else {}
        planned = faults.get(opts.get("--comment", ""), [])
        fault = planned.pop(0) if planned else None
        if fault:
            faults_file.write_text(json.dumps(faults))
        job = {"id": jobid, "name": opts["--job-name"], "comment": opts.get("--comment", ""), "state": "PENDING",
               "fault": fault, "pid": None, "exit_code": None, "submitted": time.time()}
        write_job(job)
    append("sbatch.jsonl", {"id": jobid, "argv": args, "options": {k: v for k, v in opts.items() if k != "--wrap"},
                            "fault": fault})
    # The job runs detached from sbatch (the plugin waits for sbatch's output pipes to close).
    subprocess.Popen([sys.executable, os.path.abspath(__file__), "_run", jobid, json.dumps(opts)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
    print(jobid)  # --parsable: "<id>" (or "<id>;<cluster>" on multi-cluster setups)
    return 0


def run_job(jobid: str, opts_json: str) -> int:
    opts = json.loads(opts_json)
    job = update_job(jobid, state="RUNNING", pid=os.getpid())
    if job["state"] != "RUNNING":
        return 0
    log = Path(opts["--output"].replace("%j", jobid))
    log.parent.mkdir(parents=True, exist_ok=True)
    if job["fault"]:
        log.write_text(f"slurmstepd: error: job {jobid} ended with state {job['fault']} (simulated)\n")
        update_job(jobid, state=job["fault"], exit_code=137 if job["fault"] == "OUT_OF_MEMORY" else 1)
        return 0
    env = dict(os.environ, SLURM_JOB_ID=jobid, SLURM_JOBID=jobid, SLURM_JOB_NAME=opts["--job-name"],
               SLURM_SUBMIT_DIR=opts["--chdir"], SLURM_CPUS_PER_TASK=str(opts.get("--cpus-per-task", 1)),
               SLURM_NTASKS=str(opts.get("--ntasks", 1)))
    with open(log, "w") as out:
        proc = subprocess.Popen(["/bin/sh", "-c", opts["--wrap"]], cwd=opts["--chdir"], env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        rc = proc.wait()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # sacct's TotalCPU of the job
    update_job(jobid, state="COMPLETED" if rc == 0 else "FAILED", exit_code=rc,
               cpu_s=round(usage.ru_utime + usage.ru_stime, 2), elapsed_s=round(time.time() - job["submitted"], 2))
    return 0


def jobs_named(name: str) -> list[dict]:
    jobs = [json.loads(p.read_text()) for p in (state_dir() / "jobs").glob("*.json")]
    return sorted((j for j in jobs if j["name"] == name), key=lambda j: int(j["id"]))


def value_of(args: list[str], *names: str) -> str | None:
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def sacct(args: list[str]) -> int:
    name = value_of(args, "--name")
    fmt = value_of(args, "--format", "-o")
    if name is not None and fmt == "JobIdRaw,State" and "-X" in args and "--parsable2" in args:
        for j in jobs_named(name):
            print(f"{j['id']}|{j['state']}")
        return 0
    jobstep = value_of(args, "-j")
    if jobstep is not None and fmt == "Reason":
        return 0  # per-step reasons: none recorded
    if fmt is not None and fmt.startswith("Account") and "-nu" in args:
        print(ACCOUNTS[0])
        return 0
    return unknown("sacct", args)


def squeue(args: list[str]) -> int:
    name = value_of(args, "--name")
    if name is not None and value_of(args, "--format") == "%i|%T" and "--noheader" in args:
        for j in jobs_named(name):
            print(f"{j['id']}|{j['state']}")
        return 0
    return unknown("squeue", args)


def scancel(args: list[str]) -> int:
    ids = [a for a in args if not a.startswith("-")]
    if not ids or not all(a.isdigit() for a in ids):
        return unknown("scancel", args)
    for jobid in ids:
        with locked():
            job = read_job(jobid)
            if job is None or job["state"] not in ACTIVE:
                continue
            job["state"] = "CANCELLED"
            write_job(job)
        if job.get("pid"):
            try:
                os.killpg(job["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass
    return 0


def srun(args: list[str]) -> int:
    _, rest = parse_options(args)
    if not rest:
        return unknown("srun", args)
    return subprocess.call(rest)


def main(argv: list[str]) -> int:
    cmd, args = argv[0], argv[1:]
    if cmd == "_run":
        return run_job(*args)
    append("calls.jsonl", {"cmd": cmd, "args": args})
    if cmd == "sbatch":
        return sbatch(args)
    if cmd == "sacct":
        return sacct(args)
    if cmd == "squeue":
        return squeue(args)
    if cmd == "scancel":
        return scancel(args)
    if cmd == "srun":
        return srun(args)
    if cmd == "sinfo" and args == ["-o", "%P"]:
        print("PARTITION\n" + "\n".join(PARTITIONS))
        return 0
    if cmd == "scontrol" and args == ["show", "config"]:
        print("MaxArraySize            = 1001\nMinJobAge               = 300 sec")
        return 0
    if cmd in ("sacctmgr", "sshare") and "account%256" in " ".join(args).lower():
        print("\n".join(ACCOUNTS))
        return 0
    return unknown(cmd, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
