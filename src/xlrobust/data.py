"""Dataset preparation: read a task from the Hub or from local files in the Hub's own
schema, normalise it to the example table of DESIGN.md, validate it, write it.

Hub and local data share everything after the raw read (`normalise`), so tests on
local fixtures exercise the code that real Hub data goes through.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats import get_format
from xlrobust.hub import offline_unless_reachable
from xlrobust.io import atomic_path, read_lines, read_utf8, write_json, write_parquet
from xlrobust.langs import alpha3, check_code
from xlrobust.readers import get_reader
from xlrobust.sampling import ranked, sample_settings
from xlrobust.tasks import Task, get_task

LOCAL_READERS = {
    ".parquet": pl.read_parquet,
    ".jsonl": lambda p: _ndjson(p),
    ".json": lambda p: _ndjson(p),
    ".csv": pl.read_csv,
    ".tsv": lambda p: pl.read_csv(p, separator="\t", quote_char=None),
}


INTEGER = re.compile(r"-?[0-9]+")  # ASCII digits only: int() alone would also take '١' and '0_1'


def _ndjson(path: Path) -> pl.DataFrame:
    import io

    return pl.read_ndjson(io.BytesIO(read_utf8(path).encode("utf-8")))


def read_local(template: str, labels_template: str | None, config: str | None, split: str) -> tuple[pl.DataFrame, str]:
    """Read one (config, split) of a task from local files named by a path template.

    `{config}` and `{split}` in the template are filled in. A `.txt` file is one text
    per line, with its labels one per line in `labels_template` (the UMSAB layout).
    """
    path = Path(template.format(config=config or "", split=split))
    if not path.exists():
        raise XlrobustError(
            f"{path}: file not found (split '{split}', config '{config}'); check the dataset's 'local' path in config.yaml"
        )
    if path.suffix == ".txt":
        if not labels_template:
            raise XlrobustError(
                f"{path}: a .txt text file needs 'local_labels' (the matching label file) in config.yaml"
            )
        lpath = Path(labels_template.format(config=config or "", split=split))
        if not lpath.exists():
            raise XlrobustError(f"{lpath}: label file not found")
        texts, labels = read_lines(path), read_lines(lpath)
        if len(texts) != len(labels):
            raise XlrobustError(f"{path}: {len(texts)} texts but {lpath.name} has {len(labels)} labels")
        bad = next((i for i, x in enumerate(labels) if not INTEGER.fullmatch(x.strip())), None)
        if bad is not None:
            raise XlrobustError(f"{lpath}: row {bad}: label '{labels[bad]}' is not an integer")
        return pl.DataFrame({"text": texts, "label": [int(x) for x in labels]}), str(path)
    reader = LOCAL_READERS.get(path.suffix)
    if reader is None:
        raise XlrobustError(f"{path}: unsupported file type '{path.suffix}' (use {', '.join(LOCAL_READERS)} or .txt)")
    try:
        return reader(path), str(path)
    except Exception as e:
        raise XlrobustError(
            f"{path}: cannot read as {path.suffix[1:]} ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
        ) from None


def read_hub(
    task: Task, config: str | None, split: str, revision: str | None, dataset: str, cap: int | None = None
) -> tuple[pl.DataFrame, str]:
    """Read one (config, split) of a task from the Hugging Face Hub (parquet, no scripts).

    Repos whose main still holds a loading script are read from their parquet
    conversion (refs/convert/parquet, data_dir=<config>). A capped split is streamed,
    so a 100k-line sample of Wikipedia does not download the whole dump.
    """
    import datasets
    from huggingface_hub.errors import OfflineModeIsEnabled

    if task.local_only:
        raise XlrobustError(f"dataset '{dataset}': {task.local_only}")
    if task.parquet_branch:
        revision = revision or "refs/convert/parquet"
        args, kwargs = (task.hub,), {"data_dir": config or "default"}
    else:
        args, kwargs = (task.hub, config), {}
    where = f"{task.hub}@{revision or 'main'}"
    try:
        with offline_unless_reachable():
            if cap:
                stream = datasets.load_dataset(*args, split=split, revision=revision, streaming=True, **kwargs)
                raw = pl.DataFrame(list(stream.take(cap)))
            else:
                raw = datasets.load_dataset(*args, split=split, revision=revision, **kwargs).to_polars()
    except (ConnectionError, OfflineModeIsEnabled, OSError, ValueError) as e:
        raise XlrobustError(
            f"dataset '{dataset}' ({where}, config {config}, split {split}) cannot be loaded offline "
            f"({type(e).__name__}); set datasets.{dataset}.local in config.yaml to files in the Hub's schema"
        ) from None
    return raw, f"{where}/{config}/{split}"


def normalise(raw: pl.DataFrame, task: Task, lang: str, split: str, source: str) -> pl.DataFrame:
    """Map a raw split of `task` to the normalised table of its format and validate it.

    Errors name the source, the row and the column.
    """
    fmt = get_format(task.format)
    raw = fmt.unpack(raw, lang, split, source)
    missing = [c for c in task.needs if c not in raw.columns]
    if missing:
        raise XlrobustError(f"{source}: missing column '{missing[0]}' (has: {', '.join(raw.columns)})")
    if task.row_lang is not None:  # several languages in one config: keep `lang`'s rows
        of = raw.select(task.row_lang.alias("_lang"))["_lang"]
        raw = raw.filter(of.is_null() | (of == lang))
    fmt.check_raw(raw, task.fields, source)
    for col, values in task.allowed.items():
        bad = raw.with_row_index().filter(
            ~pl.col(col).cast(pl.String).str.strip_chars().is_in(list(values)).fill_null(False)
        )
        if bad.height:
            raise XlrobustError(
                f"{source}: row {bad['index'][0]}: {col} {bad[col][0]!r} in column '{col}' is not one of "
                f"{', '.join(values)}"
            )
    try:
        body = raw.select(**task.fields)
    except pl.exceptions.PolarsError as e:
        raise XlrobustError(
            f"{source}: columns do not have the {task.name} schema ({str(e).splitlines()[0][:160]})"
        ) from None
    ids = given_ids(raw[task.id], source) if task.id and task.id in raw.columns else content_ids(body, split)
    df = pl.DataFrame({"id": (f"{lang}-" + ids) if raw.height else ids, "lang": [lang] * raw.height}).hstack(body)
    df = df.select([pl.col(c).cast(t) for c, t in fmt.schema.items()])
    if task.drop_labels:
        df = df.filter(~pl.col("label").is_in(list(task.drop_labels)))
    validate(df, task, source)
    return df


def given_ids(column: pl.Series, source: str) -> pl.Series:
    """A task's own id column as strings: every row has one, not empty, a string or an integer."""
    dtype = column.dtype
    if not (dtype.is_integer() or dtype in (pl.String, pl.Null)):  # a struct would become "en-{'a': 1}"
        raise XlrobustError(
            f"{source}: column '{column.name}' holds {dtype} values; an id must be a string or an integer"
        )
    ids = column.cast(pl.String)
    if ids.null_count():
        raise XlrobustError(f"{source}: row {ids.is_null().arg_true()[0]}: no id in column '{column.name}'")
    empty = (ids.str.strip_chars() == "").arg_true()
    if len(empty):
        raise XlrobustError(f"{source}: row {empty[0]}: empty id in column '{column.name}'")
    return ids


