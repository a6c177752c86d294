"""Growth curves: how cost grows with the problem, each curve beside its anchor measured in the same run.

1. Planning: a certified optimal policy (policy gap <= 1e-6) on sparse Garnets (A = 10, 5 successors,
   gamma = 0.99) for S = 10^3 ... 10^6 (10^7 with ``--planning-max 1e7``), ours =
   ``mdp.sparse.sparse_policy_iteration`` on ``mdp.generators.sparse_garnet``; anchor = pymdptoolbox's
   ``ValueIteration(epsilon=1e-6)`` where it finishes (S <= 3000 by default, ``--toolbox-max``). Fitted
   log-log slope of the solve time over S >= 10^4, peak resident memory per point (each point runs in
   its own process).
2. Robust: IWOCS vs robust value iteration to a certified 1e-6 for L1 / KL / W1 balls around sparse
   nominal kernels (``sparse_garnet``, A = 10, 5 successors, CSR kept sparse by the sets), S = 50 ... 2,000
   (``--robust-sizes``); time, peak RSS and oracle calls per point, fitted log-log slope per curve; a
   solver is skipped once its time predicted from the last two points exceeds ``--cap`` seconds.
   Batched robust VI over B = 64 ... 1024 instances vs the per-instance loop.
3. Games: time of one exploitability evaluation, one dilated-entropy MMD iteration and one CFR+ iteration
   against the number of histories (Kuhn, Leduc), OpenSpiel's (C++ exploitability and CFR+, Python MMD)
   at each size.
4. Simulator: ``BatchedTabularMDP`` steps/s for B = 64 ... 65,536 vs gymnasium's ``SyncVectorEnv``.

Usage: ``python benchmarks/bench_growth.py [--sections planning robust games simulator] [--planning-max 1e7]``;
each section saves ``benchmarks/results/growth/<section>.md/.json`` (re-running one section replaces
it; planning points are merged by S, and ``--planning-points`` merges separate ``--point planning S`` runs),
then ``benchmarks/results/growth.md`` and ``growth.png`` are assembled from them. BLAS runs on one thread
(``OPENBLAS_NUM_THREADS=1``, set before numpy is imported): with other jobs on the 2 cores a threaded
BLAS ``dot`` inside the Krylov solver was measured 5-8x slower.
"""
from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time  # noqa: E402
OUT = Path(__file__).resolve().parent / "results"


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # Linux: kB


_best = best_time


def slope(xs, ys):
    """Least-squares slope of log y on log x (one measurement per size: a descriptive number, no CI)."""
    xs, ys = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    return float(np.polyfit(xs, ys, 1)[0]) if len(xs) >= 2 else float("nan")


# ------------------------------------------------------------------------------------------------ points
def point_planning(S: int) -> dict:
    from mdp.generators import sparse_garnet
    from mdp.sparse import sparse_policy_iteration

    t = time.perf_counter()
    m = sparse_garnet(S, 10, 5, 0.99, seed=0)
    t_gen = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    r = sparse_policy_iteration(m, tol=1e-6)
    t_solve, c_solve = time.perf_counter() - t, time.process_time() - c
    return {"S": S, "gen_s": t_gen, "solve_s": t_solve, "solve_cpu_s": c_solve, "iterations": r.iterations,
            "matvecs": r.matvecs,
            "policy_gap_bound": r.policy_gap_bound, "converged": bool(r.converged), "kernel_GB":
            (m.P.data.nbytes + m.P.indices.nbytes + m.P.indptr.nbytes) / 1e9, "index_dtype": str(m.P.indices.dtype),
            "peak_rss_GB": _rss_gb()}


def point_toolbox(S: int) -> dict:
    import mdptoolbox.mdp as tb

    from mdp.generators import sparse_garnet
    from mdp.sparse import policy_rows, sparse_policy_iteration

    m = sparse_garnet(S, 10, 5, 0.99, seed=0)
    import scipy.sparse as sp

    # pymdptoolbox wants A sparse S x S matrices (the old spmatrix type)
    Ps = [sp.csr_matrix(policy_rows(m.P, np.full(S, a), m.A)) for a in range(m.A)]
    t, c = time.perf_counter(), time.process_time()
    vi = tb.ValueIteration(Ps, m.R, m.gamma, epsilon=1e-6, max_iter=100_000)
    vi.max_iter = 100_000
    vi.run()
    t_tb, c_tb = time.perf_counter() - t, time.process_time() - c
    ref = sparse_policy_iteration(m, tol=1e-9)
    from mdp.sparse import evaluate_policy_csr

    pol = np.asarray(vi.policy)
    V_tb, _, _ = evaluate_policy_csr(policy_rows(m.P, pol, m.A), m.R[np.arange(S), pol], m.gamma)
    return {"S": S, "solve_s": t_tb, "solve_cpu_s": c_tb, "iterations": int(vi.iter),
            "policy_gap": float(np.max(ref.V - V_tb)),
            "peak_rss_GB": _rss_gb()}


