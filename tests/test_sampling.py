"""`max_examples` keeps a seeded random sample (xlrobust.sampling.ranked), not a file's head:
a function of the seed and each row's id only, so a slice holding the sampled rows gives the
same sample, parallel languages share items, a QA cap spans articles; `sample: {order: head}`
keeps the first rows; the seed is recorded; the attack takes a subset of the clean sample."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from xlrobust import data, sampling
from xlrobust.report.provenance import provenance


def copa_rows(ids: list[int]) -> list[dict]:
    return [
        {
            "premise": f"Premise {i}.",
            "choice1": f"One {i}.",
            "choice2": f"Two {i}.",
            "question": "cause",
            "label": i % 2,
        }
        | {"idx": i}
        for i in ids
    ]


def write_jsonl(path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def copa_spec(tmp_path, cap: int | None, **sample) -> dict:
    spec = {"task": "xcopa", "local": str(tmp_path / "{split}-{lang}.jsonl"), "splits": ["test"], "langs": ["et"]}
    if cap:
        spec["max_examples"] = {"test": cap}
    if sample:
        spec["sample"] = sample
    return spec


def sampled_ids(spec: dict, lang: str = "et", split: str = "test") -> list[str]:
    df, _ = data.load("d", spec, split, lang)
    return list(df["id"])


def test_a_cap_is_a_seeded_sample_that_any_slice_holding_its_rows_gives_again(tmp_path):
    """Subset-stability: the sample of 200 rows is the sample of any slice of them (in any
    order) that holds the chosen rows; another seed chooses other rows; neither is the head."""
    write_jsonl(tmp_path / "test-et.jsonl", copa_rows(list(range(200))))
    chosen = sampled_ids(copa_spec(tmp_path, 10))
    assert len(chosen) == 10 and chosen != [f"et-{i}" for i in range(10)]
    numbers = sorted(int(i.split("-")[1]) for i in chosen)
    assert numbers[-1] >= 20  # spread over the file, not its first rows
    for extra in ([], list(range(150, 200)), list(range(0, 200, 7))):
        keep = sorted(set(numbers) | set(extra), reverse=True)  # reversed file order: order does not matter
        write_jsonl(tmp_path / "test-et.jsonl", copa_rows(keep))
        assert sampled_ids(copa_spec(tmp_path, 10)) == chosen
    write_jsonl(tmp_path / "test-et.jsonl", copa_rows(list(range(200))))
    other = sampled_ids(copa_spec(tmp_path, 10, seed=1))
    assert set(other) != set(chosen) and len(other) == 10
    assert sampled_ids(copa_spec(tmp_path, 10, seed=1)) == other  # the same seed, the same sample


def test_head_keeps_the_first_rows_and_a_cap_past_the_end_keeps_every_row(tmp_path):
    write_jsonl(tmp_path / "test-et.jsonl", copa_rows(list(range(30))))
    assert sampled_ids(copa_spec(tmp_path, 5, order="head")) == [f"et-{i}" for i in range(5)]
    every = sampled_ids(copa_spec(tmp_path, 500))
    assert sorted(every) == sorted(f"et-{i}" for i in range(30))
    assert sampled_ids(copa_spec(tmp_path, None)) == [f"et-{i}" for i in range(30)]  # uncapped: file order


def test_parallel_languages_share_their_sampled_items(tmp_path):
    """XCOPA-like files whose ids are the same items in every language: the same sample."""
    for lang in ("et", "it", "sw"):
        write_jsonl(tmp_path / f"test-{lang}.jsonl", copa_rows(list(range(100))))
    spec = {**copa_spec(tmp_path, 12), "langs": ["et", "it", "sw"]}
    per_lang = {lang: [i.split("-", 1)[1] for i in sampled_ids(spec, lang)] for lang in ("et", "it", "sw")}
    assert per_lang["et"] == per_lang["it"] == per_lang["sw"]


def test_rows_without_ids_get_content_ids_so_a_slice_keeps_their_sample(tmp_path):
    """PAN-X's `token<TAB>tag` sentences have no ids: a position would change in a slice, a
    content id does not (a repeated sentence is numbered, and its earlier copy stays beside it)."""
    sentences = [[(f"w{i}", "O"), (f"Paris{i % 40}", "B-LOC")] for i in range(120)]
    sentences.append(sentences[3])  # a repeat: its id is the first copy's with -2

    def write(rows):
        (tmp_path / "dev-de.tsv").write_text(
            "".join("".join(f"{t}\t{g}\n" for t, g in s) + "\n" for s in rows), encoding="utf-8"
        )

    write(sentences)
    spec = {
        "task": "panx",
        "local": str(tmp_path / "{split}-{config}.tsv"),
        "local_format": "conll_tags",
        "local_splits": {"test": "dev"},
        "splits": ["test"],
        "langs": ["de"],
    }
    whole = sampled_ids(spec, "de")
    assert whole[-1] == whole[3] + "-2" and all(re.fullmatch(r"de-test-[0-9a-f]{16}(-2)?", i) for i in whole)
    for cap in (8, 100):  # 100: the repeat is sampled, its first copy too
        chosen = sampled_ids({**spec, "max_examples": {"test": cap}}, "de")
        first_copy = whole[-1] in chosen
        assert first_copy == (cap == 100)
        write([s for s, i in zip(sentences, whole) if i in chosen or (first_copy and i == whole[3])])
        assert sampled_ids({**spec, "max_examples": {"test": cap}}, "de") == chosen
        write(sentences)


def squad(articles: list[tuple[str, int]]) -> dict:
    """A SQuAD v1.1 file: per article (title, questions), one paragraph of its questions."""
    doc, n = [], 0
    for title, k in articles:
        qas = []
        for _ in range(k):
            qas.append({"id": f"q{n}", "question": f"Where is {n}?", "answers": [{"text": "here", "answer_start": 0}]})
            n += 1
        doc.append({"title": title, "paragraphs": [{"context": f"here is {title}.", "qas": qas}]})
    return {"version": "1.1", "data": doc}


def test_a_qa_cap_spans_articles_where_the_head_is_one_article(tmp_path, capsys):
    """XQuAD's first 40 questions are one article: a 40-question sample is not, and the job
    log says how many articles and paragraphs the capped split covers."""
    doc = squad([("Super_Bowl_50", 60)] + [(f"Article_{a}", 15) for a in range(8)])
    (tmp_path / "test-de.json").write_text(json.dumps(doc), encoding="utf-8")
    spec = {
        "task": "mlqa",
        "local": str(tmp_path / "{split}-{lang}.json"),
        "local_format": "squad_json",
        "splits": ["test"],
        "langs": ["de"],
        "max_examples": {"test": 40},
    }
    head, _ = data.load("q", {**spec, "sample": {"order": "head"}}, "test", "de")
    assert head["text_b"].n_unique() == 1  # the file's head: one article
    capsys.readouterr()
    sample, _ = data.load("q", spec, "test", "de")
    assert sample.height == 40 and sample["text_b"].n_unique() > 4
    log = capsys.readouterr().out
    k = sample["text_b"].n_unique()
    assert (
        f"test de: 40 of 180 rows (max_examples 40), a random sample (seed 0), spanning {k} articles, {k} paragraphs"
        in log
    )
    assert "(of 9 articles, 9 paragraphs)" in log


def test_the_seed_is_recorded_in_meta_and_provenance(tmp_path):
    write_jsonl(tmp_path / "test-et.jsonl", copa_rows(list(range(50))))
    metas = []
    for seed in (0, 7):
        meta = data.prepare("d", copa_spec(tmp_path, 10, seed=seed), tmp_path / f"out{seed}")
        assert meta["sample"] == {"order": "random", "seed": seed} and meta["max_examples"] == {"test": 10}
        metas.append(str(tmp_path / f"out{seed}" / "meta.json"))
    cfg = {"models": {}}
    html = provenance(cfg, metas, [])
    assert "max_examples test 10: a seeded random sample, seed 0" in html
    assert "max_examples test 10: a seeded random sample, seed 7" in html
    data.prepare("h", copa_spec(tmp_path, 10, order="head"), tmp_path / "head")
    assert "max_examples test 10: the first rows" in provenance(cfg, [str(tmp_path / "head" / "meta.json")], [])


@pytest.mark.parametrize("cap", [None, 30])
def test_the_attacks_first_examples_are_a_random_subset_of_the_clean_sample(tmp_path, cap):
    """The attack's max_examples takes the first rows in the sample order (sampling.in_sample_order):
    with or without a cap on the test set, the 5 attacked are the 5 first-ranked of the clean
    sample, not the file's first 5."""
    write_jsonl(tmp_path / "test-et.jsonl", copa_rows(list(range(100))))
    data.prepare("d", copa_spec(tmp_path, cap), tmp_path / "out")
    table = pl.read_parquet(tmp_path / "out" / "test.parquet")
    attacked = sampling.in_sample_order(table, "et", tmp_path / "out" / "test.parquet").head(5)["id"].to_list()
    assert attacked == sampled_ids(copa_spec(tmp_path, 5))
    assert set(attacked) <= set(table["id"]) and attacked != [f"et-{i}" for i in range(5)]
    data.prepare("d", copa_spec(tmp_path, cap, order="head"), tmp_path / "head")
    table = pl.read_parquet(tmp_path / "head" / "test.parquet")
    assert sampling.in_sample_order(table, "et", tmp_path / "head" / "test.parquet").head(5)["id"].to_list() == [
        f"et-{i}" for i in range(5)
    ]
