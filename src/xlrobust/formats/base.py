"""The interface every task format implements, with the behaviour most formats share.

A format answers, for one kind of task table:
- data: its normalised columns (`schema`), which must hold text (`text_columns`), the
  label names a model is trained on (`label_names`) and the rest of validation (`check`);
- model: the transformers head (`head`), features (`encode`) and the collator that pads
  them, how a batch output becomes numbers (`output`), the dev metrics that select a
  checkpoint (`dev_metrics`);
- prediction: `predict` (a table in, one prediction row per example out) and the
  per-example outcomes scoring consumes (`outcomes`: rows of metric, x, w with the
  metric's value = sum(x) / sum(w) over examples; `w` is 1 for a mean);
- robustness: which columns a perturbation may touch (`sides`) and how a perturbed
  table keeps its labels valid (`perturb`); its attacker (`attack`: an `Attacker`, the
  format-independent part of every format's attacker, is here too).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.io import read_examples
from xlrobust.perturb import PERTURBATIONS
from xlrobust.ta_parts import build

# The columns every per-example outcome row carries (besides run and probe keys).
OUTCOME = {"id": pl.String, "lang": pl.String, "metric": pl.String, "x": pl.Float64, "w": pl.Float64}


def first_bad(df: pl.DataFrame, condition: pl.Expr) -> int | None:
    """Row number of the first row where `condition` holds (None: no such row)."""
    bad = df.with_row_index().filter(condition)
    return int(bad["index"][0]) if bad.height else None


class Format:
    name: str = ""
    schema: dict[str, pl.DataType] = {}
    text_columns: tuple[str, ...] = ()  # must hold non-empty text
    head: str = ""  # transformers Auto class of the head
    prediction_columns: tuple[str, ...] = ()  # what `predict` writes besides id and lang (scoring reads them)
    architecture_suffix: str = ""  # config.json `architectures` of such a model end with this
    metric: str = "accuracy"  # the primary metric: dev selection, comparisons, report
    sides: dict[str, tuple[str, ...]] = {}  # perturbation `sides` value -> the columns it touches
    default_side: str = "both"
    # probes this format names: name -> (perturbation, sides), e.g. tagging's entity_char_swap =
    # char_swap on entity tokens only; listed in `perturbations`, written under their own name
    named_perturbations: dict[str, tuple[str, str]] = {}
    trains: bool = True  # False: used as it is (retrieval), no fine-tuning job
    prediction_stage: str = "predict"  # the stage whose precision its prediction uses (models.resolve_precision)
    masked_lm_text: bool = False  # text for continued masked-LM training (no target, no metric)
    collator_keeps_labels: bool = False  # its collator pads `labels` too (keep them for dev batches)
    rows_cappable: bool = True  # max_examples may keep a table's first rows (False: rows refer to each other)

    @property
    def perturbations(self) -> tuple[str, ...]:
        """The static perturbations this format can apply with its labels kept valid."""
        return PERTURBATIONS

    # ------------------------------------------------------------------ data
    def label_names(self, task_labels: tuple[str, ...], train: pl.DataFrame | None) -> list[str]:
        """The classes a model of this format is trained on (none for most formats)."""
        return list(task_labels)

    def validate(self, df: pl.DataFrame, labels, source: str, raw_name: dict[str, str] | None = None) -> None:
        """One clear error for the first bad row: empty text, the format's own checks,
        duplicate id. `raw_name` maps a normalised column to the raw column(s) it came from."""
        raw_name = raw_name or {}
        for col in self.text_columns:
            row = first_bad(df, pl.col(col).is_null() | (pl.col(col).str.strip_chars() == ""))
            if row is not None:
                raise XlrobustError(f"{source}: row {row}: empty text in column '{raw_name.get(col, col)}'")
        self.check(df, labels, source, raw_name)
        row = first_bad(df, ~pl.col("id").is_first_distinct())
        if row is not None:
            raise XlrobustError(f"{source}: row {row}: duplicate id '{df['id'][row]}'")

    def check(self, df: pl.DataFrame, labels, source: str, raw_name: dict[str, str]) -> None:
        """The format's own validation (labels, spans, lists); nothing by default."""

    def unpack(self, raw: pl.DataFrame, lang: str, split: str, source: str) -> pl.DataFrame:
        """The raw table as the rows the task's fields map (mining: a Hub row holding a language
        pair's whole corpora becomes one row per sentence); unchanged by default."""
        return raw

    def check_raw(self, raw: pl.DataFrame, fields: dict[str, pl.Expr], source: str) -> None:
        """Checks on the raw table before normalising (e.g. integer labels); nothing by default."""

    def check_model(self, model_dir: str, df: pl.DataFrame, source: str) -> None:
        """Before a model runs on a table: does it fit (e.g. the data's classes are the
        model's)? Nothing by default."""

    # ------------------------------------------------------------------ model
    def head_class(self):
        import transformers

        return getattr(transformers, self.head)

    def head_kwargs(self, labels: list[str]) -> dict:
        return {}

    def train_kwargs(self, hp: dict) -> dict:
        """Training settings the head takes when built for training (dual: the softmax scale)."""
        return {}

    def encode(
        self, tok, df: pl.DataFrame, labels: list[str], max_length: int, doc_stride: int = 128, train: bool = True
    ):
        """Features (a datasets.Dataset) of a table, unpadded; `train=False`: dev features."""
        raise NotImplementedError(self.name)

    def collator(self, tok):
        import transformers

        return transformers.DataCollatorWithPadding(tok)

    def output(self, out) -> np.ndarray:
        """A model output of one batch as a float32 array (rows = features)."""
        return out.logits.float().cpu().numpy()

    def dev_metrics(
        self, outputs: list[np.ndarray], order: np.ndarray, features, dev: pl.DataFrame, train: pl.DataFrame
    ) -> tuple[dict, float]:
        """Dev metrics from the batch outputs (features in `order`), and the one score in
        [0, 1] that selects checkpoints."""
        raise NotImplementedError(self.name)

    # ------------------------------------------------------------------ prediction and outcomes
    def predict(self, model, df: pl.DataFrame) -> pl.DataFrame:
        """One row per example: id, lang, the gold labels, the prediction (format's columns)."""
        raise NotImplementedError(self.name)

    def outcomes(self, preds: pl.DataFrame) -> pl.DataFrame:
        """Per-example outcome rows (OUTCOME columns plus any key columns of `preds`)."""
        raise NotImplementedError(self.name)

    def attack_outcomes(self, attacks: pl.DataFrame) -> pl.DataFrame:
        """The primary metric of the prediction an attack ended with, per attacked example
        (rows with metric, x, w): what `<metric>_under_attack` averages."""
        raise NotImplementedError(self.name)

    def primary_metric(self, metrics: set[str]) -> str:
        """The metric comparisons and the report lead with, among those a target's outcomes have."""
        return self.metric

    def answer(self) -> pl.Expr:
        """The prediction as one comparable value: a changed answer under a probe is a flip."""
        return pl.col("pred")

    def flip(self) -> pl.Expr:
        """Whether a perturbed example's prediction (`answer`) differs from its clean one
        (`canswer`): what flip_rate averages."""
        return pl.col("answer") != pl.col("canswer")

    def baselines(self, preds: pl.DataFrame) -> dict[str, tuple[float, str]]:
        """The no-skill baseline of each metric on one language's prediction rows: metric ->
        (value, what it is). A clean value whose 95% interval reaches it is not above it."""
        return {}

    def corpus_scores(self, preds: pl.DataFrame) -> dict[str, Callable]:
        """Metrics that are no ratio of per-example sums (classification's macro-F1):
        name -> function(group of prediction rows) -> (value, ci_low, ci_high)."""
        return {}

    # ------------------------------------------------------------------ robustness
    def perturb(self, df: pl.DataFrame, perturber, sides: str) -> pl.DataFrame:
        """Perturb the text columns of `sides` with `perturber(text, key) -> (text, edits)`;
        an `edits` column counts the edits per example."""
        cols = self.columns_of(sides)
        out = {c: [] for c in cols}
        edits = [0] * df.height
        for r, row in enumerate(df.select("id", *cols).iter_rows(named=True)):
            for c in cols:
                new, n = perturber(row[c], f"{row['id']}|{c}")
                out[c].append(new)
                edits[r] += n
        return df.with_columns(
            *(pl.Series(c, v, dtype=pl.String) for c, v in out.items()), pl.Series("edits", edits, dtype=pl.Int64)
        )

    def probe_table(self, data: str, lang: str) -> pl.DataFrame:
        """The table a static probe of `lang` perturbs and writes (one language's rows; dual
        retrieval adds the other languages' candidates, its pool)."""
        return read_examples(data, lang, self)

    def attack_pool(self, data: str, table: pl.DataFrame) -> pl.DataFrame:
        """What an attacker's `start` sees: the attacked language's table (dual retrieval:
        the whole multilingual table of `data`, its candidate pool)."""
        return table

    def attack_example(self, row: dict) -> list[tuple[str, str | None, str | None]]:
        """An attacked example for the report: (label, original, perturbed) per text field."""
        pairs = [("", row.get("text_a"), row.get("perturbed_text_a"))]
        if row.get("text_b") is not None:  # a sentence pair: the second sentence too
            pairs.append(("second sentence", row["text_b"], row.get("perturbed_text_b")))
        return pairs

    def prediction_change(self, row: dict) -> str:
        """The prediction before -> after the attack, as escaped HTML."""
        return escape(f"{row.get('pred')} → {row.get('perturbed_pred')}")

    def probe(self, name: str, sides: str | None = None, labels: tuple[str, ...] = ()) -> tuple[str, str]:
        """(the perturbation to run, the sides it touches) of a probe name: a named probe fixes
        its sides (giving others is an error), any other takes `sides` or the default.
        `labels`: the target task's label names, when a side only exists for some label sets."""
        if name in self.named_perturbations:
            base, side = self.named_perturbations[name]
            if sides not in (None, side):
                raise XlrobustError(
                    f"{name} perturbs the {self.name} format's '{side}' side; it takes no sides '{sides}'"
                )
            return base, side
        return name, sides or self.default_side

    def probe_note(self, side: str) -> str:
        """What a perturbation on `side` does to this format's examples, for the report where
        it matters to read the scores (QA: which probes rewrite the gold answers); "" for none."""
        return ""

    def columns_of(self, sides: str) -> tuple[str, ...]:
        if sides not in self.sides:
            raise XlrobustError(f"--sides {sides}: the {self.name} format takes {', '.join(self.sides)}")
        return self.sides[sides]

    def coverage(self, df: pl.DataFrame, titles: dict[str, str]) -> str:
        """What a table's rows span, for the job log of a capped split (QA: articles and
        paragraphs; `titles`: id -> the raw row's title, where there is one); "" by default."""
        return ""

    def attack_rows(self, table: pl.DataFrame) -> pl.DataFrame:
        """The rows of a language's table an attack takes its examples from (in order); all by default."""
        return table

    def attack(self, model, lang: str, recipe: str, query_budget: int, alphabet: dict, settings: dict):
        """An Attacker for this format (its package's attacker), or an error: formats without
        an attack goal say so."""
        raise XlrobustError(f"no adaptive attack for the {self.name} format")

    def __repr__(self) -> str:
        return f"<format {self.name}>"


