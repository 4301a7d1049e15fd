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
from xlrobust.io import read_lines, read_utf8
from xlrobust.tasks import get_task

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
# SQuAD v1.1/v2.0, XQuAD, MLQA and TyDiQA-GoldP (the official GoldP files and XTREME's
# per-language ones) are released in this format. One row per question, in the flat
# schema of their Hub copies (rajpurkar/squad, google/xquad, facebook/mlqa,
# google-research-datasets/tydiqa secondary_task): id, title, context, question,
# answers {text, answer_start}.
SQUAD_JSON_SCHEMA = {
    "id": pl.String,
    "title": pl.String,
    "context": pl.String,
    "question": pl.String,
    "answers": pl.Struct({"text": pl.List(pl.String), "answer_start": pl.List(pl.Int64)}),
}


def _squad_answers(path: Path, qid: str, qa: dict, context: str) -> dict:
    """The answers of one question as the Hub's struct of lists; one error naming the
    question and the field for anything else. A question without answers is read only
    as SQuAD v2.0 writes one (`is_impossible: true`, `answers: []`): in a v1.1 file every
    question is answerable, and scoring one as unanswerable would silently score 0."""
    if "answers" not in qa:
        raise XlrobustError(f"{path}: question {qid}: no field 'answers' (a list of {{text, answer_start}})")
    answers = qa["answers"]
    if not isinstance(answers, list):
        raise XlrobustError(f"{path}: question {qid}: field 'answers' is not a list of {{text, answer_start}}")
    impossible = qa.get("is_impossible", False)
    if not isinstance(impossible, bool):
        raise XlrobustError(f"{path}: question {qid}: field 'is_impossible' is {impossible!r:.40}, not true/false")
    if not answers and not impossible:
        raise XlrobustError(
            f"{path}: question {qid}: field 'answers' is empty; a SQuAD v1.1 question needs an answer "
            "(an unanswerable SQuAD v2.0 question says is_impossible: true)"
        )
    if answers and impossible:
        raise XlrobustError(f"{path}: question {qid}: is_impossible is true but field 'answers' is not empty")
    texts, starts = [], []
    for k, a in enumerate(answers):
        text, start = (a.get("text"), a.get("answer_start")) if isinstance(a, dict) else (None, None)
        if not isinstance(text, str) or not isinstance(start, int) or isinstance(start, bool):
            raise XlrobustError(
                f"{path}: question {qid}: answer {k} in field 'answers' needs a 'text' string and an integer "
                f"'answer_start' (got {a!r:.80})"
            )
        if not -(2**63) <= start < 2**63:  # beyond a 64-bit integer: it would be read as null
            raise XlrobustError(
                f"{path}: question {qid}: answer {k}: answer_start {start} is outside the context (0 .. {len(context)})"
            )
        texts.append(text)
        starts.append(start)
    return {"text": texts, "answer_start": starts}


def _squad_paragraph(path: Path, where: tuple[int, int], par) -> tuple[str, list]:
    """The context and the questions of paragraph `where` (article, paragraph) of a SQuAD file."""
    context = par.get("context") if isinstance(par, dict) else None
    qas = par.get("qas") if isinstance(par, dict) else None
    if not isinstance(context, str) or not isinstance(qas, list):
        raise XlrobustError(
            f"{path}: article {where[0]}, paragraph {where[1]}: needs a 'context' string and a 'qas' list"
        )
    return context, qas


def _question_id(path: Path, where: tuple[int, int, int], qa, by_position: bool) -> str:
    """The id of question `where` (article, paragraph, question): its own, a non-empty string
    or integer, or with `local_ids: position` its position a<article>-p<paragraph>-q<question>."""
    a, p, q = where
    if not isinstance(qa, dict):
        raise XlrobustError(f"{path}: article {a}, paragraph {p}, question {q}: not a JSON object")
    if by_position:
        return f"a{a}-p{p}-q{q}"
    raw_id = qa.get("id")
    if not isinstance(raw_id, (str, int)) or isinstance(raw_id, bool) or not str(raw_id).strip():
        raise XlrobustError(
            f"{path}: article {a}, paragraph {p}, question {q}: "
            + ("no 'id'" if raw_id is None else f"id {raw_id!r:.40} is not a non-empty string or integer")
        )
    return str(raw_id)


