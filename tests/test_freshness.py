"""Per-experiment freshness (issue 24 item 7): an experiment's recorded sources are the modules it uses.

``experiments.sources`` follows first-party imports statically and reads the ``_EXPORTS``/``_SUBMODULES`` tables
of lazy package ``__init__``s (:mod:`theory.lazy`), so ``from games import kuhn_poker`` depends on
``games/__init__.py`` and the module defining ``kuhn_poker``, not on the whole package. The expected sets below
are written by hand from the files' imports (never computed by ``source_files``).
"""
import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from experiments.sources import experiment_files, lazy_tables, module_sources, source_files

ROOT = Path(__file__).resolve().parents[1]

LAZY = textwrap.dedent("""
    from theory.lazy import lazy_exports
    _EXPORTS = {exports}
    _SUBMODULES = {submodules}
    __all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
""")

TREE = {
    # a lazy family: names map to their defining modules, one name is re-exported through a lazy subpackage
    "fam/__init__.py": LAZY.format(exports={"solve": "fam.solver", "Model": "fam.model", "helper": "fam.sub"},
                                   submodules={"tools": "fam.sub.tools"}),
    "fam/solver.py": "from fam.model import Model\n",
    "fam/model.py": "import numpy as np\n\nModel = object\n",
    "fam/unused.py": "from fam.model import Model\n",
    "fam/sub/__init__.py": LAZY.format(exports={"helper": "fam.sub.impl"}, submodules={}),
    "fam/sub/impl.py": "def helper():\n    pass\n",
    "fam/sub/tools.py": "def train():\n    pass\n",
    # an eager package: its __init__'s imports are followed as before
    "other/__init__.py": "from other.a import f\n",
    "other/a.py": "def f():\n    pass\n",
    "other/b.py": "def g():\n    pass\n",
    # experiments
    "exp/from_import.py": "from fam import solve\n",
    "exp/attribute.py": "import fam\n\n\ndef run():\n    return fam.Model, fam.tools.train()\n",
    "exp/chained.py": "from fam import helper\n",
    "exp/alias.py": "import fam.sub as S\n\n\ndef run():\n    return S.helper\n",
    "exp/bare.py": "import fam\n",
    "exp/eager.py": "from other import f\n",
    "exp/submodule.py": "from fam import tools\n\n\ndef run():\n    return tools.train\n",
    "exp/subpackage.py": "from fam import sub\n\n\ndef run():\n    return sub.helper\n",
    "exp/other_name.py": "import fam\n\n\ndef run(fam_list):\n    return fam_list.solve\n",
}


@pytest.fixture
def tree(tmp_path):
    for rel, text in TREE.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


@pytest.mark.parametrize("exp, expected", [
    ("from_import", {"fam/__init__.py", "fam/solver.py", "fam/model.py"}),
    ("attribute", {"fam/__init__.py", "fam/model.py", "fam/sub/__init__.py", "fam/sub/tools.py"}),
    ("chained", {"fam/__init__.py", "fam/sub/__init__.py", "fam/sub/impl.py"}),
    ("alias", {"fam/__init__.py", "fam/sub/__init__.py", "fam/sub/impl.py"}),
    ("bare", {"fam/__init__.py"}),
    ("eager", {"other/__init__.py", "other/a.py"}),
    ("submodule", {"fam/__init__.py", "fam/sub/__init__.py", "fam/sub/tools.py"}),
    ("subpackage", {"fam/__init__.py", "fam/sub/__init__.py", "fam/sub/impl.py"}),
    ("other_name", {"fam/__init__.py"}),
])
def test_lazy_exports_resolve_to_defining_modules(tree, exp, expected):
    got = module_sources(tree / "exp" / f"{exp}.py", root=tree, first_party=("fam", "other"))
    assert {str(p.relative_to(tree)) for p in got} == expected | {f"exp/{exp}.py"}


def test_tables_must_be_literals(tree):
    (tree / "fam" / "__init__.py").write_text("_EXPORTS = dict(solve='fam.solver')\n")
    lazy_tables.cache_clear()
    with pytest.raises(ValueError, match="_EXPORTS must be a dict literal"):
        lazy_tables(tree / "fam" / "__init__.py")
    assert lazy_tables(ROOT / "theory" / "lazy.py") == ({}, {})


# ---- the repository's own layout -------------------------------------------------------------------------------
# By hand (grep of experiments/*.py): the experiments that call CFR, and the game experiments.
CFR_USERS = {"update_equivalence_nash", "update_equivalence_mmds"}
EFG_AND_POPULATION = {"update_equivalence_nash", "update_equivalence_mmds", "update_equivalence_particles",
                      "update_equivalence_qre", "update_equivalence_search", "update_equivalence_soundness",
                      "mra_grid", "mra_latent_exact", "mra_learned"}
MARKOV = {"mamql_demos", "mamql_gems", "mamql_opponents", "mamql_regularizer", "mamql_temperature"}
# By hand: the experiments that import mdp.robust; each uses s-rectangular sets or IWOCS, whose s-rectangular
# variant imports mdp.robust.srect.
ROBUST_USERS = {"robust_iwocs", "robust_scaling", "robust_search", "robust_srect", "robust_static_dynamic"}
# By hand (grep of experiments/*.py for cmorl, linear_scalarisation, lagrangian): the C-MORL and Lagrangian users.
CMORL_USERS = {"multiobjective_deterministic", "multiobjective_dst", "multiobjective_fruit_tree",
               "multiobjective_random", "multiobjective_scaling"}
