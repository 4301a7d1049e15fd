"""End to end: the shipped demo config through Snakemake, and through DVC, on a copy
of the repository (the developer's own outputs stay untouched)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from conftest import REPO

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
PROJECT_FILES = ["Snakefile", "config.yaml", "workflow", "envs", "demo", "profiles", "dvc.yaml", ".dvcignore"]


def project_copy(dest: Path) -> Path:
    for name in PROJECT_FILES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    return dest


def sh(cmd, cwd, timeout=900):
    r = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


def demo_langs(root: Path = REPO):
    cfg = yaml.safe_load((root / "config.yaml").read_text())
    return cfg["datasets"]["demo_sentiment"]["langs"]


def check_outputs(root: Path):
    """The demo's outputs, for the languages and seeds of root's config.yaml."""
    seeds = yaml.safe_load((root / "config.yaml").read_text())["study"]["demo"]["seeds"]
    html = (root / "results/report.html").read_text()
    for lang in demo_langs(root):
        assert f"<th>{lang}</th>" in html, lang
    assert "Study: demo" in html and "<svg" in html and "Answer" in html
    scores = pl.read_parquet(root / "results/scores.parquet")
    clean = scores.filter((pl.col("probe") == "clean") & (pl.col("metric") == "accuracy"))
    assert sorted(clean["language"].unique()) == sorted(demo_langs(root) + ["all", "all_xl"])
    assert sorted(clean["recipe"].unique()) == ["demo_nli", "none"]
    assert sorted(clean["seed"].unique()) == sorted(seeds)
    en = clean.filter(pl.col("language") == "en")["value"]
    assert en.min() > 0.6  # trained on English: well above chance (1/3)
    probes = set(scores["probe"].unique())
    assert {"char_swap", "word_drop", "attack:deepwordbug"} <= probes
    pert = pl.read_parquet(root / "perturbed/demo_sentiment/ar/char_swap/r0.3_s1.parquet")
    test = pl.read_parquet(root / "data/demo_sentiment/test.parquet").filter(pl.col("lang") == "ar")
    assert pert["id"].to_list() == test["id"].to_list() and (pert["text_a"] != test["text_a"]).mean() > 0.5
    return scores


@pytest.mark.slow
def test_snakemake_demo_end_to_end_then_nothing_to_do(tmp_path):
    root = project_copy(tmp_path)
    sh([str(BIN / "snakemake"), "--cores", "all", "results/report.html"], root, timeout=1200)
    check_outputs(root)
    from browser import open_page

    page = open_page(root / "results/report.html")
    assert page["console"] == [] and page["requests"] == [] and page["alert"] is None
    assert len(page["figures"]) >= 2 and all(shown and w > 100 and h > 100 for shown, w, h in page["figures"])
    for lang in demo_langs():
        assert lang in page["text"]
    again = sh([str(BIN / "snakemake"), "--cores", "all", "results/report.html", "-n"], root)
    assert "Nothing to be done" in again


@pytest.mark.slow
def test_dvc_repro_runs_the_demo_then_nothing_and_round_trips_a_remote(reduced_demo_by_dvc, tmp_path):
    """`dvc repro` of the reduced demo (tests/faults.py: every stage, fewer jobs; run
    in tests/conftest.py). The full demo runs through Snakemake above, and
    test_dvc_yaml_is_current checks that dvc.yaml runs the same commands as the rules."""
    check_outputs(reduced_demo_by_dvc)
    second = sh([str(BIN / "dvc"), "repro"], reduced_demo_by_dvc)
    assert "didn't change" in second and "Running stage" not in second
    assert "up to date" in sh([str(BIN / "dvc"), "status"], reduced_demo_by_dvc)
    metrics = sh([str(BIN / "dvc"), "metrics", "show"], reduced_demo_by_dvc)
    assert "results/metrics.json" in metrics and "accuracy_drop" in metrics and "attack_success_rate" in metrics

    # On a copy (the run is shared with test_reliability): push to a local remote, lose
    # every output and the cache, pull: byte for byte back
    root = tmp_path / "project"
    shutil.copytree(reduced_demo_by_dvc, root, symlinks=True)
    outputs = ["data", "models", "perturbed", "predictions", "attacks", "results"]
    before = tree_digest(root, outputs)
    assert len(before) > 30
    sh([str(BIN / "dvc"), "remote", "add", "-d", "store", str(tmp_path.parent / f"{tmp_path.name}-remote")], root)
    sh([str(BIN / "dvc"), "push", "-q"], root)
    in_git = {f: (root / f).read_bytes() for f in ("results/metrics.json", "results/plots/accuracy_by_rate.csv")}
    for d in outputs + [".dvc/cache"]:
        shutil.rmtree(root / d)
    for f, content in in_git.items():  # `cache: false` outputs live in git, which would restore them
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
        if p.is_file() and p.name not in (".gitignore", ".snakemake_timestamp")
    }


def test_dvc_yaml_is_current_and_matches_snakemake_outputs():
    from xlrobust import config
    from xlrobust.dvcgen import render, summary

    rendered = render(config.load(REPO / "config.yaml"), cwd=REPO)
    assert rendered == (REPO / "dvc.yaml").read_text(), "dvc.yaml is stale: run `xlrobust dvc-yaml --out dvc.yaml`"
    dvc = yaml.safe_load(rendered)["stages"]
    dvc_outs = {o for s in dvc.values() for o in s.get("outs", [])}
    dvc_outs |= {next(iter(m)) for s in dvc.values() for m in s.get("metrics", []) + s.get("plots", [])}
    smk_outs = {o for job in summary(cwd=REPO) if job["rule"] != "all" for o in job["output"]}
    assert dvc_outs == smk_outs


def test_snakemake_lint_is_clean():
    out = sh([str(BIN / "snakemake"), "--lint"], REPO, timeout=300)
    assert "Congratulations, your workflow is in a good condition" in out
