"""`experiments.timings.job_timings` sums Snakemake's per-job benchmark files per experiment."""
from experiments.timings import job_timings

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _write(path, wall, rss, cpu):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{wall}\t0:00:00\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n")


def test_timings_per_experiment(tmp_path):
    _write(tmp_path / "a" / "quick" / "seed0.benchmark.tsv", 12.5, 300.0, 11.0)
    _write(tmp_path / "a" / "quick" / "seed1.benchmark.tsv", 2.5, "-", "-")  # Snakemake writes '-' when unmeasured
    _write(tmp_path / "b" / "quick" / "seed0.benchmark.tsv", 20.0, 100.0, 19.0)
    _write(tmp_path / "b" / "smoke" / "seed0.benchmark.tsv", 99.0, 1.0, 1.0)  # another scale: not counted
    t = job_timings(tmp_path, "quick").set_index("experiment")
    assert list(t.index) == ["b", "a"]  # costliest first
    assert t.loc["a", "seeds"] == 2 and t.loc["a", "wall_s"] == 15.0 and t.loc["a", "max_job_s"] == 12.5
    assert t.loc["a", "cpu_s"] == 11.0 and t.loc["a", "max_rss_mb"] == 300.0
    assert t.loc["b", "wall_s"] == 20.0


def test_timings_empty(tmp_path):
    assert job_timings(tmp_path, "quick").empty
