"""The `precision` setting (fp32 / bf16 / auto) of training, prediction, retrieval and
attacks: what auto chooses, that bf16 runs and is recorded, and that scoring never
compares runs of different precisions."""

import json
import os
from pathlib import Path

import jsonschema
import numpy as np
import polars as pl
import pytest
import torch

from xlrobust import config, models
from xlrobust.errors import XlrobustError
from xlrobust.predict import Classifier, length_batches, predict
from xlrobust.train import train

CPU, CUDA, MPS = torch.device("cpu"), torch.device("cuda"), torch.device("mps")


def test_auto_is_bf16_where_the_hardware_has_it_and_the_stage_gains(monkeypatch):
    monkeypatch.setattr(models, "cpu_bf16_units", lambda: True)
    assert {s: models.resolve_precision("auto", CPU, s) for s in ("train", "predict", "retrieval", "attack")} == {
        s: "bf16" if s in models.CPU_BF16_STAGES else "fp32" for s in ("train", "predict", "retrieval", "attack")
    }
    monkeypatch.setattr(models, "CPU_BF16_STAGES", frozenset({"predict"}))
    assert models.resolve_precision(None, CPU, "train") == "fp32"  # a stage the bench kept in fp32
    assert models.resolve_precision("bf16", CPU, "train") == "bf16"  # asked for: given
    monkeypatch.setattr(models, "cpu_bf16_units", lambda: False)
    assert models.resolve_precision("auto", CPU, "predict") == "fp32"
    assert models.resolve_precision("fp32", CPU, "predict") == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert models.resolve_precision("auto", CUDA, "train") == "bf16"  # a GPU decides by itself, every stage
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert models.resolve_precision("auto", CUDA, "predict") == "fp32"
    with pytest.raises(XlrobustError, match="cuda device here has no bf16"):
        models.resolve_precision("bf16", CUDA, "predict")
    with pytest.raises(XlrobustError, match="mps device"):
        models.resolve_precision("bf16", MPS, "predict")
    with pytest.raises(XlrobustError, match="precision 'fp16': choose one of auto, fp32, bf16"):
        models.resolve_precision("fp16", CPU, "predict")


def test_this_machines_bf16_units_are_what_torch_reports():
    expected = torch.backends.mkldnn.is_available() and (
        torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    )
    assert models.cpu_bf16_units() == expected


def test_precision_is_a_checked_setting_of_every_stage():
    from xlrobust import config
    from xlrobust import settings as S
    from xlrobust.cli import parser

    schema = config.load_schema()
    for part in ("train", "predict", "attack"):
        prop = schema["$defs"][part]["properties"]["precision"]
        assert prop["enum"] == ["auto", "fp32", "bf16"] and prop["type"] == "string"
        jsonschema.validate({"precision": "bf16"}, schema["$defs"][part])
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"precision": "fp16"}, schema["$defs"][part])
    args = parser().parse_args(["predict", "--model", "m", "--data", "d", "--out", "o", "--precision", "fp32"])
    assert S.given(args, S.PredictSettings) == {"precision": "fp32"}
    with pytest.raises(SystemExit):
        parser().parse_args(["predict", "--model", "m", "--data", "d", "--out", "o", "--precision", "fp16"])


