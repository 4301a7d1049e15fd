import numpy as np
import polars as pl
import pytest

from xlrobust import layout
from xlrobust.score import mean_ci, score, summary
from xlrobust.report import mark_changes, write_report

from conftest import REPO


def _pred(path, ids, labels, preds, lang="en"):
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"id": ids, "lang": [lang] * len(ids), "label": labels, "pred": preds,
                  "logits": [[0.0, 1.0]] * len(ids)}).write_parquet(path)
    return str(path)


@pytest.fixture()
def files(tmp_path):
    ids = ["a", "b", "c", "d"]
    clean = _pred(tmp_path / layout.clean_prediction("m", "none", "t", 1), ids, [1, 0, 1, 0], [1, 0, 1, 1])  # 3/4
    pert = _pred(tmp_path / layout.perturbed_prediction("m", "none", "t", 1, "en", "char_swap", 0.2, 1),
                 ids, [1, 0, 1, 0], [0, 0, 1, 0])  # 3/4 correct, flips a and d
    atk = tmp_path / layout.attack("m", "none", "t", 1, "en", "deepwordbug")
    atk.parent.mkdir(parents=True)
    pl.DataFrame({"id": ids, "lang": ["en"] * 4, "label": [1, 0, 1, 0],
                  "status": ["succeeded", "failed", "skipped", "succeeded"], "num_queries": [10, 30, 0, 20],
                  "words_perturbed": [1, 0, 0, 2], "words_total": [4, 4, 4, 4],
                  "text_a": ["x"] * 4, "text_b": [None] * 4, "perturbed_text_a": ["y"] * 4,
                  "perturbed_text_b": [None] * 4, "pred": [1, 0, 0, 0], "perturbed_pred": [0, 0, 0, 1]},
                 schema_overrides={"text_b": pl.String, "perturbed_text_b": pl.String}).write_parquet(atk)
    return [clean, pert], [str(atk)]


def test_hand_computed_metrics(files):
    preds, atks = files
    s = score(preds, atks)
    get = lambda probe, metric: s.filter((pl.col("probe") == probe) & (pl.col("metric") == metric))["value"][0]
    assert get("clean", "accuracy") == 0.75
    assert get("char_swap", "accuracy") == 0.75
    assert get("char_swap", "flip_rate") == 0.5
    assert get("char_swap", "accuracy_drop") == 0.0
    assert get("attack:deepwordbug", "attack_success_rate") == pytest.approx(2 / 3)  # skipped not attacked
    assert get("attack:deepwordbug", "accuracy_under_attack") == 0.25
    assert get("attack:deepwordbug", "mean_queries") == 20
    assert get("attack:deepwordbug", "perturbed_words_pct") == pytest.approx(37.5)
    assert set(s.columns) == {"model", "recipe", "target", "seed", "language", "probe", "rate", "metric",
                              "value", "ci_low", "ci_high", "n"}
    m = summary(s)["m/none/t"]
    assert m["clean"]["accuracy"] == 0.75 and m["char_swap@0.2"]["flip_rate"] == 0.5


def test_bootstrap_interval_covers_true_mean():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(100):
        x = rng.random(60) < 0.7
        _, lo, hi = mean_ci(x, seed=int(rng.integers(1e6)))
        hits += lo <= 0.7 <= hi
    assert 88 <= hits <= 99  # nominal 95%
    assert mean_ci(np.array([])) == (None, None, None)


def test_report_escapes_text_and_shows_languages(files, tmp_path):
    preds, atks = files
    evil_a, evil_b = "<script>alert(1)</script>", '"><img src=x onerror=alert(2)>'
    df = pl.read_parquet(atks[0]).with_columns(text_a=pl.lit(evil_a), perturbed_text_a=pl.lit(evil_b))
    df.write_parquet(atks[0])
    s = score(preds, atks)
    s.write_parquet(tmp_path / "scores.parquet")
    import yaml

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["study"]["demo"].update(models=["m"], recipes=["none"], targets=["t"], seeds=[1])
    out = tmp_path / "report.html"
    write_report(cfg, str(tmp_path / "scores.parquet"), atks, [], [], str(out))
    html = out.read_text()
    assert "<script" not in html and "<img" not in html
    plain = __import__("re").sub(r"</?(ins|del)>", "", html)  # drop the change marks
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in plain  # shown, as text
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in plain
    assert "<th>en</th>" in html  # the language column of the tables
    assert "Content-Security-Policy" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_mark_changes():
    a, b = mark_changes("good <b>", "g0od <b>")
    assert a == "g<del>o</del>od &lt;b&gt;" and b == "g<ins>0</ins>od &lt;b&gt;"
