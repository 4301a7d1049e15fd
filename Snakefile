# xlrobust: does English intermediate training (STILTs) change the robustness of
# zero-shot cross-lingual transfer? See README.md, docs/ and ../shared/DESIGN.md.
import os
import sys

from snakemake.utils import min_version

from xlrobust.config import PARTS

min_version("9.0")

envvars:
    "PATH",


# Jobs call the `xlrobust` CLI of the environment Snakemake runs from.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")


# config.yaml (which studies run, and the demo), then the files of config/ in the order of
# xlrobust.config.PARTS, each merged over the ones before; a --configfile or --config of the
# command line is merged over all of them (docs/studies.md: the config files).
configfile: "config.yaml"
for part in PARTS:
    configfile: part


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/intermediate.smk"
include: "workflow/rules/target.smk"
include: "workflow/rules/perturb.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/attack.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        layout.REPORT,
