"""Task formats: one package per format (`formats/<name>/`), each owning what differs between
formats and nothing else (its normalised table, validation, features, transformers head,
decoding, per-example outcomes, label-preserving perturbation, metrics, and its attacker:
goal function, constraints, result rows). A package imports `formats.base` (the interface
and the shared Attacker), other formats' packages and the primitives, never this registry
nor a stage.

Stages ask the format (`get_format(name)`, or the format of a table or a model
folder) instead of comparing format names. Adding a format is adding a package here
and one line to BUILTIN; `register()` also serves tests that define a toy format.

| format     | table (besides id, lang)                                   | head                               | metric   |
|------------|------------------------------------------------------------|------------------------------------|----------|
| classify   | text_a, text_b (null for single sentences), label          | AutoModelForSequenceClassification | accuracy |
| choice     | text_a (context), text_b (question or null), choices, label | AutoModelForMultipleChoice        | accuracy |
| span_qa    | text_a (question), text_b (context), answer_start, answer_text | AutoModelForQuestionAnswering  | f1       |
| tagging    | tokens, tags                                               | AutoModelForTokenClassification    | f1 / accuracy |
| mlm        | text_a                                                     | AutoModelForMaskedLM               | (none)   |
| retrieval  | text_a (query, non-English), text_b (its English translation) | encoder only, no fine-tuning    | accuracy |
| dual       | text_a (query), text_b (candidate), context_b, group (relevance) | shared encoder, in-batch negatives | map_at_20 |
| mining     | side (xx/en), part (tune/test), text, gold (xx rows: the English id) | encoder only, no fine-tuning | f1 |
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats import choice, classify, dual, mining, mlm, retrieval, span_qa, tagging
from xlrobust.formats.base import Format
from xlrobust.io import read_json

# in the order the formats registered themselves before they were packages (for_head takes the first match)
BUILTIN: tuple[Format, ...] = (
    classify.CLASSIFY,
    choice.CHOICE,
    retrieval.RETRIEVAL,
    dual.DUAL,
    mining.MINING,
    mlm.MLM_TEXT,
    span_qa.SPAN_QA,
    tagging.TAGGING,
)
FORMATS: dict[str, Format] = {fmt.name: fmt for fmt in BUILTIN}
# names of the formats in datasets prepared before formats were modules (meta.json)
ALIASES = {"single": "classify", "pair": "classify", "mc": "choice", "qa": "span_qa", "tag": "tagging"}


def register(fmt: Format) -> Format:
    FORMATS[fmt.name] = fmt
    return fmt


def all_formats() -> dict[str, Format]:
    return FORMATS


def get_format(name: str) -> Format:
    name = ALIASES.get(name, name)
    if name not in FORMATS:
        raise XlrobustError(f"unknown task format '{name}' (known: {', '.join(sorted(FORMATS))})")
    return FORMATS[name]


def format_of_table(path, name: str | None = None) -> Format:
    """The format of an example table: the one named, else the one its prepared dataset
    declares (meta.json beside it), else its `format` column (perturbed tables), else
    classification."""
    if name:
        return get_format(name)
    meta = Path(path).parent / "meta.json"
    if meta.exists():
        return get_format(read_json(meta).get("format") or "classify")
    try:  # a perturbed table carries its format as a column
        if "format" in pl.read_parquet_schema(path):
            fmt = pl.read_parquet(path, columns=["format"], n_rows=1)["format"]
            if len(fmt):
                return get_format(fmt[0])
    except (OSError, pl.exceptions.PolarsError):
        pass  # an unreadable table is reported by whoever reads it
    return get_format("classify")


def for_head(architectures: list[str]) -> Format | None:
    """The format whose transformers head built a model (config.json `architectures`)."""
    for fmt in FORMATS.values():
        if fmt.architecture_suffix and any(a.endswith(fmt.architecture_suffix) for a in architectures or []):
            return fmt
    return None
