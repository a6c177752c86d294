# theorysim: the whole pipeline, experiments -> tidy results -> figures -> paper/paper.pdf.
#   snakemake                          # quick scale, all cores (profiles/default)
#   snakemake --config scale=smoke     # seconds; what CI runs
#   snakemake --report report.html     # figures with captions
# Rules live in workflow/rules/*.smk, the config schema in workflow/schemas/.
from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config/config.yaml"


validate(config, schema="workflow/schemas/config.schema.yaml")


# The first rule is the default target.
rule all:
    default_target: True
    input:
        "paper/paper.pdf",


include: "workflow/rules/common.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/paper.smk"
