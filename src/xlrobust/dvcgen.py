"""dvc.yaml generated from the Snakemake DAG, so DVC stages run exactly the commands
the rules run (a dry run, `snakemake -n -p`, lists each job's outputs, inputs, log and
shell command). Each stage declares the config keys it depends on as params (in the file of
config.yaml or config/ that defines each), so changing one recipe's learning rate re-runs only
what follows from it.

    xlrobust dvc-yaml --out dvc.yaml     (tests check the committed file is current)
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import yaml

from xlrobust import layout
from xlrobust.config import entry_files
from xlrobust.errors import XlrobustError

# rule -> the config.yaml keys its jobs depend on ({wildcard} filled in from the job). Only
# keys of the job's own entry: a whole section (`study`) would make every edit of any other
# study stale the committed dvc.lock. attack (its settings), config_snapshot (the used
# config as JSON) and report (results/config.yaml, a dep) carry theirs in command and deps.
PARAMS = {
    "prepare_data": ["datasets.{dataset}"],
    "fetch_model": ["models.{model}"],
    "intermediate": ["recipes.{recipe}"],
    "finetune": ["targets.{target}"],
    "predict": ["targets.{target}"],
}
ORDER = [
    "prepare_data",
    "fetch_model",
    "intermediate",
    "finetune",
    "perturb",
    "predict",
    "attack",
    "config_snapshot",
    "score",
    "report",
]
METRICS = {layout.METRICS}
PLOTS = {layout.PLOTS: {"x": "rate", "y": "value", "cache": False}}


WORKFLOW_FILES = ["Snakefile", "config.yaml", "config", "workflow", "envs", "profiles"]


def parse_dry_run(text: str) -> list[dict]:
    """Jobs from `snakemake -n -p` output: rule, inputs, outputs, log, shell command."""
    jobs, job = [], None
    for line in text.splitlines():
        m = re.match(r"^(?:local)?rule (\S+):$", line)
        if m:
            job = {"rule": m[1], "input": [], "output": [], "log": "", "shellcmd": "", "wildcards": {}}
            jobs.append(job)
        elif job is not None and (m := re.match(r"^    wildcards: (.*)$", line)):
            job["wildcards"] = dict(kv.split("=", 1) for kv in m[1].split(", "))
        elif job is not None and (m := re.match(r"^    (input|output|log): (.*)$", line)):
            job[m[1]] = [x for x in m[2].split(", ") if x] if m[1] != "log" else m[2]
        elif job is not None and line.startswith("Shell command: "):
            job["shellcmd"] = line[len("Shell command: ") :]
    return jobs


def summary(snakemake_args: list[str] | None = None, cwd: str | Path = ".") -> list[dict]:
    """Every job of the DAG with its outputs, inputs, log and shell command, from a
    dry run on a copy of the workflow files (no outputs: every job is listed)."""
    import shutil
    import tempfile

    args, after_configfile = [], False
    for a in snakemake_args or []:  # config files are read from where the user named them
        args.append(str((Path(cwd) / a).resolve()) if after_configfile and not a.startswith("-") else a)
        after_configfile = a in ("--configfile", "--configfiles") or (after_configfile and not a.startswith("-"))
    cmd = [sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "2", *args]
    with tempfile.TemporaryDirectory(prefix="xlrobust-dag-") as tmp:
        for name in WORKFLOW_FILES:
            src = Path(cwd) / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, Path(tmp) / name)
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
    if r.returncode != 0:
        raise XlrobustError(f"snakemake dry run failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return parse_dry_run(r.stdout + "\n" + r.stderr)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")


def _local_deps(cfg: dict, dataset: str) -> list[str]:
    """The folder of a dataset's local files inside the repo (DVC tracks changes to it)."""
    deps = []
    for key in ("local", "local_labels"):
        tpl = cfg["datasets"][dataset].get(key)
        if tpl and not Path(tpl).is_absolute() and not tpl.startswith(".."):
            static = Path(tpl.split("{")[0])
            deps.append(str(static if tpl.split("{")[0].endswith("/") else static.parent))
    return sorted(set(deps))


def stages(rows: list[dict], cfg: dict, key_files: dict[str, str] | None = None) -> dict:
    """DVC stages of the dry run's jobs; `key_files` names the file of each config entry
    (`entry_files`; an entry it does not name is config.yaml's)."""
    key_files = key_files or {}
    jobs: OrderedDict[tuple, dict] = OrderedDict()
    for row in rows:
        if row["rule"] == "all" or not row["shellcmd"]:
            continue
        jobs[(row["rule"], row["shellcmd"])] = {
            "rule": row["rule"],
            "cmd": row["shellcmd"],
            "outs": row["output"],
            "deps": row["input"],
            "log": row["log"],
            "wildcards": row["wildcards"],
        }
    out = OrderedDict()
    for job in sorted(
        jobs.values(), key=lambda j: (ORDER.index(j["rule"]) if j["rule"] in ORDER else 99, j["outs"][0])
    ):
        name, stage = _stage(job, cfg, key_files)
        out[name] = stage
    return {"stages": dict(out)}


def _stage(job: dict, cfg: dict, key_files: dict[str, str]) -> tuple[str, dict]:
    """The DVC stage of one Snakemake job: its name (rule and wildcards), command, deps,
    config params (each under the config file that defines its entry), and outputs split into outs, metrics and plots."""
    outs = sorted(job["outs"])
    w = job["wildcards"]
    name = "__".join([job["rule"], *(_slug(v) for v in w.values())]) if w else job["rule"]
    cmd = job["cmd"]
    if job["log"]:
        cmd = f"mkdir -p {Path(job['log']).parent} && {cmd}"
    stage = {"cmd": cmd}
    deps = list(job["deps"])
    params = [k.format(**w) for k in PARAMS.get(job["rule"], [])]
    if job["rule"] == "prepare_data":
        deps += _local_deps(cfg, w["dataset"])
    if deps:
        stage["deps"] = sorted(set(deps))
    if params:
        by_file: dict[str, list[str]] = {}
        for key in params:
            by_file.setdefault(key_files.get(key, "config.yaml"), []).append(key)
        stage["params"] = [{f: keys} for f, keys in by_file.items()]
    plain = [o for o in outs if o not in METRICS and o not in PLOTS]
    if plain:
        stage["outs"] = plain
    metrics = [{o: {"cache": False}} for o in outs if o in METRICS]
    if metrics:
        stage["metrics"] = metrics
    plots = [{o: PLOTS[o]} for o in outs if o in PLOTS]
    if plots:
        stage["plots"] = plots
    return name, stage


def render(cfg: dict, cwd: str | Path = ".", snakemake_args: list[str] | None = None) -> str:
    doc = stages(summary(snakemake_args, cwd=cwd), cfg, entry_files(Path(cwd) / "config.yaml"))
    head = (
        "# Generated from the Snakemake DAG by `xlrobust dvc-yaml --out dvc.yaml`: do not edit by hand.\n"
        "# Every stage runs the same xlrobust command as its Snakemake rule; run `dvc repro` with the\n"
        "# project's virtual environment active (. .venv/bin/activate).\n"
    )
    return head + yaml.safe_dump(doc, sort_keys=False, width=10_000, allow_unicode=True)
