"""dvc.yaml generated from the Snakemake DAG, so DVC stages run exactly the commands
the rules run (a dry run, `snakemake -n -p`, lists each job's outputs, inputs, log and
shell command). Each stage declares the config.yaml keys it depends on as params,
so changing one recipe's learning rate re-runs only what follows from it.

    xlrobust dvc-yaml --out dvc.yaml     (tests check the committed file is current)
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import yaml

from xlrobust.errors import XlrobustError

# rule -> (regex on the job's first output, config.yaml keys it depends on)
PARAMS = {
    "prepare_data": (r"^data/(?P<dataset>[^/]+)$", ["datasets.{dataset}"]),
    "fetch_model": (r"^models/pretrained/(?P<model>[^/]+)$", ["models.{model}"]),
    "intermediate": (r"^models/intermediate/[^/]+/(?P<recipe>[^/]+)/", ["recipes.{recipe}"]),
    "finetune": (r"^models/target/[^/]+/[^/]+/(?P<target>[^/]+)/", ["targets.{target}"]),
    "attack": (r"^attacks/", ["study"]),
    "config_snapshot": (r"^results/config.yaml$", ["studies", "models", "datasets", "recipes", "targets", "study"]),
    "report": (r"^results/report", ["study", "studies"]),
}
METRICS = {"results/metrics.json"}
PLOTS = {"results/plots/accuracy_by_rate.csv": {"x": "rate", "y": "accuracy", "cache": False}}


WORKFLOW_FILES = ["Snakefile", "config.yaml", "workflow", "envs", "profiles"]


def parse_dry_run(text: str) -> list[dict]:
    """Jobs from `snakemake -n -p` output: rule, inputs, outputs, log, shell command."""
    jobs, job = [], None
    for line in text.splitlines():
        m = re.match(r"^(?:local)?rule (\S+):$", line)
        if m:
            job = {"rule": m[1], "input": [], "output": [], "log": "", "shellcmd": ""}
            jobs.append(job)
        elif job is not None and (m := re.match(r"^    (input|output|log): (.*)$", line)):
            job[m[1]] = [x for x in m[2].split(", ") if x] if m[1] != "log" else m[2]
        elif job is not None and line.startswith("Shell command: "):
            job["shellcmd"] = line[len("Shell command: "):]
    return jobs


def summary(snakemake_args: list[str] | None = None, cwd: str | Path = ".") -> list[dict]:
    """Every job of the DAG with its outputs, inputs, log and shell command, from a
    dry run on a copy of the workflow files (no outputs: every job is listed)."""
    import shutil
    import tempfile

    cmd = [sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "2", *(snakemake_args or [])]
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


def stages(rows: list[dict], cfg: dict) -> dict:
    jobs: OrderedDict[tuple, dict] = OrderedDict()
    for row in rows:
        if row["rule"] == "all" or not row["shellcmd"]:
            continue
        jobs[(row["rule"], row["shellcmd"])] = {"rule": row["rule"], "cmd": row["shellcmd"], "outs": row["output"],
                                               "deps": row["input"], "log": row["log"]}
    out = OrderedDict()
    for job in sorted(jobs.values(), key=lambda j: (list(PARAMS).index(j["rule"]) if j["rule"] in PARAMS else 99, j["outs"][0])):
        outs = sorted(job["outs"])
        name = f"{job['rule']}__{_slug(outs[0].split('/', 1)[-1])}" if job["rule"] not in ("score", "report", "config_snapshot") else job["rule"]
        cmd = job["cmd"]
        if job["log"]:
            cmd = f"mkdir -p {Path(job['log']).parent} && {cmd}"
        stage = {"cmd": cmd}
        deps = list(job["deps"])
        params = []
        if job["rule"] in PARAMS:
            pattern, keys = PARAMS[job["rule"]]
            m = re.search(pattern, outs[0])
            if m:
                params = [k.format(**m.groupdict()) for k in keys]
            if job["rule"] == "prepare_data" and m:
                deps += _local_deps(cfg, m["dataset"])
        if deps:
            stage["deps"] = sorted(set(deps))
        if params:
            stage["params"] = [{"config.yaml": params}]
        plain = [o for o in outs if o not in METRICS and o not in PLOTS]
        if plain:
            stage["outs"] = plain
        metrics = [{o: {"cache": False}} for o in outs if o in METRICS]
        if metrics:
            stage["metrics"] = metrics
        plots = [{o: PLOTS[o]} for o in outs if o in PLOTS]
        if plots:
            stage["plots"] = plots
        out[name] = stage
    return {"stages": dict(out)}


def render(cfg: dict, cwd: str | Path = ".") -> str:
    doc = stages(summary(cwd=cwd), cfg)
    head = ("# Generated from the Snakemake DAG by `xlrobust dvc-yaml --out dvc.yaml`: do not edit by hand.\n"
            "# Every stage runs the same xlrobust command as its Snakemake rule; run `dvc repro` with the\n"
            "# project's virtual environment active (. .venv/bin/activate).\n")
    return head + yaml.safe_dump(doc, sort_keys=False, width=10_000, allow_unicode=True)
