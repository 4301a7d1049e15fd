"""Sentence and sentence-pair classification (XNLI, PAWS-X, sentiment; MNLI, QQP, IMDB).

Table: id, lang, text_a, text_b (null for a single sentence), label (int, index into the
task's label names). Head: AutoModelForSequenceClassification. Metric: accuracy per
example; macro-F1 over the classes as a corpus metric. Pairs truncate the longer side
first, so both sentences keep tokens.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats import register
from xlrobust.formats.base import Format, first_bad


def label_outcomes(preds: pl.DataFrame) -> pl.DataFrame:
    """Accuracy per example of a format that predicts one label (classification, choice)."""
    return preds.with_columns(
        metric=pl.lit("accuracy"), x=(pl.col("pred") == pl.col("label")).cast(pl.Float64), w=pl.lit(1.0)
    )


def label_attack_outcomes(attacks: pl.DataFrame) -> pl.DataFrame:
    """Still right after the attack only when it failed (a skipped example was wrong already)."""
    return attacks.with_columns(
        metric=pl.lit("accuracy"), x=(pl.col("status") == "failed").cast(pl.Float64), w=pl.lit(1.0)
    )


def majority_baselines(preds: pl.DataFrame, macro: bool = False) -> dict[str, tuple[float, str]]:
    """Always answering the most frequent gold label of the scored examples: its accuracy is
    the majority share (1/num_labels for balanced data, never below it), and its macro-F1."""
    labels = preds["label"].to_numpy()
    if not len(labels):
        return {}
    values, counts = np.unique(labels, return_counts=True)
    out = {"accuracy": (float(counts.max() / len(labels)), "majority class")}
    if macro:
        from xlrobust.stats import macro_f1

        out["macro_f1"] = (float(macro_f1(labels, np.full_like(labels, values[counts.argmax()]))), "majority class")
    return out


def accuracy(logits: np.ndarray, labels: np.ndarray) -> dict:
    return {"accuracy": float((logits.argmax(-1) == labels).mean())}


class Classify(Format):
    name = "classify"
    schema = {"id": pl.String, "lang": pl.String, "text_a": pl.String, "text_b": pl.String, "label": pl.Int64}
    text_columns = ("text_a",)
    head = "AutoModelForSequenceClassification"
    prediction_columns = ("label", "pred")  # what `predict` writes besides id and lang
    architecture_suffix = "ForSequenceClassification"
    metric = "accuracy"
    sides = {"a": ("text_a",), "b": ("text_b",), "both": ("text_a", "text_b")}

    # ------------------------------------------------------------------ data
    def check_raw(self, raw: pl.DataFrame, fields: dict[str, pl.Expr], source: str) -> None:
        from xlrobust.data import check_integer_labels

        check_integer_labels(raw, fields["label"].meta.root_names()[0], source)

    def check(self, df, labels, source, raw_name) -> None:
        if df["text_b"].null_count() < df.height:  # a pair table: every second sentence present
            row = first_bad(df, pl.col("text_b").is_null() | (pl.col("text_b").str.strip_chars() == ""))
            if row is not None:
                raise XlrobustError(f"{source}: row {row}: empty text in column '{raw_name.get('text_b', 'text_b')}'")
        row = first_bad(df, pl.col("label").is_null() | (pl.col("label") < 0) | (pl.col("label") >= len(labels)))
        if row is not None:
            raise XlrobustError(
                f"{source}: row {row}: label outside the label map 0..{len(labels) - 1} "
                f"({', '.join(labels)}) in column '{raw_name.get('label', 'label')}'"
            )

    def check_model(self, model_dir, df, source) -> None:
        from xlrobust.models import check_labels, num_labels

        check_labels(model_dir, num_labels(model_dir), df["label"].unique().to_list(), source)

    # ------------------------------------------------------------------ model
    def head_kwargs(self, labels):
        return {"num_labels": len(labels)}

    @staticmethod
    def texts(df: pl.DataFrame) -> tuple[list[str], list[str] | None]:
        """First sentences, and second sentences for a pair table (None for single sentences)."""
        b = df["text_b"].to_list() if df["text_b"].null_count() < df.height else None
        return df["text_a"].to_list(), b

    def tokenize(self, tok, a: list[str], b: list[str | None] | None, max_length: int):
        if b is not None and any(t is not None for t in b):
            return tok(a, [t or "" for t in b], truncation="longest_first", max_length=max_length)
        return tok(a, truncation=True, max_length=max_length)

    def encode(self, tok, df, labels, max_length, doc_stride=128, train=True):
        from datasets import Dataset

        enc = self.tokenize(tok, *self.texts(df), max_length)
        enc["labels"] = df["label"].to_list()
        return Dataset.from_dict(dict(enc))

    def dev_metrics(self, outputs, order, features, dev, train):
        m = accuracy(np.concatenate(outputs), np.asarray(features["labels"])[order])
        return m, m["accuracy"]

    # ------------------------------------------------------------------ prediction and outcomes
    def logits(self, model, a: list[str], b: list[str | None] | None = None) -> np.ndarray:
        """Logits (n, classes) in input order (what the attack's model wrapper queries)."""
        if not a:
            return np.zeros((0, model.num_labels), dtype=np.float32)
        return np.stack(model.run(self.tokenize(model.tok, a, b, model.max_length)))

    def predict(self, model, df):
        logits = self.logits(model, *self.texts(df))
        pred = logits.argmax(axis=1) if len(logits) else np.zeros(0, dtype=np.int64)
        return pl.DataFrame(
            {
                "id": df["id"],
                "lang": df["lang"],
                "label": df["label"],
                "pred": pl.Series(pred, dtype=pl.Int64),
                "logits": pl.Series(logits.tolist(), dtype=pl.List(pl.Float32)),
            }
        )

    def outcomes(self, preds):
        return label_outcomes(preds)

    def attack_outcomes(self, attacks):
        return label_attack_outcomes(attacks)

    def baselines(self, preds):
        return majority_baselines(preds, macro=True)

    def corpus_scores(self, preds):
        from xlrobust.stats import macro_f1_ci

        return {"macro_f1": lambda g: macro_f1_ci(g["label"].to_numpy(), g["pred"].to_numpy())}

    # ------------------------------------------------------------------ attack
    def attack(self, model, lang, recipe, query_budget, alphabet, settings):
        from xlrobust.attack import ClassificationAttacker

        return ClassificationAttacker(self, model, lang, recipe, query_budget, alphabet)


CLASSIFY = register(Classify())
