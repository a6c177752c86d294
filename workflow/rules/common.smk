# Which experiments and seeds the run covers. Names, seeds and captions are read from the experiment
# modules' source without importing them (experiments/sources.py), so building the DAG is fast.
from experiments.registry import describe, experiment_names, seeds_for
from experiments.sources import source_files

SCALE = config["scale"]
DEVICE = config["device"]
ALL_EXPERIMENTS = experiment_names()


def _requested(value):
    """'all', one name, 'a,b' or a list -> list of names (unknown names stop the run here)."""
    if value == "all":
        return list(ALL_EXPERIMENTS)
    names = [value] if isinstance(value, str) else list(value)
    names = [n.strip() for item in names for n in str(item).split(",") if n.strip()]
    unknown = sorted(set(names) - set(ALL_EXPERIMENTS))
    if unknown or not names:
        raise ValueError(
            f"config key 'experiments' names unknown experiments {unknown}; write 'all', one name "
            f"(--config experiments=planning) or a list (--config 'experiments=[planning,robust_iwocs]') "
            f"of: {', '.join(ALL_EXPERIMENTS)}"
        )
    return names


EXPERIMENTS = _requested(config["experiments"])
# One PDF per scale: the default (quick) scale writes paper/paper.pdf, the others paper/paper-<scale>.pdf,
# so CI's smoke run never replaces the quick paper.
PAPER = "paper/paper.pdf" if SCALE == "quick" else f"paper/paper-{SCALE}.pdf"


# Games of the experiments that take a game list (GAMES_FROM_CONFIG): checked here, before any job runs, and
# passed to those jobs through the THEORYSIM_GAMES environment variable (part of each job's config and hash).
import json

GAMES = config.get("games")
if GAMES:
    from games import GAME_FORMS, GameSpecError, check_game_spec

    problems = []
    for _g in GAMES:
        try:
            check_game_spec(_g, zero_sum=True)
        except GameSpecError as e:
            problems.append(str(e))
    if problems:
        raise ValueError(
            f"config key 'games': {'; '.join(problems)}. Allowed forms: {', '.join(GAME_FORMS)} "
            "(zero-sum games only: the game list feeds update_equivalence_nash and update_equivalence_mmds)"
        )
GAMES_ENV = f"THEORYSIM_GAMES='{json.dumps(list(GAMES))}' " if GAMES else ""


def games_prefix(exp):
    """The THEORYSIM_GAMES prefix for experiments that take a game list (others keep their jobs unchanged)."""
    from experiments.sources import experiment_files, static_attributes

    if not GAMES_ENV:
        return ""
    attrs = static_attributes(experiment_files()[exp], names=("GAMES_FROM_CONFIG",))
    return GAMES_ENV if attrs.get("GAMES_FROM_CONFIG") else ""


def games_env(wildcards):
    return games_prefix(wildcards.exp)


def n_seeds(exp):
    return config["seeds"] if config.get("seeds") else seeds_for(exp, SCALE)


def seed_files(wildcards):
    return [
        f"results/{wildcards.exp}/{wildcards.scale}/seed{s}.parquet"
        for s in range(n_seeds(wildcards.exp))
    ]


def code_inputs(exp):
    """The experiment's module and every library source it imports: editing one re-runs its jobs."""
    return list(source_files(exp))


wildcard_constraints:
    exp="|".join(ALL_EXPERIMENTS) if ALL_EXPERIMENTS else "no-experiment",
    scale="smoke|quick|full",
    seed=r"\d+",
