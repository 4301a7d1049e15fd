import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from safetensors.torch import load_file

from xlrobust.errors import XlrobustError
from xlrobust.predict import Classifier, predict
from xlrobust.train import train


@pytest.fixture(scope="module")
def trained(tiny_encoder, sentiment_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "target"
    info = train(
        tiny_encoder,
        sentiment_file,
        sentiment_file,
        str(out),
        num_labels=3,
        seed=1,
        hp={"lr": 3e-3, "epochs": 25, "batch_size": 6, "max_length": 32, "warmup_ratio": 0.0},
    )
    return str(out), info


def test_tiny_model_beats_chance_on_its_training_data(trained, sentiment_file, tmp_path):
    model, info = trained
    out = tmp_path / "pred.parquet"
    predict(model, [sentiment_file], [str(out)])
    pred = pl.read_parquet(out)
    acc = (pred["pred"] == pred["label"]).mean()
    assert acc > 0.6, acc  # chance is 1/3
    assert info["dev"]["eval_accuracy"] == pytest.approx(acc, abs=1e-6)  # English dev selection saw the same
    assert pred.columns[-5:] == ["id", "lang", "label", "pred", "logits"]
    assert pred.columns[:8] == ["model", "recipe", "target", "seed", "probe", "rate", "pseed", "format"]  # keys as data
    assert not list(Path(model).parent.glob("*.checkpoints"))  # checkpoints removed after success


def test_intermediate_keeps_encoder_drops_head(tiny_encoder, sentiment_file, tmp_path):
    inter = tmp_path / "inter"
    train(
        tiny_encoder,
        sentiment_file,
        sentiment_file,
        str(inter),
        num_labels=3,
        seed=2,
        hp={"lr": 1e-3, "epochs": 1, "batch_size": 6},
        keep="encoder",
    )
    enc = load_file(inter / "model.safetensors")
    assert not any("classifier" in k for k in enc)
    assert json.loads((inter / "config.json").read_text())["architectures"] == ["BertModel"]
    target = tmp_path / "target"
    train(
        str(inter),
        sentiment_file,
        sentiment_file,
        str(target),
        num_labels=2 + 1,
        seed=3,
        hp={"lr": 1e-9, "epochs": 1, "batch_size": 64},
    )  # ~no update: weights stay what was loaded
    tgt = load_file(target / "model.safetensors")
    base = load_file(Path(tiny_encoder) / "model.safetensors")
    shared = [k for k in enc if f"bert.{k}" in tgt]
    assert len(shared) > 10
    for k in shared:  # the encoder is carried over (not the pretrained one: it was trained)
        assert np.allclose(enc[k].numpy(), tgt[f"bert.{k}"].numpy(), atol=1e-6), k
    assert any(not np.allclose(enc[k].numpy(), base[k].numpy()) for k in shared)
    assert "classifier.weight" in tgt  # a fresh head


def test_predict_order_and_batching_do_not_change_logits(trained, sentiment_file):
    model, _ = trained
    df = pl.read_parquet(sentiment_file)
    texts = df["text_a"].to_list()
    big = Classifier(model, batch_size=64).logits(texts)
    one = np.concatenate([Classifier(model, batch_size=1).logits([t]) for t in texts[:5]])
    assert np.allclose(big[:5], one, atol=1e-4)


def test_predict_rejects_mismatched_lists_and_missing_weights(trained, sentiment_file, tmp_path):
    model, _ = trained
    with pytest.raises(XlrobustError, match="one output per input"):
        predict(model, [sentiment_file, sentiment_file], [str(tmp_path / "a.parquet")])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(XlrobustError, match="no \\*.safetensors weights"):
        predict(str(tmp_path / "empty"), [sentiment_file], [str(tmp_path / "a.parquet")])
    assert not (tmp_path / "a.parquet").exists()


def test_hub_model_offline_fails_fast_naming_fix(monkeypatch, tmp_path):
    import time

    from xlrobust.models import fetch

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the network is simply absent here
    t = time.time()
    with pytest.raises(XlrobustError) as e:
        fetch("FacebookAI/xlm-roberta-base", tmp_path / "m", name="xlmr")
    assert time.time() - t < 10
    assert "FacebookAI/xlm-roberta-base" in str(e.value) and "models.xlmr.source" in str(e.value)
    assert not (tmp_path / "m").exists()


def test_finetune_rejects_labels_beyond_num_labels_before_training(tiny_encoder, tmp_path):
    from conftest import make_examples

    bad = tmp_path / "t.parquet"
    make_examples([("good", None, 0), ("bad", None, 5)]).write_parquet(bad)
    with pytest.raises(XlrobustError, match=r"t.parquet: row 1: label 5 outside 0..2"):
        train(tiny_encoder, str(bad), str(bad), str(tmp_path / "out"), num_labels=3, seed=1)
    assert not list(tmp_path.glob("out*"))  # no checkpoints, no model


def test_truncated_weights_are_one_clear_error(trained, sentiment_file, tmp_path):
    import shutil

    model, _ = trained
    cut = tmp_path / "cut"
    shutil.copytree(model, cut)
    w = cut / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    with pytest.raises(XlrobustError, match="cannot be loaded"):
        predict(str(cut), [sentiment_file], [str(tmp_path / "p.parquet")])


def test_predict_and_attack_run_the_model_at_its_training_max_length(trained):
    """Issue 14: predict and attack used 128 tokens whatever the target was trained with."""
    model, info = trained
    assert info["hp"]["max_length"] == 32
    long = " ".join(["the food was great and the movie was terrible"] * 8)  # > 32 tokens
    default = Classifier(model).logits([long])
    assert np.allclose(default, Classifier(model, max_length=32).logits([long]), atol=1e-6)
    assert not np.allclose(default, Classifier(model, max_length=60).logits([long]), atol=1e-4)
    assert Classifier(model).max_length == 32 and Classifier(model, max_length=48).max_length == 48
