# theorysim: the whole pipeline, experiments -> tidy results -> figures -> paper/paper.pdf.
#   snakemake                          # quick scale, all cores (profiles/default)
#   snakemake --config scale=smoke     # a few minutes; what CI runs (writes paper/paper-smoke.pdf)
#   snakemake --report report.html     # figures with captions
# Rules live in workflow/rules/*.smk, the config schema in workflow/schemas/.
from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config/config.yaml"


try:
    validate(config, schema="workflow/schemas/config.schema.yaml")
except Exception as e:  # name every key's allowed values, not only the schema's verdict
    import yaml

    with open("workflow/schemas/config.schema.yaml") as fh:
        props = yaml.safe_load(fh)["properties"]
    allowed = "\n".join(f"  {k}: {' '.join(str(v.get('description', '')).split())}" for k, v in props.items())
    raise ValueError(f"invalid pipeline configuration: {e}\nAllowed keys and values:\n{allowed}") from None


# The first rule is the default target.
include: "workflow/rules/common.smk"


rule all:
    default_target: True
    input:
        PAPER,


include: "workflow/rules/experiments.smk"
include: "workflow/rules/paper.smk"


onsuccess:
    from experiments.claims import summarize_claims

    print(summarize_claims([f"results/{e}/{SCALE}.claims.json" for e in EXPERIMENTS]))


onerror:
    from experiments.claims import summarize_claims

    print(summarize_claims([f"results/{e}/{SCALE}.claims.json" for e in EXPERIMENTS]))
