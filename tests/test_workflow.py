"""End to end, as the README says a user runs it: in a git clone of the repository,
the quickstart (`snakemake --cores all results/report.html`, the shipped demo on the
multilingual encoder), then the DVC commands of docs/cluster.md in the same clone against the
committed dvc.lock; and a DVC remote round trip on the reduced demo."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from conftest import REPO, git_clone

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}


def sh(cmd, cwd, timeout=900):
    r = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


def resolved(root: Path) -> dict:
    """The config the run resolved (results/config.yaml, written by the workflow)."""
    return yaml.safe_load((root / "results/config.yaml").read_text())


def check_outputs(root: Path):
    """The demo's outputs (the shipped demo or the reduced one), for the study, languages
    and seeds its run resolved."""
    cfg = resolved(root)
    (study,) = cfg["studies"]
    st = cfg["study"][study]
    langs = cfg["datasets"]["demo_sentiment"]["langs"]
    html = (root / "results/report.html").read_text()
    for lang in langs:
        assert f"<th>{lang}</th>" in html, lang
    assert f"Study: {study}<" in html and "<svg" in html and "Answer" in html
    scores = pl.read_parquet(root / "results/scores.parquet")
    clean = scores.filter((pl.col("probe") == "clean") & (pl.col("metric") == "accuracy"))
    assert sorted(clean["language"].unique()) == sorted(langs + ["all", "all_xl"])
    assert sorted(clean["recipe"].unique()) == ["demo_nli", "none"]
    assert sorted(clean["seed"].unique()) == sorted(st["seeds"])
    en = clean.filter(pl.col("language") == "en")["value"]
    assert en.min() > 0.6  # trained on English: well above chance (1/3)
    probes = set(scores["probe"].unique())
    assert {"char_swap", "word_drop", "attack:deepwordbug"} <= probes
    pert = pl.read_parquet(root / "perturbed/demo_sentiment/ar/char_swap/r0.3_s1.parquet")
    test = pl.read_parquet(root / "data/demo_sentiment/test.parquet").filter(pl.col("lang") == "ar")
    assert pert["id"].to_list() == test["id"].to_list() and (pert["text_a"] != test["text_a"]).mean() > 0.5
    return scores


@pytest.mark.slow
def test_quickstart_demo_is_cross_lingual_on_the_multilingual_encoder_then_nothing_to_do(quickstart):
    root = quickstart
    scores = check_outputs(root)
    assert resolved(root)["study"]["demo"]["models"] == ["me5"]
    clean = scores.filter((pl.col("probe") == "clean") & (pl.col("metric") == "accuracy"))
    for lang, g in clean.filter(~pl.col("language").is_in(["all", "all_xl"])).group_by("language"):
        assert g["ci_low"].min() > 1 / 3, f"{lang[0]}: zero-shot accuracy not above chance: {g['value'].to_list()}"
    from browser import open_page

    page = open_page(root / "results/report.html")
    assert page["console"] == [] and page["requests"] == [] and page["alert"] is None
    assert len(page["figures"]) >= 2 and all(shown and w > 100 and h > 100 for shown, w, h in page["figures"])
    for lang in resolved(root)["datasets"]["demo_sentiment"]["langs"]:
        assert lang in page["text"]
    again = sh([str(BIN / "snakemake"), "--cores", "all", "results/report.html", "-n"], root)
    assert "Nothing to be done" in again


def peak_threads(log: str) -> tuple[int, int]:
    """(provided cores, most threads of jobs running at once) from a Snakemake log: each
    job's block names its jobid and threads; "Finished jobid: N" ends it."""
    cores = int(re.search(r"Provided cores: (\d+)", log)[1])
    running, peak = {}, 0
    for block in re.split(r"\n(?=\[\w{3} \w{3} )", log):  # one block per timestamp line
        if m := re.search(r"Finished jobid: (\d+)", block):
            running.pop(m[1], None)
        elif (job := re.search(r"\n\s+jobid: (\d+)", block)) and (t := re.search(r"\n\s+threads: (\d+)", block)):
            running[job[1]] = int(t[1])
            peak = max(peak, sum(running.values()))
    return cores, peak


