"""Atomic file output and validated reading of the normalised example table."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from xlrobust.errors import XlrobustError

# What a perturbed table carries besides its format's columns (written by `perturb`).
PROBE_COLUMNS = ("probe", "rate", "pseed", "sides", "edits", "format")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_temps(final: Path, host: str) -> None:
    """Delete `.tmp-<name>-<host>-<pid>-*` siblings whose writer (on this host) is dead.

    A SIGKILLed writer cannot clean up after itself; without this every kill during a
    save leaves its temporary copy (for a model folder, hundreds of MB) forever.
    Temporaries of other hosts (shared filesystems) and of live writers are kept.
    """
    prefix = f".tmp-{final.name}-{host}-"
    for p in final.parent.glob(glob.escape(prefix) + "*"):
        pid = p.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


# Every folder xlrobust writes as one output (a prepared dataset, a model) holds this
# file, naming the command that wrote it; only such a folder of the same command (or an
# empty one) is ever replaced by a rerun. Every file output carries its command too:
# parquet in its metadata (PARQUET_KEY), YAML and HTML in a marker (`marker`).
STAMP = ".xlrobust-output"
PARQUET_KEY = "xlrobust"
# (dvc.yaml's header, "Generated from the Snakemake DAG by `xlrobust dvc-yaml ...`", is its marker)
_WRITTEN_BY = re.compile(r"(?:written|Generated from the Snakemake DAG) by `?xlrobust ([a-z0-9-]+)\b")


def stamp_text(kind: str) -> str:
    return f"written by xlrobust {kind}; the next run of `xlrobust {kind}` writing this folder replaces it\n"


def marker(kind: str) -> str:
    """The words a text output (YAML comment, HTML meta) carries to show which command wrote it."""
    return f"written by xlrobust {kind}"


def _json_metrics(text: str) -> bool:
    """`score --out-metrics`: a JSON object of run -> probe -> metric -> number (DVC metrics
    take no marker key)."""
    try:
        obj = json.loads(text)
    except ValueError:
        return False
    return isinstance(obj, dict) and all(
        isinstance(probes, dict)
        and all(
            isinstance(ms, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in ms.values())
            for ms in probes.values()
        )
        for probes in obj.values()
    )


# score --out-plots (csv for dvc plots): its header is its mark
PLOTS_HEADER = "model,recipe,target,probe,rate,language,metric,value"


def written_by(path: Path) -> str | None:
    """The xlrobust command that wrote an existing output (folder stamp, parquet metadata,
    the marker of a YAML/HTML file, the shape of score's metrics and plots), or None."""
    if path.is_dir():
        stamp = path / STAMP
        m = _WRITTEN_BY.match(stamp.read_text(encoding="utf-8", errors="replace")) if stamp.is_file() else None
        return m[1] if m else None
    if not path.is_file():
        return None
    if path.suffix == ".parquet":
        try:
            return pl.read_parquet_metadata(path).get(PARQUET_KEY)
        except Exception:  # not parquet, or damaged: nothing proves who wrote it
            return None
    return _text_written_by(path)


def _text_written_by(path: Path) -> str | None:
    """The writer of a text output: the marker in its head (YAML, HTML), or score, which
    writes the metrics JSON and plots CSV whose shape says so."""
    with open(path, "rb") as fh:
        head = fh.read(4096).decode("utf-8", errors="replace")
    m = _WRITTEN_BY.search(head)
    if m and path.suffix in (".yaml", ".yml", ".html", ".htm"):
        return m[1]
    if path.suffix == ".json" and path.stat().st_size < 50_000_000 and _json_metrics(path.read_text(errors="replace")):
        return "score"
    if path.suffix == ".csv" and head.split("\n", 1)[0].strip() == PLOTS_HEADER:
        return "score"
    return None


def refuse_foreign_folder(folder: Path, stamp: str = STAMP, kind: str | None = None) -> None:
    """An existing output folder may be replaced only if it is empty or xlrobust wrote it:
    it holds `stamp`, the file its writer leaves (a resume folder: `resume.STAMP`), and,
    given `kind`, that stamp names the command `kind`."""
    if not folder.is_dir() or folder.is_symlink() or not any(folder.iterdir()):
        return
    if not (folder / stamp).is_file():
        raise XlrobustError(
            f"output folder {folder} holds files xlrobust did not write; nothing was changed "
            "(choose another output folder, or move those files away)"
        )
    if kind is not None and written_by(folder) != kind:
        other = written_by(folder)
        raise XlrobustError(
            f"output folder {folder} was written by "
            + (f"`xlrobust {other}`" if other else "an xlrobust that did not record its command")
            + f", not by `xlrobust {kind}`; nothing was changed (choose another output folder, or delete it)"
        )


def check_output(path: Path, kind: str, folder: bool, force: bool = False) -> None:
    """An output path must be new, or a previous output of the same command `kind`
    (`force`: any existing file may be replaced, never a folder nor a folder by a file)."""
    if folder:
        if path.exists() and not path.is_dir():
            raise XlrobustError(f"output {path} is an existing file; give a folder path (the file is left alone)")
        refuse_foreign_folder(path, kind=kind)
        return
    if path.is_dir() and not path.is_symlink():
        raise XlrobustError(f"output {path} is an existing folder; give a file path (the folder is left alone)")
    if not path.exists():
        return
    owner = next((p for p in path.resolve().parents if (p / STAMP).is_file()), None)
    if owner is not None:  # a file of another output's folder (a prepared dataset, a model)
        raise XlrobustError(
            f"output {path} is a file of the folder {owner}, which `xlrobust {written_by(owner) or '?'}` wrote; "
            "nothing was changed (give a path outside it)"
        )
    other = written_by(path)
    if not force and other != kind:
        raise XlrobustError(
            f"output {path} exists and "
            + (f"was written by `xlrobust {other}`" if other else "does not show it was written by xlrobust")
            + f", not by `xlrobust {kind}`; nothing was changed (give another path, or --force to replace it)"
        )


def check_paths(inputs: dict[str, list], outputs: dict[str, list], folders: tuple[str, ...] = ()) -> None:
    """No output may be an input, nor the same file as another output (`x.parquet` and
    `./x.parquet` are one file), nor an output folder (flags in `folders`) hold an input:
    compared as resolved paths, before anything is read or written."""
    ins = {Path(p).expanduser().resolve(): flag for flag, paths in inputs.items() for p in paths if p is not None}
    outs: dict[Path, str] = {}
    for flag, paths in outputs.items():
        for p in paths:
            r = Path(p).expanduser().resolve()
            if r in ins:
                raise XlrobustError(f"{flag} {p} is also given as {ins[r]}: the output would overwrite an input")
            if r in outs:
                raise XlrobustError(f"{flag} {p} is given twice (as {outs[r]} too): each output needs its own path")
            inside = next((i for i in ins if r in i.parents), None) if flag in folders else None
            if inside is not None:
                raise XlrobustError(
                    f"{flag} {p} holds the input {inside} ({ins[inside]}): the output folder would replace it"
                )
            outs[r] = f"{flag} {p}"


def _usual_modes(folder: Path) -> None:
    """Files as the umask makes them: some writers (safetensors) create theirs 0600, which a
    model folder shared on a cluster must not be."""
    umask = os.umask(0)
    os.umask(umask)
    for f in folder.rglob("*"):
        if f.is_file() and not f.is_symlink():
            os.chmod(f, 0o666 & ~umask)


def _output_parent(final: Path, directory: bool | None, kind: str) -> Path | None:
    """Before a write: the output's folder made (or one line why not), an existing output of
    the other kind (file / folder) or a folder another command wrote refused. Returns the
    topmost folder this made, which atomic_path removes again if the block fails and it
    holds no file."""
    if final.parent.exists() and not final.parent.is_dir():
        raise XlrobustError(f"cannot create output folder {final.parent}: it is a file")
    created = next((p for p in reversed([final.parent, *final.parent.parents]) if not p.exists()), None)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise XlrobustError(f"cannot create output folder {final.parent}: {e.strerror}") from None
    if not os.access(final.parent, os.W_OK):
        raise XlrobustError(f"output folder {final.parent} is not writable")
    if directory is False and final.is_dir() and not final.is_symlink():
        raise XlrobustError(f"output {final} is an existing folder; give a file path (the folder is left alone)")
    if directory is True and final.exists() and not final.is_dir():
        raise XlrobustError(f"output {final} is an existing file; give a folder path (the file is left alone)")
    if directory is True:
        if not kind:
            raise ValueError("atomic_path: a folder output needs the kind (command) that writes it")
        refuse_foreign_folder(final, kind=kind)
    return created


def _replace(target: Path, final: Path, kind: str | None) -> None:
    """The finished temporary output renamed onto `final` (a folder there replaced only if
    `kind` wrote it; a file never by a folder, nor a folder by a file)."""
    if final.is_dir() and not final.is_symlink():
        if not target.is_dir():
            raise XlrobustError(f"output {final} is an existing folder; give a file path (the folder is left alone)")
        refuse_foreign_folder(final, kind=kind)  # checked again: the folder may have been filled meanwhile
        shutil.rmtree(final)
    elif target.is_dir() and final.exists():
        raise XlrobustError(f"output {final} is an existing file; give a folder path (the file is left alone)")
    os.replace(target, final)


@contextmanager
def atomic_path(final: str | os.PathLike, directory: bool | None = None, kind: str = ""):
    """Yield a temporary sibling path; rename it onto `final` only if the block succeeds.

    A killed or failing writer leaves at most a `.tmp-*` sibling, never a file that
    looks complete; the next writer of the same path removes it. `directory` says
    whether the block writes a folder (True) or a file (False); either way an
    existing folder is never replaced by a file, nor a file by a folder. A folder is
    stamped with `kind`, the command writing it, and replaces only a folder of that command.
    """
    final = Path(final)
    created = _output_parent(final, directory, kind)
    host = socket.gethostname().replace("/", "_")
    _remove_stale_temps(final, host)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-{host}-{os.getpid()}-", dir=final.parent))
    except OSError as e:
        raise XlrobustError(f"output folder {final.parent} is not writable ({e.strerror})") from None
    target = tmp / final.name
    done = False
    try:
        yield target
        if directory is True:
            target.mkdir(exist_ok=True)
            (target / STAMP).write_text(stamp_text(kind), encoding="utf-8")
            _usual_modes(target)
        _replace(target, final, kind if directory else None)
        done = True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not done and created is not None and created.is_dir() and not any(p.is_file() for p in created.rglob("*")):
            shutil.rmtree(created, ignore_errors=True)


def write_parquet(df: pl.DataFrame, path: str | os.PathLike, kind: str) -> None:
    """Write a parquet file atomically, its metadata naming the command `kind` that wrote
    it, and read it back before accepting it."""
    with atomic_path(path, directory=False) as tmp:
        df.write_parquet(tmp, statistics=False, metadata={PARQUET_KEY: kind})
        back = pl.read_parquet(tmp)
        if back.shape != df.shape:
            raise XlrobustError(f"parquet read-back of {path} gave {back.shape}, wrote {df.shape}")


def write_json(obj, path: str | os.PathLike) -> None:
    with atomic_path(path, directory=False) as tmp:
        tmp.write_text(
            json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
        )


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path, directory=False) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json(path: str | os.PathLike) -> dict:
    """A JSON object xlrobust wrote (meta.json, ...): anything else is one line naming the file."""
    path = Path(path)
    try:
        obj = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise XlrobustError(f"{path}: file not found") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise XlrobustError(
            f"{path}: not a JSON file xlrobust wrote ({type(e).__name__}); rerun the step that writes it"
        ) from None
    if not isinstance(obj, dict):
        raise XlrobustError(f"{path}: not a JSON object; rerun the step that writes it")
    return obj


