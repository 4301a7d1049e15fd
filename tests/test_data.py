import json
import time

import polars as pl
import pytest

from xlrobust import data
from xlrobust.errors import XlrobustError
from xlrobust.io import read_examples
from xlrobust.tasks import TASKS, UMSAB_LANGS

from conftest import REPO


def test_demo_sentiment_through_local_loader(tmp_path):
    spec = {"task": "tweet_sentiment_multilingual", "local": str(REPO / "demo/sentiment/{config}/{split}.jsonl"),
            "langs": ["en", "de", "es", "fr", "ar"]}
    meta = data.prepare("demo_sentiment", spec, tmp_path)
    test = read_examples(tmp_path / "test.parquet")
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
    val = read_examples(tmp_path / "validation.parquet")
    assert val.height == 90 and val["text_b"].null_count() == 0
    assert val["id"][0].startswith("en-")  # the dataset's own idx, prefixed by language


def test_umsab_text_and_label_files_all_languages(shared_data, tmp_path):
    spec = {"task": "tweet_sentiment_multilingual", "local": str(shared_data / "umsab/{config}/{split}_text.txt"),
            "local_labels": str(shared_data / "umsab/{config}/{split}_labels.txt"),
            "local_splits": {"validation": "val"}, "langs": sorted(UMSAB_LANGS)}
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


@pytest.mark.parametrize("rows, message", [
    ([{"text": "ok", "label": 1}, {"label": 2}], "missing column 'text'"),
    ([{"text": "ok", "label": 1}, {"text": "  ", "label": 2}], "row 1: empty text in column 'text'"),
    ([{"text": "ok", "label": 1}, {"text": "fine", "label": 7}], "row 1: label outside the label map"),
])
def test_validation_names_file_row_column(tmp_path, rows, message):
    if message.startswith("missing"):
        rows = [{"label": 1}, {"label": 2}]
    template = _write(tmp_path, rows)
    with pytest.raises(XlrobustError, match=message.replace("(", r"\(")) as e:
        data.load("x", {"task": "tweet_sentiment_multilingual", "local": template}, "train", "en")
    assert "train.jsonl" in str(e.value) and "\n" not in str(e.value)


def test_duplicate_id(tmp_path):
    template = _write(tmp_path, [{"premise": "a", "hypothesis": "b", "label": 0, "idx": 1},
                                 {"premise": "c", "hypothesis": "d", "label": 1, "idx": 1}])
    with pytest.raises(XlrobustError, match="row 1: duplicate id 'en-1'"):
        data.load("x", {"task": "mnli", "local": template}, "train", "en")


def test_unknown_language_and_missing_split(tmp_path):
    template = _write(tmp_path, [{"text": "ok", "label": 1}])
    with pytest.raises(XlrobustError, match="language 'xx' not offered by tweet_sentiment_multilingual"):
        data.load("x", {"task": "tweet_sentiment_multilingual", "local": template}, "train", "xx")
    with pytest.raises(XlrobustError, match="test.jsonl: file not found"):
        data.load("x", {"task": "tweet_sentiment_multilingual", "local": template}, "test", "en")


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
