# theorysim: the whole pipeline (experiments -> tidy results -> figures -> paper/paper.pdf).
# The workflow lives in workflow/Snakefile (Snakemake's standard layout); this shim keeps `snakemake`
# working from the repository root. Run `snakemake` (quick scale, profiles/default) or
# `snakemake --config scale=smoke`.
include: "workflow/Snakefile"