SETS = {"L1": ("L1Ball", 0.5), "KL": ("KLBall", 0.1), "W1": ("WassersteinBall", 1.0)}


def point_robust(name: str, S: int, solver: str) -> dict:
    import torch

    import mdp.robust as rb
    from mdp.generators import sparse_garnet

    torch.set_num_threads(1)
    m = sparse_garnet(S, 10, 5, 0.9, seed=S)  # CSR (S*A, S), int32 indices
    cls, radius = SETS[name]
    U = getattr(rb, cls)(m.P, radius)  # keeps the kernel sparse (mdp.robust.sparse_oracles)
    assert U.sparse
    t, c = time.perf_counter(), time.process_time()
    if solver == "rvi":
        r = rb.robust_value_iteration(m, U, tol=1e-6)
        extra = {"value": float(m.mu @ np.asarray(r.V)), "error_bound": float(r.error_bound),
                 "converged": bool(r.converged)}
    else:
        r = rb.iwocs(m, U, eps=1e-6)
        extra = {"lower": float(r.lower), "upper": float(r.upper), "iwocs_iterations": int(r.iterations),
                 "converged": bool(r.converged)}
    return {"set": name, "S": S, "solver": solver, "s": time.perf_counter() - t, "cpu_s": time.process_time() - c,
            "oracle_calls": int(r.oracle_calls),
            "kernel_MB": (m.P.data.nbytes + m.P.indices.nbytes + m.P.indptr.nbytes) / 1e6,
            "dense_kernel_MB": S * 10 * S * 8 / 1e6, "peak_rss_GB": _rss_gb(), **extra}


def point_batched_robust(B: int) -> dict:
    import torch

    import mdp.robust as rb
    from mdp.generators import garnet

    torch.set_num_threads(1)
    ms = [garnet(20, 5, 5, 0.9, seed=5000 + b, sparse=False) for b in range(B)]
    P = np.stack([mm.P for mm in ms])
    R = np.stack([mm.R for mm in ms])
    radii = np.linspace(0.1, 1.0, B)
    t, c = time.perf_counter(), time.process_time()
    out = rb.batched_robust_value_iteration(P, R, 0.9, radii, kind="l1", tol=1e-6)
    t_b, c_b = time.perf_counter() - t, time.process_time() - c
    k = min(B, 16)
    pick = np.linspace(0, B - 1, k).astype(int)  # spread over the radii, like the batch
    t, c = time.perf_counter(), time.process_time()
    for b in pick:
        ref = rb.robust_value_iteration(ms[b], rb.L1Ball(ms[b].P, radii[b]), tol=1e-6)
        assert np.max(np.abs(np.asarray(ref.V) - out.V[b].numpy())) < 1e-5
    t_l, c_l = (time.perf_counter() - t) * B / k, (time.process_time() - c) * B / k
    return {"B": B, "batched_s": t_b, "loop_s": t_l, "batched_cpu_s": c_b, "loop_cpu_s": c_l,
            "iterations": int(out.iterations), "peak_rss_GB": _rss_gb()}


