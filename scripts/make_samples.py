"""Rebuild samples/: the CPU-sized slices of real data that ship with the repository.

    .venv/bin/python scripts/make_samples.py [--source ../shared/data] [--out samples]

From the full release files in --source (the layout of ../shared/data), writes into --out
exactly the rows the real-data CPU studies read (config.yaml's datasets whose `local` is
under samples/, under config.yaml's caps and under CI's, tests/studies/real_ci.yaml), in
the same release formats and file names, plus a README per dataset (source, revision,
licence, attribution). The rows are the ones the package's own loader returns
(xlrobust.data.load with the studies' caps and row ranges, matched by id), so a change in
how a cap picks its rows is followed by re-running this script. A cap keeps a seeded random
sample, a function of the seed and the rows' ids only (xlrobust.sampling.ranked), so the slice, holding the
sampled rows, gives the same sample. Rows without ids (PAN-X sentences, Tatoeba lines) have
content ids (data.content_ids; a repeated row keeps its earlier copies beside it), and
TyDiQA's SQuAD JSON (`local_ids: position`) keeps the unused questions' articles as empty
placeholders (and a kept question's earlier questions in its paragraph); every id, row and
order the studies see is the full file's.

Then it checks that `data.prepare` of each dataset gives identical tables from the slices
as from the full files (under both configs' caps), and refuses to finish otherwise.
UMSAB's tweets are not sliced: they are not ours to redistribute (see docs/datasets.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import polars as pl
import yaml

from xlrobust import data
from xlrobust.config import read as read_config
from xlrobust.errors import XlrobustError
from xlrobust.io import read_lines
from xlrobust.tasks import get_task

REPO = Path(__file__).resolve().parents[1]
PREFIX = "samples/"  # config.yaml's `local` of a shipped slice starts with this
CI = REPO / "tests" / "studies" / "real_ci.yaml"

# The full files' own row ranges where a slice needs others: a held-out dev set that
# sits at the end of a long file is, in the slice, right after the training rows.
FULL_SPLITS = {
    "tydiqa_en_shared": {"train": "train[:3400]", "validation": "train[3400:]"},
    "tydiqa_r_shared": {"train": "train[:3400]", "validation": "train[3400:]"},
    "csqa_local": {"train": "dev[:1000]", "validation": "dev[1000:]"},
}

# What samples/<folder>/README.md says of each dataset's origin and licence.
ABOUT = {
    "commonsenseqa": (
        "CommonsenseQA (Talmor, Herzig, Lourie and Berant, NAACL 2019), dev split `dev_rand_split.jsonl` "
        "of the v1.11 release; Hub copy `tau/commonsense_qa`.",
        "MIT (https://github.com/jonathanherzig/commonsenseqa).",
    ),
    "tydiqa_goldp": (
        "TyDi QA Gold Passage task v1.1 (Clark et al., TACL 2020), English training questions as XTREME "
        "splits them per language (`tydiqa-goldp-v1.1-train-en.json`); Hub copy "
        "`google-research-datasets/tydiqa` (secondary_task, English rows).",
        "Apache License 2.0 (https://github.com/google-research-datasets/tydiqa).",
    ),
    "mlqa": (
        "MLQA v1.0 (Lewis, Oguz, Rinott, Riedel and Schwenk, ACL 2020), dev files with context and "
        "question in the same language; Hub copy `facebook/mlqa` (`mlqa.L.L`, validation).",
        "CC BY-SA 3.0 (https://github.com/facebookresearch/MLQA); this slice is shared under the same licence.",
    ),
    "panx": (
        "WikiANN / PAN-X (Pan, Zhang, May, Nothman, Knight and Ji, ACL 2017) as XTREME distributes it "
        "(`token<TAB>tag`, blank line between sentences); Hub copy `unimelb-nlp/wikiann`.",
        "ODC-BY, as the Hub card of `unimelb-nlp/wikiann` gives it.",
    ),
    "ud": (
        "Universal Dependencies treebanks (de Marneffe et al., Computational Linguistics 2021): English "
        "EWT (Silveira et al., LREC 2014) and German GSD (McDonald et al., ACL 2013), dev files; Hub copy "
        "`universal-dependencies/universal_dependencies` (en_ewt, de_gsd).",
        "CC BY-SA 4.0 (both treebanks' LICENSE.txt); this slice is shared under the same licence.",
    ),
    "xcopa": (
        "COPA (Roemmele, Bejan and Gordon, 2011) English train/validation and XCOPA (Ponti et al., EMNLP "
        "2020) validation translations, jsonl as in `cambridgeltl/xcopa`.",
        "XCOPA: CC BY 4.0 (https://github.com/cambridgeltl/xcopa); COPA's English items: BSD 2-Clause "
        "(https://people.ict.usc.edu/~gordon/copa.html).",
    ),
    "tatoeba": (
        "Tatoeba sentence pairs as XTREME / LASER (Artetxe and Schwenk, TACL 2019) distribute them, "
        "`tatoeba.L-eng.L` / `.eng` line-aligned; Hub copy `mteb/tatoeba-bitext-mining`. Sentences by "
        "the contributors of https://tatoeba.org.",
        "CC BY 2.0 FR (https://tatoeba.org/en/terms_of_use).",
    ),
}


# ---- a file as a list of units (the rows its reader yields, in order) and back ----------
def blocks(text: str) -> list[str]:
    """Blank-line-separated blocks (CoNLL-U sentences with their comments, PAN-X sentences)."""
    return [b for b in re.split(r"\n[ \t]*\n", text.strip("\n")) if b.strip()]


def slice_lines(path: Path, keep: list[int]) -> str:
    lines = read_lines(path)
    return "".join(lines[i] + "\n" for i in keep)


def slice_blocks(path: Path, keep: list[int]) -> str:
    units = blocks(path.read_text(encoding="utf-8"))
    return "".join(units[i] + "\n\n" for i in keep)


def slice_squad(path: Path, keep: list[int], by_position: bool) -> str:
    """The questions `keep` (numbered in file order) of a SQuAD v1.1 JSON file. With position
    ids (a<article>-p<paragraph>-q<question>) the articles and paragraphs before a kept
    question stay, emptied, so that no position moves; otherwise empty ones go."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    wanted, n = set(keep), 0
    articles = []
    for a, art in enumerate(doc["data"]):
        paragraphs = []
        for p, par in enumerate(art["paragraphs"]):
            kept = [q for q in range(len(par["qas"])) if n + q in wanted]
            if by_position and kept != list(range(len(kept))):
                raise XlrobustError(f"{path}: article {a}, paragraph {p}: a dropped question would renumber the next")
            qas = [par["qas"][q] for q in kept]
            n += len(par["qas"])
            if qas or by_position:
                paragraphs.append({**par, "context": par["context"] if qas else "", "qas": qas})
        while paragraphs and not paragraphs[-1]["qas"]:
            paragraphs.pop()  # trailing placeholders number nothing
        if paragraphs or by_position:
            articles.append({**art, "paragraphs": paragraphs})
    while articles and not articles[-1]["paragraphs"]:
        articles.pop()
    if by_position:  # a placeholder article keeps only its place
        articles = [art if art["paragraphs"] else {"paragraphs": []} for art in articles]
    return json.dumps({**doc, "data": articles}, ensure_ascii=False) + "\n"


