"""Readers of the release formats datasets are distributed in (SQuAD JSON, CoNLL-U,
CoNLL token<TAB>tag, line-aligned bitext...), each turning local files into the table
the dataset's Hub copy has, so that one registry entry (xlrobust.tasks) reads both and
`data.normalise` is the same code for Hub and local data.

A dataset's `local_format` in config.yaml names its reader; without it the file
suffix decides (parquet, jsonl, csv, tsv: the Hub's own schema; txt: one text per
line with `local_labels`). A reader is `fn(template, config, split, spec) -> (raw
table, source)`: `template` is the `local` path with `{config}` and `{split}` still
in it, so a reader that needs several files per split (bitext) builds their paths.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from xlrobust.errors import XlrobustError

READERS: dict[str, Callable[[str, str | None, str, dict], tuple[pl.DataFrame, str]]] = {}


def reader(name: str):
    """Register a release-format reader under `name` (what `local_format` names)."""

    def register(fn):
        READERS[name] = fn
        return fn

    return register


def get_reader(name: str):
    if name not in READERS:
        raise XlrobustError(f"unknown local_format '{name}' (known: {', '.join(sorted(READERS))})")
    return READERS[name]


def path_of(template: str, config: str | None, split: str, **more) -> Path:
    """The file a template names for one config and split; a missing file is one clear error."""
    path = Path(template.format(config=config or "", split=split, **more))
    if not path.exists():
        raise XlrobustError(
            f"{path}: file not found (split '{split}', config '{config}'); check the dataset's 'local' path in config.yaml"
        )
    return path


# ---- extractive QA: SQuAD v1.1 JSON (data -> paragraphs -> qas) ------------------------- (issue 17)

# ---- tagging: CoNLL-U and CoNLL token<TAB>tag ------------------------------------------ (issue 18)

# ---- XCOPA / COPA / SIQA and bitext retrieval (Tatoeba, BUCC) ---------------------------- (issue 19)


@reader("bitext_lines")
def bitext_lines(template: str, config: str | None, split: str, spec: dict) -> tuple[pl.DataFrame, str]:
    """A line-aligned bitext release (Tatoeba's `tatoeba.deu-eng.deu` + `tatoeba.deu-eng.eng`;
    XTREME's download): `local` names the common prefix (`.../tatoeba.{config}`) and the
    config `<xx>-<yy>` the two suffixes. Line i of one file translates line i of the other.
    Yields the Hub's table (mteb/tatoeba-bitext-mining): sentence1 (xx), sentence2 (yy)."""
    from xlrobust.data import read_lines

    sides = (config or "").split("-")
    if len(sides) != 2 or not all(sides):
        raise XlrobustError(f"local_format bitext_lines: config '{config}' is not '<xx>-<yy>' (e.g. deu-eng)")
    first, second = (path_of(template + ".{side}", config, split, side=side) for side in sides)
    a, b = read_lines(first), read_lines(second)
    if len(a) != len(b):
        raise XlrobustError(
            f"{first}: {len(a)} lines but {second.name} has {len(b)}: the two sides must be line-aligned"
        )
    return pl.DataFrame({"sentence1": a, "sentence2": b}, schema={"sentence1": pl.String, "sentence2": pl.String}), (
        f"{first} + {second.name}"
    )
