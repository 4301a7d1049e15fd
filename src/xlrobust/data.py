"""Dataset preparation: read a task from the Hub or from local files in the Hub's own
schema, normalise it to the example table of DESIGN.md, validate it, write it.

Hub and local data share everything after the raw read (`normalise`), so tests on
local fixtures exercise the code that real Hub data goes through.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.io import EXAMPLE_SCHEMA, write_json, write_parquet
from xlrobust.tasks import Task, get_task

LOCAL_READERS = {
    ".parquet": pl.read_parquet,
    ".jsonl": pl.read_ndjson,
    ".json": pl.read_ndjson,
    ".csv": pl.read_csv,
    ".tsv": lambda p: pl.read_csv(p, separator="\t", quote_char=None),
}


def read_local(template: str, labels_template: str | None, config: str | None, split: str) -> tuple[pl.DataFrame, str]:
    """Read one (config, split) of a task from local files named by a path template.

    `{config}` and `{split}` in the template are filled in. A `.txt` file is one text
    per line, with its labels one per line in `labels_template` (the UMSAB layout).
    """
    path = Path(template.format(config=config or "", split=split))
    if not path.exists():
        raise XlrobustError(f"{path}: file not found (split '{split}', config '{config}'); check the dataset's 'local' path in config.yaml")
    if path.suffix == ".txt":
        if not labels_template:
            raise XlrobustError(f"{path}: a .txt text file needs 'local_labels' (the matching label file) in config.yaml")
        lpath = Path(labels_template.format(config=config or "", split=split))
        if not lpath.exists():
            raise XlrobustError(f"{lpath}: label file not found")
        texts = path.read_text(encoding="utf-8").split("\n")
        labels = lpath.read_text(encoding="utf-8").split("\n")
        if texts and texts[-1] == "":
            texts.pop()
        if labels and labels[-1] == "":
            labels.pop()
        if len(texts) != len(labels):
            raise XlrobustError(f"{path}: {len(texts)} texts but {lpath.name} has {len(labels)} labels")
        try:
            return pl.DataFrame({"text": texts, "label": [int(x) for x in labels]}), str(path)
        except ValueError:
            bad = next(i for i, x in enumerate(labels) if not x.strip().lstrip("-").isdigit())
            raise XlrobustError(f"{lpath}: row {bad}: label '{labels[bad]}' is not an integer") from None
    reader = LOCAL_READERS.get(path.suffix)
    if reader is None:
        raise XlrobustError(f"{path}: unsupported file type '{path.suffix}' (use {', '.join(LOCAL_READERS)} or .txt)")
    try:
        return reader(path), str(path)
    except Exception as e:
        raise XlrobustError(f"{path}: cannot read as {path.suffix[1:]} ({type(e).__name__}: {str(e).splitlines()[0][:120]})") from None


def read_hub(task: Task, config: str | None, split: str, revision: str | None, dataset: str) -> tuple[pl.DataFrame, str]:
    """Read one (config, split) of a task from the Hugging Face Hub (parquet, no scripts)."""
    import datasets
    from huggingface_hub.errors import OfflineModeIsEnabled

    from xlrobust.hub import offline_unless_reachable

    where = f"{task.hub}@{revision or 'main'}"
    try:
        with offline_unless_reachable():
            ds = datasets.load_dataset(task.hub, config, split=split, revision=revision)
    except (ConnectionError, OfflineModeIsEnabled, OSError, ValueError) as e:
        raise XlrobustError(
            f"dataset '{dataset}' ({where}, config {config}, split {split}) cannot be loaded offline "
            f"({type(e).__name__}); set datasets.{dataset}.local in config.yaml to files in the Hub's schema"
        ) from None
    return ds.to_polars(), f"{where}/{config}/{split}"


def normalise(raw: pl.DataFrame, task: Task, lang: str, split: str, source: str) -> pl.DataFrame:
    """Map a raw split of `task` to the example table and validate it.

    Errors name the source, the row and the column.
    """
    needed = [c for c in (task.text_a, task.text_b, task.label) if c]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise XlrobustError(f"{source}: missing column '{missing[0]}' (has: {', '.join(raw.columns)})")
    if task.id and task.id in raw.columns:
        ids = raw[task.id].cast(pl.String)
    else:
        ids = pl.Series([f"{split}-{i}" for i in range(raw.height)], dtype=pl.String)
    df = pl.DataFrame({
        "id": (f"{lang}-" + ids) if raw.height else ids,
        "lang": [lang] * raw.height,
        "text_a": raw[task.text_a].cast(pl.String),
        "text_b": raw[task.text_b].cast(pl.String) if task.text_b else pl.Series([None] * raw.height, dtype=pl.String),
        "label": raw[task.label].cast(pl.Int64, strict=False),
    }, schema=EXAMPLE_SCHEMA)
    if task.drop_labels:
        df = df.filter(~pl.col("label").is_in(list(task.drop_labels)))
    validate(df, task, source)
    return df


def validate(df: pl.DataFrame, task: Task, source: str) -> None:
    cols = ["text_a", "text_b"] if task.format == "pair" else ["text_a"]
    for col in cols:
        bad = df.with_row_index().filter(pl.col(col).is_null() | (pl.col(col).str.strip_chars() == ""))
        if bad.height:
            raise XlrobustError(f"{source}: row {bad['index'][0]}: empty text in column '{getattr(task, col)}'")
    bad = df.with_row_index().filter(pl.col("label").is_null() | (pl.col("label") < 0) | (pl.col("label") >= len(task.labels)))
    if bad.height:
        raise XlrobustError(
            f"{source}: row {bad['index'][0]}: label outside the label map 0..{len(task.labels) - 1} "
            f"({', '.join(task.labels)}) in column '{task.label}'"
        )
    dup = df.with_row_index().filter(~pl.col("id").is_first_distinct())
    if dup.height:
        raise XlrobustError(f"{source}: row {dup['index'][0]}: duplicate id '{dup['id'][0]}'")


def load(dataset: str, spec: dict, split: str, lang: str) -> tuple[pl.DataFrame, str]:
    """Load and normalise one split of one language of a configured dataset."""
    task = get_task(spec["task"])
    if lang not in task.configs:
        raise XlrobustError(
            f"dataset '{dataset}': language '{lang}' not offered by {task.name} (offers: {', '.join(sorted(task.configs))})"
        )
    if split not in task.splits:
        raise XlrobustError(f"dataset '{dataset}': split '{split}' not offered by {task.name}")
    config = task.configs[lang]
    if spec.get("local"):
        local_split = (spec.get("local_splits") or {}).get(split, task.splits[split])
        raw, source = read_local(spec["local"], spec.get("local_labels"), config, local_split)
    else:
        raw, source = read_hub(task, config, task.splits[split], spec.get("revision"), dataset)
    return normalise(raw, task, lang, split, source), source


def prepare(dataset: str, spec: dict, out_dir: str | os.PathLike) -> dict:
    """Write data/<dataset>/<split>.parquet for the configured splits, and meta.json.

    train and validation are in `train_lang` (English: the STILTs protocol), test in
    every language of `langs`. Returns the metadata written.
    """
    out_dir = Path(out_dir)
    train_lang = spec.get("train_lang", "en")
    meta = {"dataset": dataset, "task": spec["task"], "revision": spec.get("revision"),
            "local": spec.get("local"), "splits": {}}
    for split in spec.get("splits", ["train", "validation", "test"]):
        langs = spec.get("langs", [train_lang]) if split == "test" else [train_lang]
        parts, sources = [], {}
        for lang in langs:
            df, sources[lang] = load(dataset, spec, split, lang)
            cap = (spec.get("max_examples") or {}).get(split)
            if cap:
                df = df.head(cap)
            parts.append(df)
        table = pl.concat(parts)
        write_parquet(table, out_dir / f"{split}.parquet")
        meta["splits"][split] = {
            "rows": {lang: int(n) for lang, n in table.group_by("lang").len().sort("lang").iter_rows()},
            "sources": sources,
        }
    write_json(meta, out_dir / "meta.json")
    return meta
