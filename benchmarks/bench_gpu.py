"""The device side of every batched benchmark, at sizes that finish in about a minute each on one GPU.

Workloads (each timed on ``--device``; ``--device cpu`` runs the same code at smaller sizes so that the
script is known to work before a GPU is available):

1. simulator: ``BatchedTabularMDP.step`` steps/s (Garnet S = 50, A = 5) at several batch sizes B;
2. batched value iteration: ``batched_value_iteration`` on B Garnets to a certified 1e-6, fp64, and one
   Bellman sweep's bytes of ``P`` read per second;
3. batched robust VI: ``batched_robust_value_iteration`` (L1, radii in [0.1, 1]) on B Garnets;
4. batched MMD: behavioural ``games.mmd`` on Leduc with B configurations;
5. batched actor-critic seeds: ``optimistic_actor_critic`` on the combination lock with B seeds.

Usage: ``python benchmarks/bench_gpu.py --device cuda [--out PATH]``; prints a Markdown table and writes it
to ``--out`` (default ``benchmarks/results/gpu-<device>.md``). Called by ``benchmarks/gpu_check.sh``.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import games  # noqa: E402
from mdp.actor_critic import optimistic_actor_critic  # noqa: E402
from mdp.batched import BatchedTabularMDP  # noqa: E402
from mdp.batched_planning import batched_value_iteration  # noqa: E402
from mdp.generators import combination_lock, garnet  # noqa: E402
from mdp.operators import bellman_optimality  # noqa: E402
from mdp.robust import batched_robust_value_iteration  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
SIZES = {  # device -> workload sizes
    "cuda": {"sim_B": (4096, 65536, 1_048_576), "vi": (256, 200, 10), "rvi": (1024, 30, 5), "mmd_B": 1024,
             "ac_seeds": 4096},
    "cpu": {"sim_B": (4096, 65536), "vi": (16, 100, 5), "rvi": (64, 20, 5), "mmd_B": 64, "ac_seeds": 64},
}


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, dev, repeat=3):
    fn()
    _sync(dev)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        _sync(dev)
        ts.append(time.perf_counter() - t)
    return min(ts)


def simulator(dev, sizes):
    rows = []
    m = garnet(50, 5, 5, 0.95, seed=0, sparse=False)
    for B in sizes["sim_B"]:
        gen = torch.Generator(device=dev).manual_seed(0)
        sim = BatchedTabularMDP(m, B, device=dev, generator=gen)
        sim.reset()
        steps = 50
        acts = torch.randint(0, 5, (steps, B), device=dev, generator=torch.Generator(device=dev).manual_seed(1))

        def run():
            for t in range(steps):
                sim.step(acts[t])

        t = _timed(run, dev)
        rows.append((f"simulator B = {B:,}", f"{B * steps / t:.3g} steps/s", f"{t:.3f}"))
    return rows


def _garnets(B, S, A, seed0):
    ms = [garnet(S, A, 5, 0.9, seed=seed0 + b, sparse=False) for b in range(B)]
    return np.stack([m.P for m in ms]), np.stack([m.R for m in ms])


def batched_vi(dev, sizes):
    B, S, A = sizes["vi"]
    P, R = _garnets(B, S, A, 100)
    Pt = torch.as_tensor(P, device=dev)
    Rt = torch.as_tensor(R, device=dev)
    t0 = time.perf_counter()
    out = batched_value_iteration(Pt, Rt, 0.9, tol=1e-6)
    iters, res = out.iterations, out.residual
    _sync(dev)
    t_vi = time.perf_counter() - t0
    Pf = Pt.reshape(B, S * A, S)
    Vt = torch.zeros(B, S, device=dev, dtype=Pt.dtype)
    t_sweep = _timed(lambda: bellman_optimality(Pf, Rt, 0.9, Vt), dev, repeat=5)
    return [(f"batched VI to 1e-6, B = {B}, S = {S}, A = {A}, fp64", f"{iters} sweeps, max residual "
             f"{float(res.max()):.1e}", f"{t_vi:.3f}"),
            (f"one Bellman sweep (same batch, {Pt.numel() * 8 / 1e6:.0f} MB of P)",
             f"{Pt.numel() * 8 / t_sweep / 1e9:.1f} GB/s of P read", f"{t_sweep:.4f}")]


def batched_rvi(dev, sizes):
    B, S, A = sizes["rvi"]
    P, R = _garnets(B, S, A, 200)
    t0 = time.perf_counter()
    out = batched_robust_value_iteration(torch.as_tensor(P, device=dev), torch.as_tensor(R, device=dev), 0.9,
                                         np.linspace(0.1, 1.0, B), kind="l1", tol=1e-6, device=dev)
    _sync(dev)
    t = time.perf_counter() - t0
    return [(f"batched robust VI (L1) to 1e-6, B = {B}, S = {S}, A = {A}", f"{out.iterations} backups, "
             f"{B / t:.1f} instances/s", f"{t:.3f}")]


def batched_mmd(dev, sizes):
    B, n = sizes["mmd_B"], 100
    g = games.leduc_poker()
    alphas = list(np.geomspace(0.01, 1.0, B))
    etas = list(np.geomspace(0.05, 2.0, B))
    t0 = time.perf_counter()
    r = games.mmd(g, alphas, eta=etas, form="behavioural", iterations=n, record_at=[n], device=str(dev))
    _sync(dev)
    t = time.perf_counter() - t0
    return [(f"batched behavioural MMD, Leduc, B = {B}, {n} iterations", f"{B * n / t:,.0f} config-iterations/s, "
             f"min exploitability {float(np.min(r.exploitability)):.3g}", f"{t:.3f}")]


def batched_ac(dev, sizes):
    seeds, episodes = sizes["ac_seeds"], 300
    m = combination_lock(H=6, A=5, seed=0)
    t0 = time.perf_counter()
    r = optimistic_actor_critic(m, episodes, seeds, seed=0, device=str(dev), progress=False)
    _sync(dev)
    t = time.perf_counter() - t0
    reg = np.asarray(r.regret.cpu() if hasattr(r.regret, "cpu") else r.regret)[:, -1]
    return [(f"optimistic actor-critic, combination lock H = 6, {seeds} seeds x {episodes} episodes",
             f"{seeds * episodes / t:,.0f} episodes/s, mean final regret {reg.mean():.2f}", f"{t:.3f}")]


WORKLOADS = {"simulator": simulator, "batched_vi": batched_vi, "batched_robust_vi": batched_rvi,
             "batched_mmd": batched_mmd, "batched_actor_critic": batched_ac}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--only", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_gpu: --device cuda but torch.cuda.is_available() is False (use --device cpu to dry-run)")
    dev = torch.device(args.device)
    if dev.type == "cpu":
        torch.set_num_threads(1)  # the CPU dry run shares 2 cores: OpenMP spin-waits cost 10x when oversubscribed
    name = torch.cuda.get_device_name() if dev.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    lines = [f"## Device side of the batched benchmarks ({args.device}: {name})", "",
             f"Python {platform.python_version()}, torch {torch.__version__}.", "",
             "| workload | throughput | wall s |", "|---|---|---|"]
    for w in args.only:
        t = time.perf_counter()
        for row in WORKLOADS[w](dev, SIZES[dev.type]):
            lines.append("| " + " | ".join(row) + " |")
            print(lines[-1], flush=True)
        print(f"  ({w}: {time.perf_counter() - t:.1f} s)", flush=True)
    text = "\n".join(lines) + "\n"
    out = Path(args.out) if args.out else OUT / f"gpu-{args.device}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