# ---- which rows of which file the studies read ----------------------------------------
def effective_specs(cfg: dict, ci: dict) -> dict[str, list[dict]]:
    """Per shipped dataset, its spec under each config the studies run with (config.yaml, and
    config.yaml + real_ci.yaml as CI merges them)."""
    out = {}
    for name, spec in cfg["datasets"].items():
        if not str(spec.get("local", "")).startswith(PREFIX):
            continue
        over = (ci.get("datasets") or {}).get(name) or {}
        ci_spec = {
            **spec,
            **over,
            "max_examples": {**(spec.get("max_examples") or {}), **(over.get("max_examples") or {})},
        }
        out[name] = [spec, ci_spec]
    return out


def full_spec(name: str, spec: dict, source: Path) -> dict:
    full = {**spec, "local": str(source / spec["local"][len(PREFIX) :])}
    if spec.get("local_labels"):
        full["local_labels"] = str(source / spec["local_labels"][len(PREFIX) :])
    if name in FULL_SPLITS:
        full["local_splits"] = {**(spec.get("local_splits") or {}), **FULL_SPLITS[name]}
    return full


def at(spec: dict, root: Path) -> dict:
    """A shipped spec with its `local` resolved against `root` (the project)."""
    return {**spec, "local": str(root / spec["local"])}


def split_langs(spec: dict, split: str) -> list[str]:
    train_lang = spec.get("train_lang", "en")
    return spec.get("langs", [train_lang]) if split == "test" else spec.get("train_langs", [train_lang])


