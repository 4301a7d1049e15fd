"""Batched prediction: one model load, many files; rows sorted by length and padded
per batch (not to a fixed maximum), bf16 autocast on GPUs that support it."""

from __future__ import annotations

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.io import read_examples, write_parquet


class Classifier:
    """A sequence classifier that scores lists of texts or text pairs."""

    def __init__(self, model_dir: str, max_length: int | None = None, batch_size: int | None = None):
        """max_length / batch_size: None = what the model was trained with (models.inference_settings)."""
        import torch

        from xlrobust.models import device, inference_settings, load_classifier

        max_length, batch_size = inference_settings(model_dir, max_length, batch_size)
        self.model, self.tok = load_classifier(model_dir)
        self.device = device()
        self.model.to(self.device).eval()
        self.max_length, self.batch_size = max_length, batch_size
        self.num_labels = self.model.config.num_labels
        self._torch = torch

    def logits(self, text_a: list[str], text_b: list[str | None] | None = None) -> np.ndarray:
        """Logits (n, num_labels) in input order."""
        from xlrobust.models import autocast

        torch = self._torch
        n = len(text_a)
        if n == 0:
            return np.zeros((0, self.num_labels), dtype=np.float32)
        pair = text_b is not None and any(t is not None for t in text_b)
        if pair:
            enc = self.tok(text_a, [t or "" for t in text_b], truncation="longest_first", max_length=self.max_length)
        else:
            enc = self.tok(text_a, truncation=True, max_length=self.max_length)
        lengths = np.array([len(ids) for ids in enc["input_ids"]])
        order = np.argsort(-lengths, kind="stable")  # longest first: a memory error shows at once
        out = np.empty((n, self.num_labels), dtype=np.float32)
        keys = list(enc.keys())
        with torch.inference_mode(), autocast(self.device):
            for start in range(0, n, self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = self.tok.pad({k: [enc[k][i] for i in idx] for k in keys}, return_tensors="pt")
                batch = {k: v.to(self.device) for k, v in batch.items()}
                out[idx] = self.model(**batch).logits.float().cpu().numpy()
        return out


def predict_frame(clf: Classifier, df: pl.DataFrame) -> pl.DataFrame:
    logits = clf.logits(df["text_a"].to_list(), df["text_b"].to_list())
    pred = logits.argmax(axis=1) if len(logits) else np.zeros(0, dtype=np.int64)
    return pl.DataFrame({
        "id": df["id"], "lang": df["lang"], "label": df["label"],
        "pred": pl.Series(pred, dtype=pl.Int64),
        "logits": pl.Series(logits.tolist(), dtype=pl.List(pl.Float32)),
    })


def predict(model_dir: str, data: list[str], out: list[str], lang: str | None = None,
            max_length: int | None = None, batch_size: int | None = None) -> None:
    from xlrobust.models import check_labels, check_model_dir, num_labels

    if len(data) != len(out):
        raise XlrobustError(f"--data has {len(data)} file(s) but --out has {len(out)}; give one output per input")
    check_model_dir(model_dir, need_tokenizer=True)
    for src in data:  # every input checked before the model loads (read again below: memory stays one file)
        check_labels(model_dir, num_labels(model_dir), read_examples(src, lang)["label"].unique().to_list(), src)
    clf = Classifier(model_dir, max_length=max_length, batch_size=batch_size)
    for src, dst in zip(data, out):
        df = read_examples(src, lang)
        write_parquet(predict_frame(clf, df), dst)
        print(f"{src}: {df.height} rows -> {dst}", flush=True)