def content_ids(body: pl.DataFrame, split: str) -> pl.Series:
    """Ids of rows that have none (PAN-X sentences, Tatoeba lines, UMSAB tweets): `<split>-` and
    a hash of the row's content, `-2`, `-3` ... on its repeats. Never a position: a slice of
    the file holding some rows gives them the ids, and so the sample (`ranked`), they have in
    the whole file (a repeat needs its earlier copies beside it, which scripts/make_samples.py keeps)."""
    import hashlib
    import json

    seen: dict[str, int] = {}
    out = []
    for row in body.iter_rows():
        digest = hashlib.blake2b(json.dumps(row, ensure_ascii=False, default=str).encode(), digest_size=8).hexdigest()
        seen[digest] = seen.get(digest, 0) + 1
        out.append(f"{split}-{digest}" + (f"-{seen[digest]}" if seen[digest] > 1 else ""))
    return pl.Series(out, dtype=pl.String)


def validate(df: pl.DataFrame, task: Task, source: str) -> None:
    """The format's validation, naming the raw column a bad value came from."""
    raw_name = {c: ", ".join(dict.fromkeys(e.meta.root_names())) or c for c, e in task.fields.items()}
    get_format(task.format).validate(df, task.labels, source, raw_name)


def config_list(task: Task, spec: dict, lang: str, dataset: str) -> list[str | None]:
    """The Hub configs one language reads: the registry's (several where it merges them, as
    UD's treebanks), or those `configs` in the dataset's spec chooses among them."""
    chosen = (spec.get("configs") or {}).get(lang)
    if lang not in task.configs:  # a local dataset's language outside the registry (xlrobust.langs)
        if chosen:
            return [chosen] if isinstance(chosen, str) else list(chosen)
        return [task.local_config.format(lang=lang, alpha3=alpha3(lang))]
    registry = task.configs[lang]
    registry = list(registry) if isinstance(registry, tuple) else [registry]
    if not chosen:
        return registry
    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
    bad = next((c for c in chosen if c not in registry), None)
    if bad is not None:
        raise XlrobustError(
            f"dataset '{dataset}': configs.{lang}: '{bad}' is not a {task.name} config of language '{lang}' "
            f"(known: {', '.join(str(c) for c in registry)})"
        )
    return chosen