def test_peak_threads_reads_overlapping_jobs_from_a_log():
    log = "Provided cores: 2\n[Thu Dec  3 16:23:16 2026]\nlocalrule finetune:\n    jobid: 26\n    threads: 2\n"
    log += "[Thu Dec  3 16:23:16 2026]\nlocalrule predict:\n    jobid: 46\n    threads: 2\n"
    assert peak_threads(log) == (2, 4)
    log = log.replace(
        "localrule predict", "Finished jobid: 26 (Rule: finetune)\n[Thu Dec  3 16:24:00 2026]\nlocalrule predict"
    )
    assert peak_threads(log) == (2, 2)


@pytest.mark.slow
def test_the_quickstart_never_runs_more_threads_than_cores(quickstart):
    """Snakemake 9.10-9.16 forgot the cores of a job selected alone and then ran two
    `threads: 2` jobs on 2 cores (snakemake#3913), each training twice as slowly."""
    (log,) = (quickstart / ".snakemake/log").glob("*.snakemake.log")
    cores, peak = peak_threads(log.read_text())
    assert peak <= cores, f"{peak} threads ran at once on {cores} cores"


@pytest.mark.slow
def test_readme_dvc_commands_in_the_clone_against_the_committed_lock(quickstart):
    """The DVC commands of docs/cluster.md in the quickstart's clone (dvc.lock is committed, not
    git-ignored): `dvc commit -f` adopts what Snakemake wrote (DVC's cache of a fresh clone
    is empty, so `dvc repro` alone would rerun every stage), and the lock's diff against the
    committed one is the audit: data and perturbations, model-independent and integer-exact,
    are byte for byte what the committed lock records. Then `dvc repro` runs nothing, `dvc
    status` is clean and `dvc metrics show` lists the scores."""
    root = quickstart
    assert "dvc.lock" in sh(["git", "ls-files"], root).split()
    r = subprocess.run(["git", "check-ignore", "dvc.lock"], cwd=root, capture_output=True, text=True)
    assert r.returncode == 1, "dvc.lock is git-ignored"
    sh([str(BIN / "dvc"), "commit", "-f", "-q"], root, timeout=1800)
    committed = yaml.safe_load(sh(["git", "show", "HEAD:dvc.lock"], root))["stages"]
    now = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    assert set(now) == set(committed)
    differ = sorted(s for s in now if now[s].get("outs") != committed[s].get("outs"))
    print(
        f"outputs this machine wrote differently from the committed lock: {len(differ)} of {len(now)} stages: {differ}"
    )
    assert not [s for s in differ if s.startswith(("prepare_data", "perturb"))], differ
    assert "Running stage" not in sh([str(BIN / "dvc"), "repro"], root, timeout=1800)
    assert "up to date" in sh([str(BIN / "dvc"), "status"], root)
    metrics = sh([str(BIN / "dvc"), "metrics", "show"], root)
    assert "results/metrics.json" in metrics and "accuracy_drop" in metrics and "attack_success_rate" in metrics