@reader("squad_json")
def squad_json(template: str, config: str | None, split: str, spec: dict) -> tuple[pl.DataFrame, str]:
    """A SQuAD v1.1 JSON file (a `data` list of articles -> paragraphs -> qas -> answers;
    a bare list of articles too, as XTREME's read_squad accepts) as the Hub's flat table.

    Question ids must be unique in the file. XTREME's TyDiQA-GoldP English train file
    repeats them ("0", "1", ... per document): `local_ids: position` in the dataset's
    config numbers the questions by position instead (a<article>-p<paragraph>-q<question>).
    """
    import json

    path = path_of(template, config, split)
    try:
        doc = json.loads(read_utf8(path))
    except json.JSONDecodeError as e:
        raise XlrobustError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise XlrobustError(f"{path}: JSON nested too deeply to be SQuAD JSON (data -> paragraphs -> qas)") from None
    articles = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(articles, list):
        raise XlrobustError(f"{path}: no 'data' list of articles (SQuAD v1.1 JSON: data -> paragraphs -> qas)")
    by_position = spec.get("local_ids") == "position"
    rows, seen = [], {}
    for a, art in enumerate(articles):
        paragraphs = art.get("paragraphs") if isinstance(art, dict) else None
        if not isinstance(paragraphs, list):
            raise XlrobustError(f"{path}: article {a}: no 'paragraphs' list")
        title = art.get("title")
        for p, par in enumerate(paragraphs):
            context, qas = _squad_paragraph(path, (a, p), par)
            for q, qa in enumerate(qas):
                qid = _question_id(path, (a, p, q), qa, by_position)
                if qid in seen:
                    raise XlrobustError(
                        f"{path}: question id '{qid}' repeats (article {seen[qid][0]} and article {a}); ids must be "
                        "unique: set local_ids: position in the dataset's config to number questions by position"
                    )
                seen[qid] = (a, p)
                question = qa.get("question")
                if not isinstance(question, str):
                    raise XlrobustError(f"{path}: question {qid}: no 'question' text")
                rows.append(
                    {
                        "id": qid,
                        "title": title if isinstance(title, str) else None,
                        "context": context,
                        "question": question,
                        "answers": _squad_answers(path, qid, qa, context),
                    }
                )
    return pl.DataFrame(rows, schema=SQUAD_JSON_SCHEMA), str(path)


# ---- tagging: CoNLL-U and CoNLL token<TAB>tag ------------------------------------------ (issue 18)
def _class_label(spec: dict, path: Path) -> tuple[str, tuple[str, ...]]:
    """The raw ClassLabel column of the dataset's task and its names, in the Hub's id order."""
    task = get_task(spec["task"])
    if len(task.class_labels) != 1:
        raise XlrobustError(
            f"{path}: local_format '{spec.get('local_format')}' yields tag ids, but task '{task.name}' has no "
            "ClassLabel tag column to map them to; use a task whose Hub data has one (panx, udpos)"
        )
    return next(iter(task.class_labels.items()))


@reader("conllu")
def read_conllu(template: str, config: str | None, split: str, spec: dict) -> tuple[pl.DataFrame, str]:
    """A CoNLL-U file (Universal Dependencies) as the Hub's universal_dependencies rows: parsed with
    conllu.parse_incr and its sentences turned into columns exactly as that dataset's script does
    (idx = sent_id, else the running number; text; tokens = FORM of every token line, multiword-token
    ranges and empty nodes included; upos as ClassLabel ids; head etc. as str()). The registry task
    then keeps the syntactic words (no range, no empty node) with their UPOS (column 4)."""
    import conllu

    path = path_of(template, config, split)
    column, names = _class_label(spec, path)
    ids = {name: i for i, name in enumerate(names)}
    rows = []
    text = read_utf8(path)
    try:
        sentences = conllu.parse(text)
    except conllu.exceptions.ParseException as e:
        raise XlrobustError(f"{path}: not valid CoNLL-U ({str(e).splitlines()[0][:160]})") from None
    # the file line of every token line, in the order conllu yields the tokens (for errors)
    lines = iter([n for n, x in enumerate(text.splitlines(), 1) if x.strip() and not x.startswith("#")])
    for n, sent in enumerate(sentences):
        tokens = [t["form"] for t in sent]
        for t in sent:
            line = next(lines, "?")
            where = sent.metadata.get("sent_id", n)
            if t["upos"] not in ids:
                raise XlrobustError(
                    f"{path}: line {line} (sentence {where}, token {t['id']}): UPOS '{t['upos']}' is not one of "
                    f"{', '.join(names)} (column 4)"
                )
            if isinstance(t["id"], int) and t["upos"] in ("_", None):  # a syntactic word must have its UPOS
                raise XlrobustError(
                    f"{path}: line {line} (sentence {where}, token {t['id']}): a syntactic word without UPOS ('_' in "
                    "column 4); only multiword-token ranges and empty nodes may have none"
                )
            if isinstance(t["id"], int) and t["head"] is None:  # the registry tells words from ranges by HEAD
                raise XlrobustError(
                    f"{path}: line {line} (sentence {where}, token {t['id']}): a syntactic word without HEAD ('_' in "
                    "column 7); it would be dropped as a multiword-token range"
                )
        rows.append(
            {
                "idx": str(sent.metadata.get("sent_id", n)),
                "text": sent.metadata.get("text", " ".join(tokens)),
                "tokens": tokens,
                "lemmas": [t["lemma"] for t in sent],
                column: [ids[t["upos"]] for t in sent],
                "xpos": [t["xpos"] for t in sent],
                "feats": [str(t["feats"]) for t in sent],
                "head": [str(t["head"]) for t in sent],
                "deprel": [str(t["deprel"]) for t in sent],
                "deps": [str(t["deps"]) for t in sent],
                "misc": [str(t["misc"]) for t in sent],
            }
        )
    if not rows:
        raise XlrobustError(f"{path}: no sentences")
    schema = {"idx": pl.String, "text": pl.String, column: pl.List(pl.Int64)}
    schema.update(
        {c: pl.List(pl.String) for c in ("tokens", "lemmas", "xpos", "feats", "head", "deprel", "deps", "misc")}
    )
    return pl.DataFrame(rows, schema=schema), str(path)