SPLIT_ROWS = re.compile(r"^(.*)\[(\d*):(\d*)\]$")


def split_rows(name: str) -> tuple[str, slice | None]:
    """A local split name with a row range, as `datasets`' split syntax: `train[3400:]` is
    rows 3400 to the end of the train file (e.g. an English dev set held out of a train
    file when the local files have no dev split)."""
    m = SPLIT_ROWS.match(name)
    if not m:
        if "[" in name or "]" in name:
            raise XlrobustError(
                f"local split '{name}': a row range is <split>[start:end] with whole numbers (e.g. train[3400:])"
            )
        return name, None
    rows = slice(int(m[2]) if m[2] else None, int(m[3]) if m[3] else None)
    if rows.start is not None and rows.stop is not None and rows.start >= rows.stop:
        raise XlrobustError(f"local split '{name}': the row range is empty (start {rows.start} >= end {rows.stop})")
    return m[1], rows


def parallel_sample(df: pl.DataFrame, lang: str, n: int) -> pl.DataFrame:
    """About one row in `n`, chosen by a stable hash (CRC-32) of the raw id: where parallel
    data shares ids across languages (MLQA, XQuAD), every language keeps the same questions,
    which a head-of-file cap would not."""
    import zlib

    raw = df["id"].str.slice(len(lang) + 1)
    keep = [zlib.crc32(i.encode("utf-8")) % n == 0 for i in raw.to_list()]
    return df.filter(pl.Series(keep, dtype=pl.Boolean))


def load(dataset: str, spec: dict, split: str, lang: str) -> tuple[pl.DataFrame, str]:
    """Load and normalise one split of one language of a configured dataset."""
    task = get_task(spec["task"])
    check_offered(task, spec, dataset, split, lang)
    configs = config_list(task, spec, lang, dataset)
    merged = isinstance(task.configs.get(lang), tuple)  # several configs (UD treebanks) make one language
    cap = (spec.get("max_examples") or {}).get(split)
    fmt = get_format(task.format)
    if cap and not fmt.rows_cappable:
        raise XlrobustError(
            f"dataset '{dataset}': max_examples.{split}: a {task.format} table cannot be cut to a sample of its rows "
            "(they refer to each other); use smaller local files instead"
        )
    sample = sample_settings(spec)
    # A Hub split is streamed up to the cap (its first rows) only where the first rows are asked
    # for or the split is unlabelled text for masked-LM training (a Wikipedia dump is not downloaded
    # whole); any other capped Hub split is read whole and sampled.
    stream_cap = cap if sample["order"] == "head" or fmt.masked_lm_text else None
    hub_splits = task.splits[split]
    several = not isinstance(hub_splits, str)  # ANLI: rounds r1-r3 make one split
    renames = spec.get("local_splits") or {}
    parts, sources, titles = [], [], {}
    for config in configs:
        for hub_split in hub_splits if several else [hub_splits]:
            if merged and hub_split not in task.config_splits.get(config, (hub_split,)):
                continue  # a treebank without this split (UD's test-only treebanks)
            if spec.get("local"):
                local_split = renames.get(hub_split, hub_split if several else renames.get(split, hub_split))
                raw, source = read_local_split(spec, lang, config, local_split)
            else:
                hub_task, hub_config = task.hub_source(lang, config)  # a language another repo holds
                revision = spec.get("revision") if hub_task.hub == task.hub else None
                raw, source = read_hub(hub_task, hub_config, hub_split, revision, dataset, stream_cap)
            df = normalise(raw, task, lang, hub_split if several else split, source)
            titles.update(article_titles(raw, task.id, lang))  # for fmt.coverage
            parts.append(_kept_rows(df, spec, lang, config if merged else None))
            sources.append(source)
    if not parts:
        raise XlrobustError(
            f"dataset '{dataset}': no {task.name} config of language '{lang}' ({', '.join(configs)}) has split '{split}'"
        )
    df = pl.concat(parts)
    if len(parts) > 1:
        validate(df, task, " + ".join(sources))
    source = " + ".join(sources)
    if cap and sample["order"] == "random":  # a capped split is in sample order, an uncapped one in file order
        df = ranked(df, lang, sample["seed"])
    if cap:  # the job log says what a capped split holds (QA: how many articles and paragraphs)
        whole, df = df, df.head(cap)
        spans = fmt.coverage(df, titles)
        spans = f", spanning {spans} (of {fmt.coverage(whole, titles)})" if spans else ""
        how = f"a random sample (seed {sample['seed']})" if sample["order"] == "random" else "the first rows"
        print(
            f"{source}: {split} {lang}: {df.height} of {whole.height} rows (max_examples {cap}), {how}{spans}",
            flush=True,
        )
    return df, source


