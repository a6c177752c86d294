"""OpenSpiel catalogue: compile cost and per-iteration speed of our evaluators against OpenSpiel's C++.

For every game of ``games.efg.openspiel.CATALOGUE`` (each measured in a fresh subprocess so that the peak memory
is the game's own), the table reports

* histories and information sets of the compiled game, compile time of ``games.from_openspiel`` and the
  peak resident memory it added;
* time of one dilated-MMD iteration (``games.mmd(form="sequence")``, no OpenSpiel counterpart in C++);
* time of one CFR+ iteration: ours (``games.cfr(plus=True)``, alternating) against OpenSpiel's C++
  ``pyspiel.CFRPlusSolver.evaluate_and_update_policy``;
* time of one exact exploitability (NashConv for games that are not zero-sum) of a Dirichlet random policy:
  ours against ``pyspiel.exploitability`` / ``pyspiel.nash_conv`` on a C++ ``TabularPolicy`` built
  beforehand (both values are checked to agree to 1e-9 first).

The issue's goal is >= 10x OpenSpiel's C++ per CFR+ iteration and per exploitability on every game of at
least 5,000 histories. torch uses one thread. Usage: ``python benchmarks/bench_openspiel_catalogue.py [game ...]``
(default: the whole catalogue); the rows are kept in ``benchmarks/results/openspiel_catalogue.json`` (naming
games re-measures only those) and written as ``benchmarks/results/openspiel_catalogue.md``.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time  # noqa: E402
OUT = Path(__file__).resolve().parent / "results"


_best = best_time


def measure(name: str) -> dict:
    """All measurements of one catalogue game (run in its own process)."""
    import numpy as np
    import pyspiel
    import torch

    from games import TabularPolicy, cfr, exploitability, mmd, nash_conv
    from games.efg.openspiel import from_openspiel, to_openspiel_policy

    torch.set_num_threads(1)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    g = from_openspiel(f"openspiel:{name}")
    compile_s = time.perf_counter() - t
    mem_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    og = g.openspiel_game
    big = g.num_histories > 200_000
    rep = 1 if big else 3
    out = dict(game=name, histories=g.num_histories, infosets=g.num_infosets, compile_s=compile_s, mem_mb=mem_mb,
               zero_sum=g.zero_sum)
    # one dilated MMD iteration (the difference of two run lengths removes the fixed cost and the final
    # exploitability evaluation both runs make)
    n = 5 if big else 20
    a = _best(lambda: mmd(g, 0.05, iterations=1, record_at=[1]), rep)
    b = _best(lambda: mmd(g, 0.05, iterations=1 + n, record_at=[1 + n]), rep)
    out["mmd_ms"] = max(b - a, 0.0) / n * 1e3
    # one CFR+ iteration, ours vs OpenSpiel's C++
    a = _best(lambda: cfr(g, 1, plus=True, record_at=[1]), rep)
    b = _best(lambda: cfr(g, 1 + n, plus=True, record_at=[1 + n]), rep)
    out["cfr_ms"] = max(b - a, 0.0) / n * 1e3
    s = pyspiel.CFRPlusSolver(og)
    s.evaluate_and_update_policy()
    out["os_cfr_ms"] = _best(s.evaluate_and_update_policy, rep, number=2 if big else 5) * 1e3
    # one exploitability of a Dirichlet random policy
    rng = np.random.default_rng(0)
    probs = []
    for tp in g.treeplex:
        p = rng.dirichlet(np.ones(g.num_actions), size=tp.num_infosets) * tp.mask
        probs.append(p / p.sum(1, keepdims=True))
    pol = TabularPolicy(g, tuple(probs))
    cpp = pyspiel.TabularPolicy(to_openspiel_policy(g, pol).to_dict())
    if g.zero_sum:
        ours_fn, os_fn = (lambda: exploitability(g, pol, validate=False)), (lambda: pyspiel.exploitability(og, cpp))
    else:
        ours_fn, os_fn = (lambda: nash_conv(g, pol, validate=False)), (lambda: pyspiel.nash_conv(og, cpp, False))
    out["agree"] = abs(float(ours_fn()) - float(os_fn()))
    assert out["agree"] <= 1e-9, (name, out["agree"])
    out["expl_ms"] = _best(ours_fn, rep, number=5) * 1e3
    out["os_expl_ms"] = _best(os_fn, rep, number=1 if big else 3) * 1e3
    return out


def main():
    try:
        import pyspiel  # noqa: F401
    except ImportError:
        print("OpenSpiel is not installed (pip install 'theorysim[openspiel]'); nothing to measure.")
        return
    from games.efg.openspiel import CATALOGUE

    names = sys.argv[1:] or list(CATALOGUE)
    store = OUT / "openspiel_catalogue.json"
    kept = json.loads(store.read_text()) if store.exists() and sys.argv[1:] else {}
    for name in names:
        r = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True, cwd=ROOT)
        if r.returncode != 0:
            print(f"{name}: failed\n{r.stderr[-2000:]}", flush=True)
            kept[name] = dict(game=name, error=r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed")
            continue
        kept[name] = json.loads(r.stdout.strip().splitlines()[-1])
        print(kept[name], flush=True)
    OUT.mkdir(exist_ok=True)
    store.write_text(json.dumps(kept, indent=1) + "\n")
    write_table(kept)


def _ratio(x: float) -> str:
    return f"{x:,.0f}x" if x >= 100 else f"{x:.3g}x"


def write_table(kept: dict) -> None:
    """``benchmarks/results/openspiel_catalogue.md`` from the stored rows."""
    import importlib.metadata as md

    import numpy as np
    import torch

    from games.efg.openspiel import CATALOGUE

    rows = [kept[n] for n in CATALOGUE if n in kept]
    lines = ["# OpenSpiel catalogue: compile cost, CFR+ and exploitability against OpenSpiel's C++", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch "
             f"{torch.__version__} (1 thread), numpy {np.__version__}, OpenSpiel {md.version('open_spiel')}. "
             "Each game is compiled and timed in a fresh process; times are the best of 3 (1 for games over "
             "200,000 histories); exploitability is NashConv for games that are not zero-sum, checked to agree "
             "with OpenSpiel's to 1e-9 before timing.", "",
             "| game | histories | infosets | compile s | peak memory MB | MMD it. ms | CFR+ it. ms (ours / C++) | "
             "CFR+ ratio | exploitability ms (ours / C++) | exploitability ratio |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    misses = []
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['game']} | – | – | – | – | – | failed: {r['error'][:80]} | – | – | – |")
            continue
        cr = r["os_cfr_ms"] / r["cfr_ms"] if r["cfr_ms"] > 0 else float("inf")
        er = r["os_expl_ms"] / r["expl_ms"]
        if r["histories"] >= 5000 and (cr < 10 or er < 10):
            misses.append(f"{r['game']} (CFR+ {cr:.1f}x, exploitability {er:.1f}x)")
        lines.append(f"| {r['game']} | {r['histories']:,} | {r['infosets']:,} | {r['compile_s']:.2f} | "
                     f"{r['mem_mb']:.0f} | {r['mmd_ms']:.3f} | {r['cfr_ms']:.3f} / {r['os_cfr_ms']:.3f} | "
                     f"**{_ratio(cr)}** | {r['expl_ms']:.3f} / {r['os_expl_ms']:.3f} | **{_ratio(er)}** |")
    lines += ["", "Goal (>= 10x OpenSpiel's C++ per CFR+ iteration and per exploitability on every game of at least "
              "5,000 histories): " + ("met on every such game." if not misses else "missed on " + "; ".join(misses)
                                      + ".")]
    lines += ["", "Our per-iteration cost has a floor of about 30 small torch operations per player (about 1 ms on "
              "Kuhn poker): below about 10,000 histories OpenSpiel's C++ tree walk is cheaper or comparable, and "
              "the CFR+ ratio grows with the game (14x on Liar's Dice, 137x on universal_poker). The machine was "
              "shared with other jobs while measuring (load average about 13 on 2 cores): absolute times are "
              "inflated, ratios are measured in the same process and conditions."]
    lines += ["", "Games tried that do not compile (from_openspiel raises, naming the reason): three-or-more-player "
              "games (e.g. `kuhn_poker(players=3)`, `dou_dizhu`); simultaneous-move games unless loaded as "
              "`turn_based_simultaneous_game(...)` (e.g. `goofspiel`, `oshi_zumo`, `laser_tag`); games without "
              "information-state strings (`pig`); one-player games (`catch`); and games over the default budget "
              "of 2,000,000 histories (`phantom_ttt` has more than 3,000,000)."]
    OUT.mkdir(exist_ok=True)
    (OUT / "openspiel_catalogue.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(sys.argv[2])))
    elif sys.argv[1:] == ["--table"]:  # rewrite the table from the stored rows, measuring nothing
        write_table(json.loads((OUT / "openspiel_catalogue.json").read_text()))
    else:
        main()
