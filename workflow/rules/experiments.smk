# One rule per experiment for the seed jobs, named after the experiment, so that
# `snakemake --forcerun planning` re-runs exactly that experiment (and the paper after it).
for _exp in ALL_EXPERIMENTS:

    rule:
        name:
            _exp
        message:
            f"{_exp}: seed {{wildcards.seed}} at scale {{wildcards.scale}}"
        input:
            code_inputs(_exp),
        output:
            f"results/{_exp}/{{scale}}/seed{{seed}}.parquet",
        log:
            f"logs/{_exp}/{{scale}}/seed{{seed}}.log",
        # Wall time, CPU time and peak memory of every seed job (Snakemake's own measurement), so that
        # the scale budgets in the README can be checked job by job: `python -m experiments timings`.
        benchmark:
            f"logs/{_exp}/{{scale}}/seed{{seed}}.benchmark.tsv"
        params:
            device=DEVICE,
            exp=_exp,
            games=games_prefix(_exp),
        threads: 1
        resources:
            gpu=1 if DEVICE == "cuda" else 0,
        conda:
            "../envs/theorysim.yaml"
        shell:
            # BLAS pools sized to the job's threads: Snakemake runs one job per core, and OpenBLAS's
            # default pool made 17x17 linear solves 200x slower on a loaded 2-core machine.
            "OPENBLAS_NUM_THREADS={threads} OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
            "{params.games}python -m experiments run {params.exp} --scale {wildcards.scale} "
            "--seed {wildcards.seed} --device {params.device} --threads {threads} --out {output} > {log} 2>&1"


rule aggregate_experiment:
    """All seeds of one experiment -> one tidy table and its checked claims."""
    message:
        "{wildcards.exp}: aggregate seeds and judge claims ({wildcards.scale})"
    input:
        seed_files,
    output:
        table="results/{exp}/{scale}.parquet",
        claims="results/{exp}/{scale}.claims.json",
    log:
        "logs/{exp}/{scale}/aggregate.log",
    params:
        games=games_env,
    conda:
        "../envs/theorysim.yaml"
    shell:
        "{params.games}python -m experiments aggregate {wildcards.exp} --scale {wildcards.scale} "
        "--inputs {input} --out {output.table} --claims {output.claims} > {log} 2>&1"


rule plot_experiment:
    """The experiment's figure, drawn only from its aggregated table."""
    message:
        "{wildcards.exp}: figure ({wildcards.scale})"
    input:
        "results/{exp}/{scale}.parquet",
    output:
        report(
            "results/{exp}/{scale}.pdf",
            caption="../report/figure.rst",
            category="Figures",
            subcategory="{scale}",
            labels={"experiment": "{exp}", "scale": "{scale}"},
        ),
    params:
        title=lambda w: describe(w.exp)["title"],
        caption=lambda w: describe(w.exp)["caption"],
        games=games_env,
    log:
        "logs/{exp}/{scale}/plot.log",
    conda:
        "../envs/theorysim.yaml"
    shell:
        "{params.games}python -m experiments plot {wildcards.exp} --scale {wildcards.scale} "
        "--results {input} --out {output} > {log} 2>&1"
