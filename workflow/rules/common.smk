# Which experiments and seeds the run covers; everything else is a wildcard.
from experiments.core import experiment_names, seeds_for

SCALE = config["scale"]
DEVICE = config["device"]
ALL_EXPERIMENTS = experiment_names()
if config["experiments"] == "all":
    EXPERIMENTS = ALL_EXPERIMENTS
else:
    unknown = sorted(set(config["experiments"]) - set(ALL_EXPERIMENTS))
    if unknown:
        raise ValueError(
            f"config key 'experiments' names unknown experiments {unknown}; "
            f"allowed: 'all' or a list of {ALL_EXPERIMENTS}"
        )
    EXPERIMENTS = list(config["experiments"])


# Games of the experiments that take a game list (GAMES_FROM_CONFIG): checked here, before any job runs, and
# passed to every job through the THEORYSIM_GAMES environment variable (part of each job's config and hash).
import json

from games import GAME_FORMS, GameSpecError, check_game_spec

GAMES = config.get("games")
if GAMES:
    problems = []
    for _g in GAMES:
        try:
            check_game_spec(_g, zero_sum=True)
        except GameSpecError as e:
            problems.append(str(e))
    if problems:
        raise ValueError(
            "config key 'games': " + "; ".join(problems) + f". Allowed forms: {', '.join(GAME_FORMS)} "
            "(zero-sum games only: the game list feeds update_equivalence_nash and update_equivalence_mmds)"
        )
GAMES_ENV = "THEORYSIM_GAMES='" + json.dumps(list(GAMES)) + "' " if GAMES else ""


def games_env(wildcards):
    """The THEORYSIM_GAMES prefix for experiments that take a game list (others keep their jobs unchanged)."""
    from experiments.core import get_experiment

    return GAMES_ENV if getattr(get_experiment(wildcards.exp), "GAMES_FROM_CONFIG", False) else ""


def n_seeds(exp):
    return config["seeds"] if config.get("seeds") else seeds_for(exp, SCALE)


def seed_files(wildcards):
    return [
        f"results/{wildcards.exp}/{wildcards.scale}/seed{s}.parquet"
        for s in range(n_seeds(wildcards.exp))
    ]


wildcard_constraints:
    exp="|".join(ALL_EXPERIMENTS) if ALL_EXPERIMENTS else "no-experiment",
    scale="smoke|quick|full",
    seed=r"\d+",
