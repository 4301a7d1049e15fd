"""Robustness scoring with polars: per-example outcomes, a tidy score table with
bootstrap intervals, paired recipe-vs-`none` comparisons with Holm correction, and
the metrics DVC shows.

Every metric is a mean of a per-example outcome (correct, dropped, flipped,
attacked successfully, ...), so intervals, language averages and paired tests all
work on the same table.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from xlrobust import layout
from xlrobust.errors import XlrobustError
from xlrobust.io import expand_paths, read_table, write_json, write_parquet, write_text

SCORE_SCHEMA = {
    "model": pl.String, "recipe": pl.String, "target": pl.String, "seed": pl.Int64, "language": pl.String,
    "probe": pl.String, "rate": pl.Float64, "metric": pl.String, "value": pl.Float64,
    "ci_low": pl.Float64, "ci_high": pl.Float64, "n": pl.Int64,
}
COMPARISON_SCHEMA = {
    "study": pl.String, "model": pl.String, "target": pl.String, "recipe": pl.String, "baseline": pl.String,
    "probe": pl.String, "rate": pl.Float64, "metric": pl.String, "recipe_value": pl.Float64,
    "baseline_value": pl.Float64, "diff": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
    "p_value": pl.Float64, "p_holm": pl.Float64, "n": pl.Int64,
}
PREDICTION_COLUMNS = ["id", "lang", "label", "pred"]
ATTACK_COLUMNS = ["id", "lang", "label", "status", "num_queries", "words_perturbed", "words_total"]
RUN_KEYS = ["model", "recipe", "target", "seed"]
CELL = [*RUN_KEYS, "lang", "probe", "rate", "metric"]
BOOTSTRAP_RESAMPLES = 2000
PERMUTATIONS = 5000
# The outcome compared between a recipe and `none`, per kind of probe.
COMPARED = {"clean": "accuracy", "perturbed": "accuracy_drop", "attack": "accuracy_under_attack"}
ALL, ZERO_SHOT = "all", "all_xl"  # language averages: every language / every language but English


def _ci(res) -> tuple[float, float]:
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


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
    return (m, *_ci(res))


def macro_f1(y: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Macro-F1 over the classes present in y or p; vectorised over leading axes."""
    classes = np.union1d(np.unique(y), np.unique(p))
    f1 = []
    for c in classes:
        tp = np.sum((y == c) & (p == c), axis=axis)
        fp = np.sum((y != c) & (p == c), axis=axis)
        fn = np.sum((y == c) & (p != c), axis=axis)
        denom = 2 * tp + fp + fn
        f1.append(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0))
    return np.mean(f1, axis=0)


def macro_f1_ci(y: np.ndarray, p: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    m = float(macro_f1(y, p))
    if len(y) < 2:
        return m, m, m
    res = stats.bootstrap((y, p), macro_f1, paired=True, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                          vectorized=True, rng=np.random.default_rng(seed))
    return (m, *_ci(res))


def stratified_mean_ci(groups: list[np.ndarray], seed: int = 0) -> tuple[float, float, float]:
    """Unweighted mean of per-language means; interval by resampling within each language."""
    rng = np.random.default_rng(seed)
    value = float(np.mean([g.mean() for g in groups]))
    boots = np.mean([g[rng.integers(0, len(g), (BOOTSTRAP_RESAMPLES, len(g)))].mean(axis=1) for g in groups], axis=0)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return value, float(lo), float(hi)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone)."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def paired_test(x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, float, float, float]:
    """Mean paired difference x - y, its bootstrap 95% interval, and a two-sided
    paired permutation (sign-flip) p-value."""
    d = np.asarray(x, float) - np.asarray(y, float)
    diff = float(d.mean())
    if len(d) < 2:
        return diff, diff, diff, 1.0
    rng = np.random.default_rng(seed)
    _, lo, hi = mean_ci(d, seed)
    res = stats.permutation_test((np.asarray(x, float), np.asarray(y, float)),
                                 lambda a, b, axis: np.mean(a - b, axis=axis), permutation_type="samples",
                                 vectorized=True, n_resamples=PERMUTATIONS, alternative="two-sided", rng=rng)
    return diff, lo, hi, float(res.pvalue)


