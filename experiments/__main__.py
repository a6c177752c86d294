"""Command line: ``python -m experiments list | show NAME | run | aggregate | plot | paper | timings | deps``.

Examples::

    python -m experiments list
    python -m experiments run planning --scale quick --seed 0 --device cpu --out results/planning/quick/seed0.parquet
    python -m experiments aggregate planning --scale quick --inputs results/planning/quick/seed*.parquet \
        --out results/planning/quick.parquet --claims results/planning/quick.claims.json
    python -m experiments plot planning --scale quick --results results/planning/quick.parquet --out fig.pdf
    python -m experiments timings --scale quick      # per-experiment seconds of the last pipeline run
    python -m experiments deps                       # per library file, how many experiments depend on it
"""
from __future__ import annotations

import argparse
import json
import sys

from experiments import registry, runner, timings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="list experiments (one per line; --json for details)")
    ls.add_argument("--json", action="store_true")
    sh = sub.add_parser("show", help="show an experiment's configs")
    sh.add_argument("name")
    r = sub.add_parser("run", help="run one (experiment, scale, seed) job and write a parquet table")
    r.add_argument("name")
    r.add_argument("--scale", default="quick", choices=registry.SCALES)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="cpu", help="auto | cpu | cuda")
    r.add_argument("--out", required=True, help="output .parquet path")
    r.add_argument("--threads", type=int, default=1,
                   help="CPU threads for torch (default 1: the pipeline runs one job per core, and small tensor "
                        "programs slow down badly when several multi-threaded jobs share the cores)")
    a = sub.add_parser("aggregate", help="concatenate seeds and evaluate claims")
    a.add_argument("name")
    a.add_argument("--scale", default="quick", choices=registry.SCALES)
    a.add_argument("--inputs", nargs="+", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--claims", required=True)
    pl = sub.add_parser("plot", help="draw an experiment's figure from its aggregated results")
    pl.add_argument("name")
    pl.add_argument("--scale", default="quick", choices=registry.SCALES)
    pl.add_argument("--results", required=True)
    pl.add_argument("--out", required=True)
    pa = sub.add_parser("paper", help="compile paper/paper.typ with the generated figures and claims")
    pa.add_argument("--scale", default="quick", choices=registry.SCALES)
    pa.add_argument("--claims", nargs="*", default=[])
    pa.add_argument("--figures", nargs="*", default=[])
    pa.add_argument("--out", default="paper/paper.pdf")
    ti = sub.add_parser("timings", help="wall/CPU seconds and peak memory of each experiment's seed jobs "
                                        "(from the pipeline's logs/<exp>/<scale>/seed*.benchmark.tsv)")
    ti.add_argument("--scale", default="quick", choices=registry.SCALES)
    ti.add_argument("--logs", default="logs")
    de = sub.add_parser("deps", help="per library file, how many experiments depend on it (their recorded sources, "
                                     "the inputs of their pipeline jobs)")
    de.add_argument("--names", action="store_true", help="also list the dependent experiments")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "list":
            names = registry.experiment_names()
            if args.json:
                print(json.dumps([registry.describe(n) for n in names], indent=2))
            else:
                print("\n".join(names))
        elif args.cmd == "show":
            import dataclasses
            mod = registry.get_experiment(args.name)
            print(json.dumps({s: dataclasses.asdict(c) for s, c in mod.CONFIGS.items()}, indent=2,
                             default=str))
        elif args.cmd == "run":
            import torch

            torch.set_num_threads(max(1, args.threads))
            frame = runner.run_one(args.name, args.scale, args.seed, args.device, args.out)
            print(f"{args.name}/{args.scale}/seed{args.seed}: {len(frame)} rows -> {args.out}")
        elif args.cmd == "aggregate":
            _, claims = runner.aggregate(args.name, args.scale, args.inputs, args.out, args.claims)
            for c in claims:
                print(f"[{c.verdict}] {args.name}:{c.name} = {c.measured:.4g} "
                      f"[{c.ci_low:.4g}, {c.ci_high:.4g}] (theory {c.theory}, slack {c.slack:g})")
        elif args.cmd == "plot":
            runner.make_figure(args.name, args.scale, args.results, args.out)
        elif args.cmd == "paper":
            from experiments import paper
            paper.build(args.scale, args.claims, args.figures, args.out)
        elif args.cmd == "timings":
            table = timings.job_timings(args.logs, args.scale)
            if table.empty:
                print(f"no benchmark files under {args.logs}/*/{args.scale}/ (run the pipeline first)")
            else:
                print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
                print(f"total job seconds: {table['wall_s'].sum():.0f} wall, {table['cpu_s'].sum():.0f} CPU")
        elif args.cmd == "deps":
            from experiments.sources import dependents, experiment_files

            deps = dependents()
            n = len(experiment_files())
            print(f"{'experiments':>11s}  library file (of {n} experiments; {len(deps)} files)")
            for f, users in sorted(deps.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                print(f"{len(users):11d}  {f}" + (f"  {' '.join(users)}" if args.names and users else ""))
    except registry.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
