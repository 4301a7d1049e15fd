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


def _squad_answers(path: Path, qid: str, answers) -> dict:
    """The answers of one question as the Hub's struct of lists; one error naming the
    question and the field for anything else."""
    if not isinstance(answers, list):
        raise XlrobustError(f"{path}: question {qid}: field 'answers' is not a list of {{text, answer_start}}")
    texts, starts = [], []
    for k, a in enumerate(answers):
        text, start = (a.get("text"), a.get("answer_start")) if isinstance(a, dict) else (None, None)
        if not isinstance(text, str) or not isinstance(start, int) or isinstance(start, bool):
            raise XlrobustError(
                f"{path}: question {qid}: answer {k} in field 'answers' needs a 'text' string and an integer "
                f"'answer_start' (got {a!r:.80})"
            )
        texts.append(text)
        starts.append(start)
    return {"text": texts, "answer_start": starts}


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
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise XlrobustError(f"{path}: not valid UTF-8 (byte {e.start}); convert the file to UTF-8") from None
    except json.JSONDecodeError as e:
        raise XlrobustError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
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
            context = par.get("context") if isinstance(par, dict) else None
            qas = par.get("qas") if isinstance(par, dict) else None
            if not isinstance(context, str) or not isinstance(qas, list):
                raise XlrobustError(f"{path}: article {a}, paragraph {p}: needs a 'context' string and a 'qas' list")
            for q, qa in enumerate(qas):
                where = f"a{a}-p{p}-q{q}"
                raw_id = qa.get("id") if isinstance(qa, dict) else None
                if raw_id is None and not by_position:
                    raise XlrobustError(f"{path}: article {a}, paragraph {p}, question {q}: no 'id'")
                qid = where if by_position else str(raw_id)
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
                        "answers": _squad_answers(path, qid, qa.get("answers", [])),
                    }
                )
    return pl.DataFrame(rows, schema=SQUAD_JSON_SCHEMA), str(path)


# ---- tagging: CoNLL-U and CoNLL token<TAB>tag ------------------------------------------ (issue 18)

# ---- XCOPA / COPA / SIQA and bitext retrieval (Tatoeba, BUCC) ---------------------------- (issue 19)