# ---------------------------------------------------------------------------- per-example outcomes
def _with_key(df: pl.DataFrame, key: dict, probe: str, rate, pseed) -> pl.DataFrame:
    return df.with_columns(
        model=pl.lit(key["model"]), recipe=pl.lit(key["recipe"]), target=pl.lit(key["target"]),
        seed=pl.lit(int(key["seed"]), dtype=pl.Int64), probe=pl.lit(probe),
        rate=pl.lit(rate, dtype=pl.Float64), pseed=pl.lit(pseed, dtype=pl.Int64),
    )


def load_predictions(paths: list[str]) -> pl.DataFrame:
    frames = []
    for p in paths:
        k = layout.parse(layout.PREDICTION_RE, p)
        df = read_table(p, PREDICTION_COLUMNS).select(PREDICTION_COLUMNS)
        frames.append(_with_key(df, k, k["probe"] or "clean", float(k["rate"]) if k["rate"] else None,
                                int(k["pseed"]) if k["pseed"] else None))
    return pl.concat(frames, how="vertical_relaxed")


def load_attacks(paths: list[str]) -> pl.DataFrame:
    frames = []
    for p in paths:
        k = layout.parse(layout.ATTACK_RE, p)
        frames.append(_with_key(read_table(p, ATTACK_COLUMNS), k, f"attack:{k['attack']}", None, None))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def outcomes(preds: pl.DataFrame, attacks: pl.DataFrame) -> pl.DataFrame:
    """One row per (run, language, probe, rate, perturbation seed, example, metric) with outcome x."""
    keys = [*RUN_KEYS, "lang", "probe", "rate", "pseed", "id"]
    preds = preds.with_columns(correct=(pl.col("pred") == pl.col("label")).cast(pl.Float64))
    clean = preds.filter(pl.col("probe") == "clean").select(*RUN_KEYS, "lang", "id", clean_pred="pred",
                                                             clean_correct="correct")
    pert = preds.filter(pl.col("probe") != "clean").join(clean, on=[*RUN_KEYS, "lang", "id"], how="inner")
    parts = [
        preds.select(*keys, metric=pl.lit("accuracy"), x="correct"),
        pert.select(*keys, metric=pl.lit("accuracy_drop"), x=pl.col("clean_correct") - pl.col("correct")),
        pert.select(*keys, metric=pl.lit("flip_rate"), x=(pl.col("pred") != pl.col("clean_pred")).cast(pl.Float64)),
    ]
    if attacks.height:
        attacked = attacks.filter(pl.col("status") != "skipped")
        ok = attacks.filter(pl.col("status") == "succeeded")
        parts += [
            attacks.select(*keys, metric=pl.lit("accuracy_under_attack"), x=(pl.col("status") == "failed").cast(pl.Float64)),
            attacked.select(*keys, metric=pl.lit("attack_success_rate"), x=(pl.col("status") == "succeeded").cast(pl.Float64)),
            attacked.select(*keys, metric=pl.lit("mean_queries"), x=pl.col("num_queries").cast(pl.Float64)),
            ok.select(*keys, metric=pl.lit("perturbed_words_pct"),
                      x=100 * pl.col("words_perturbed") / pl.col("words_total").clip(lower_bound=1)),
        ]
    return pl.concat(parts, how="vertical_relaxed")


