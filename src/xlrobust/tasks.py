"""The task registry: where each task lives on the Hub and how its columns map to the
normalised table of its format (xlrobust.formats). Revisions are pinned in config.yaml,
not here.

Adding a task is adding an entry. Each entry names the raw columns it needs and
the polars expressions that build the normalised columns from them, so Hub data and
local files in the Hub's schema go through one `data.normalise`.

Hub access: most repos hold parquet on `main`. Repos that still hold a loading script
on main (which `datasets` >= 4 no longer runs) are read from the Hub's parquet
conversion, `revision="refs/convert/parquet"` with `data_dir=<config>`
(`parquet_branch=True`). `google/xtreme` is not used: its test labels are placeholders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Task:
    name: str
    hub: str | None  # Hub repo id (None: local files only, e.g. LDC-licensed)
    format: str  # the task format (xlrobust.formats)
    needs: tuple[str, ...]  # raw columns the task reads (named in "missing column" errors)
    fields: dict[str, pl.Expr]  # normalised column -> expression over the raw columns (id, lang added)
    labels: tuple[str, ...] = ()  # classification label names, index = label id
    id: str | None = None  # raw id column, if the dataset has one
    configs: dict[str, str | None] = field(default_factory=lambda: {"en": None})  # lang -> Hub config
    splits: dict[str, str | tuple[str, ...]] = field(
        default_factory=lambda: {"train": "train", "validation": "validation", "test": "test"}
    )
    drop_labels: tuple[int, ...] = ()  # label ids meaning "no gold label" (SNLI's and GLUE's -1)
    parquet_branch: bool = False  # read refs/convert/parquet with data_dir=<config> (script on main)
    licence: str = ""
    local_only: str = ""  # why the task cannot come from the Hub (shown as the error)
    # several languages in one Hub config (TyDiQA-GoldP): each raw row's language, from its
    # columns; a split keeps its language's rows (and rows whose language is null: unknown)
    row_lang: pl.Expr | None = None
    note: str = ""

    @property
    def schema(self) -> dict[str, pl.DataType]:
        from xlrobust.formats import get_format

        return get_format(self.format).schema


def classification(name, hub, labels, text_a, text_b=None, label="label", **kw) -> Task:
    fields = {
        "text_a": pl.col(text_a).cast(pl.String),
        "text_b": pl.col(text_b).cast(pl.String) if text_b else pl.lit(None, pl.String),
        "label": pl.col(label).cast(pl.Int64, strict=False),
    }
    needs = tuple(c for c in (text_a, text_b, label) if c)
    return Task(name=name, hub=hub, format="classify", needs=needs, fields=fields, labels=tuple(labels), **kw)


def _letter_or_digit(col: str) -> pl.Expr:
    """CommonsenseQA's answerKey 'A'..'E' and HellaSwag's '0'..'3' as 0-based ids ('' -> null)."""
    s = pl.col(col).cast(pl.String).str.strip_chars()
    letters = {chr(65 + i): i for i in range(26)}
    return (
        pl.when(s.str.contains(r"^[A-Z]$"))
        .then(s.replace_strict(letters, default=None, return_dtype=pl.Int64))
        .otherwise(s.cast(pl.Int64, strict=False))
    )


UMSAB_LANGS = {
    "ar": "arabic",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "hi": "hindi",
    "it": "italian",
    "pt": "portuguese",
}
XNLI_LANGS = "ar bg de el en es fr hi ru sw th tr ur vi zh".split()
PAWSX_LANGS = "de en es fr ja ko zh".split()
AMAZON_LANGS = "de en es fr ja zh".split()
NLI = ("entailment", "neutral", "contradiction")
SQUAD_FIELDS = {
    "text_a": pl.col("question"),
    "text_b": pl.col("context"),
    "answer_start": pl.col("answers").struct.field("answer_start").cast(pl.List(pl.Int64)),
    "answer_text": pl.col("answers").struct.field("text").cast(pl.List(pl.String)),
    "scoring": pl.lit("squad"),
}

# ---- extractive QA targets (issue 17)
SQUAD_NEEDS = ("id", "question", "context", "answers")
XQUAD_LANGS = "ar de el en es hi ro ru th tr vi zh".split()  # XTREME(-R)'s 11 and Romanian
MLQA_LANGS = "ar de en es hi vi zh".split()
# TyDiQA-GoldP id prefix -> ISO 639-1 (XTREME utils_preprocess.py tydiqa_preprocess, LANG2ISO)
TYDIQA_LANGS = {
    "arabic": "ar",
    "bengali": "bn",
    "english": "en",
    "finnish": "fi",
    "indonesian": "id",
    "korean": "ko",
    "russian": "ru",
    "swahili": "sw",
    "telugu": "te",
}
TYDIQA_ROW_LANG = pl.col("id").cast(pl.String).str.split("-").list.first().replace_strict(TYDIQA_LANGS, default=None)

TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        # ---- targets -------------------------------------------------------------------
        classification(
            "tweet_sentiment_multilingual",
            "cardiffnlp/tweet_sentiment_multilingual",
            ("negative", "neutral", "positive"),
            "text",
            configs=UMSAB_LANGS,
            parquet_branch=True,
            licence="see the dataset card (tweets, research use)",
            note="UMSAB (Barbieri et al. 2022)",
        ),
        classification(
            "xnli",
            "facebook/xnli",
            NLI,
            "premise",
            "hypothesis",
            configs={lang: lang for lang in XNLI_LANGS},
            licence="CC BY-NC 4.0",
        ),
        classification(
            "paws-x",
            "google-research-datasets/paws-x",
            ("not_paraphrase", "paraphrase"),
            "sentence1",
            "sentence2",
            id="id",
            configs={lang: lang for lang in PAWSX_LANGS},
            licence="custom (see card; attribution)",
        ),
        classification(
            "amazon_reviews",
            "mteb/AmazonReviewsClassification",
            ("1 star", "2 stars", "3 stars", "4 stars", "5 stars"),
            "text",
            configs={lang: lang for lang in AMAZON_LANGS},
            licence="Amazon MARC licence (research use)",
            note="parquet mirror of amazon_reviews_multi (the original was taken down)",
        ),
        # ---- intermediate tasks (English) -------------------------------------------------
        classification(
            "mnli",
            "nyu-mll/glue",
            NLI,
            "premise",
            "hypothesis",
            id="idx",
            configs={"en": "mnli"},
            splits={"train": "train", "validation": "validation_matched", "test": "validation_mismatched"},
            drop_labels=(-1,),
            licence="OANC / CC BY-SA 3.0 / CC BY 3.0 (mixed genres)",
        ),
        classification(
            "anli",
            "facebook/anli",
            NLI,
            "premise",
            "hypothesis",
            id="uid",
            configs={"en": "plain_text"},
            splits={
                "train": ("train_r1", "train_r2", "train_r3"),
                "validation": ("dev_r1", "dev_r2", "dev_r3"),
                "test": ("test_r1", "test_r2", "test_r3"),
            },
            licence="CC BY-NC 4.0",
            note="rounds 1-3 concatenated",
        ),
        classification(
            "snli",
            "stanfordnlp/snli",
            NLI,
            "premise",
            "hypothesis",
            configs={"en": "plain_text"},
            drop_labels=(-1,),
            licence="CC BY-SA 4.0",
        ),
        classification(
            "qqp",
            "nyu-mll/glue",
            ("not_duplicate", "duplicate"),
            "question1",
            "question2",
            id="idx",
            configs={"en": "qqp"},
            splits={"train": "train", "validation": "validation"},
            licence="Quora terms (non-commercial research)",
        ),
        classification(
            "imdb",
            "stanfordnlp/imdb",
            ("neg", "pos"),
            "text",
            configs={"en": "plain_text"},
            splits={"train": "train", "validation": "test"},
            licence="research use (Maas et al. 2011)",
            note="no dev split: its test split serves as dev",
        ),
        Task(
            name="squad",
            hub="rajpurkar/squad",
            format="span_qa",
            needs=("id", "question", "context", "answers"),
            fields=SQUAD_FIELDS,
            id="id",
            configs={"en": "plain_text"},
            splits={"train": "train", "validation": "validation"},
            licence="CC BY-SA 4.0",
        ),
        Task(
            name="squad_v2",
            hub="rajpurkar/squad_v2",
            format="span_qa",
            needs=("id", "question", "context", "answers"),
            fields=SQUAD_FIELDS,
            id="id",
            configs={"en": "squad_v2"},
            splits={"train": "train", "validation": "validation"},
            licence="CC BY-SA 4.0",
            note="unanswerable questions have empty answer lists",
        ),
        Task(
            name="hellaswag",
            hub="Rowan/hellaswag",
            format="choice",
            needs=("ind", "ctx_a", "ctx_b", "endings", "label"),
            fields={
                "text_a": pl.col("ctx_a"),
                "text_b": pl.col("ctx_b"),
                "choices": pl.col("endings").cast(pl.List(pl.String)),
                "label": _letter_or_digit("label"),
            },
            id="ind",
            configs={"en": "default"},
            splits={"train": "train", "validation": "validation"},
            parquet_branch=True,
            licence="MIT",
            note="test labels are hidden: train and validation only",
        ),
        Task(
            name="cosmos_qa",
            hub="allenai/cosmos_qa",
            format="choice",
            needs=("id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"),
            fields={
                "text_a": pl.col("context"),
                "text_b": pl.col("question"),
                "choices": pl.concat_list([pl.col(f"answer{i}").cast(pl.String) for i in range(4)]),
                "label": pl.col("label").cast(pl.Int64, strict=False),
            },
            id="id",
            configs={"en": "default"},
            splits={"train": "train", "validation": "validation"},
            parquet_branch=True,
            licence="CC BY 4.0",
            note="test labels are hidden: train and validation only",
        ),
        Task(
            name="commonsense_qa",
            hub="tau/commonsense_qa",
            format="choice",
            needs=("id", "question", "choices", "answerKey"),
            fields={
                "text_a": pl.col("question"),
                "text_b": pl.lit(None, pl.String),
                "choices": pl.col("choices").struct.field("text").cast(pl.List(pl.String)),
                "label": _letter_or_digit("answerKey"),
            },
            id="id",
            splits={"train": "train", "validation": "validation"},
            licence="MIT",
            note="test labels are hidden: train and validation only",
        ),
        Task(
            name="ccg",
            hub=None,
            format="tagging",
            needs=("tokens", "tags"),
            fields={
                "tokens": pl.col("tokens").cast(pl.List(pl.String)),
                "tags": pl.col("tags").cast(pl.List(pl.String)),
            },
            splits={"train": "train", "validation": "validation", "test": "test"},
            licence="LDC (CCGbank, LDC2005T13)",
            local_only="CCGbank is LDC-licensed and not on the Hub: convert it to jsonl/parquet with 'tokens' and "
            "'tags' lists and set datasets.<name>.local in config.yaml",
        ),
        # ---- XTREME-R extractive QA targets (issue 17) ----------------------------------------
        # The test sets; the English training data is another dataset of config.yaml
        # (targets.<name>.train_dataset), as XTREME trains: SQuAD v1.1 for XQuAD and MLQA,
        # TyDiQA-GoldP English train for TyDiQA. Hub ids, configs and columns checked
        # against /work/notes/hub_datasets.md (sections 1-3).
        Task(
            name="xquad",
            hub="google/xquad",  # parquet on main since "Convert dataset to Parquet (#3)"
            format="span_qa",
            needs=SQUAD_NEEDS,
            fields=SQUAD_FIELDS,
            id="id",
            configs={lang: f"xquad.{lang}" for lang in XQUAD_LANGS},
            splits={"test": "validation"},  # its only split: the test set
            licence="CC BY-SA 4.0",
            note="1190 questions per language, parallel; XTREME(-R) uses 11 languages (ro is extra); scored "
            "with the SQuAD v1.1 script",
        ),
        Task(
            name="mlqa",
            hub="facebook/mlqa",  # a loading script on main: its parquet conversion
            format="span_qa",
            needs=SQUAD_NEEDS,
            fields={**SQUAD_FIELDS, "scoring": pl.lit("mlqa")},
            id="id",
            configs={lang: f"mlqa.{lang}.{lang}" for lang in MLQA_LANGS},  # context and question in one language
            splits={"validation": "validation", "test": "test"},
            parquet_branch=True,
            licence="CC BY-SA 3.0",
            note="mlqa.<context>.<question> on the diagonal (G-XLT off-diagonal configs not used); scored with "
            "the MLQA script (language-specific normalisation); google/xtreme MLQA.<l>.<l> holds the same data",
        ),
        Task(
            name="tydiqa",
            hub="google-research-datasets/tydiqa",  # parquet on main since "Convert dataset to Parquet (#3)"
            format="span_qa",
            needs=SQUAD_NEEDS,
            fields=SQUAD_FIELDS,
            id="id",
            configs={lang: "secondary_task" for lang in TYDIQA_LANGS.values()},  # GoldP = the secondary task
            splits={"train": "train", "validation": "validation", "test": "validation"},
            row_lang=TYDIQA_ROW_LANG,
            licence="Apache 2.0",
            note="TyDiQA-GoldP: all 9 languages in one config, each row's language from its id prefix (as XTREME's "
            "tydiqa_preprocess); train on English train, English dev selects, test = dev per language",
        ),
        # ---- XTREME-R structured prediction targets (issue 18) -------------------------------
        # ---- XTREME-R XCOPA and retrieval targets (issue 19) ---------------------------------
        # ---- multilingual MLM text -------------------------------------------------------
        Task(
            name="wikipedia",
            hub="wikimedia/wikipedia",
            format="mlm",
            needs=("text",),
            fields={"text_a": pl.col("text")},
            id="id",
            configs={
                lang: f"20231101.{lang}" for lang in sorted(set(XNLI_LANGS) | set(PAWSX_LANGS) | set(UMSAB_LANGS))
            },
            splits={"train": "train"},
            licence="CC BY-SA 4.0 / GFDL",
            note="capped per language with max_examples (streamed from the Hub)",
        ),
    ]
}


def get_task(name: str) -> Task:
    from xlrobust.errors import XlrobustError

    if name not in TASKS:
        raise XlrobustError(f"unknown task '{name}'; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]
