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

import re
from dataclasses import dataclass, field

import polars as pl

from xlrobust.errors import XlrobustError


@dataclass(frozen=True)
class Task:
    name: str
    hub: str | None  # Hub repo id (None: local files only, e.g. LDC-licensed)
    format: str  # the task format (xlrobust.formats)
    needs: tuple[str, ...]  # raw columns the task reads (named in "missing column" errors)
    fields: dict[str, pl.Expr]  # normalised column -> expression over the raw columns (id, lang added)
    labels: tuple[str, ...] = ()  # classification label names, index = label id
    id: str | None = None  # raw id column, if the dataset has one
    # lang -> Hub config; a tuple: several configs read and concatenated in order (UD: every
    # treebank of a language, as XTREME merges them), ids prefixed with the config
    configs: dict[str, str | None | tuple[str, ...]] = field(default_factory=lambda: {"en": None})
    splits: dict[str, str | tuple[str, ...]] = field(
        default_factory=lambda: {"train": "train", "validation": "validation", "test": "test"}
    )
    drop_labels: tuple[int, ...] = ()  # label ids meaning "no gold label" (SNLI's and GLUE's -1)
    parquet_branch: bool = False  # read refs/convert/parquet with data_dir=<config> (script on main)
    licence: str = ""
    local_only: str = ""  # why the task cannot come from the Hub (shown as the error)
    config_splits: dict[str, tuple[str, ...]] = field(default_factory=dict)  # config lacking splits -> its splits
    class_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)  # raw ClassLabel column -> Hub names
    # several languages in one Hub config (TyDiQA-GoldP): each raw row's language, from its
    # columns; a split keeps its language's rows (and rows whose language is null: unknown)
    row_lang: pl.Expr | None = None
    note: str = ""
    # lang -> (Hub repo, config, parquet_branch) for a language another repo holds (XCOPA's
    # English: COPA in aps/super_glue); the dataset's `revision` pins only `hub`
    sources: dict[str, tuple[str, str | None, bool]] = field(default_factory=dict)
    # the config of a language outside `configs` in a dataset of local files (xlrobust.langs):
    # a pattern of {lang} (the code as configured) and {alpha3} (its ISO 639-3 code)
    local_config: str = "{lang}"
    # raw column -> the only values it may hold (surrounding spaces aside): anything else is an
    # error, not silently turned into a question or label the data does not have
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # a task whose rows join every test table as candidates only, in language "mul" (dual
    # retrieval: Mewsli-X's entity set, one pool for all languages)
    pool: str | None = None

    def hub_source(self, lang: str, config: str | None = None) -> tuple[Task, str | None]:
        """The task to read `lang` from the Hub (itself, or a copy pointing at the repo that
        holds that language) and the config to read there (default: the language's)."""
        if lang in self.sources:
            from dataclasses import replace

            repo, config, parquet_branch = self.sources[lang]
            return replace(self, hub=repo, parquet_branch=parquet_branch, sources={}), config
        return self, self.configs[lang] if config is None else config


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

