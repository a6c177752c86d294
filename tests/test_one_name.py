"""One name per concept (issue 24): no two public functions or classes of the library share a name, except the
pairs listed here by hand, each of which means the same thing in both places."""
import ast
import collections
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> the modules that define it, and why the shared name is one concept.
SAME_CONCEPT = {
    # theory.compiled wraps the numba kernel of the same step (argument unpacking, then the kernel call).
    "page_steps": {"theory/compiled.py", "theory/numba_kernels.py"},
    "forb_steps": {"theory/compiled.py", "theory/numba_kernels.py"},
    # each multi-objective environment's exact Pareto front (same meaning, one per environment).
    "pareto_front": {"mdp/envs/deep_sea_treasure.py", "mdp/envs/fruit_tree.py"},
}
# Protocols shared by design: the experiment modules' (Config, run, claims, plot, measurements) and each command
# line module's entry point ``main(argv)``.
PROTOCOL = {"Config", "run", "claims", "plot", "measurements", "main"}


def _public_definitions():
    defs = collections.defaultdict(set)
    for top in ("theory", "mdp", "games", "experiments"):
        for path in sorted((ROOT / top).rglob("*.py")):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                    defs[node.name].add(str(path.relative_to(ROOT)))
    return defs


def test_no_public_name_has_two_meanings():
    shared = {name: files for name, files in _public_definitions().items() if len(files) > 1 and name not in PROTOCOL}
    assert shared == SAME_CONCEPT
