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
