from pathlib import Path

rule paper:
    """Compile paper/paper.typ (Typst) with every figure and the generated claims table."""
    message:
        f"paper: compile {PAPER} (scale {SCALE})"
    input:
        figures=expand("results/{exp}/{scale}.pdf", exp=EXPERIMENTS, scale=SCALE),
        claims=expand("results/{exp}/{scale}.claims.json", exp=EXPERIMENTS, scale=SCALE),
        sources=["paper/paper.typ", "paper/lib.typ", "paper/refs.bib"]
        + sorted(str(p) for p in Path("paper/sections").glob("*.typ")),
    output:
        report(PAPER, caption="../report/paper.rst", category="Paper"),
    log:
        "logs/paper.log",
    params:
        scale=SCALE,
    conda:
        "../envs/theorysim.yaml"
    shell:
        "python -m experiments paper --scale {params.scale} --claims {input.claims} "
        "--figures {input.figures} --out {output} > {log} 2>&1"
