"""Multiple choice (XCOPA, COPA, SIQA; HellaSwag, CosmosQA, CommonsenseQA).

Table: id, lang, text_a (context or premise), text_b (question, or null), choices (list
of str, the same number in every row), label (index of the right choice). Each choice
is encoded as the pair (context, "question choice"), truncated longest first. Head:
AutoModelForMultipleChoice. Metric: accuracy. A perturbation touches the context
(`a`), the choices (`choices`) or both, never the question; the answer index stays
valid. The attack (ChoiceAttacker) is TextAttack's untargeted
classification goal over the chosen alternative, editing the context and the choices.

XCOPA (xlrobust.tasks): text_b is XTREME-R's question sentence "What was the cause?" /
"What was the effect?" (English in every language). XTREME-R's run_xcopa.py appends it
to the premise ("{premise} What was the cause?" | choice); here it opens the second
segment (premise | "What was the cause? choice"), the place this format gives every
question, so that a perturbation of the premise never touches it.
"""

from __future__ import annotations

from collections import OrderedDict
from html import escape

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats.base import Attacker, Format, first_bad
from xlrobust.formats.classify import (
    accuracy,
    label_attack_outcomes,
    label_outcomes,
    label_predictions,
    majority_baselines,
)
from xlrobust.ta_parts import model_wrapper


class Choice(Format):
    name = "choice"
    schema = {
        "id": pl.String,
        "lang": pl.String,
        "text_a": pl.String,
        "text_b": pl.String,
        "choices": pl.List(pl.String),
        "label": pl.Int64,
    }
    text_columns = ("text_a",)
    head = "AutoModelForMultipleChoice"
    prediction_columns = ("label", "pred")  # what `predict` writes besides id and lang
    architecture_suffix = "ForMultipleChoice"
    metric = "accuracy"
    sides = {"a": ("text_a",), "choices": ("choices",), "both": ("text_a", "choices")}
    collator_keeps_labels = True

    def label_names(self, task_labels, train):
        return []

    def check(self, df, labels, source, raw_name) -> None:
        n = pl.col("choices").list.len()
        row = first_bad(
            df,
            pl.col("choices").is_null()
            | (n < 2)
            | pl.col("choices").list.eval(pl.element().is_null() | (pl.element().str.strip_chars() == "")).list.any(),
        )
        if row is not None:
            raise XlrobustError(
                f"{source}: row {row}: fewer than 2 choices or an empty choice in column "
                f"'{raw_name.get('choices', 'choices')}'"
            )
        row = first_bad(df, n != n.first())
        if row is not None:
            raise XlrobustError(
                f"{source}: row {row}: {df['choices'][row].len()} choices where row 0 has {df['choices'][0].len()}"
            )
        row = first_bad(df, pl.col("label").is_null() | (pl.col("label") < 0) | (pl.col("label") >= n))
        if row is not None:
            raise XlrobustError(
                f"{source}: row {row}: answer outside the choices in column '{raw_name.get('label', 'label')}'"
            )

    # ------------------------------------------------------------------ model
    @staticmethod
    def pairs(df: pl.DataFrame) -> tuple[list[str], list[str], int]:
        n = df["choices"].list.len()[0] if df.height else 0
        firsts = [a for a in df["text_a"].to_list() for _ in range(n)]
        seconds = [f"{q} {c}" if q else c for q, cs in zip(df["text_b"].to_list(), df["choices"].to_list()) for c in cs]
        return firsts, seconds, n

    def features(self, tok, df: pl.DataFrame, max_length: int) -> dict:
        firsts, seconds, n = self.pairs(df)
        enc = tok(firsts, seconds, truncation="longest_first", max_length=max_length)
        return {k: [v[i : i + n] for i in range(0, len(v), n)] for k, v in enc.items()}

    def encode(self, tok, df, labels, max_length, doc_stride=128, train=True):
        from datasets import Dataset

        feats = self.features(tok, df, max_length)
        feats["labels"] = df["label"].to_list()
        return Dataset.from_dict(feats)

    def collator(self, tok):
        import transformers

        return transformers.DataCollatorForMultipleChoice(tok)

    def dev_metrics(self, outputs, order, features, dev, train):
        m = accuracy(np.concatenate(outputs), np.asarray(features["labels"])[order])
        return m, m["accuracy"]

    # ------------------------------------------------------------------ prediction and outcomes
    def logits(self, model, df: pl.DataFrame) -> np.ndarray:
        if df.height == 0:
            return np.zeros((0, 2), dtype=np.float32)
        feats = self.features(model.tok, df, model.max_length)
        feats["labels"] = [0] * df.height  # transformers' multiple-choice collator needs labels; run() drops them
        return np.stack(model.run(feats, collate=self.collator(model.tok)))

    def predict(self, model, df):
        return label_predictions(df, self.logits(model, df))

    def outcomes(self, preds):
        return label_outcomes(preds)

    def attack_outcomes(self, attacks):
        return label_attack_outcomes(attacks)

    def baselines(self, preds):
        return majority_baselines(preds)

    # ------------------------------------------------------------------ robustness
    def perturb(self, df, perturber, sides):
        cols = self.columns_of(sides)
        out = df
        if "text_a" in cols:
            out = super().perturb(out, perturber, "a")
        if "choices" in cols:
            new, edits = [], []
            for row in df.select("id", "choices").iter_rows(named=True):
                done = [perturber(c, f"{row['id']}|choice{i}") for i, c in enumerate(row["choices"])]
                new.append([t for t, _ in done])
                edits.append(sum(n for _, n in done))
            prior = out["edits"] if "edits" in out.columns else pl.Series([0] * df.height)
            out = out.with_columns(
                pl.Series("choices", new, dtype=pl.List(pl.String)),
                pl.Series("edits", (prior + pl.Series(edits)).to_list(), dtype=pl.Int64),
            )
        return out

    def attack_example(self, row):
        pairs = [("context", row["text_a"], row["perturbed_text_a"])]
        if row.get("text_b"):  # the question is never attacked: shown as it was
            pairs.append(("question", row["text_b"], row["text_b"]))
        return pairs + [
            (f"choice {i + 1}", a, b)
            for i, (a, b) in enumerate(zip(row["choices"], row["perturbed_choices"] or row["choices"]))
        ]

    def prediction_change(self, row):
        """The chosen alternative before -> after the attack (1-based, as the table shows them)."""
        name = lambda k: "–" if k is None else f"choice {k + 1}"  # noqa: E731
        return escape(f"{name(row.get('pred'))} → {name(row.get('perturbed_pred'))} (gold: {name(row.get('label'))})")

    def attack(self, model, lang, recipe, query_budget, alphabet, settings):
        return ChoiceAttacker(self, model, lang, recipe, query_budget, alphabet)


