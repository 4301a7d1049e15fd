"""The format design: a format is one package. A toy format, a package of a few lines
written by the test, goes through prepare -> finetune -> predict -> score once registered,
without any stage module knowing it; and no stage compares format names."""

import importlib
import json
import re
import sys
from pathlib import Path

import polars as pl

from xlrobust.formats import FORMATS, get_format, register

from conftest import REPO, SENTIMENT

# A new format: one package (formats/<name>/__init__.py, importing formats.base or another
# format's package, never the registry), then one line to register it.
TOY_PACKAGE = '''"""A toy format: one text, yes/no, its own table (no second sentence column)."""

import polars as pl

from xlrobust.formats.classify import Classify


class Polarity(Classify):
    name = "toy_polarity"
    schema = {"id": pl.String, "lang": pl.String, "text_a": pl.String, "label": pl.Int64}
    sides = {"a": ("text_a",)}
    default_side = "a"

    def texts(self, df):
        return df["text_a"].to_list(), None

    def check(self, df, labels, source, raw_name):
        if (df["label"] < 0).any() or (df["label"] >= len(labels)).any():
            raise ValueError("label outside the toy's labels")


TOY_POLARITY = Polarity()
'''


def test_a_toy_format_runs_through_prepare_finetune_predict_score(tiny_encoder, tmp_path, monkeypatch, request):
    from xlrobust import data, tasks
    from xlrobust.predict import predict
    from xlrobust.probes import perturb
    from xlrobust.score import score
    from xlrobust.train import finetune

    (tmp_path / "src" / "toy_polarity").mkdir(parents=True)
    (tmp_path / "src" / "toy_polarity" / "__init__.py").write_text(TOY_PACKAGE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    request.addfinalizer(lambda: (FORMATS.pop("toy_polarity", None), sys.modules.pop("toy_polarity", None)))
    toy = importlib.import_module("toy_polarity")
    assert "toy_polarity" not in FORMATS  # a package alone is not yet a format
    assert register(toy.TOY_POLARITY) is get_format("toy_polarity")  # the one registry line
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


def test_a_format_package_imports_neither_the_registry_nor_a_stage():
    """The registry (xlrobust.formats) imports the format packages; a package imports
    formats.base, other formats' packages and the shared primitives, never the registry or a
    stage, and its modules never import their own package back: adding a format adds no loop."""
    import grimp

    graph = grimp.build_graph("xlrobust")
    stages = ("cli", "config", "data", "tasks", "train", "predict", "attack", "score", "report", "estimate", "dvcgen")
    upward = {"xlrobust.formats"} | {f"xlrobust.{s}" for s in stages}  # the registry and the stages
    packages = {m for m in graph.find_children("xlrobust.formats") if m != "xlrobust.formats.base"}
    assert {"xlrobust.formats.classify", "xlrobust.formats.span_qa", "xlrobust.formats.dual"} <= packages
    offenders = []
    for pkg in sorted(packages):
        for module in sorted({pkg} | graph.find_descendants(pkg)):
            imported = graph.find_modules_directly_imported_by(module)
            offenders += [
                f"{module} -> {m}"
                for m in sorted(imported)
                if m in upward or ".".join(m.split(".")[:2]) in upward - {"xlrobust.formats"}
            ]
            if module != pkg and pkg in imported:
                offenders.append(f"{module} -> {pkg} (its own package)")
    assert offenders == []
    for name, fmt in FORMATS.items():  # each registered format comes from its own package
        assert fmt.__class__.__module__ == f"xlrobust.formats.{name}", name
