"""The experiment CLI and registry: list, run, aggregate, plot; reproducibility; clear errors."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from experiments import devices, registry, runner
from experiments.claims import VERDICTS, Claim


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "experiments", *args], capture_output=True, text=True,
                          cwd=cwd)


def test_list_names_every_experiment():
    out = _cli("list")
    assert out.returncode == 0
    names = out.stdout.split()
    assert "planning" in names and names == registry.experiment_names()


def test_every_experiment_has_all_scales_and_metadata():
    for name in registry.experiment_names():
        d = registry.describe(name)
        assert set(d["scales"]) >= {"smoke", "quick", "full"}, name
        assert d["title"] and d["caption"], name


def test_run_aggregate_plot_roundtrip(tmp_path):
    a = tmp_path / "seed0.parquet"
    r = _cli("run", "planning", "--scale", "smoke", "--seed", "0", "--device", "cpu", "--out", str(a))
    assert r.returncode == 0, r.stderr
    frame = pd.read_parquet(a)
    for col in ("seed", "device", "scale", "experiment", "config_hash", "code_hash", "version_numpy",
                "version_torch"):
        assert col in frame.columns
    out, claims = tmp_path / "all.parquet", tmp_path / "claims.json"
    r = _cli("aggregate", "planning", "--scale", "smoke", "--inputs", str(a), "--out", str(out),
             "--claims", str(claims))
    assert r.returncode == 0, r.stderr
    payload = json.loads(claims.read_text())
    assert payload["experiment"] == "planning" and payload["claims"]
    for c in payload["claims"]:
        assert {"name", "measured", "ci_low", "ci_high", "theory", "verdict", "slack", "theorem"} <= set(c)
    fig = tmp_path / "fig.pdf"
    r = _cli("plot", "planning", "--scale", "smoke", "--results", str(out), "--out", str(fig))
    assert r.returncode == 0, r.stderr
    first = fig.read_bytes()
    _cli("plot", "planning", "--scale", "smoke", "--results", str(out), "--out", str(fig))
    assert fig.read_bytes() == first, "figures must be byte-stable"


def test_same_seed_same_table():
    a = runner.run_one("planning", "smoke", 3, "cpu")
    b = runner.run_one("planning", "smoke", 3, "cpu")
    pd.testing.assert_frame_equal(a, b)


def test_bad_name_scale_device_are_clear_errors():
    r = _cli("run", "nope", "--scale", "smoke", "--out", "/tmp/x.parquet")
    assert r.returncode == 2 and "unknown experiment 'nope'" in r.stderr and "planning" in r.stderr
    r = _cli("run", "planning", "--scale", "huge", "--out", "/tmp/x.parquet")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    with pytest.raises(registry.ConfigError, match="device must be one of"):
        devices.resolve_device("tpu")


def test_cuda_request_without_gpu_fails_early():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(registry.ConfigError, match="cuda"):
        runner.run_one("planning", "smoke", 0, "cuda")


@pytest.mark.parametrize("name", registry.experiment_names())
def test_every_experiment_at_smoke_scale_keeps_its_theorems(name, tmp_path):
    """Every experiment through the real run -> aggregate -> plot path at smoke scale.

    ``runner.aggregate`` raises :class:`TheoremViolation` when a ``theorem=True`` claim (an inequality
    that must hold at any scale: sandwich bounds, contraction bounds, exact reference values) is
    contradicted, so this fails on a broken theorem, not only on broken plumbing.
    """
    import warnings

    paths = []
    for seed in range(registry.seeds_for(name, "smoke")):
        paths.append(tmp_path / f"seed{seed}.parquet")
        runner.run_one(name, "smoke", seed, "cpu", paths[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame, claims = runner.aggregate(name, "smoke", paths, tmp_path / "all.parquet", tmp_path / "c.json")
        fig = runner.make_figure(name, "smoke", tmp_path / "all.parquet", tmp_path / "fig.pdf")
    assert len(frame) > 0 and fig
    assert claims and all(isinstance(c, Claim) for c in claims)
    assert all(c.verdict in VERDICTS for c in claims)
    assert not [c.name for c in claims if c.theorem and c.verdict == "contradicted"]


def test_claim_json_has_no_infinities():
    """Open ends and unbounded intervals are written as null: Typst's JSON parser rejects Infinity."""
    import json

    from theory.rates import Interval

    c = Claim.at_least("x", Interval.unknown(2.0), 1.0)
    d = json.loads(json.dumps(c.to_dict(), allow_nan=False))
    assert d["theory"] == [1.0, None] and d["ci_low"] is None and d["verdict"] == "inconclusive"


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.experiment_names())
def test_every_experiment_at_quick_scale_keeps_its_theorems(name, tmp_path):
    """The quick scale (what `snakemake` runs by default): no theorem claim is contradicted."""
    import warnings

    paths = []
    for seed in range(registry.seeds_for(name, "quick")):
        paths.append(tmp_path / f"seed{seed}.parquet")
        runner.run_one(name, "quick", seed, "cpu", paths[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, claims = runner.aggregate(name, "quick", paths)
    assert not [c.name for c in claims if c.theorem and c.verdict == "contradicted"]
    # every verdict against a paper says why (aggregate itself refuses a contradicted claim without a cause)
    assert not [c.name for c in claims if c.verdict != "supported" and not c.cause.strip()]