CHOICE = Choice()


class ChoiceAttacker(Attacker):
    """Multiple choice (XCOPA): the classification goal over the chosen alternative; the
    context and the choices may change, the question word stays."""

    schema = {
        "label": pl.Int64,
        "text_a": pl.String,
        "text_b": pl.String,
        "choices": pl.List(pl.String),
        "perturbed_text_a": pl.String,
        "perturbed_choices": pl.List(pl.String),
        "pred": pl.Int64,
        "perturbed_pred": pl.Int64,
    }

    def goal(self, query_budget):
        return model_wrapper(self.model.model, self.logits)  # build() wraps it in the untargeted goal

    def logits(self, inputs):
        """The format's logits of (context, choice, choice, ...) tuples under the example's question."""
        rows = [
            {
                "id": str(i),
                "lang": self.lang,
                "text_a": t[0],
                "text_b": self.question,
                "choices": list(t[1:]),
                "label": 0,
            }
            for i, t in enumerate(inputs)
        ]
        return self.fmt.logits(self.model, pl.DataFrame(rows, schema=self.fmt.schema))

    def prepare(self, ex):
        self.question = ex["text_b"]

    def inputs(self, ex):
        cols = [("text_a", ex["text_a"])] + [(f"choice{i}", c) for i, c in enumerate(ex["choices"])]
        return OrderedDict(cols), int(ex["label"])

    def row(self, result, ex):
        cols = list(result.perturbed_result.attacked_text._text_input.values())
        return {
            "label": ex["label"],
            "text_a": ex["text_a"],
            "text_b": ex["text_b"],
            "choices": ex["choices"],
            "perturbed_text_a": cols[0],
            "perturbed_choices": cols[1:],
            "pred": int(result.original_result.output),
            "perturbed_pred": int(result.perturbed_result.output),
        }
