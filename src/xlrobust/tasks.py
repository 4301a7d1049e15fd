"""The task registry: where each task lives on the Hub and how its columns map to the
normalised example table (DESIGN.md). Revisions are pinned in config.yaml, not here.

Only what the loader needs is recorded; adding a task is adding an entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Task:
    name: str
    hub: str                       # Hub repo id
    format: str                    # "single" or "pair" (sentence / sentence-pair classification)
    labels: tuple[str, ...]        # label names, index = label id
    text_a: str                    # source column of the first text
    text_b: str | None = None      # source column of the second text (pairs)
    label: str = "label"           # source column of the label
    id: str | None = None          # source id column, if the dataset has one
    configs: dict[str, str | None] = field(default_factory=lambda: {"en": None})  # lang -> Hub config
    splits: dict[str, str] = field(default_factory=lambda: {"train": "train", "validation": "validation", "test": "test"})
    drop_labels: tuple[int, ...] = ()  # label ids that mean "no gold label" (e.g. SNLI's -1)
    note: str = ""


UMSAB_LANGS = {
    "ar": "arabic", "de": "german", "en": "english", "es": "spanish",
    "fr": "french", "hi": "hindi", "it": "italian", "pt": "portuguese",
}
XNLI_LANGS = "ar bg de el en es fr hi ru sw th tr ur vi zh".split()
PAWSX_LANGS = "de en es fr ja ko zh".split()

TASKS: dict[str, Task] = {t.name: t for t in [
    Task(
        name="tweet_sentiment_multilingual", hub="cardiffnlp/tweet_sentiment_multilingual",
        format="single", labels=("negative", "neutral", "positive"), text_a="text",
        configs=UMSAB_LANGS,
        note="UMSAB (Barbieri et al. 2022); parquet under refs/convert/parquet",
    ),
    Task(
        name="mnli", hub="nyu-mll/glue", format="pair",
        labels=("entailment", "neutral", "contradiction"),
        text_a="premise", text_b="hypothesis", id="idx", configs={"en": "mnli"},
        splits={"train": "train", "validation": "validation_matched", "test": "validation_mismatched"},
        drop_labels=(-1,),
    ),
    Task(
        name="xnli", hub="facebook/xnli", format="pair",
        labels=("entailment", "neutral", "contradiction"),
        text_a="premise", text_b="hypothesis", configs={lang: lang for lang in XNLI_LANGS},
    ),
    Task(
        name="paws-x", hub="google-research-datasets/paws-x", format="pair",
        labels=("not_paraphrase", "paraphrase"), text_a="sentence1", text_b="sentence2", id="id",
        configs={lang: lang for lang in PAWSX_LANGS},
    ),
]}


def get_task(name: str) -> Task:
    from xlrobust.errors import XlrobustError

    if name not in TASKS:
        raise XlrobustError(f"unknown task '{name}'; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]