@pytest.mark.slow
def test_dvc_push_pull_round_trips_the_outputs(quickstart, tmp_path):
    """After the DVC commands above (the lock then describes every output): push to a local
    remote, lose every output and the cache, pull: byte for byte back, status clean, and
    Snakemake agrees nothing is left to do. On a copy: the run is shared."""
    sh([str(BIN / "dvc"), "commit", "-f", "-q"], quickstart, timeout=1800)  # no-op if the test above ran first
    root = tmp_path / "project"
    shutil.copytree(quickstart, root, symlinks=True)
    outputs = ["data", "models", "perturbed", "predictions", "attacks", "results"]
    before = tree_digest(root, outputs)
    assert len(before) > 30
    sh([str(BIN / "dvc"), "remote", "add", "-d", "store", str(tmp_path.parent / f"{tmp_path.name}-remote")], root)
    sh([str(BIN / "dvc"), "push", "-q"], root)
    in_git = {f: (root / f).read_bytes() for f in ("results/metrics.json", "results/plots/score_by_rate.csv")}
    for d in outputs + [".dvc/cache"]:
        shutil.rmtree(root / d)
    for f, content in in_git.items():  # `cache: false` outputs are not in DVC's cache
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_bytes(content)
    sh([str(BIN / "dvc"), "pull", "-q"], root)
    assert tree_digest(root, outputs) == before
    assert "up to date" in sh([str(BIN / "dvc"), "status"], root)
    # Snakemake agrees that nothing is left to do (pulled files carry the pull's mtimes,
    # so `--touch` first marks them up to date in DAG order without changing content)
    sh([str(BIN / "snakemake"), "--cores", "1", "--touch", "results/report.html"], root)
    assert "Nothing to be done" in sh([str(BIN / "snakemake"), "-n", "--cores", "1", "results/report.html"], root)
    assert tree_digest(root, outputs) == before


def tree_digest(root: Path, dirs) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()  # DVC's and Snakemake's markers
        for d in dirs
        for p in sorted((root / d).rglob("*"))
        if p.is_file() and p.name not in (".gitignore", ".gitkeep", ".snakemake_timestamp")  # git's too
    }


def test_dvc_yaml_is_current_and_matches_snakemake_outputs():
    from xlrobust import config
    from xlrobust.dvcgen import render, summary

    rendered = render(config.load(REPO / "config.yaml"), cwd=REPO)
    assert rendered == (REPO / "dvc.yaml").read_text(), "dvc.yaml is stale: run `xlrobust dvc-yaml --out dvc.yaml`"
    dvc = yaml.safe_load(rendered)["stages"]
    # DVC keeps a command's text in dvc.lock, and a lock written from a command with a double
    # space (an empty flags value) was later reported as "changed command" by `dvc status`
    assert not [name for name, s in dvc.items() if "  " in s["cmd"]]
    dvc_outs = {o for s in dvc.values() for o in s.get("outs", [])}
    dvc_outs |= {next(iter(m)) for s in dvc.values() for m in s.get("metrics", []) + s.get("plots", [])}
    smk_outs = {o for job in summary(cwd=REPO) if job["rule"] != "all" for o in job["output"]}
    assert dvc_outs == smk_outs


def test_dvc_lock_is_committed_and_current_with_dvc_yaml_and_config(tmp_path):
    """The lock is the audit record: committed (not git-ignored), one entry per stage of
    dvc.yaml with that stage's command, and DVC itself, in a git clone without outputs,
    finds no stage whose command or config.yaml params changed since the lock was written
    (only the outputs a clone has not made yet)."""
    lock = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(lock) == set(stages)
    assert all(lock[s]["cmd"] == stages[s]["cmd"] for s in stages)
    r = subprocess.run(["git", "check-ignore", "dvc.lock"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 1, "dvc.lock is git-ignored"
    clone = git_clone(tmp_path / "clone")
    status = json.loads(sh([str(BIN / "dvc"), "status", "--json"], clone))
    stale = {}  # a clone has made no outputs yet: those are "not in cache", deps made by stages "deleted"
    for stage, changes in status.items():
        for change in changes:
            for kind, items in change.items() if isinstance(change, dict) else [(change, {})]:
                bad = (
                    {k: v for k, v in items.items() if v not in ("deleted", "not in cache")}
                    if kind in ("changed deps", "changed outs")
                    else kind
                )
                if bad:
                    stale[stage] = bad  # a changed command, params ({"config.yaml": {...}}), source deps
    assert not stale, f"dvc.lock is stale against dvc.yaml/config.yaml (rewrite it from a demo run): {stale}"


def test_snakemake_lint_is_clean():
    out = sh([str(BIN / "snakemake"), "--lint"], REPO, timeout=300)
    assert "Congratulations, your workflow is in a good condition" in out
