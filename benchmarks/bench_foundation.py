"""Foundation benchmarks; every ratio is against a baseline measured in the same run.

1. Simulator throughput: ``BatchedTabularMDP`` at B = 4096 vs ``gymnasium.vector.SyncVectorEnv`` of 64
   ``TabularEnv`` on the same MDP (target >= 100x on CPU).
2. Value-iteration sweep on a dense S = 1000, A = 10 MDP vs a plain numpy gemv loop (target within
   1.1x), and bytes of P read per second vs a numpy streaming read of P (memory ceiling).
3. Time to an epsilon-optimal policy *with a certificate* (S = 1000, A = 10, gamma = 0.99,
   eps = 1e-6, sparse Garnet) vs pymdptoolbox's ValueIteration (target >= 10x).
4. On CUDA (when present): batched VI sweep as a fraction of the device's memory bandwidth, measured
   against a device-to-device copy in the same run.

Usage: ``python benchmarks/bench_foundation.py [--quick] [--device cuda]``; writes
``benchmarks/results/foundation[-cuda].md`` and prints the table.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time  # noqa: E402

from mdp import policy_evaluation, policy_iteration  # noqa: E402
from mdp.batched import BatchedTabularMDP  # noqa: E402
from mdp.batched_planning import batched_value_iteration  # noqa: E402
from mdp.envs import TabularEnv  # noqa: E402
from mdp.generators import garnet  # noqa: E402
from mdp.operators import bellman_optimality  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"



def best_of(fn, repeat=5, number=1):
    return best_time(fn, repeat, number)


def bench_simulator(steps: int):
    import gymnasium as gym

    m = garnet(50, 5, 5, 0.95, seed=0, sparse=False)
    B = 4096
    sim = BatchedTabularMDP(m, B, generator=torch.Generator().manual_seed(0))
    sim.reset()
    acts = torch.randint(0, 5, (steps, B), generator=torch.Generator().manual_seed(1))

    def run_sim():
        for t in range(steps):
            sim.step(acts[t])

    run_sim()
    t_sim = best_of(run_sim, repeat=3)
    sim_rate = B * steps / t_sim

    n_envs = 64
    venv = gym.vector.SyncVectorEnv([lambda: TabularEnv(m, max_steps=10_000) for _ in range(n_envs)])
    venv.reset(seed=0)
    vacts = np.random.default_rng(0).integers(0, 5, size=(steps, n_envs))

    def run_gym():
        for t in range(steps):
            venv.step(vacts[t])

    run_gym()
    t_gym = best_of(run_gym, repeat=3)
    gym_rate = n_envs * steps / t_gym
    return {"sim_steps_per_s": sim_rate, "gym_steps_per_s": gym_rate, "ratio": sim_rate / gym_rate}


def bench_vi_sweep():
    m = garnet(1000, 10, 1000, 0.99, seed=1, sparse=False)  # dense: every entry non-zero
    P2 = np.ascontiguousarray(m.P_flat)
    R = m.R
    V = np.random.default_rng(0).random(1000)

    def ours():
        bellman_optimality(P2, R, 0.99, V)

    def plain():
        (R + 0.99 * (P2 @ V).reshape(1000, 10)).max(1)

    def read_sum():
        np.add.reduce(P2, axis=None)

    buf = np.empty_like(P2)

    def read_copy():
        np.copyto(buf, P2)

    t_ours = best_of(ours, repeat=7, number=5)
    t_plain = best_of(plain, repeat=7, number=5)
    t_sum = best_of(read_sum, repeat=7, number=5)
    t_copy = best_of(read_copy, repeat=7, number=5)
    nbytes = P2.nbytes
    # A copy moves 2 * nbytes (read + write); it is the streaming ceiling numpy reaches on this machine.
    copy_bw = 2 * nbytes / t_copy
    return {"P_MB": nbytes / 1e6, "ours_ms": 1e3 * t_ours, "plain_gemv_ms": 1e3 * t_plain,
            "ratio_ours_over_plain": t_ours / t_plain, "ours_GBps_of_P": nbytes / t_ours / 1e9,
            "numpy_sum_read_GBps": nbytes / t_sum / 1e9, "numpy_copy_GBps (read+write)": copy_bw / 1e9,
            "fraction_of_copy_bandwidth": (nbytes / t_ours) / copy_bw}


def bench_eps_optimal(eps=1e-6):
    import mdptoolbox.mdp as tb
    import scipy.sparse as sp

    m = garnet(1000, 10, 10, 0.99, seed=2, sparse=True)
    A, g = m.A, m.gamma

    def ours():
        return policy_iteration(m)

    res = ours()
    t_ours = best_of(ours, repeat=5)
    v_star = res.V
    # certificate: ||V^pi - V*|| <= residual / (1 - gamma)
    cert = res.error_bound

    Pd = m.dense_P()
    Ps = [sp.csr_matrix(Pd[:, a, :]) for a in range(A)]

    def toolbox():
        vi = tb.ValueIteration(Ps, m.R, g, epsilon=eps, max_iter=100_000)
        vi.max_iter = 100_000  # the constructor may shrink max_iter to its own (loose) bound
        vi.run()
        return vi

    vi = toolbox()
    t_tb = best_of(toolbox, repeat=2)
    pol = np.asarray(vi.policy)
    gap = float(np.max(v_star - policy_evaluation(m, pol)))
    return {"ours_s": t_ours, "pymdptoolbox_s": t_tb, "ratio": t_tb / t_ours, "ours_iterations": res.iterations,
            "ours_certificate": cert, "toolbox_iterations": int(vi.iter), "toolbox_policy_gap": gap}


def bench_cuda(batch=64, S=512, A=8):
    dev = "cuda"
    P = torch.rand(batch, S, A, S, device=dev, dtype=torch.float32)
    P /= P.sum(-1, keepdim=True)
    R = torch.rand(batch, S, A, device=dev)
    V = torch.zeros(batch, S, device=dev)
    Pf = P.reshape(batch, S * A, S)

    def sweep():
        bellman_optimality(Pf, R, 0.99, V)

    def copy():
        P.clone()

    for f in (sweep, copy):
        f()
    torch.cuda.synchronize()

    def timed(f, n=50):
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(n):
            f()
        torch.cuda.synchronize()
        return (time.perf_counter() - t) / n

    t_sweep, t_copy = timed(sweep), timed(copy)
    nbytes = P.numel() * 4
    sweep_bw = nbytes / t_sweep
    copy_bw = 2 * nbytes / t_copy  # a copy reads and writes
    t0 = time.perf_counter()
    batched_value_iteration(P.double(), R.double(), 0.9, tol=1e-6)
    torch.cuda.synchronize()
    return {"sweep_GBps": sweep_bw / 1e9, "copy_GBps": copy_bw / 1e9, "fraction_of_copy": sweep_bw / copy_bw,
            "vi_to_1e-6_s (64 MDPs, fp64)": time.perf_counter() - t0, "device": torch.cuda.get_device_name()}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer steps (for a fast check)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    rows = []
    if args.device == "cuda":
        rows.append(("batched VI sweep on CUDA (B=64, S=512, A=8, fp32)", bench_cuda()))
    else:
        torch.set_num_threads(min(2, os.cpu_count() or 1))
        rows.append(("simulator: B=4096 batched vs SyncVectorEnv(64)", bench_simulator(50 if args.quick else 200)))
        rows.append(("VI sweep, dense S=1000 A=10", bench_vi_sweep()))
        rows.append(("eps-optimal policy with certificate, sparse Garnet S=1000 A=10 gamma=0.99", bench_eps_optimal()))
    lines = [f"# Foundation benchmarks ({args.device})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"numpy {np.__version__}, torch {torch.__version__}"
             + (f", {torch.cuda.get_device_name()}" if args.device == "cuda" else ""), ""]
    for title, res in rows:
        lines.append(f"## {title}")
        lines.append("")
        lines.append("| metric | value |")
        lines.append("|---|---|")
        for k, v in res.items():
            lines.append(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / f"foundation{'-cuda' if args.device == 'cuda' else ''}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
