"""Sentence and sentence-pair classification (XNLI, PAWS-X, sentiment; MNLI, QQP, IMDB).

Table: id, lang, text_a, text_b (null for a single sentence), label (int, index into the
task's label names). Head: AutoModelForSequenceClassification. Metric: accuracy per
example; macro-F1 over the classes as a corpus metric. Pairs truncate the longer side
first, so both sentences keep tokens. Attack: TextAttack's untargeted classification goal
(ClassificationAttacker).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats.base import Attacker, Format, first_bad
from xlrobust.models import check_labels, num_labels
from xlrobust.stats import macro_f1, macro_f1_ci
from xlrobust.ta_parts import model_wrapper


def label_outcomes(preds: pl.DataFrame) -> pl.DataFrame:
    """Accuracy per example of a format that predicts one label (classification, choice)."""
    return preds.with_columns(
        metric=pl.lit("accuracy"), x=(pl.col("pred") == pl.col("label")).cast(pl.Float64), w=pl.lit(1.0)
    )


def label_predictions(df: pl.DataFrame, logits: np.ndarray) -> pl.DataFrame:
    """The prediction rows of a format that predicts one label (classification, choice): id,
    lang, the gold label, the argmax of the logits (rows = examples), the logits."""
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
        out["macro_f1"] = (float(macro_f1(labels, np.full_like(labels, values[counts.argmax()]))), "majority class")
    return out


def check_integer_labels(raw: pl.DataFrame, column: str, source: str) -> None:
    """Labels must be whole numbers: 1.7 is not truncated to 1, nor '١' or '0_1' read as 1."""
    col = raw[column]
    if col.dtype.is_integer() or col.dtype == pl.Null:
        return
    if col.dtype.is_float():
        bad = raw.with_row_index().filter(pl.col(column).is_not_null() & (pl.col(column) != pl.col(column).round(0)))
    elif col.dtype == pl.String:
        bad = raw.with_row_index().filter(
            pl.col(column).is_not_null() & ~pl.col(column).str.strip_chars().str.contains(r"^-?[0-9]+$")
        )
    else:
        bad = raw.with_row_index().filter(pl.col(column).is_not_null())
    if bad.height:
        raise XlrobustError(
            f"{source}: row {bad['index'][0]}: label {bad[column][0]!r} in column '{column}' is not an integer"
        )


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
        return label_predictions(df, self.logits(model, *self.texts(df)))

    def outcomes(self, preds):
        return label_outcomes(preds)

    def attack_outcomes(self, attacks):
        return label_attack_outcomes(attacks)

    def baselines(self, preds):
        return majority_baselines(preds, macro=True)

    def corpus_scores(self, preds):
        return {"macro_f1": lambda g: macro_f1_ci(g["label"].to_numpy(), g["pred"].to_numpy())}

    # ------------------------------------------------------------------ attack
    def attack(self, model, lang, recipe, query_budget, alphabet, settings):
        return ClassificationAttacker(self, model, lang, recipe, query_budget, alphabet)


CLASSIFY = Classify()


# ---------------------------------------------------------------------- attack
def make_wrapper(fmt, model=None):
    """A TextAttack model wrapper over `model` (a predict.Model): texts (or pairs) in, the
    format's logits out (`make_wrapper(model)` takes the model's own format, else
    classification)."""
    if model is None:
        model = fmt
        fmt = getattr(model, "fmt", None) or CLASSIFY

    def logits(inputs):
        if inputs and isinstance(inputs[0], tuple):
            return fmt.logits(model, [a for a, _ in inputs], [b for _, b in inputs])
        return fmt.logits(model, list(inputs))

    return model_wrapper(model.model, logits)


class ClassificationAttacker(Attacker):
    """TextAttack's untargeted classification goal over our length-sorted, dynamically
    padded classifier (TextAttack's HuggingFaceModelWrapper pads every query to the
    tokenizer maximum)."""

    schema = {
        "label": pl.Int64,
        "text_a": pl.String,
        "text_b": pl.String,
        "perturbed_text_a": pl.String,
        "perturbed_text_b": pl.String,
        "pred": pl.Int64,
        "perturbed_pred": pl.Int64,
    }

    def goal(self, query_budget):
        return make_wrapper(self.fmt, self.model)

    def inputs(self, ex):
        text = (
            ex["text_a"] if ex["text_b"] is None else OrderedDict([("text_a", ex["text_a"]), ("text_b", ex["text_b"])])
        )
        return text, int(ex["label"])

    def row(self, result, ex):
        cols = list(result.perturbed_result.attacked_text._text_input.values())
        return {
            "label": ex["label"],
            "text_a": ex["text_a"],
            "text_b": ex["text_b"],
            "perturbed_text_a": cols[0],
            "perturbed_text_b": cols[1] if len(cols) > 1 else None,
            "pred": int(result.original_result.output),
            "perturbed_pred": int(result.perturbed_result.output),
        }