@reader("conll_tags")
def read_conll_tags(template: str, config: str | None, split: str, spec: dict) -> tuple[pl.DataFrame, str]:
    """One `token<TAB>tag` a line, a blank line between sentences (PAN-X as XTREME distributes it;
    CoNLL-2003 style), as the Hub's rows: tokens, the tags as ids of the task's ClassLabel column
    (wikiann: ner_tags) and, as wikiann has, `langs` (the config per token). XTREME's raw PAN-X files
    prefix every token with its language ("en:Paris"): stripped when every token of the file has it."""
    path = path_of(template, config, split)
    column, names = _class_label(spec, path)
    ids = {name: i for i, name in enumerate(names)}
    sentences, tokens, tags = [], [], []
    for n, line in enumerate(read_utf8(path).splitlines(), 1):
        if not line.strip():
            if tokens:
                sentences.append((tokens, tags))
                tokens, tags = [], []
            continue
        # exactly two columns: a third (CoNLL-2003's POS and chunk tags) would otherwise end up
        # inside the token ("Paris\tNNP"), and "-DOCSTART- -X- -X- O" read as a sentence
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise XlrobustError(
                f"{path}: line {n}: expected 'token<TAB>tag' (2 columns), got {len(parts)} column(s): {line[:60]!r}"
                + (
                    " (CoNLL-2003 has 4 columns: keep token and NER tag, drop -DOCSTART- lines)"
                    if len(parts) == 4
                    else ""
                )
            )
        token, tag = parts[0].strip(), parts[1].strip()
        if tag not in ids:
            raise XlrobustError(f"{path}: line {n}: tag '{tag}' is not one of {', '.join(names)}")
        tokens.append(token)
        tags.append(ids[tag])
    if tokens:
        sentences.append((tokens, tags))
    if not sentences:
        raise XlrobustError(f"{path}: no sentences (one token<TAB>tag a line, blank lines between sentences)")
    prefix = f"{config}:" if config else None
    if prefix and all(t.startswith(prefix) and len(t) > len(prefix) for toks, _ in sentences for t in toks):
        sentences = [([t[len(prefix) :] for t in toks], tg) for toks, tg in sentences]
    return (
        pl.DataFrame(
            {
                "tokens": [s[0] for s in sentences],
                column: [s[1] for s in sentences],
                "langs": [[config or ""] * len(s[0]) for s in sentences],
            },
            schema={"tokens": pl.List(pl.String), column: pl.List(pl.Int64), "langs": pl.List(pl.String)},
        ),
        str(path),
    )


# ---- XCOPA / COPA / SIQA and bitext retrieval (Tatoeba, BUCC) ---------------------------- (issue 19)