def test_length_batches_keep_padding_under_the_tolerance():
    rng = np.random.default_rng(0)
    lengths = np.concatenate([np.full(40, 384), rng.integers(20, 384, 200)])  # QA-like: full and last windows
    for min_tokens in (0, 2048):
        batches = length_batches(lengths, 64, 0.1, min_tokens)
        assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))  # every row once
        assert all(len(b) <= 64 for b in batches)
        assert batches[0][:40].tolist() == list(range(40))  # longest first: the full windows open the first batch
        for b in batches:
            if len(b) * lengths[b].max() >= min_tokens + lengths[b].max():  # past the minimum: within tolerance
                assert lengths[b[-1]] >= 0.9 * lengths[b].max()
        padded = sum(len(b) * lengths[b].max() for b in batches)
        assert padded < 1.1 * lengths.sum()
        fixed = sum(lengths[b].max() * len(b) for b in np.array_split(np.argsort(-lengths, kind="stable"), 4))
        assert padded < fixed  # less padding than 64-row batches of the sorted rows
    tweets = rng.integers(8, 40, 300)  # short rows: the minimum fills whole batches
    short = length_batches(tweets, 64)
    assert all(len(b) >= min(64, 2048 // tweets[b].max()) for b in short[:-1])
    assert len(short) <= 6
    assert [len(b) for b in length_batches(np.full(130, 7), 64)] == [64, 64, 2]


@pytest.fixture(scope="module")
def fp32_model(tiny_encoder, sentiment_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("prec") / "target"
    hp = {"lr": 3e-3, "epochs": 2, "batch_size": 6, "max_length": 32, "warmup_ratio": 0.0, "precision": "fp32"}
    info = train(tiny_encoder, sentiment_file, sentiment_file, str(out), num_labels=3, seed=1, hp=hp)
    return str(out), info


def test_training_records_its_precision_and_bf16_training_runs(tiny_encoder, sentiment_file, fp32_model, tmp_path):
    model, info = fp32_model
    assert info["precision"] == "fp32"
    assert json.loads((Path(model) / "xlrobust_train.json").read_text())["precision"] == "fp32"
    hp = {"lr": 3e-3, "epochs": 2, "batch_size": 6, "max_length": 32, "warmup_ratio": 0.0, "precision": "bf16"}
    out = tmp_path / "bf16"
    bf16 = train(tiny_encoder, sentiment_file, sentiment_file, str(out), num_labels=3, seed=1, hp=hp)
    assert bf16["precision"] == "bf16"
    from safetensors.torch import load_file

    weights = load_file(out / "model.safetensors")
    assert all(w.dtype == torch.float32 for w in weights.values())  # mixed precision: fp32 master weights
    assert bf16["train_losses"] != info["train_losses"]  # bf16 matmuls did run
    assert np.allclose(bf16["train_losses"], info["train_losses"], rtol=0.1)


def test_each_training_runs_in_its_own_precision_whatever_ran_before(
    tiny_encoder, sentiment_file, fp32_model, tmp_path, monkeypatch
):
    """fp32 then bf16, then bf16 then fp32 in one process: the Linear layers' outputs show
    autocast on in the bf16 training and off in the fp32 one, which repeats the first exactly
    (transformers leaves ACCELERATE_MIXED_PRECISION=bf16 in the environment after a bf16
    training, and a shell may have set it: neither may turn an fp32 training into bf16)."""
    from torch.nn.modules.module import register_module_forward_hook

    _, first = fp32_model  # an fp32 training earlier in this process

    def run(precision):
        dtypes = set()
        hook = register_module_forward_hook(
            lambda m, i, o: dtypes.add(o.dtype) if isinstance(m, torch.nn.Linear) else None
        )
        hp = {"lr": 3e-3, "epochs": 2, "batch_size": 6, "max_length": 32, "warmup_ratio": 0.0, "precision": precision}
        try:
            info = train(
                tiny_encoder, sentiment_file, sentiment_file, str(tmp_path / precision), num_labels=3, seed=1, hp=hp
            )
        finally:
            hook.remove()
        return info, dtypes

    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
    bf16, seen = run("bf16")
    assert seen == {torch.bfloat16} and bf16["train_losses"] != first["train_losses"]
    assert "ACCELERATE_MIXED_PRECISION" not in os.environ  # the environment given back as it was
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")  # what a bf16 Trainer leaves, or a shell sets
    fp32, seen = run("fp32")
    assert seen == {torch.float32} and fp32["train_losses"] == first["train_losses"]
    assert os.environ["ACCELERATE_MIXED_PRECISION"] == "bf16"


def test_bf16_prediction_is_recorded_close_to_fp32_and_never_scored_with_it(fp32_model, sentiment_file, tmp_path):
    from xlrobust.score import run as score

    model, _ = fp32_model
    texts = pl.read_parquet(sentiment_file)["text_a"].to_list()
    auto = Classifier(model)
    assert auto.precision == models.resolve_precision("auto", CPU, "predict")
    assert auto.train_precision == "fp32"
    lo = {}
    for p in ("fp32", "bf16"):
        m = Classifier(model, precision=p)
        assert (
            m.precision == p and next(m.model.parameters()).dtype == {"fp32": torch.float32, "bf16": torch.bfloat16}[p]
        )
        lo[p] = m.logits(texts)
    assert np.abs(lo["bf16"] - lo["fp32"]).max() > 0  # bf16 did run
    assert np.allclose(lo["bf16"], lo["fp32"], atol=0.05)

    run = {"model": "tiny", "recipe": "none", "target": "sent", "seed": 1}
    files = {}
    for p in ("fp32", "bf16"):
        files[p] = tmp_path / p / "clean.parquet"
        predict(model, [sentiment_file], [str(files[p])], run={**run, "recipe": f"r{p}"}, precision=p)
        df = pl.read_parquet(files[p])
        assert df["precision"].unique().to_list() == [p] and df["train_precision"].unique().to_list() == ["fp32"]
    with pytest.raises(XlrobustError, match=r"target 'sent': precision (fp32|bf16) in .* but (bf16|fp32) in"):
        score([str(files["fp32"]), str(files["bf16"])], [], str(tmp_path / "s.parquet"), str(tmp_path / "m.json"))
    assert not (tmp_path / "s.parquet").exists()
    scores = score([str(files["bf16"])], [], str(tmp_path / "s.parquet"), str(tmp_path / "m.json"))
    assert scores["precision"].unique().to_list() == ["bf16"]
    assert scores["train_precision"].unique().to_list() == ["fp32"]

    from xlrobust.report.provenance import provenance

    cfg = config.read(Path(__file__).resolve().parents[1] / "config.yaml")
    html = provenance(cfg, [], [], scores)
    assert "<td class='l'>precision sent</td><td class='l'>prediction and attacks bf16; training fp32</td>" in html
