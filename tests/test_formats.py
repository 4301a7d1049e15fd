"""The format design: a format is one place. A toy format defined here, in a few lines,
goes through prepare -> finetune -> predict -> score without any stage module knowing it;
and no stage compares format names."""

import json
import re
from pathlib import Path

import polars as pl

from xlrobust.formats import FORMATS, get_format, register
from xlrobust.formats.classify import Classify

from conftest import REPO, SENTIMENT


class Polarity(Classify):
    """A toy format: one text, yes/no, its own table (no second sentence column)."""

    name = "toy_polarity"
    schema = {"id": pl.String, "lang": pl.String, "text_a": pl.String, "label": pl.Int64}
    sides = {"a": ("text_a",)}
    default_side = "a"

    def texts(self, df):
        return df["text_a"].to_list(), None

    def check(self, df, labels, source, raw_name):
        if (df["label"] < 0).any() or (df["label"] >= len(labels)).any():
            raise ValueError("label outside the toy's labels")


def test_a_toy_format_runs_through_prepare_finetune_predict_score(tiny_encoder, tmp_path, monkeypatch):
    from xlrobust import data, tasks
    from xlrobust.predict import predict
    from xlrobust.probes import perturb
    from xlrobust.score import score
    from xlrobust.train import finetune

    register(Polarity())
    task = tasks.Task(
        name="toy_task",
        hub=None,
        format="toy_polarity",
        needs=("sentence", "positive"),
        fields={"text_a": pl.col("sentence"), "label": pl.col("positive").cast(pl.Int64)},
        labels=("no", "yes"),
        local_only="toy data lives in tests",
    )
    monkeypatch.setitem(tasks.TASKS, "toy_task", task)
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = [{"sentence": t, "positive": int(y == 2)} for t, y in SENTIMENT if y != 1]
    for split in ("train", "validation", "test"):
        (raw / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta = data.prepare("toy", {"task": "toy_task", "local": str(raw / "{split}.jsonl")}, tmp_path / "data")
    assert meta["format"] == "toy_polarity"
    model = tmp_path / "model"
    finetune(
        tiny_encoder,
        str(tmp_path / "data"),
        str(model),
        seed=1,
        hp={"lr": 3e-3, "epochs": 20, "batch_size": 4, "max_length": 32, "warmup_ratio": 0.0},
    )
    test = tmp_path / "data" / "test.parquet"
    perturb(str(test), "en", ["word_drop"], [0.3], [1], [str(tmp_path / "p.parquet")])
    run = {"model": "tiny", "recipe": "none", "target": "toy", "seed": 1}
    predict(
        str(model),
        [str(test), str(tmp_path / "p.parquet")],
        [str(tmp_path / "clean.parquet"), str(tmp_path / "pert.parquet")],
        run=run,
    )
    scores, _ = score([str(tmp_path / "clean.parquet"), str(tmp_path / "pert.parquet")], [])
    acc = scores.filter((pl.col("metric") == "accuracy") & (pl.col("probe") == "clean") & (pl.col("language") == "en"))
    assert acc["value"][0] > 0.8  # the toy learnt its training data
    assert set(scores["metric"]) >= {"accuracy", "accuracy_drop", "flip_rate", "macro_f1"}
    assert pl.read_parquet(tmp_path / "pert.parquet")["probe"][0] == "word_drop"
    FORMATS.pop("toy_polarity")


def test_no_stage_compares_format_names():
    """Stages ask the format; format names appear only in formats/ (and the registry names
    each task's format)."""
    names = "|".join(
        ["classify", "choice", "span_qa", "tagging", "mlm", "retrieval", "single", "pair", "mc", "qa", "tag"]
    )
    pattern = re.compile(rf"""(==|!=|\bin)\s*\(?\s*["']({names})["']|["']({names})["']\s*(==|!=)""")
    offenders = []
    for f in sorted((REPO / "src" / "xlrobust").rglob("*.py")):
        if "formats" in f.parts:
            continue
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{f.relative_to(REPO)}:{i}: {line.strip()}")
    assert offenders == []


def test_every_format_declares_what_stages_ask():
    for name in ("classify", "choice", "span_qa", "tagging", "mlm", "retrieval"):
        fmt = get_format(name)
        assert fmt.schema["id"] == pl.String and fmt.schema["lang"] == pl.String
        assert fmt.head.startswith("AutoModel")
        if fmt.metric:
            assert fmt.prediction_columns and fmt.sides and fmt.default_side in fmt.sides
    assert get_format("mc") is get_format("choice")  # datasets prepared before formats were modules
    assert Path(get_format("classify").__class__.__module__.replace(".", "/") + ".py").name == "classify.py"
