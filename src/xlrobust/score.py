"""Robustness scoring with polars: a tidy score table, intervals, and DVC metrics."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from xlrobust import layout
from xlrobust.io import expand_paths, read_parquet, write_json, write_parquet

SCORE_SCHEMA = {
    "model": pl.String, "recipe": pl.String, "target": pl.String, "seed": pl.Int64, "language": pl.String,
    "probe": pl.String, "rate": pl.Float64, "metric": pl.String, "value": pl.Float64,
    "ci_low": pl.Float64, "ci_high": pl.Float64, "n": pl.Int64,
}
RUN_KEYS = ["model", "recipe", "target", "seed"]
BOOTSTRAP_RESAMPLES = 2000


def mean_ci(x: np.ndarray, seed: int = 0) -> tuple[float | None, float | None, float | None]:
    """Mean with a 95% percentile-bootstrap interval (scipy)."""
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return None, None, None  # nothing to measure (e.g. every attacked example was skipped)
    m = float(x.mean())
    if len(x) < 2 or np.all(x == x[0]):
        return m, m, m
    res = stats.bootstrap((x,), np.mean, n_resamples=BOOTSTRAP_RESAMPLES, confidence_level=0.95,
                          method="percentile", vectorized=True, rng=np.random.default_rng(seed))
    return m, float(res.confidence_interval.low), float(res.confidence_interval.high)


def load_predictions(paths: list[str]) -> pl.DataFrame:
    frames = []
    for p in paths:
        key = layout.parse(layout.PREDICTION_RE, p)
        df = read_parquet(p).select("id", "lang", "label", "pred")
        frames.append(df.with_columns(
            model=pl.lit(key["model"]), recipe=pl.lit(key["recipe"]), target=pl.lit(key["target"]),
            seed=pl.lit(int(key["seed"])), probe=pl.lit(key["probe"] or "clean"),
            rate=pl.lit(float(key["rate"]) if key["rate"] else None, dtype=pl.Float64),
            pseed=pl.lit(int(key["pseed"]) if key["pseed"] else None, dtype=pl.Int64),
        ))
    return pl.concat(frames, how="vertical_relaxed")


def load_attacks(paths: list[str]) -> pl.DataFrame:
    frames = []
    for p in paths:
        key = layout.parse(layout.ATTACK_RE, p)
        df = read_parquet(p)
        frames.append(df.with_columns(
            model=pl.lit(key["model"]), recipe=pl.lit(key["recipe"]), target=pl.lit(key["target"]),
            seed=pl.lit(int(key["seed"])), probe=pl.lit(f"attack:{key['attack']}"),
        ))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def _tidy(group: dict, language: str, probe: str, rate, metric: str, x) -> dict:
    value, lo, hi = mean_ci(np.asarray(x, dtype=float))
    return {**group, "language": language, "probe": probe, "rate": rate, "metric": metric,
            "value": value, "ci_low": lo, "ci_high": hi, "n": len(x)}


def score(pred_paths: list[str], attack_paths: list[str]) -> pl.DataFrame:
    preds = load_predictions(pred_paths).with_columns(correct=(pl.col("pred") == pl.col("label")).cast(pl.Float64))
    clean = preds.filter(pl.col("probe") == "clean").select(*RUN_KEYS, "id", "lang", clean_pred="pred",
                                                             clean_correct="correct")
    rows = []
    for key, g in preds.group_by([*RUN_KEYS, "lang", "probe", "rate"], maintain_order=True):
        model, recipe, target, seed, lang, probe, rate = key
        group = dict(model=model, recipe=recipe, target=target, seed=seed)
        rows.append(_tidy(group, lang, probe, rate, "accuracy", g["correct"]))
        if probe != "clean":
            j = g.join(clean, on=[*RUN_KEYS, "id", "lang"], how="inner")
            rows.append(_tidy(group, lang, probe, rate, "flip_rate", (j["pred"] != j["clean_pred"]).cast(pl.Float64)))
            rows.append(_tidy(group, lang, probe, rate, "accuracy_drop", j["clean_correct"] - j["correct"]))
    attacks = load_attacks(attack_paths)
    if attacks.height:
        for key, g in attacks.group_by([*RUN_KEYS, "lang", "probe"], maintain_order=True):
            model, recipe, target, seed, lang, probe = key
            group = dict(model=model, recipe=recipe, target=target, seed=seed)
            attacked = g.filter(pl.col("status") != "skipped")
            rows.append(_tidy(group, lang, probe, None, "attack_success_rate", (attacked["status"] == "succeeded").cast(pl.Float64)))
            rows.append(_tidy(group, lang, probe, None, "accuracy_under_attack", (g["status"] == "failed").cast(pl.Float64)))
            rows.append(_tidy(group, lang, probe, None, "mean_queries", attacked["num_queries"]))
            ok = g.filter(pl.col("status") == "succeeded")
            rows.append(_tidy(group, lang, probe, None, "perturbed_words_pct",
                              100 * ok["words_perturbed"] / ok["words_total"].clip(lower_bound=1)))
    return pl.DataFrame(rows, schema=SCORE_SCHEMA).sort("model", "recipe", "target", "seed", "probe", "rate", "language", "metric", nulls_last=True)


def summary(scores: pl.DataFrame) -> dict:
    """Means over languages and seeds, per run configuration: what `dvc metrics show` lists."""
    out: dict = {}
    agg = (scores.drop_nulls("value").group_by("model", "recipe", "target", "probe", "rate", "metric")
           .agg(pl.col("value").mean()).sort("model", "recipe", "target", "probe", "rate", "metric", nulls_last=True))
    for model, recipe, target, probe, rate, metric, value in agg.iter_rows():
        name = probe if rate is None else f"{probe}@{rate:g}"
        out.setdefault(f"{model}/{recipe}/{target}", {}).setdefault(name, {})[metric] = round(value, 6)
    return out


def run(pred_paths: list[str], attack_paths: list[str], out_scores: str, out_metrics: str) -> pl.DataFrame:
    """Score prediction and attack files (or the run folders holding them)."""
    scores = score(expand_paths(pred_paths), expand_paths(attack_paths))
    write_parquet(scores, out_scores)
    write_json(summary(scores), out_metrics)
    return scores