# ---- XCOPA and retrieval (issue 19) -------------------------------------------------------
XCOPA_LANGS = "et ht id it qu sw ta th tr vi zh".split()  # XTREME-R scripts/train_xcopa.sh
# XTREME-R's 41 Tatoeba languages: the project's 2-letter code -> ISO 639-3 code of the
# Tatoeba release and of mteb/tatoeba-bitext-mining's `<l3>-eng` configs (XTREME's
# utils_preprocess.py lang3_dict; zh is Mandarin cmn, fa Iranian Persian pes, sw swh).
TATOEBA_LANGS = {
    "af": "afr", "ar": "ara", "az": "aze", "bg": "bul", "bn": "ben", "de": "deu", "el": "ell", "es": "spa",
    "et": "est", "eu": "eus", "fa": "pes", "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun",
    "id": "ind", "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz", "ko": "kor", "lt": "lit",
    "ml": "mal", "mr": "mar", "nl": "nld", "pl": "pol", "pt": "por", "ro": "ron", "ru": "rus", "sw": "swh",
    "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl", "tr": "tur", "uk": "ukr", "ur": "urd", "vi": "vie",
    "zh": "cmn",
}  # fmt: skip
COPA_FIELDS = {  # XCOPA and COPA rows: premise, choice1, choice2, question (cause/effect), label 0/1
    "text_a": pl.col("premise"),
    # XTREME-R's question sentence (third_party/run_xcopa.py: "{premise} What was the {question}?"),
    # in English for every language; the choice format puts it before each choice
    "text_b": pl.format("What was the {}?", pl.col("question").cast(pl.String).str.strip_chars()),
    "choices": pl.concat_list([pl.col("choice1").cast(pl.String), pl.col("choice2").cast(pl.String)]),
    "label": pl.col("label").cast(pl.Int64, strict=False),
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
        # PAN-X = WikiANN (Rahimi et al. 2019 splits), the 48 XTREME-R languages. Parquet on main, one
        # config per Wikipedia language code; ner_tags are ClassLabel ids (order of the card / wikiann.py).
        Task(
            name="panx",
            hub="unimelb-nlp/wikiann",
            format="tagging",
            needs=("tokens", "ner_tags"),
            fields={
                "tokens": pl.col("tokens").cast(pl.List(pl.String)),
                "tags": pl.col("ner_tags").list.eval(
                    pl.element().replace_strict(
                        dict(enumerate(("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"))),
                        default=None,
                        return_dtype=pl.String,
                    )
                ),
            },
            labels=("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"),
            class_labels={"ner_tags": ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")},
            configs={
                lang: lang
                for lang in "af ar az bg bn de el en es et eu fa fi fr gu he hi hu id it ja jv ka kk ko lt ml mr ms my "
                "nl pa pl pt qu ro ru sw ta te th tl tr uk ur vi yo zh".split()
            },
            licence="ODC-BY (see the card); built from Wikipedia",
            note="PAN-X (Pan et al. 2017) in Rahimi et al.'s splits; XTREME-R's 48 languages",
        ),
        # UD-POS: Universal Dependencies 2.7 (XTREME-R's version). The repo keeps a loading script on
        # main, so it is read from refs/convert/parquet (data_dir = treebank). Several treebanks per
        # language: the registry lists every treebank of the language (XTREME merges all treebanks of a
        # language, per split) and reads each that has the split (`config_splits`: those lacking some);
        # datasets.<name>.configs in config.yaml narrows a language to some of them (a local copy with one
        # treebank). Left out, as XTREME drops their all-'_' sentences: treebanks released without word
        # forms (ar_nyuad, en_esl, en_gumreddit, fr_ftb, ja_bccwj). The Hub rows are conllu.parse_incr's:
        # multiword-token ranges ("1-2", upos '_') and empty nodes ("8.1"), both with head None, are
        # dropped here, so each tag is a syntactic word's UPOS (17 tags; XTREME instead keeps fused forms).
        # A syntactic word whose UPOS is '_' is kept, and refused by validation ('_' is no label).
        Task(
            name="udpos",
            hub="universal-dependencies/universal_dependencies",
            format="tagging",
            needs=("idx", "tokens", "upos", "head"),
            fields={
                "tokens": pl.col("tokens").list.gather(
                    pl.col("head").list.eval(pl.element() != "None").list.eval(pl.element().arg_true())
                ),
                "tags": pl.col("upos")
                .list.gather(pl.col("head").list.eval(pl.element() != "None").list.eval(pl.element().arg_true()))
                .list.eval(
                    pl.element().replace_strict(
                        dict(
                            enumerate(
                                "NOUN PUNCT ADP NUM SYM SCONJ ADJ PART DET CCONJ PROPN PRON X _ ADV INTJ VERB AUX".split()
                            )
                        ),
                        default=None,
                        return_dtype=pl.String,
                    )
                ),
            },
            labels=tuple("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()),
            class_labels={
                "upos": tuple(
                    "NOUN PUNCT ADP NUM SYM SCONJ ADJ PART DET CCONJ PROPN PRON X _ ADV INTJ VERB AUX".split()
                )
            },
            id="idx",
            configs={
                lang: tuple(f"{lang}_{tb}" for tb in treebanks.split())
                for lang, treebanks in {
                    "af": "afribooms",
                    "ar": "padt pud",
                    "bg": "btb",
                    "de": "gsd hdt lit pud",
                    "el": "gdt",
                    "en": "ewt gum lines partut pronouns pud",
                    "es": "ancora gsd pud",
                    "et": "edt ewt",
                    "eu": "bdt",
                    "fa": "perdt seraji",
                    "fi": "ftb ood pud tdt",
                    "fr": "fqb gsd partut pud sequoia spoken",
                    "he": "htb",
                    "hi": "hdtb pud",
                    "hu": "szeged",
                    "id": "csui gsd pud",
                    "it": "isdt partut postwita pud twittiro vit",
                    "ja": "gsd modern pud",
                    "kk": "ktb",
                    "ko": "gsd kaist pud",
                    "lt": "alksnis hse",
                    "mr": "ufal",
                    "nl": "alpino lassysmall",
                    "pl": "lfg pdb pud",
                    "pt": "bosque gsd pud",
                    "ro": "nonstandard rrt simonero",
                    "ru": "gsd pud syntagrus taiga",
                    "ta": "mwtt ttb",
                    "te": "mtg",
                    "th": "pud",
                    "tl": "trg ugnayan",
                    "tr": "boun gb imst pud",
                    "uk": "iu",
                    "ur": "udtb",
                    "vi": "vtb",
                    "wo": "wtb",
                    "yo": "ytb",
                    "zh": "cfl gsd gsdsimp hk pud",
                }.items()
            },
            # from the _UD_DATASETS table of the Hub's universal_dependencies.py (UD 2.7); every other
            # treebank has train, validation and test. lt_hse: that script serves its train file as all
            # three splits, so only its train split is read.
            config_splits={
                **{
                    tb: ("test",)
                    for tb in "ar_pud de_lit de_pud en_pronouns en_pud es_pud fi_ood fi_pud fr_fqb fr_pud hi_pud id_pud "
                    "it_pud ja_modern ja_pud ko_pud pl_pud pt_pud ru_pud ta_mwtt th_pud tl_trg tl_ugnayan tr_gb tr_pud "
                    "yo_ytb zh_cfl zh_hk zh_pud".split()
                },
                "id_csui": ("train", "test"),
                "kk_ktb": ("train", "test"),
                "lt_hse": ("train",),
            },
            parquet_branch=True,
            licence="per treebank (UD licences, mostly CC BY-SA 4.0 / CC BY-NC-SA 4.0)",
            note="UD 2.7 UPOS; a language's treebanks merged per split as XTREME does",
        ),
        # ---- XTREME-R XCOPA and retrieval targets (issue 19) ---------------------------------
        Task(
            name="xcopa",
            hub="cambridgeltl/xcopa",
            format="choice",
            needs=("premise", "choice1", "choice2", "question", "label"),
            fields=COPA_FIELDS,
            id="idx",
            configs={"en": "en", **{lang: lang for lang in XCOPA_LANGS}},
            # English (train, validation) is COPA's (XCOPA translates COPA's validation and test)
            sources={"en": ("aps/super_glue", "copa", True)},
            # COPA's test labels are hidden (-1): English has train and validation only. No label is
            # dropped: a -1 in a file read is an error ("answer outside the choices"), never a smaller test set
            allowed={"question": ("cause", "effect")},
            licence="CC BY 4.0 (XCOPA); COPA: BSD 2-Clause",
            note="XCOPA: validation 100 and test 500 per language; English training: COPA train (400)",
        ),
        Task(
            name="social_i_qa",
            hub="allenai/social_i_qa",
            format="choice",
            needs=("context", "question", "answerA", "answerB", "answerC", "label"),
            fields={
                "text_a": pl.col("context"),
                "text_b": pl.col("question"),
                "choices": pl.concat_list([pl.col(f"answer{c}").cast(pl.String) for c in "ABC"]),
                # "1".."3" (1-based; early versions kept a trailing newline)
                "label": pl.col("label").cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False) - 1,
            },
            splits={"train": "train", "validation": "validation"},
            parquet_branch=True,
            licence="CC BY 4.0",
            note="SIQA (Sap et al. 2019): XTREME-R trains XCOPA models on it before COPA",
        ),
        Task(
            name="tatoeba",
            hub="mteb/tatoeba-bitext-mining",
            format="retrieval",
            needs=("sentence1", "sentence2"),
            fields={  # sentence1 is the non-English sentence, sentence2 its English translation
                "text_a": pl.col("sentence1").cast(pl.String).str.strip_chars(),
                "text_b": pl.col("sentence2").cast(pl.String).str.strip_chars(),
            },
            configs={lang: f"{l3}-eng" for lang, l3 in TATOEBA_LANGS.items()},
            local_config="{alpha3}-eng",  # the release's tatoeba.amh-eng.* for langs: [am]
            splits={"test": "test"},
            parquet_branch=True,
            licence="CC BY 2.0 FR",
            note="LASER's Tatoeba v1: up to 1000 English-aligned pairs per language; no training split",
        ),
        # ---- BUCC 2018 bitext mining (issue 26) ----------------------------------------------
        # The Hub copy, as its loading script built it (features sentence1, sentence2: string sequences;
        # gold: [int, int] sequence) and its parquet conversion keeps it (refs/convert/parquet <xx>-en/test
        # up to 4fb0112, which config.yaml pins; main has since become aligned gold pairs only, mteb's
        # BUCC.v2): one row per language pair, sentence1 = the xx corpus, sentence2 = the English one,
        # gold = 1-based [xx, en] positions. No sample split: the mining format holds out a seeded fifth
        # as the tune part (figures then are not XTREME's).
        # The release files (local_format: bucc) give XTREME's protocol: sample tunes, training tests.
        Task(
            name="bucc",
            hub="mteb/bucc-bitext-mining",
            format="mining",
            needs=("sid", "side", "part", "sentence", "gold"),
            fields={
                "side": pl.col("side"),
                "part": pl.col("part"),
                "text": pl.col("sentence").cast(pl.String).str.strip_chars(),
                "gold": pl.col("gold"),
            },
            id="sid",
            configs={lang: f"{lang}-en" for lang in ("de", "fr", "ru", "zh")},
            splits={"test": "test"},
            parquet_branch=True,
            licence="BUCC 2018 shared task data (see the Hub card: cc-by-sa-4.0)",
            note="BUCC 2018 (Zweigenbaum et al.): two corpora per pair, ~2-3% of sentences with a translation",
        ),
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


# ---- XTREME-R's LAReQA (issue 27): extractive QA data as dual-encoder retrieval ----------
# A question's candidate is the context sentence holding its answer, encoded with the
# context as its second segment (XTREME-R's `sentences_and_contexts`); the relevance group
# is the raw question id, which parallel data shares across languages (XQuAD-R, MLQA), so
# a question's relevant candidates are its answer sentence in every language of the pool.
SENTENCE_END = re.compile(r"(?<=[.!?。！？।])\s+|(?<=[。！？])")


def answer_sentence(context: str, start: int | None) -> str | None:
    """The sentence of `context` holding character `start` (sentences end at . ! ? and the
    CJK / Devanagari full stops); None without an answer."""
    if context is None or start is None or start < 0:
        return None
    begin = 0
    for m in SENTENCE_END.finditer(context):
        if m.end() > start:
            return context[begin : m.start()].strip() or context.strip()
        begin = m.end()
    return context[begin:].strip() or context.strip()


LAREQA_FIELDS = {
    "text_a": pl.col("question"),
    "text_b": pl.struct("context", "answers").map_elements(
        lambda r: answer_sentence(r["context"], (r["answers"]["answer_start"] or [None])[0]),
        return_dtype=pl.String,
    ),
    "context_b": pl.col("context"),
    "group": pl.col("id").cast(pl.String),
}


def lareqa(task: Task, name: str, **kw) -> Task:
    """An extractive QA task read as LAReQA-style retrieval (same Hub data, dual format)."""
    from dataclasses import replace

    return replace(task, name=name, format="dual", fields=LAREQA_FIELDS, note=f"{task.name} as LAReQA retrieval", **kw)


TASKS.update(
    {
        t.name: t
        for t in (
            lareqa(
                TASKS["xquad"],
                "xquad_r",
                hub="google-research-datasets/xquad_r",
                configs={lang: lang for lang in "ar de el en es hi ru th tr vi zh".split()},
                splits={"test": "validation"},
                parquet_branch=True,
            ),
            lareqa(TASKS["squad"], "squad_r"),  # XTREME-R's LAReQA training pairs: SQuAD v1.1 train
            lareqa(TASKS["mlqa"], "mlqa_r"),  # the offline check's pool (MLQA dev is parallel)
            lareqa(TASKS["tydiqa"], "tydiqa_r"),  # ... and its English training pairs
        )
    }
)


# ---- XTREME-R's Mewsli-X (issue 27): entity linking as dual-encoder retrieval -------------
# izhx/mewsli-x, a Hub copy of Google's release (google-research dense_representations_for_entity_retrieval/
# mel/mewsli-x.md). Its configs and columns as izhx/nlu-evals (scripts/mewsli-x.sh,
# engine/run_retrieval.py) reads them: `wikipedia_pairs` (train, validation: mention, entity),
# `candidate_entities` (test: entity_id, description) and one config per WikiNews language
# (test: mention, entity_id). A mention's relevant candidate is the description of its entity.
MEWSLI_X_LANGS = "ar de en es fa ja pl ro ta tr uk".split()
NO_TEXT = pl.lit(None, dtype=pl.String)
TASKS.update(
    {
        "mewsli_x": Task(
            name="mewsli_x",
            hub="izhx/mewsli-x",
            format="dual",
            needs=("mention", "entity_id"),
            fields={"text_a": pl.col("mention"), "text_b": NO_TEXT, "context_b": NO_TEXT, "group": pl.col("entity_id")},
            configs={lang: lang for lang in MEWSLI_X_LANGS},
            splits={"test": "test"},
            pool="mewsli_x_entities",
            licence="CC BY 4.0 (Wikipedia/WikiNews text: CC BY-SA)",
            note="Mewsli-X WikiNews mentions in 11 languages; candidates: the ~1M entity descriptions",
        ),
        "mewsli_x_entities": Task(
            name="mewsli_x_entities",
            hub="izhx/mewsli-x",
            format="dual",
            needs=("entity_id", "description"),
            fields={
                "text_a": NO_TEXT,
                "text_b": pl.col("description"),
                "context_b": NO_TEXT,
                "group": pl.col("entity_id"),
            },
            id="entity_id",
            configs={"mul": "candidate_entities"},
            splits={"test": "test"},
            licence="CC BY 4.0 (Wikipedia text: CC BY-SA)",
            note="Mewsli-X's candidate set: one description per entity, in one of 50 languages",
        ),
        "mewsli_x_pairs": Task(
            name="mewsli_x_pairs",
            hub="izhx/mewsli-x",
            format="dual",
            needs=("mention", "entity"),
            # relevance by the entity's text: dev pairs naming the same entity share it
            fields={
                "text_a": pl.col("mention"),
                "text_b": pl.col("entity"),
                "context_b": NO_TEXT,
                "group": pl.col("entity"),
            },
            configs={"en": "wikipedia_pairs"},
            splits={"train": "train", "validation": "validation"},
            licence="CC BY 4.0 (Wikipedia text: CC BY-SA)",
            note="Mewsli-X's English Wikipedia (mention, entity description) training pairs",
        ),
    }
)


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise XlrobustError(f"unknown task '{name}'; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]