def point_games(name: str) -> dict:
    import torch

    import games

    torch.set_num_threads(1)
    big = name.startswith("openspiel:")
    g = games.from_openspiel(name.split(":", 1)[1]) if big else getattr(games, name)()
    n = 10 if big else 50
    pol = games.mmd(g, 0.05, iterations=20).policy
    res = {"game": name, "histories": int(g.num_histories), "infosets": int(g.num_infosets),
           "ours_exploitability_s": _best(lambda: games.exploitability(g, pol), repeat=3, number=1 if big else 10),
           "ours_mmd_iter_s": _best(lambda: games.mmd(g, 0.05, iterations=n, record_at=[n]), repeat=2) / n,
           "ours_cfr_iter_s": _best(lambda: games.cfr(g, n, plus=True, record_at=[n]), repeat=2) / n}
    try:
        import pyspiel
        from open_spiel.python.algorithms import mmd_dilated

        from games.efg.openspiel import load_openspiel_game, to_openspiel_policy
    except ImportError:
        return {**res, "peak_rss_GB": _rss_gb()}
    og = load_openspiel_game(g)
    cpp = pyspiel.TabularPolicy(to_openspiel_policy(g, pol, og).to_dict())
    assert abs(pyspiel.exploitability(og, cpp) - games.exploitability(g, pol)) < 1e-9
    res["os_exploitability_s"] = _best(lambda: pyspiel.exploitability(og, cpp), repeat=3, number=1 if big else 3)
    solver = mmd_dilated.MMDDilatedEnt(og, 0.05)
    res["os_mmd_iter_s"] = _best(solver.update_sequences, repeat=1 if big else 3)
    cfrp = pyspiel.CFRPlusSolver(og)
    res["os_cfr_iter_s"] = _best(cfrp.evaluate_and_update_policy, repeat=2, number=1 if big else 10)
    res["peak_rss_GB"] = _rss_gb()
    return res