def files_of(spec: dict, split: str, lang: str) -> tuple[list[Path], int]:
    """The file(s) one (split, lang) of a local dataset reads and the first row it reads from,
    as data.load names them."""
    task = get_task(spec["task"])
    (config,) = data.config_list(task, spec, lang, "?")
    local_split, rows = data.split_rows((spec.get("local_splits") or {}).get(split, task.splits[split]))
    template = spec["local"].replace("{lang}", lang)
    if spec.get("local_format") == "bitext_lines":
        paths = [
            Path((template + ".{side}").format(config=config, split=local_split, side=s)) for s in config.split("-")
        ]
    else:
        paths = [Path(template.format(config=config or "", split=local_split))]
    return paths, (rows.start or 0) if rows else 0


REPEAT = re.compile(r"^(.*-[0-9a-f]{16})-(\d+)$")  # data.content_ids: the n-th copy of a row's content
QUESTION = re.compile(r"^(.*-q)(\d+)$")  # squad_json's position ids: a<article>-p<paragraph>-q<question>


def earlier_copies(ids: list[str], by_position: bool) -> list[str]:
    """The ids a slice must hold besides `ids` so that none of them changes: the earlier
    copies of a repeated row (content ids number copies), and with position ids the earlier
    questions of the same paragraph (dropping one would renumber the next)."""
    out = []
    for i in ids:
        if m := REPEAT.match(i):
            out += [m[1]] + [f"{m[1]}-{n}" for n in range(2, int(m[2]))]
        if by_position and (m := QUESTION.match(i)):
            out += [f"{m[1]}{n}" for n in range(int(m[2]))]
    return out


def used_rows(name: str, specs: list[dict], source: Path) -> dict[Path, set[int]]:
    """Per full file, the rows the studies read: those data.load returns under their caps
    (a seeded sample: a function of ids, so the same in the slice), found by id among the
    rows of the uncapped split in file order, plus what keeps their ids (earlier_copies).
    No id is a row position, except TyDiQA's `local_ids: position`, whose unused articles and
    paragraphs stay in the slice as empty placeholders (slice_squad)."""
    used: dict[Path, set[int]] = {}
    for spec in specs:
        full = full_spec(name, spec, source)
        for split in full.get("splits", ["train", "validation", "test"]):
            for lang in split_langs(full, split):
                read, _ = data.load(name, full, split, lang)
                every = {k: v for k, v in full.items() if k != "parallel_sample"}  # rows numbered as in the file
                whole, _ = data.load(name, {**every, "max_examples": {}, "sample": {"order": "head"}}, split, lang)
                where = {i: k for k, i in enumerate(whole["id"])}
                ids = list(read["id"])
                rows = sorted({where[i] for i in ids + earlier_copies(ids, full.get("local_ids") == "position")})
                paths, start = files_of(full, split, lang)
                for p in paths:
                    used.setdefault(p, set()).update(start + k for k in rows)
    return used


def write_slice(spec: dict, path: Path, keep: list[int], dest: Path) -> None:
    fmt = spec.get("local_format")
    if fmt == "squad_json":
        text = slice_squad(path, keep, spec.get("local_ids") == "position")
    elif fmt in ("conllu", "conll_tags"):
        text = slice_blocks(path, keep)
    else:  # jsonl rows, bitext lines
        text = slice_lines(path, keep)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text, encoding="utf-8")


def check_row_ranges(name: str, spec: dict, source: Path, used: dict[Path, set[int]]) -> None:
    """config.yaml's row ranges of a slice must be the full file's, renumbered."""
    full = full_spec(name, spec, source)
    for split, local in (full.get("local_splits") or {}).items():
        base, rows = data.split_rows(local)
        if rows is None:
            continue
        paths, _ = files_of(full, split, split_langs(full, split)[0])
        start, stop = (sum(1 for i in used[paths[0]] if i < x) if x else None for x in (rows.start, rows.stop))
        want = f"{base}[{start or ''}:{'' if stop is None else stop}]"
        have = (spec.get("local_splits") or {}).get(split)
        if have != want:
            raise XlrobustError(
                f"config.yaml: datasets.{name}.local_splits.{split} must be '{want}' for the slice (is '{have}')"
            )


