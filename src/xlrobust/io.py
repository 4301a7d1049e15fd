"""Atomic file output and validated reading of the normalised example table."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from xlrobust.errors import XlrobustError

# The normalised example table of DESIGN.md.
EXAMPLE_SCHEMA = {"id": pl.String, "lang": pl.String, "text_a": pl.String, "text_b": pl.String, "label": pl.Int64}


@contextmanager
def atomic_path(final: str | os.PathLike):
    """Yield a temporary sibling path; rename it onto `final` only if the block succeeds.

    A killed or failing writer leaves at most a `.tmp-*` sibling, never a file that
    looks complete.
    """
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise XlrobustError(f"cannot create output folder {final.parent}: {e.strerror}") from None
    if not os.access(final.parent, os.W_OK):
        raise XlrobustError(f"output folder {final.parent} is not writable")
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    target = tmp / final.name
    try:
        yield target
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(target, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_parquet(df: pl.DataFrame, path: str | os.PathLike) -> None:
    """Write a parquet file atomically and read it back before accepting it."""
    with atomic_path(path) as tmp:
        df.write_parquet(tmp, statistics=False)
        back = pl.read_parquet(tmp)
        if back.shape != df.shape:
            raise XlrobustError(f"parquet read-back of {path} gave {back.shape}, wrote {df.shape}")


def write_json(obj, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_parquet(path: str | os.PathLike) -> pl.DataFrame:
    path = Path(path)
    if not path.exists():
        raise XlrobustError(f"{path}: file not found")
    try:
        return pl.read_parquet(path)
    except Exception as e:  # polars raises several types for a damaged file
        raise XlrobustError(f"{path}: not a readable parquet file ({type(e).__name__}); delete it and rerun the step that writes it") from None


def read_examples(path: str | os.PathLike, lang: str | None = None) -> pl.DataFrame:
    """Read a normalised example table, check its schema, optionally keep one language."""
    df = read_parquet(path)
    missing = [c for c in EXAMPLE_SCHEMA if c not in df.columns]
    if missing:
        raise XlrobustError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(EXAMPLE_SCHEMA)}")
    df = df.select([pl.col(c).cast(t) for c, t in EXAMPLE_SCHEMA.items()])
    if lang is not None:
        langs = sorted(df["lang"].unique().to_list())
        if lang not in langs:
            raise XlrobustError(f"{path}: language '{lang}' not in the data (has: {', '.join(langs)})")
        df = df.filter(pl.col("lang") == lang)
    return df


def expand_paths(paths, pattern: str = "*.parquet") -> list[str]:
    """Files given directly, plus the files matching `pattern` below each given folder (sorted)."""
    out = []
    for p in paths:
        p = Path(p)
        out += sorted(str(f) for f in p.rglob(pattern) if not f.name.startswith(".")) if p.is_dir() else [str(p)]
    return out
