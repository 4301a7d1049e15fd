"""Real data, real model: UMSAB tweets (8 languages) and the pretrained MiniLM of
../shared/data/README.md, through the same loader, trainer and predictor as the
workflow. English fine-tuning, zero-shot prediction on the 7 other languages."""

import polars as pl
import pytest

from xlrobust import data
from xlrobust.predict import predict
from xlrobust.tasks import UMSAB_LANGS
from xlrobust.train import train


@pytest.mark.slow
def test_umsab_minilm_english_beats_chance_zero_shot_on_seven(shared_data, minilm_dir, tmp_path):
    spec = {"task": "tweet_sentiment_multilingual",
            "local": str(shared_data / "umsab/{config}/{split}_text.txt"),
            "local_labels": str(shared_data / "umsab/{config}/{split}_labels.txt"),
            "local_splits": {"validation": "val"}, "langs": sorted(UMSAB_LANGS)}
    data.prepare("umsab", spec, tmp_path / "data")
    model = tmp_path / "model"
    info = train(minilm_dir, str(tmp_path / "data/train.parquet"), str(tmp_path / "data/validation.parquet"),
                 str(model), num_labels=3, seed=1,
                 hp={"lr": 5e-5, "epochs": 1, "batch_size": 32, "max_length": 64})
    assert info["dev"]["eval_accuracy"] > 0.45
    out = tmp_path / "pred.parquet"
    predict(str(model), [str(tmp_path / "data/test.parquet")], [str(out)], max_length=64)
    acc = dict(pl.read_parquet(out).group_by("lang").agg((pl.col("pred") == pl.col("label")).mean()).iter_rows())
    print("UMSAB test accuracy:", {k: round(v, 3) for k, v in sorted(acc.items())})
    assert sorted(acc) == sorted(UMSAB_LANGS)
    assert acc["en"] > 0.5  # chance: 1/3 (balanced classes)
    assert all(0.2 < v < 1 for v in acc.values())