@reader("bitext_lines")
def bitext_lines(template: str, config: str | None, split: str, spec: dict) -> tuple[pl.DataFrame, str]:
    """A line-aligned bitext release (Tatoeba's `tatoeba.deu-eng.deu` + `tatoeba.deu-eng.eng`;
    XTREME's download): `local` names the common prefix (`.../tatoeba.{config}`) and the
    config `<xx>-<yy>` the two suffixes. Line i of one file translates line i of the other.
    Yields the Hub's table (mteb/tatoeba-bitext-mining): sentence1 (xx), sentence2 (yy)."""
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


# ---- BUCC 2018 bitext mining release ---------------------------------------------------- (issue 26)
BUCC_PARTS = {"sample": "tune", "training": "test"}  # release split -> mining part (XTREME's dev, test)


def _bucc_side(path: Path) -> dict[str, str]:
    """One side of a BUCC corpus, `id<TAB>sentence` a line: id -> sentence; a line without a
    tab, an empty sentence or a repeated id is one error naming the file and the line."""
    out: dict[str, str] = {}
    for n, line in enumerate(read_utf8(path).split("\n"), 1):
        if not line.strip():
            continue
        sid, tab, sentence = line.rstrip("\r").partition("\t")
        if not tab or not sid.strip():
            raise XlrobustError(f"{path}: line {n}: expected 'id<TAB>sentence', got {line[:60]!r}")
        if not sentence.strip():
            raise XlrobustError(f"{path}: line {n}: empty sentence (id '{sid}')")
        if sid in out:
            raise XlrobustError(f"{path}: line {n}: duplicate id '{sid}'")
        out[sid] = sentence.strip()
    return out


def _bucc_gold(path: Path, sides: dict[str, dict[str, str]], names: dict[str, str]) -> dict[str, str]:
    """A BUCC gold file (`xx_id<TAB>en_id` per line) as xx id -> en id; each id must be a
    sentence of its side (`names`: the side's file, for the error), each xx id in one pair."""
    partner: dict[str, str] = {}
    for n, line in enumerate(read_utf8(path).split("\n"), 1):
        if not line.strip():
            continue
        ids = line.rstrip("\r").split("\t")
        if len(ids) != 2:
            raise XlrobustError(f"{path}: line {n}: expected 'xx_id<TAB>en_id', got {line[:60]!r}")
        for sid, side in zip(ids, ("xx", "en")):
            if sid not in sides[side]:
                raise XlrobustError(f"{path}: line {n}: id '{sid}' is not in {names[side]}")
        if ids[0] in partner:
            raise XlrobustError(f"{path}: line {n}: '{ids[0]}' is in two gold pairs")
        partner[ids[0]] = ids[1]
    return partner


@reader("bucc")
def bucc(template: str, config: str | None, split: str, spec: dict) -> tuple[pl.DataFrame, str]:
    """The BUCC 2018 release of one language pair (config `<xx>-en`): for each of its splits
    `sample` (the tune part, XTREME's dev) and `training` (the test part, XTREME's test)
    the files `<local>.<xx>` and `<local>.en` (`id<TAB>sentence`) and `<local>.gold`
    (`xx_id<TAB>en_id`), `local` naming `.../{config}.{split}` (the release's
    `bucc2018/de-en/de-en.training`). One row per sentence (sid, side, part, sentence,
    gold_sid: on an xx row the sid of its English translation), which the mining format
    completes (xlrobust.formats.mining). A gold id missing from its side, an xx id in two
    gold pairs, duplicate ids and empty sentences are errors naming file and line."""
    xx = (config or "").split("-")[0]
    if not xx or config != f"{xx}-en":
        raise XlrobustError(f"local_format bucc: config '{config}' is not '<xx>-en' (e.g. de-en)")
    rows, sources = [], []
    for release, part in BUCC_PARTS.items():
        paths = {s: path_of(template + ".{side}", config, release, side=s) for s in (xx, "en", "gold")}
        sides = {"xx": _bucc_side(paths[xx]), "en": _bucc_side(paths["en"])}
        partner = _bucc_gold(paths["gold"], sides, {"xx": paths[xx].name, "en": paths["en"].name})
        for side, sentences in sides.items():
            for sid, sentence in sentences.items():
                gold = f"{part}-en-{partner[sid]}" if side == "xx" and sid in partner else None
                rows.append((f"{part}-{side}-{sid}", side, part, sentence, gold))
        sources.append(f"{paths[xx]} + .en + .gold")
    schema = {"sid": pl.String, "side": pl.String, "part": pl.String, "sentence": pl.String, "gold_sid": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row"), " + ".join(sources)