# TextAttack's result class -> the `status` column
STATUS = {
    "SuccessfulAttackResult": "succeeded",
    "FailedAttackResult": "failed",
    "SkippedAttackResult": "skipped",
    "MaximizedAttackResult": "failed",
}


class Attacker:
    """One attack recipe against one model on one language: the format-independent part
    (recipe composition, result bookkeeping; xlrobust.attack runs the job). A format's
    attacker says what is attacked (`inputs`), what counts as success (`goal`), which
    inputs may change (`constraints`) and what a result row holds (`row`, with the
    columns of `schema`)."""

    schema: dict[str, pl.DataType] = {}

    def __init__(self, fmt, model, lang: str, recipe: str, query_budget: int, alphabet: dict, settings=None):
        self.fmt, self.model, self.lang, self.settings = fmt, model, lang, settings or {}
        self.attack_ = build(recipe, self.goal(query_budget), lang, query_budget, alphabet, self.constraints())

    def goal(self, query_budget: int):
        raise NotImplementedError

    def constraints(self) -> list:
        return []

    def inputs(self, ex: dict):
        """(TextAttack input: a text or an OrderedDict of columns, ground truth output)."""
        raise NotImplementedError

    def row(self, result, ex: dict) -> dict:
        raise NotImplementedError

    def __call__(self, ex: dict) -> dict:
        self.prepare(ex)
        result = self.attack_.attack(*self.inputs(ex))
        status = STATUS[type(result).__name__]
        orig, pert = result.original_result.attacked_text, result.perturbed_result.attacked_text
        return {
            "id": ex["id"],
            "lang": ex["lang"],
            "status": status,
            "num_queries": int(result.num_queries),
            "words_perturbed": len(orig.all_words_diff(pert)) if status == "succeeded" else 0,
            "words_total": len(orig.words),
            **self.row(result, ex),
        }

    def prepare(self, ex: dict) -> None:
        """Per-example state the model wrapper needs (nothing by default)."""

    def start(self, table: pl.DataFrame) -> None:
        """The attacked language's whole table, before its first example (a retrieval
        attacker embeds its candidate pool); nothing by default."""