def point_simulator(B: int, device: str = "cpu") -> dict:
    import torch

    from mdp.batched import BatchedTabularMDP
    from mdp.generators import garnet

    torch.set_num_threads(1)
    m = garnet(50, 5, 5, 0.95, seed=0, sparse=False)
    sim = BatchedTabularMDP(m, B, device=device, generator=torch.Generator(device=device).manual_seed(0))
    sim.reset()
    steps = max(5, min(200, 2_000_000 // B))
    acts = torch.randint(0, 5, (steps, B), generator=torch.Generator(device=device).manual_seed(1), device=device)

    def run():
        for t in range(steps):
            sim.step(acts[t])
        if device == "cuda":
            torch.cuda.synchronize()

    run()
    return {"B": B, "steps_per_s": B * steps / _best(run, repeat=3), "peak_rss_GB": _rss_gb()}


def point_gym(B: int) -> dict:
    import gymnasium as gym

    from mdp.envs import TabularEnv
    from mdp.generators import garnet

    m = garnet(50, 5, 5, 0.95, seed=0, sparse=False)
    venv = gym.vector.SyncVectorEnv([lambda: TabularEnv(m, max_steps=10_000) for _ in range(B)])
    venv.reset(seed=0)
    steps = 50
    acts = np.random.default_rng(0).integers(0, 5, size=(steps, B))

    def run():
        for t in range(steps):
            venv.step(acts[t])

    run()
    return {"B": B, "steps_per_s": B * steps / _best(run, repeat=3), "peak_rss_GB": _rss_gb()}


POINTS = {"planning": point_planning, "toolbox": point_toolbox, "robust": point_robust,
          "batched_robust": point_batched_robust, "games": point_games, "simulator": point_simulator,
          "gym": point_gym}


def run_point(kind: str, *args, timeout: float | None = None) -> dict | None:
    """Run one point in a fresh process (so peak RSS is the point's own); None if it failed or timed out."""
    cmd = [sys.executable, __file__, "--point", kind, *map(str, args)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        print(f"  {kind} {args}: timed out after {timeout} s", flush=True)
        return None
    if out.returncode != 0:
        print(f"  {kind} {args}: failed\n{out.stderr[-2000:]}", flush=True)
        return None
    res = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {kind} {args}: {res}", flush=True)
    return res


# ------------------------------------------------------------------------------------------------ sections
def _merge(old: list, new: list, key: str = "S") -> list:
    """Points of an earlier run of the section, replaced or extended by this run's (by ``key``)."""
    by = {r[key]: r for r in old}
    by.update({r[key]: r for r in new})
    return [by[k] for k in sorted(by)]


def section_planning(args) -> tuple[list, dict]:
    sizes = [s for s in (10**3, 10**4, 10**5, 10**6, 10**7) if s <= args.planning_max]
    sizes = args.planning_sizes if args.planning_sizes is not None else sizes
    ours = [r for S in sizes if (r := run_point("planning", S)) is not None]
    ours += [json.loads(Path(f).read_text().strip().splitlines()[-1]) for f in args.planning_points or []]
    tb_sizes = args.toolbox_sizes if args.toolbox_sizes is not None else [S for S in (1000, 3000, 10_000)
                                                                          if S <= args.toolbox_max]
    tbs = [r for S in tb_sizes if (r := run_point("toolbox", S)) is not None]
    old = _load("planning")
    ours, tbs = _merge(old.get("planning", []), ours), _merge(old.get("toolbox", []), tbs)
    big = [r for r in ours if r["S"] >= 10**4 and "solve_cpu_s" in r]
    sl = slope([r["S"] for r in big], [r["solve_cpu_s"] for r in big])
    sl_wall = slope([r["S"] for r in big], [r["solve_s"] for r in big])
    sl_tb = slope([r["S"] for r in tbs], [r.get("solve_cpu_s", r["solve_s"]) for r in tbs])
    lines = ["## Planning: certified optimal policy on sparse Garnets (A = 10, 5 successors, gamma = 0.99)", "",
             "Ours: `sparse_garnet` + `sparse_policy_iteration(tol=1e-6)` (certified policy gap); anchor: "
             "pymdptoolbox `ValueIteration(epsilon=1e-6)` on the same instance. One process per point; peak RSS "
             "includes the interpreter and imports (~0.2 GB).", "",
             "| S | generate s | solve s (wall) | solve s (CPU) | PI iterations | Krylov mat-vecs | certified gap "
             "| kernel GB | peak RSS GB | pymdptoolbox s (wall / CPU) | toolbox policy gap | speed-up (CPU) |",
             "|" + "---|" * 12]
    tb_by = {r["S"]: r for r in tbs}
    ours_by = {r["S"]: r for r in ours}
    for S in sorted(set(tb_by) | set(ours_by)):
        r, tb = ours_by.get(S), tb_by.get(S)
        tb_cells = "– | – | –"
        if tb:
            tb_cpu = tb.get("solve_cpu_s", tb["solve_s"])
            ratio = f"**{tb_cpu / r.get('solve_cpu_s', r['solve_s']):.0f}x**" if r else "–"
            tb_cells = (f"{tb['solve_s']:.2f} / {tb.get('solve_cpu_s', float('nan')):.2f} | {tb['policy_gap']:.1e} | "
                        f"{ratio}")
        if r is None:
            lines.append(f"| {S:,} | – | – | – | – | – | – | – | {tb['peak_rss_GB']:.2f} | {tb_cells} |")
            continue
        cpu = r.get("solve_cpu_s")
        lines.append(f"| {S:,} | {r['gen_s']:.2f} | {r['solve_s']:.3f} | "
                     f"{'–' if cpu is None else f'{cpu:.3f}'} | {r['iterations']} | {r['matvecs']} | "
                     f"{r['policy_gap_bound']:.1e} | {r['kernel_GB']:.3f} | {r['peak_rss_GB']:.2f} | {tb_cells} |")
    lines += ["", f"Fitted log-log slope of our solve CPU time over S >= 10^4: **{sl:.2f}** (goal <= 1.1; wall time: "
              f"{sl_wall:.2f}); pymdptoolbox over S = {', '.join(str(r['S']) for r in tbs)}: **{sl_tb:.2f}**. "
              "Other jobs shared the 2 cores, so CPU time (the process's own seconds) is the comparable measure; "
              "memory-bandwidth contention still inflates it at the sizes that do not fit in cache. Above S = 10^5 "
              "the value vector (8 S bytes) leaves the cache and every one of the 5 S A kernel entries gathers "
              "V at a random state (Garnets have no locality), so the cost per entry grows: the slope from "
              "10^6 to 10^7 is the latency of those gathers, not extra work (PI iterations and mat-vecs stay flat). "
              "Indices are int32; the kernel is the only O(S A b) allocation besides one policy's rows (1/A of it)."
              + (" A '–' in the CPU column: that point was measured before CPU timing was added; its wall time "
                 "includes waiting for a core." if any("solve_cpu_s" not in r for r in ours) else ""), ""]
    return lines, {"planning": ours, "toolbox": tbs, "planning_slope": sl, "toolbox_slope": sl_tb}


def _predict(points: list, S: int) -> float | None:
    """Time at ``S`` extrapolated from the last two measured ``(S, s)`` points (slope at least 1)."""
    if not points:
        return None
    (s1, t1), (s0, t0) = points[-1], (points[-2] if len(points) > 1 else (None, None))
    k = max(1.0, slope([s0, s1], [t0, t1])) if s0 else 2.0
    return t1 * (S / s1) ** k


def section_robust(args) -> tuple[list, dict]:
    rows = [] if args.sets else _load("robust").get("robust", [])  # --sets with no names: batched points only
    for name in args.sets:
        done = {"rvi": [], "iwocs": []}
        for S in args.robust_sizes:
            got, note = {}, {}
            for solver in ("iwocs", "rvi"):
                pred = _predict(done[solver], S)
                if pred is not None and pred > args.cap:
                    got[solver], note[solver] = None, f"not run (predicted {pred:.0f} s)"
                    continue
                got[solver] = run_point("robust", name, S, solver, timeout=4 * args.cap)
                note[solver] = f"not finished in {4 * args.cap:.0f} s"
                if got[solver]:
                    done[solver].append((S, got[solver]["cpu_s"]))
            rows.append({"set": name, "S": S, "iwocs": got["iwocs"], "rvi": got["rvi"], "notes": note})
    brows = [r for B in args.robust_batches if (r := run_point("batched_robust", B, timeout=4 * args.cap))]
    missing = [B for B in args.robust_batches if B not in {r["B"] for r in brows}]
    data = {"robust": rows, "batched_robust": brows, "batched_missing": missing, "cap": args.cap}
    return robust_lines(data), data


def robust_lines(data: dict) -> list:
    """The robust section's tables and text, rendered from its measured points (``--render robust`` re-renders
    the saved JSON)."""
    cap, rows = data.get("cap", 200.0), data["robust"]
    lines = ["## Robust MDPs: IWOCS vs robust VI against S (sparse nominal kernels)", "",
             "Nominal kernels from `sparse_garnet(S, A=10, b=5, gamma=0.9, seed=S)` (CSR, int32 indices), passed "
             "as CSR to `L1Ball` (radius 0.5), `KLBall` (0.1) and `WassersteinBall` (1.0, ground metric |i - j|), "
             "which keep them sparse (`mdp.robust.sparse_oracles`: no `[S, A, S]` array; the W1 oracle holds the "
             "`[S, S]` metric and `[256, S]` envelope temporaries). `robust_value_iteration(tol=1e-6)` and "
             "`iwocs(eps=1e-6)`, both certified, each point in its own process (peak RSS includes the interpreter "
             f"and imports, about 0.25 GB). A solver is skipped once its time extrapolated from its last two "
             f"points exceeds {cap:.0f} s. Other jobs shared the 2 cores during this run (wall time up to 4x the "
             "CPU time), so CPU time is the comparable measure.", "",
             "| set | S | robust VI s (wall / CPU) | RVI oracle calls | IWOCS s (wall / CPU) | IWOCS oracle calls "
             "| speed-up (CPU) | IWOCS bracket | peak RSS GB (RVI / IWOCS) | dense [S, A, S] would be GB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    slopes, slopes_big = {}, {}
    for row in rows:
        name, S, iw, rvi = row["set"], row["S"], row["iwocs"], row["rvi"]
        got, note = {"iwocs": iw, "rvi": rvi}, row.get("notes", {})
        sp_cell = f"**{rvi['cpu_s'] / iw['cpu_s']:.1f}x**" if rvi and iw else "–"
        br = f"[{iw['lower']:.7f}, {iw['upper']:.7f}]" if iw else "–"
        mem = f"{rvi['peak_rss_GB'] if rvi else float('nan'):.2f} / {iw['peak_rss_GB'] if iw else float('nan'):.2f}"
        cell = {k: f"{got[k]['s']:.2f} / {got[k]['cpu_s']:.2f}" if got[k] else note.get(k, "–") for k in got}
        calls = {k: got[k]["oracle_calls"] if got[k] else "–" for k in got}
        lines.append(f"| {name} | {S:,} | {cell['rvi']} | {calls['rvi']} | {cell['iwocs']} | {calls['iwocs']} | "
                     f"{sp_cell} | {br} | {mem} | {S * 10 * S * 8 / 1e9:.3g} |")
    for name in dict.fromkeys(r["set"] for r in rows):
        pts = {k: [(r["S"], r[k]["cpu_s"]) for r in rows if r["set"] == name and r[k]] for k in ("iwocs", "rvi")}
        slopes[name] = tuple(slope(*zip(*pts[k])) if len(pts[k]) > 1 else float("nan") for k in ("iwocs", "rvi"))
        big = {k: [p for p in pts[k] if p[0] >= 500] for k in pts}
        slopes_big[name] = tuple(slope(*zip(*big[k])) if len(big[k]) > 1 else float("nan") for k in ("iwocs", "rvi"))
    lines += ["", "Fitted log-log slopes of CPU time against S (IWOCS / robust VI), over all sizes: "
              + "; ".join(f"{k}: **{a:.2f}** / **{b:.2f}**" for k, (a, b) in slopes.items())
              + "; over S >= 500: " + "; ".join(f"{k}: **{a:.2f}** / **{b:.2f}**" for k, (a, b) in slopes_big.items())
              + ". Below S = 500 the per-iteration interpreter and torch overhead dominates, hence slopes under 1. "
              "The L1 and KL oracles touch only the b = 5 support entries of each row (plus one column for L1), so "
              "a backup costs O(S A b) and the oracle-call counts stay flat (about 150 for robust VI at "
              "gamma = 0.9 and 1e-6, 6 to 25 for IWOCS): their slopes are near 1. The W1 oracle needs the envelope "
              "min_k V_k + lambda |j - k| over all S states for every state j, O(S^2) per breakpoint, so W1 grows "
              "faster than S. Peak RSS stays within 0.1 GB of the interpreter's ~0.28 GB (W1 at S = 2,000: its "
              "[S, S] metric and envelope temporaries), against 0.32 GB for the dense kernel alone at S = 2,000, "
              "A = 10 (the dense-kernel sets needed 0.77 GB for IWOCS at S = 500 and did not finish L1 at "
              "S = 1,000 in 120 s, on a different instance family in an earlier run).", ""]
    lines += batched_robust_lines(data.get("batched_robust", []), data.get("batched_missing", []), 4 * cap)
    return lines


def batched_robust_lines(brows: list, missing: list, timeout: float) -> list:
    """The batched robust VI table and what it shows (rendered from the measured points)."""
    lines = ["### Batched robust VI (L1, S = 20, A = 5, radii in [0.1, 1]) vs the per-instance loop", "",
             "| instances B | batched s (wall / CPU) | per-instance loop s (16 timed, scaled; wall / CPU) | backups "
             "| speed-up (CPU) |", "|---|---|---|---|---|"]
    for r in brows:
        if "batched_cpu_s" not in r:  # measured before CPU timing was recorded
            r = dict(r, batched_cpu_s=float("nan"), loop_cpu_s=float("nan"), iterations="–")
        ratio = r["loop_cpu_s"] / r["batched_cpu_s"] if r["batched_cpu_s"] == r["batched_cpu_s"] else \
            r["loop_s"] / r["batched_s"]
        lines.append(f"| {r['B']} | {r['batched_s']:.2f} / {r['batched_cpu_s']:.2f} | {r['loop_s']:.2f} / "
                     f"{r['loop_cpu_s']:.2f} | {r['iterations']} | **{ratio:.2f}x** |")
    lines += [f"| {B} | not finished in {timeout:.0f} s | – | – | – |" for B in missing]
    lines += ["", "The CPU design that beats the per-instance loop is the batch itself at small S: a robust backup "
              "of one S = 20, A = 5 instance is a few microseconds of arithmetic behind tens of microseconds of "
              "torch dispatch, and one batched backup pays that dispatch once for all B instances (the loop's 16 "
              "timed instances are spread over the radii like the batch). The gain shrinks as B grows (CPU time "
              "per instance and backup rises with B): once dispatch is amortised, the dense oracle's sorted "
              "cumulative sums over `[B, S*A, S]` tensors are memory-bound. At S = 50, "
              "A = 10 with dense nominal kernels (`robust.md`) the oracle work is memory-bound and the batch runs "
              "until its slowest instance converges, so batching gave 0.8x there; a GPU is where large batches "
              "pay (see `gpu_check.sh`).", ""]
    return lines


def section_games(args) -> tuple[list, dict]:
    rows = [r for name in args.games if (r := run_point("games", name, timeout=900))]
    lines = ["## Games: cost against the number of histories, OpenSpiel at each size", "",
             "| game | histories | infosets | exploitability ours / OpenSpiel C++ | MMD iteration ours / OpenSpiel "
             "Python | CFR+ iteration ours / OpenSpiel C++ |", "|---|---|---|---|---|---|"]

    def cell(r, key):
        o, a = r[f"ours_{key}_s"], r.get(f"os_{key}_s")
        return f"{o * 1e3:.3f} ms / {a * 1e3:.3g} ms (**{a / o:.2g}x**)" if a else f"{o * 1e3:.3f} ms / –"

    for r in rows:
        lines.append(f"| {r['game']} | {r['histories']:,} | {r['infosets']} | {cell(r, 'exploitability')} | "
                     f"{cell(r, 'mmd_iter')} | {cell(r, 'cfr_iter')} |")
    lines += ["", "Bold: OpenSpiel's time over ours (above 1: ours is faster). Each time is the best of repeated runs."]
    if len(rows) >= 2:
        h = [r["histories"] for r in rows]
        lines += ["", f"Log-log slopes against histories ({len(rows)} games; ours / OpenSpiel): "
                  + "; ".join(f"{k}: {slope(h, [r[f'ours_{k}_s'] for r in rows]):.2f} / "
                              f"{slope(h, [r.get(f'os_{k}_s', np.nan) for r in rows]):.2f}"
                              for k in ("exploitability", "mmd_iter", "cfr_iter")) + ". Larger games come from "
                  "`games.from_openspiel` (any finite two-player perfect-recall OpenSpiel game)."]
    lines.append("")
    return lines, {"games": rows}


def section_simulator(args) -> tuple[list, dict]:
    sims = [r for B in (64, 256, 1024, 4096, 16384, 65536) if (r := run_point("simulator", B))]
    gyms = [r for B in (16, 64) if (r := run_point("gym", B))]
    lines = ["## Simulator: steps/s against the batch size B (Garnet S = 50, A = 5)", "",
             "| B | BatchedTabularMDP steps/s | peak RSS GB |", "|---|---|---|"]
    lines += [f"| {r['B']:,} | {r['steps_per_s']:.3g} | {r['peak_rss_GB']:.2f} |" for r in sims]
    lines += ["", "Anchor: gymnasium `SyncVectorEnv` of `TabularEnv` "
              + ", ".join(f"B = {r['B']}: {r['steps_per_s']:.3g} steps/s" for r in gyms)
              + (f"; at B = {sims[-1]['B']:,} the batched simulator is "
                 f"**{sims[-1]['steps_per_s'] / gyms[-1]['steps_per_s']:.0f}x** "
                 "the vector env's rate." if sims and gyms else ""), ""]
    return lines, {"simulator": sims, "gym": gyms}


SECTIONS = ("planning", "robust", "games", "simulator")


def _load(section: str) -> dict:
    f = OUT / "growth" / f"{section}.json"
    return json.loads(f.read_text()) if f.exists() else {}


def assemble(head: list, out: str) -> str:
    """growth.md and growth.png from the saved sections (each section re-runs on its own)."""
    lines, data = list(head), {}
    for sec in SECTIONS:
        md = OUT / "growth" / f"{sec}.md"
        if md.exists():
            lines += md.read_text().splitlines()
            data.update(_load(sec))
    (OUT / f"{out}.md").write_text("\n".join(lines) + "\n")
    plot(data, OUT / f"{out}.png")
    return "\n".join(lines)


def plot(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(17, 4))
    if data.get("planning"):
        a = ax[0]
        cpu = [r for r in data["planning"] if "solve_cpu_s" in r]
        a.loglog([r["S"] for r in cpu], [r["solve_cpu_s"] for r in cpu], "o-", label="ours (sparse PI), CPU s")
        wall = [r for r in data["planning"] if "solve_cpu_s" not in r]
        if wall:
            a.loglog([r["S"] for r in wall], [r["solve_s"] for r in wall], "o", mfc="none", color="C0",
                     label="ours, wall s only (shared cores)")
        if data.get("toolbox"):
            a.loglog([r["S"] for r in data["toolbox"]], [r.get("solve_cpu_s", r["solve_s"]) for r in data["toolbox"]],
                     "s--", label="pymdptoolbox VI")
        a.set(xlabel="states S", ylabel="CPU seconds to a certified 1e-6 policy", title="planning (A=10, b=5)")
        a.legend()
    if data.get("robust"):
        a = ax[1]
        for name in sorted({r["set"] for r in data["robust"]}):
            rs = [r for r in data["robust"] if r["set"] == name]
            iw = [(r["S"], r["iwocs"].get("cpu_s", r["iwocs"]["s"])) for r in rs if r["iwocs"]]
            rv = [(r["S"], r["rvi"].get("cpu_s", r["rvi"]["s"])) for r in rs if r["rvi"]]
            line = a.loglog(*zip(*iw), "o-", label=f"IWOCS {name}")[0] if iw else None
            if rv:
                a.loglog(*zip(*rv), "s--", color=line.get_color() if line else None, label=f"robust VI {name}")
        a.set(xlabel="states S", ylabel="CPU seconds to certified 1e-6", title="robust MDPs (sparse, A=10, b=5)")
        a.legend(fontsize=7)
    if data.get("games"):
        a = ax[2]
        h = [r["histories"] for r in data["games"]]
        for key, lab in (("exploitability", "exploitability"), ("mmd_iter", "MMD iteration"),
                         ("cfr_iter", "CFR+ iteration")):
            line = a.loglog(h, [r[f"ours_{key}_s"] for r in data["games"]], "o-", label=f"ours {lab}")[0]
            if all(f"os_{key}_s" in r for r in data["games"]):
                a.loglog(h, [r[f"os_{key}_s"] for r in data["games"]], "s--", color=line.get_color(),
                         label=f"OpenSpiel {lab}")
        a.set(xlabel="histories", ylabel="seconds", title="games: " + ", ".join(r["game"].split(":")[-1]
                                                                          for r in data["games"]))
        a.legend(fontsize=7)
    if data.get("simulator"):
        a = ax[3]
        a.loglog([r["B"] for r in data["simulator"]], [r["steps_per_s"] for r in data["simulator"]], "o-",
                 label="BatchedTabularMDP")
        if data.get("gym"):
            a.loglog([r["B"] for r in data["gym"]], [r["steps_per_s"] for r in data["gym"]], "s--",
                     label="gymnasium SyncVectorEnv")
        a.set(xlabel="batch size B", ylabel="steps / s", title="simulator")
        a.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--point", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--sections", nargs="*", default=["planning", "robust", "games", "simulator"])
    ap.add_argument("--planning-max", type=float, default=1e6, help="largest S for planning (1e7 needs ~12 GB)")
    ap.add_argument("--toolbox-max", type=float, default=3000, help="largest S for pymdptoolbox (10000: ~70 s)")
    ap.add_argument("--planning-sizes", type=int, nargs="*", help="explicit planning sizes (merged with saved ones)")
    ap.add_argument("--toolbox-sizes", type=int, nargs="*", help="explicit pymdptoolbox sizes (merged)")
    ap.add_argument("--planning-points", nargs="+", help="JSON outputs of `--point planning S` runs to merge in")
    ap.add_argument("--robust-sizes", type=int, nargs="+", default=[50, 100, 200, 500, 1000, 2000])
    ap.add_argument("--robust-batches", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--sets", nargs="*", default=["L1", "KL", "W1"])
    ap.add_argument("--games", nargs="+", default=["kuhn_poker", "leduc_poker", "openspiel:liars_dice"],
                    help="our games by name, or openspiel:<name> compiled by games.from_openspiel")
    ap.add_argument("--cap", type=float, default=60.0, help="robust VI is skipped when predicted above this (s)")
    ap.add_argument("--out", default="growth", help="basename of the results files")
    ap.add_argument("--render", nargs="*", default=[], help="re-render these sections from their saved JSON")
    args = ap.parse_args(argv)
    if args.point:
        kind, *rest = args.point
        conv = [int(x) if x.isdigit() else x for x in rest]
        print(json.dumps(POINTS[kind](*conv)))
        return
    import torch

    head = ["# Growth curves: cost against problem size, each beside its anchor", "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy "
            f"{np.__version__}, torch {torch.__version__}, BLAS on 1 thread. Every point runs in its own process; "
            "other jobs may have shared the 2 cores.", "", "![growth curves](results/" + args.out + ".png)", ""]
    (OUT / "growth").mkdir(parents=True, exist_ok=True)
    for sec in args.render:  # only the robust section has a renderer separate from its measurements
        (OUT / "growth" / f"{sec}.md").write_text("\n".join(robust_lines(_load(sec))) + "\n")
    for sec in [] if args.render else args.sections:
        print(f"[{sec}]", flush=True)
        sl, d = globals()[f"section_{sec}"](args)
        (OUT / "growth" / f"{sec}.md").write_text("\n".join(sl) + "\n")
        (OUT / "growth" / f"{sec}.json").write_text(json.dumps(d, indent=1, default=float) + "\n")
    print(assemble(head, args.out))


if __name__ == "__main__":
    main()
