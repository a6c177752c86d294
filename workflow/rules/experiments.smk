rule run_experiment:
    """One (experiment, scale, seed) job: a pure function of its wildcards and the device."""
    output:
        "results/{exp}/{scale}/seed{seed}.parquet",
    log:
        "logs/{exp}/{scale}/seed{seed}.log",
    params:
        device=DEVICE,
        games=games_env,
    threads: 1
    resources:
        gpu=1 if DEVICE == "cuda" else 0,
    conda:
        "../envs/theorysim.yaml"
    shell:
        "{params.games}python -m experiments run {wildcards.exp} --scale {wildcards.scale} "
        "--seed {wildcards.seed} --device {params.device} --threads {threads} --out {output} > {log} 2>&1"


rule aggregate_experiment:
    """All seeds of one experiment -> one tidy table and its checked claims."""
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
    input:
        "results/{exp}/{scale}.parquet",
    output:
        report(
            "results/{exp}/{scale}.pdf",
            caption="../report/figure.rst",
            category="Figures",
            subcategory="{scale}",
        ),
    log:
        "logs/{exp}/{scale}/plot.log",
    params:
        games=games_env,
    conda:
        "../envs/theorysim.yaml"
    shell:
        "{params.games}python -m experiments plot {wildcards.exp} --scale {wildcards.scale} "
        "--results {input} --out {output} > {log} 2>&1"