def same_tables(name: str, specs: list[dict], source: Path, root: Path) -> list[str]:
    """data.prepare from the slices (under root) and from the full files: the tables that differ."""
    bad = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, spec in enumerate(specs):
            a, b = Path(tmp, f"s{k}"), Path(tmp, f"f{k}")
            data.prepare(name, at(spec, root), a)
            data.prepare(name, full_spec(name, spec, source), b)
            for f in sorted(b.glob("*.parquet")):
                if not pl.read_parquet(a / f.name).equals(pl.read_parquet(f)):
                    bad.append(f"{name}/{f.name}")
    return bad


def readme(folder: str, files: dict[str, tuple[Path, int, int]]) -> str:
    origin, licence = ABOUT[folder]
    rows = "\n".join(
        f"| `{f}` | {kept} of {total} | `{hashlib.sha256(src.read_bytes()).hexdigest()[:16]}` |"
        for f, (src, kept, total) in sorted(files.items())
    )
    return (
        f"# {folder}: a CPU-sized slice (generated: do not edit)\n\n"
        f"Source: {origin}\n\nLicence: {licence}\n\n"
        "Written by `scripts/make_samples.py` from the full release files (the revision is the full "
        "file's sha256 below): exactly the rows the real-data CPU studies of config/cpu.yaml read, in the "
        "release format, ids and order of the full file. The full data: see docs/datasets.md, section "
        '"Real data".\n\n'
        f"| file | rows (units) kept | full file sha256 |\n|---|---|---|\n{rows}\n"
    )


def units_in(spec: dict, path: Path) -> int:
    fmt = spec.get("local_format")
    if fmt == "squad_json":
        return sum(len(p["qas"]) for a in json.loads(path.read_text(encoding="utf-8"))["data"] for p in a["paragraphs"])
    if fmt in ("conllu", "conll_tags"):
        return len(blocks(path.read_text(encoding="utf-8")))
    return len(read_lines(path))


def build(source: Path, out: Path, root: Path = REPO) -> dict[str, int]:
    """Write every slice into `out` (a folder replaced whole). Returns bytes per dataset folder."""
    cfg = read_config(root / "config.yaml")
    ci = yaml.safe_load(CI.read_text())
    specs = effective_specs(cfg, ci)
    tmp = Path(tempfile.mkdtemp(prefix=".samples-", dir=out.parent))
    try:
        notes: dict[str, dict[str, tuple[Path, int, int]]] = {}
        # a file several datasets read (TyDiQA's English for QA and LAReQA) keeps the union of their rows
        used: dict[Path, set[int]] = {}
        reader: dict[Path, dict] = {}
        for name, both in specs.items():
            for path, rows in used_rows(name, both, source).items():
                used.setdefault(path, set()).update(rows)
                reader.setdefault(path, both[0])
        for path, rows in used.items():
            rel = path.relative_to(source)
            write_slice(reader[path], path, sorted(rows), tmp / rel)
            notes.setdefault(rel.parts[0], {})[rel.name] = (path, len(rows), units_in(reader[path], path))
        for name, both in specs.items():
            check_row_ranges(name, both[0], source, used)
        for folder, files in notes.items():
            (tmp / folder / "README.md").write_text(readme(folder, files), encoding="utf-8")
        # the slices must give the studies the full files' tables
        shadow = Path(tempfile.mkdtemp(prefix=".project-", dir=out.parent))
        try:
            (shadow / PREFIX).symlink_to(tmp.resolve(), target_is_directory=True)
            bad = [b for name, both in specs.items() for b in same_tables(name, both, source, shadow)]
        finally:
            shutil.rmtree(shadow)
        if bad:
            raise XlrobustError(f"slices give other tables than the full files: {', '.join(bad)}")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {d.name: sum(f.stat().st_size for f in d.iterdir()) for d in sorted(out.iterdir())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = os.environ.get("XLROBUST_SHARED_DATA", REPO.parent / "shared" / "data")
    ap.add_argument(
        "--source",
        type=Path,
        default=default,
        help="the full release files (default: $XLROBUST_SHARED_DATA or ../shared/data)",
    )
    ap.add_argument("--out", type=Path, default=REPO / PREFIX, help="where the slices go (replaced whole)")
    a = ap.parse_args(argv)
    try:
        sizes = build(a.source.resolve(), a.out.resolve())
    except XlrobustError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for d, n in sizes.items():
        print(f"{d}: {n / 1e3:.0f} kB")
    print(f"total: {sum(sizes.values()) / 1e6:.2f} MB in {a.out}; tables identical to the full files'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