def article_titles(raw: pl.DataFrame, id_column: str | None, lang: str) -> dict:
    """Normalised id -> the title of its article, for raw rows that have titles (QA), else {}."""
    if "title" not in raw.columns or id_column not in raw.columns:
        return {}
    return dict(zip(f"{lang}-" + raw[id_column].cast(pl.String), raw["title"]))


def _kept_rows(df: pl.DataFrame, spec: dict, lang: str, merged_config: str | None) -> pl.DataFrame:
    """One config's normalised rows as a language's part: the parallel sample (the same
    questions in every language, ids shared across them) and, where several configs make the
    language (UD's treebanks), ids kept unique across them by the config's name."""
    if spec.get("parallel_sample"):
        df = parallel_sample(df, lang, int(spec["parallel_sample"]))
    if merged_config is not None:
        df = df.with_columns((pl.lit(f"{lang}-{merged_config}-") + pl.col("id").str.slice(len(lang) + 1)).alias("id"))
    return df


def check_offered(task: Task, spec: dict, dataset: str, split: str, lang: str) -> None:
    """The task offers the language (a local dataset: any ISO 639 code) and the split."""
    if lang not in task.configs:
        if not spec.get("local"):
            raise XlrobustError(
                f"dataset '{dataset}': language '{lang}' not offered by {task.name} (offers: {', '.join(sorted(task.configs))})"
            )
        check_code(lang, f"dataset '{dataset}'")  # local files: any ISO 639 code
    if split not in task.splits:
        raise XlrobustError(f"dataset '{dataset}': split '{split}' not offered by {task.name}")


def read_local_split(spec: dict, lang: str, config: str | None, local_split: str) -> tuple[pl.DataFrame, str]:
    """One local file's rows (a release format through xlrobust.readers, else a table), cut to
    the row range a `local_splits` entry such as `train[:2000]` names."""
    local_split, rows = split_rows(local_split)
    template = spec["local"].replace("{lang}", lang)  # files named by language, not Hub config
    if spec.get("local_format"):  # a release format (xlrobust.readers)
        raw, source = get_reader(spec["local_format"])(template, config, local_split, spec)
    else:
        raw, source = read_local(template, spec.get("local_labels"), config, local_split)
    if rows is None:
        return raw, source
    for bound in (rows.start, rows.stop):
        if bound is not None and bound > raw.height:
            raise XlrobustError(
                f"{source}: local split '{local_split}[{rows.start or ''}:{rows.stop or ''}]' "
                f"reaches row {bound}, past the end of the file ({raw.height} rows)"
            )
    return raw[rows], source + f"[{rows.start or ''}:{rows.stop or ''}]"


def prepare(dataset: str, spec: dict, out_dir: str | os.PathLike) -> dict:
    """Write data/<dataset>/<split>.parquet for the configured splits, and meta.json.

    train and validation are in `train_lang` (English: the STILTs protocol), test in
    every language of `langs`. Returns the metadata written.
    """
    train_lang = spec.get("train_lang", "en")
    task = get_task(spec["task"])
    meta = {
        "dataset": dataset,
        "task": task.name,
        "format": task.format,
        "labels": list(task.labels),
        "hub": task.hub,
        "revision": spec.get("revision") or ("refs/convert/parquet" if task.parquet_branch else "main"),
        "local": spec.get("local"),
        "licence": task.licence,
        "max_examples": spec.get("max_examples") or {},
        "sample": sample_settings(spec),
        "splits": {},
    }
    with atomic_path(
        out_dir, directory=True, kind="prepare"
    ) as tmp:  # every split or none: a bad later split keeps nothing
        for split in spec.get("splits", ["train", "validation", "test"]):
            langs = spec.get("langs", [train_lang]) if split == "test" else spec.get("train_langs", [train_lang])
            parts, sources = [], {}
            for lang in langs:
                df, sources[lang] = load(dataset, spec, split, lang)
                if df.height == 0:
                    raise XlrobustError(f"{sources[lang]}: no examples for language '{lang}' in split '{split}'")
                parts.append(df)
            table = pl.concat(parts)
            meta["splits"][split] = {
                "rows": {lang: int(n) for lang, n in table.group_by("lang").len().sort("lang").iter_rows()},
                "sources": sources,
            }
            if split == "test" and task.pool:  # candidate-only rows (Mewsli-X's entities), never capped
                pool, meta["splits"][split]["pool_source"] = load(
                    dataset, {**spec, "task": task.pool, "max_examples": None, "parallel_sample": None}, "test", "mul"
                )
                table = pl.concat([table, pool])
                meta["splits"][split]["pool"] = pool.height
            write_parquet(table, tmp / f"{split}.parquet", "prepare")
        write_json(meta, tmp / "meta.json")
    return meta
