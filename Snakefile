# theorysim: the whole pipeline, experiments -> tidy results -> figures -> paper/paper.pdf.
#   snakemake                          # quick scale, all cores (profiles/default)
#   snakemake --config scale=smoke     # a few minutes; what CI runs (writes paper/paper-smoke.pdf)
#   snakemake --report report.html     # figures with captions
# Rules live in workflow/rules/*.smk, the config schema in workflow/schemas/.
from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config/config.yaml"


validate(config, schema="workflow/schemas/config.schema.yaml")


# The first rule is the default target.
include: "workflow/rules/common.smk"


rule all:
    default_target: True
    input:
        PAPER,


include: "workflow/rules/experiments.smk"
include: "workflow/rules/paper.smk"


onsuccess:
    from experiments.core import summarize_claims

    print(summarize_claims([f"results/{e}/{SCALE}.claims.json" for e in EXPERIMENTS]))


onerror:
    from experiments.core import summarize_claims

    print(summarize_claims([f"results/{e}/{SCALE}.claims.json" for e in EXPERIMENTS]))