# ---------------------------------------------------------------------------- tables
def score(pred_paths: list[str], attack_paths: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The tidy score table, and the per-example outcomes it was computed from."""
    preds = load_predictions(pred_paths)
    out = outcomes(preds, load_attacks(attack_paths))
    rows = []

    def add(group, language, value, lo, hi, n):
        rows.append({**group, "language": language, "value": value, "ci_low": lo, "ci_high": hi, "n": n})

    cells = out.group_by(CELL, maintain_order=True).agg(pl.col("x"))
    for r in cells.iter_rows(named=True):
        group = {k: r[k] for k in CELL if k != "lang"}
        add(group, r["lang"], *mean_ci(np.array(r["x"])), len(r["x"]))
    for key, g in cells.group_by([k for k in CELL if k != "lang"], maintain_order=True):
        group = dict(zip([k for k in CELL if k != "lang"], key))
        for name, langs in ((ALL, g), (ZERO_SHOT, g.filter(pl.col("lang") != "en"))):
            xs = [np.array(x) for x in langs["x"] if len(x)]
            if len(xs) >= 2 and (name == ALL or len(xs) < g.height):
                add(group, name, *stratified_mean_ci(xs), sum(len(x) for x in xs))
    for key, g in preds.group_by([*RUN_KEYS, "lang", "probe", "rate"], maintain_order=True):
        group = dict(zip([*RUN_KEYS, "lang", "probe", "rate"], key))
        lang = group.pop("lang")
        add({**group, "metric": "macro_f1"}, lang, *macro_f1_ci(g["label"].to_numpy(), g["pred"].to_numpy()), g.height)
    table = pl.DataFrame(rows, schema=SCORE_SCHEMA)
    return table.sort("model", "recipe", "target", "seed", "probe", "rate", "language", "metric", nulls_last=True), out


def compare(out: pl.DataFrame, studies: dict[str, dict]) -> pl.DataFrame:
    """Each recipe against `none` on the same examples and seeds, per study; Holm across
    the comparisons of each study."""
    keys = ["seed", "lang", "pseed", "id"]
    rows = []
    for name, st in studies.items():
        if "none" not in st["recipes"]:
            continue
        sub = out.filter(pl.col("model").is_in(st["models"]) & pl.col("target").is_in(st["targets"])
                         & pl.col("seed").is_in(st["seeds"]))
        first = len(rows)
        for (model, target, probe, rate), g in sub.group_by("model", "target", "probe", "rate", maintain_order=True):
            kind = "clean" if probe == "clean" else ("attack" if probe.startswith("attack:") else "perturbed")
            metric = COMPARED[kind]
            g = g.filter(pl.col("metric") == metric)
            base = g.filter(pl.col("recipe") == "none").select(*keys, y="x")
            for recipe in [r for r in st["recipes"] if r != "none"]:
                j = g.filter(pl.col("recipe") == recipe).select(*keys, "x").join(base, on=keys, how="inner", nulls_equal=True)
                if j.height == 0:
                    continue
                x, y = j["x"].to_numpy(), j["y"].to_numpy()
                diff, lo, hi, p = paired_test(x, y)
                rows.append(dict(study=name, model=model, target=target, recipe=recipe, baseline="none", probe=probe,
                                 rate=rate, metric=metric, recipe_value=float(x.mean()), baseline_value=float(y.mean()),
                                 diff=diff, ci_low=lo, ci_high=hi, p_value=p, p_holm=None, n=j.height))
        if len(rows) > first:
            adjusted = holm(np.array([r["p_value"] for r in rows[first:]]))
            for r, a in zip(rows[first:], adjusted):
                r["p_holm"] = float(a)
    return pl.DataFrame(rows, schema=COMPARISON_SCHEMA)


def summary(scores: pl.DataFrame) -> dict:
    """Means over seeds of the all-language averages, per run configuration: what
    `dvc metrics show` lists."""
    out: dict = {}
    agg = (scores.filter(pl.col("language") == ALL).drop_nulls("value")
           .group_by("model", "recipe", "target", "probe", "rate", "metric")
           .agg(pl.col("value").mean()).sort("model", "recipe", "target", "probe", "rate", "metric", nulls_last=True))
    for model, recipe, target, probe, rate, metric, value in agg.iter_rows():
        name = probe if rate is None else f"{probe}@{rate:g}"
        out.setdefault(f"{model}/{recipe}/{target}", {}).setdefault(name, {})[metric] = round(value, 6)
    return out


def plot_data(scores: pl.DataFrame) -> pl.DataFrame:
    """Accuracy per perturbation rate, recipe and language (mean over seeds) for `dvc plots`."""
    return (scores.filter((pl.col("metric") == "accuracy") & pl.col("rate").is_not_null())
            .group_by("model", "recipe", "target", "probe", "rate", "language")
            .agg(accuracy=pl.col("value").mean()).sort("model", "recipe", "target", "probe", "language", "rate"))


def run(pred_paths: list[str], attack_paths: list[str], out_scores: str, out_metrics: str,
        out_comparisons: str | None = None, out_plots: str | None = None, studies: dict | None = None) -> pl.DataFrame:
    """Score prediction and attack files (or the run folders holding them)."""
    found = expand_paths(pred_paths)
    if not found:
        raise XlrobustError(f"no prediction files (*.parquet) in {', '.join(map(str, pred_paths))}")
    scores, out = score(found, expand_paths(attack_paths))
    write_parquet(scores, out_scores)
    write_json(summary(scores), out_metrics)
    if out_comparisons:
        write_parquet(compare(out, studies or {}), out_comparisons)
    if out_plots:
        write_text(plot_data(scores).write_csv(), out_plots)
    return scores