def read_utf8(path: Path) -> str:
    """A text file's contents as UTF-8, a leading byte-order mark removed (every reader of
    local files reads through here, so none keeps it in its first token or sentence)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n")
        raise XlrobustError(
            f"{path}: row {line}: not valid UTF-8 (byte {e.start}); convert the file to UTF-8"
        ) from None


def read_lines(path: Path) -> list[str]:
    """One item per line (UTF-8); a final newline ends the last line, it does not add one."""
    lines = read_utf8(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_parquet(path: str | os.PathLike) -> pl.DataFrame:
    path = Path(path)
    if not path.exists():
        raise XlrobustError(f"{path}: file not found")
    try:
        return pl.read_parquet(path)
    except Exception as e:  # polars raises several types for a damaged file
        raise XlrobustError(
            f"{path}: not a readable parquet file ({type(e).__name__}); delete it and rerun the step that writes it"
        ) from None


def read_table(path: str | os.PathLike, columns) -> pl.DataFrame:
    """Read a parquet file that must hold `columns` (one line naming the file and what is missing)."""
    df = read_parquet(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise XlrobustError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
    return df


def read_examples(path: str | os.PathLike, lang: str | None, fmt) -> pl.DataFrame:
    """Read a normalised example table of a format (its `schema` and `text_columns`), check
    its schema, optionally keep one language (None: all). Columns outside the schema are
    dropped, except the probe keys a perturbed table carries."""
    df = read_parquet(path)
    missing = [c for c in fmt.schema if c not in df.columns]
    if missing:
        raise XlrobustError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(fmt.schema)}")
    cols = [_cast_column(df[c], t, fmt.schema, path) for c, t in fmt.schema.items()]
    keep = [c for c in PROBE_COLUMNS if c in df.columns]
    df = pl.DataFrame(cols).hstack(df.select(keep)) if keep else pl.DataFrame(cols)
    for c in ("id", *fmt.text_columns):
        bad = df.with_row_index().filter(pl.col(c).is_null())
        if bad.height:
            raise XlrobustError(f"{path}: row {bad['index'][0]}: no {c} (null)")
    dup = df.with_row_index().filter(~pl.col("id").is_first_distinct())
    if dup.height:  # paired scoring joins on id: a duplicate would silently double rows
        raise XlrobustError(f"{path}: row {dup['index'][0]}: duplicate id '{dup['id'][0]}'")
    if lang is not None:
        langs = sorted(df["lang"].unique().to_list())
        if lang not in langs:
            raise XlrobustError(f"{path}: language '{lang}' not in the data (has: {', '.join(langs)})")
        df = df.filter(pl.col("lang") == lang)
    return df


def _cast_column(col: pl.Series, t, schema: dict, path) -> pl.Series:
    """A column of an example table as its schema type; a value that is not of that type
    (a cast to null) is an error naming the row."""
    if col.dtype == t:
        return col
    expected = ", ".join(f"{k}: {v}" for k, v in schema.items())
    try:
        cast = col.cast(t, strict=False)
    except pl.exceptions.PolarsError:
        raise XlrobustError(f"{path}: column '{col.name}' is {col.dtype}, not {t} (expected {expected})") from None
    bad = (cast.is_null() & col.is_not_null()).arg_true()  # a value the cast turned into null: wrong type
    if len(bad):
        raise XlrobustError(
            f"{path}: row {bad[0]}: column '{col.name}' holds {col[int(bad[0])]!r}, not {t} (expected {expected})"
        )
    return cast


def expand_paths(paths, pattern: str = "*.parquet") -> list[str]:
    """Files given directly, plus the files matching `pattern` below each given folder (sorted)."""
    out = []
    for p in paths:
        p = Path(p)
        out += sorted(str(f) for f in p.rglob(pattern) if not f.name.startswith(".")) if p.is_dir() else [str(p)]
    return out