LAGRANGIAN_USERS = {"constrained_tscac", "constrained_tuning"}


def _users(rel):
    return {n for n in experiment_files() if rel in source_files(n)}


def test_game_lists_are_complete():
    names = set(experiment_files())
    assert {n for n in names if n.startswith(("update_equivalence", "mra_", "mamql_"))} == EFG_AND_POPULATION | MARKOV
    assert {n for n in names if n.startswith("robust_")} == ROBUST_USERS


def test_robust_module_is_a_source_of_the_robust_experiments_only():
    assert _users("mdp/robust/srect.py") == ROBUST_USERS


def test_cmorl_and_lagrangian_are_sources_of_their_users_only():
    assert _users("mdp/multiobjective/cmorl_solver.py") == CMORL_USERS  # not multiobjective_fronts
    assert _users("mdp/multiobjective/cmorl_barrier.py") == CMORL_USERS
    assert _users("mdp/constrained/primal_dual.py") == LAGRANGIAN_USERS


def test_cfr_module_is_a_source_of_the_cfr_experiments_only():
    assert _users("games/efg/cfr.py") == CFR_USERS


def test_planning_is_no_source_of_extensive_form_or_population_experiments():
    assert not _users("mdp/planning.py") & EFG_AND_POPULATION


def test_planning_is_a_source_of_the_markov_game_experiments_by_design():
    """Every MAMQL experiment scores policies by their exact values (``recovery_metrics`` / ``agent_values`` ->
    :func:`mdp.planning.policy_evaluation` in each agent's marginal MDP: the package's one exact evaluator), so
    editing the planner must re-run them; the extensive-form and population experiments (above) it must not."""
    assert _users("mdp/planning.py") & (EFG_AND_POPULATION | MARKOV) == MARKOV


# ---- end to end: what `snakemake -n` plans after an edit, with every output in place ---------------------------
@pytest.fixture(scope="module")
def built_copy(tmp_path_factory):
    """A copy of the repository whose smoke outputs all exist (empty) and are newer than every source."""
    from experiments.registry import seeds_for

    work = tmp_path_factory.mktemp("fresh") / "repo"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(
        ".git", "results", "logs", ".snakemake", "__pycache__", "paper.pdf", "paper-*.pdf", "generated",
        "*.egg-info", ".pytest_cache", ".ruff_cache"))
    now = time.time()
    stages = [(now + 10, [f"results/{e}/smoke/seed{k}.parquet" for e in experiment_files()
                          for k in range(seeds_for(e, "smoke"))]),
              (now + 20, [f"results/{e}/smoke.{x}" for e in experiment_files() for x in ("parquet", "claims.json")]),
              (now + 30, [f"results/{e}/smoke.pdf" for e in experiment_files()]),
              (now + 40, ["paper/paper-smoke.pdf"])]
    for t, files in stages:  # each stage newer than its inputs, as after a real run
        for rel in files:
            p = work / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.touch()
            os.utime(p, (t, t))
    r = subprocess.run(["snakemake", "-n", "--config", "scale=smoke"], capture_output=True, text=True, cwd=work)
    assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr, r.stdout[-3000:] + r.stderr[-3000:]
    return work


def _planned(work, rel):
    before = os.stat(work / rel)
    with open(work / rel, "a") as fh:  # an edit: Snakemake compares contents, a bare touch is not a change
        fh.write("# edited\n")
    os.utime(work / rel, (time.time() + 100, time.time() + 100))  # newer than the outputs
    try:
        r = subprocess.run(["snakemake", "-n", "--config", "scale=smoke"], capture_output=True, text=True,
                           cwd=work)
    finally:
        text = (work / rel).read_text()
        (work / rel).write_text(text[: -len("# edited\n")])
        # the original times: "now - 100 s" is newer than the outputs once the tests have run for ~2 minutes
        os.utime(work / rel, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    names = set(experiment_files())
    return {ln.split()[0] for ln in r.stdout.splitlines() if ln.split() and ln.split()[0] in names}


def test_snakemake_reruns_only_the_robust_experiments(built_copy):
    assert _planned(built_copy, "mdp/robust/srect.py") == ROBUST_USERS


def test_snakemake_reruns_only_the_cfr_experiments(built_copy):
    assert _planned(built_copy, "games/efg/cfr.py") == CFR_USERS


def test_snakemake_reruns_no_efg_or_population_experiment_after_planning(built_copy):
    assert not _planned(built_copy, "mdp/planning.py") & EFG_AND_POPULATION


def test_the_seed_job_runner_is_a_source_of_every_experiment():
    """Seeding (experiments/devices.py), the runner that writes the table and the config registry decide every
    seed job's numbers, so editing them must re-run all experiments, whatever each experiment imports."""
    everything = set(experiment_files())
    for rel in ("experiments/runner.py", "experiments/devices.py", "experiments/registry.py",
                "experiments/__main__.py"):
        assert _users(rel) == everything, rel
