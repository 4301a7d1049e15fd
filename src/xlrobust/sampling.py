"""Which rows a capped split keeps: a seeded random order that is a function of the seed
and each row's id only (`ranked`), a dataset's `sample` settings, and a prepared table's rows
in that order for whatever takes "the first ones" of it (the attack). Only polars and the settings
below it:
preparation (xlrobust.data) and the attack both use it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import polars as pl

from xlrobust.settings import SampleSettings, defaults


def sample_settings(spec: dict) -> dict:
    """A dataset's `sample` settings (xlrobust.settings.SampleSettings), defaults filled in."""
    return {**defaults(SampleSettings), **(spec.get("sample") or {})}


def ranked(df: pl.DataFrame, lang: str, seed: int) -> pl.DataFrame:
    """The rows in the seeded random order of the sample: by a hash of (seed, id without its
    language prefix), ties (none in practice: 64 bits) by id. A function of the seed and each
    row's id alone, never of the table's length or row positions: the first k rows of any
    table holding the k first-ranked rows of a file are those rows (a slice gives the full
    file's sample), and languages that share ids (MLQA, XQuAD, XCOPA) share items."""
    keys = df["id"].str.strip_prefix(f"{lang}-")
    rank = [int.from_bytes(hashlib.blake2b(f"{seed}|{k}".encode(), digest_size=8).digest(), "big") for k in keys]
    return (
        df.with_columns(pl.Series("_rank", rank, dtype=pl.UInt64))
        .sort("_rank", "id", maintain_order=True)
        .drop("_rank")
    )


def in_sample_order(df: pl.DataFrame, lang: str, table: str | os.PathLike) -> pl.DataFrame:
    """One language's rows of a prepared table in its dataset's sample order (the `sample` of
    the meta.json beside it; a capped split is already in it): what takes "the first ones"
    of a test set (the attack's max_examples) takes a random subset of the clean sample.
    A table without a recorded random order (no meta.json, sample order head) keeps its own."""
    meta = Path(table).parent / "meta.json"
    sample = json.loads(meta.read_text(encoding="utf-8")).get("sample") if meta.exists() else None
    return ranked(df, lang, sample["seed"]) if sample and sample["order"] == "random" else df
