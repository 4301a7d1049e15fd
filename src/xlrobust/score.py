"""Robustness scoring with polars: per-example outcomes, a tidy score table with
bootstrap intervals, paired recipe-vs-`none` comparisons with Holm correction (xlrobust.stats), and
the metrics DVC shows.

Prediction and attack files say what they are in their columns (run keys, probe keys,
format); each file's format turns its rows into per-example outcomes (metric, x, w):
the metric's value is sum(x) / sum(w) over examples. For a mean (accuracy, exact
match, QA F1) w is 1 and the value is the mean of x; for a corpus metric that is a
ratio of sums (entity micro-F1: x = 2 TP, w = 2 TP + FP + FN; token accuracy) the
bootstrap resamples examples (sentences) and recomputes the ratio. Drops under a
probe pair each example with its clean outcome; language averages, intervals and
paired tests all work on the same table.

Each clean metric carries its format's no-skill baseline on the same examples (majority
class, majority tag, all-O, first-k tokens, 1/N: `Format.baselines`); `above_baseline`
says whether the 95% interval's lower end is above it. A language average's baseline is
the average of its languages' baselines. `all` averages every language; `all_xl` every
language but English (the zero-shot languages), whenever a target has one.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats import get_format
from xlrobust.io import expand_paths, read_table, write_json, write_parquet, write_text
from xlrobust.stats import (
    cell_ci,
    holm,
    paired_ratio_test,
    paired_test,
    ratio_value,
    stratified_ratio_ci,
)

SCORE_SCHEMA = {
    "model": pl.String,
    "recipe": pl.String,
    "target": pl.String,
    "seed": pl.Int64,
    "language": pl.String,
    "probe": pl.String,
    "rate": pl.Float64,
    "metric": pl.String,
    "value": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "n": pl.Int64,
    "baseline": pl.Float64,  # the format's no-skill value of a clean metric (null elsewhere)
    "baseline_kind": pl.String,  # what the baseline is: majority class, all-O, 1/N, ...
    "above_baseline": pl.Boolean,  # ci_low > baseline: the 95% interval excludes no skill
    "precision": pl.String,
    "train_precision": pl.String,
}
COMPARISON_SCHEMA = {
    "study": pl.String,
    "model": pl.String,
    "target": pl.String,
    "recipe": pl.String,
    "baseline": pl.String,
    "probe": pl.String,
    "rate": pl.Float64,
    "metric": pl.String,
    "recipe_value": pl.Float64,
    "baseline_value": pl.Float64,
    "diff": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "p_holm": pl.Float64,
    "n": pl.Int64,
}
RUN_KEYS = ["model", "recipe", "target", "seed"]
PROBE_KEYS = ["probe", "rate", "pseed"]
KEYS = [*RUN_KEYS, *PROBE_KEYS, "format", "id", "lang"]  # what every prediction and attack file carries
ATTACK_COLUMNS = [*KEYS, "status", "num_queries", "words_perturbed", "words_total"]
CELL = [*RUN_KEYS, "lang", "probe", "rate", "metric"]
OUTCOME_COLUMNS = [*RUN_KEYS, "lang", "probe", "rate", "pseed", "id", "metric", "x", "w", "x0", "w0"]
# The outcome compared between a recipe and `none`, per kind of probe, for a target whose
# primary metric is M (accuracy, f1, ...).
COMPARED = {"clean": "{}", "perturbed": "{}_drop", "attack": "{}_under_attack"}
ALL, ZERO_SHOT = "all", "all_xl"  # language averages: every language / every language but English


def _arrays(frame: pl.DataFrame) -> tuple:
    """(x, w, x0, w0) of a group of outcome rows (x0, w0 None unless a ratio drop)."""
    x0 = frame["x0"]
    ratio_drop = x0.null_count() < frame.height
    return (
        frame["x"].to_numpy(),
        frame["w"].to_numpy(),
        x0.to_numpy() if ratio_drop else None,
        frame["w0"].to_numpy() if ratio_drop else None,
    )


# ---------------------------------------------------------------------------- per-example outcomes
PRECISION_COLUMNS = ["precision", "train_precision"]


def precisions(paths: list[str]) -> pl.DataFrame:
    """target -> the precision of its predictions and attacks and of its models' training
    (the `precision` and `train_precision` columns predict and attack write). Runs that
    are compared (the recipes, seeds and probes of a target) must share them: files of one
    target whose precisions differ are an error naming two of them. A file without the
    columns (written before they existed) and a model xlrobust did not train (retrieval's
    pretrained encoder) leave the value unknown, which agrees with any."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}  # (target, column) -> (value, first file)
    for p in paths:
        df = read_table(p, ["target"])
        for col in PRECISION_COLUMNS:
            if col not in df.columns:
                continue
            for target, value in df.select("target", col).drop_nulls().unique().iter_rows():
                first = seen.setdefault((target, col), (value, p))
                if first[0] != value:
                    raise XlrobustError(
                        f"target '{target}': {col} {first[0]} in {first[1]} but {value} in {p}: runs compared "
                        "must share one precision; predict (or attack, or train) them again with the same "
                        "precision setting"
                    )
    targets = sorted({t for t, _ in seen})
    return pl.DataFrame(
        {"target": targets, **{c: [seen.get((t, c), (None,))[0] for t in targets] for c in PRECISION_COLUMNS}},
        schema={"target": pl.String, "precision": pl.String, "train_precision": pl.String},
    )


def load_predictions(paths: list[str]) -> dict[str, pl.DataFrame]:
    """Prediction files by format (their rows carry run keys, probe keys and format)."""
    frames: dict[str, list] = {}
    for p in paths:
        df = read_table(p, KEYS)
        if df.height:
            fmt = get_format(df["format"][0])
            frames.setdefault(fmt.name, []).append(read_table(p, [*KEYS, *fmt.prediction_columns]))
    return {f: pl.concat(v, how="vertical_relaxed") for f, v in frames.items()}


def load_attacks(paths: list[str]) -> dict[str, pl.DataFrame]:
    frames: dict[str, list] = {}
    for p in paths:
        df = read_table(p, ATTACK_COLUMNS)
        if df.height:
            frames.setdefault(df["format"][0], []).append(df)
    return {f: pl.concat(v, how="diagonal_relaxed") for f, v in frames.items()}


def _rows(frame: pl.DataFrame, metric=None, x=None, w=None, x0=None, w0=None) -> pl.DataFrame:
    """Outcome rows (OUTCOME_COLUMNS) from a frame with the keys."""
    return frame.select(
        *RUN_KEYS,
        "lang",
        "probe",
        "rate",
        "pseed",
        "id",
        metric=pl.lit(metric) if isinstance(metric, str) else (metric if metric is not None else pl.col("metric")),
        x=(x if x is not None else pl.col("x")).cast(pl.Float64),
        w=(w if w is not None else pl.col("w")).cast(pl.Float64),
        x0=(x0 if x0 is not None else pl.lit(None)).cast(pl.Float64),
        w0=(w0 if w0 is not None else pl.lit(None)).cast(pl.Float64),
    )


def outcomes(preds: dict[str, pl.DataFrame], attacks: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per (run, language, probe, rate, perturbation seed, example, metric) with
    outcome x of weight w (and, for a drop in a ratio metric, the clean x0, w0)."""
    parts = []
    for name, df in preds.items():
        fmt = get_format(name)
        base = fmt.outcomes(df.with_columns(answer=fmt.answer()))
        parts.append(_rows(base))
        drops, flips = [], None
        for metric in base["metric"].unique(maintain_order=True).to_list():
            rows = base.filter(pl.col("metric") == metric)
            clean = rows.filter(pl.col("probe") == "clean").select(
                *RUN_KEYS, "lang", "id", cx="x", cw="w", canswer="answer"
            )
            pert = rows.filter(pl.col("probe") != "clean").join(clean, on=[*RUN_KEYS, "lang", "id"], how="inner")
            if rows["w"].eq(1).all():  # a mean: the drop is the mean of per-example differences
                drops.append(_rows(pert, f"{metric}_drop", pl.col("cx") - pl.col("x"), pl.lit(1.0)))
            else:  # a ratio of sums: the drop is clean ratio - perturbed ratio
                drops.append(_rows(pert, f"{metric}_drop", pl.col("x"), pl.col("w"), pl.col("cx"), pl.col("cw")))
            if flips is None:  # one flip row per example: the answer changed under the probe
                flips = _rows(pert, "flip_rate", fmt.flip(), pl.lit(1.0))
        parts += drops + ([flips] if flips is not None else [])
    for name, attacks_df in attacks.items():
        fmt = get_format(name)
        attacked = attacks_df.filter(pl.col("status") != "skipped")
        ok = attacks_df.filter(pl.col("status") == "succeeded")
        under = fmt.attack_outcomes(attacks_df)
        parts += [
            _rows(under, pl.col("metric") + "_under_attack"),
            _rows(attacked, "attack_success_rate", (pl.col("status") == "succeeded"), pl.lit(1.0)),
            _rows(attacked, "mean_queries", pl.col("num_queries"), pl.lit(1.0)),
            _rows(
                ok,
                "perturbed_words_pct",
                100 * pl.col("words_perturbed") / pl.col("words_total").clip(lower_bound=1),
                pl.lit(1.0),
            ),
        ]
    return pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()


# ---------------------------------------------------------------------------- tables
def baselines(preds: dict[str, pl.DataFrame]) -> dict[tuple, tuple[float, str]]:
    """(model, recipe, target, seed, language, metric) -> (no-skill value, what it is), on the
    clean predictions of each language."""
    found = {}
    for fmt_name, df in preds.items():
        fmt = get_format(fmt_name)
        for key, g in df.filter(pl.col("probe") == "clean").group_by([*RUN_KEYS, "lang"], maintain_order=True):
            for metric, base in fmt.baselines(g).items():
                found[(*key, metric)] = base
    return found


def score(pred_paths: list[str], attack_paths: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The tidy score table (with the precisions of each target's runs), and the
    per-example outcomes it was computed from."""
    preds = load_predictions(pred_paths)
    out = outcomes(preds, load_attacks(attack_paths))
    prec = precisions([*pred_paths, *attack_paths])  # after the loaders' checks of each file's columns
    base = baselines(preds)
    rows = []

    def no_skill(group, languages) -> tuple:
        """The baseline of a cell (the mean of its languages' for an average) or (None, None)."""
        if group["probe"] != "clean":
            return None, None
        found = [base.get((*(group[k] for k in RUN_KEYS), lang, group["metric"])) for lang in languages]
        if not found or any(b is None for b in found):
            return None, None
        return float(np.mean([b[0] for b in found])), found[0][1]

    def add(group, language, value, lo, hi, n, languages=None):
        b, kind = no_skill(group, languages or [language])
        above = None if b is None or lo is None else bool(lo > b + 1e-12)
        rows.append(
            {
                **group,
                "language": language,
                "value": value,
                "ci_low": lo,
                "ci_high": hi,
                "n": n,
                "baseline": b,
                "baseline_kind": kind,
                "above_baseline": above,
            }
        )

    cells = out.group_by(CELL, maintain_order=True).agg(pl.col("x"), pl.col("w"), pl.col("x0"), pl.col("w0"))
    arrays = [
        (
            np.array(r["x"], dtype=float),
            np.array(r["w"], dtype=float),
            None if all(v is None for v in r["x0"]) else np.array(r["x0"], dtype=float),
            None if all(v is None for v in r["w0"]) else np.array(r["w0"], dtype=float),
        )
        for r in cells.select("x", "w", "x0", "w0").iter_rows(named=True)
    ]
    for r, a in zip(cells.select(CELL).iter_rows(named=True), arrays):
        group = {k: r[k] for k in CELL if k != "lang"}
        add(group, r["lang"], *cell_ci(a), len(a[0]))
    by_group: dict[tuple, list] = {}
    for r, a in zip(cells.select(CELL).iter_rows(named=True), arrays):
        by_group.setdefault(tuple(r[k] for k in CELL if k != "lang"), []).append((r["lang"], a))
    for key, langs in by_group.items():
        group = dict(zip([k for k in CELL if k != "lang"], key))
        for name, chosen in ((ALL, langs), (ZERO_SHOT, [(lang, a) for lang, a in langs if lang != "en"])):
            chosen = [(lang, a) for lang, a in chosen if len(a[0])]
            if not chosen or (name == ALL and len(chosen) < 2):
                continue  # `all` of one language is that language; `all_xl` needs a zero-shot language
            xs = [a for _, a in chosen]
            n, members = sum(len(a[0]) for a in xs), [lang for lang, _ in chosen]
            if len(xs) == 1:
                add(group, name, *cell_ci(xs[0]), n, members)
            else:  # a mean is the ratio with w = 1: the same bits as a mean's own path (tests/test_stats.py)
                add(group, name, *stratified_ratio_ci(xs), n, members)
    for fmt_name, df in preds.items():
        corpus = get_format(fmt_name).corpus_scores(df)
        if not corpus:
            continue
        for key, g in df.group_by([*RUN_KEYS, "lang", "probe", "rate"], maintain_order=True):
            group = dict(zip([*RUN_KEYS, "lang", "probe", "rate"], key))
            lang = group.pop("lang")
            for metric, fn in corpus.items():
                add({**group, "metric": metric}, lang, *fn(g), g.height)
    table = pl.DataFrame(rows, schema={k: v for k, v in SCORE_SCHEMA.items() if k not in PRECISION_COLUMNS})
    table = table.join(prec, on="target", how="left").select(list(SCORE_SCHEMA))
    return table.sort("model", "recipe", "target", "seed", "probe", "rate", "language", "metric", nulls_last=True), out


def primary_metrics(out: pl.DataFrame, preds_formats: dict[str, str]) -> dict[str, str]:
    """target -> the metric its comparisons use (its format's primary metric)."""
    res = {}
    for target, fmt_name in preds_formats.items():
        metrics = set(out.filter(pl.col("target") == target)["metric"].unique().to_list())
        res[target] = get_format(fmt_name).primary_metric(metrics)
    return res


def compare(out: pl.DataFrame, studies: dict[str, dict], metrics: dict[str, str] | None = None) -> pl.DataFrame:
    """Each recipe against `none` on the same examples and seeds, per study; Holm across
    the comparisons of each study. `metrics`: target -> primary metric (default accuracy)."""
    keys = ["seed", "lang", "pseed", "id"]
    rows = []
    metrics = metrics or {}
    for name, st in studies.items():
        if "none" not in st["recipes"]:
            continue
        sub = out.filter(
            pl.col("model").is_in(st["models"])
            & pl.col("target").is_in(st["targets"])
            & pl.col("seed").is_in(st["seeds"])
        )
        first = len(rows)
        for (model, target, probe, rate), g in sub.group_by("model", "target", "probe", "rate", maintain_order=True):
            kind = "clean" if probe == "clean" else ("attack" if probe.startswith("attack:") else "perturbed")
            metric = COMPARED[kind].format(metrics.get(target, "accuracy"))
            g = g.filter(pl.col("metric") == metric)
            base = g.filter(pl.col("recipe") == "none").select(*keys, y="x", yw="w", y0="x0", yw0="w0")
            for recipe in [r for r in st["recipes"] if r != "none"]:
                j = (
                    g.filter(pl.col("recipe") == recipe)
                    .select(*keys, "x", "w", "x0", "w0")
                    .join(base, on=keys, how="inner", nulls_equal=True)
                )
                if j.height == 0:
                    continue
                a = _arrays(j)
                b = _arrays(j.select(*keys, x="y", w="yw", x0="y0", w0="yw0"))
                if a[2] is None and np.all(a[1] == 1) and np.all(b[1] == 1):
                    x, y = a[0], b[0]
                    diff, lo, hi, p = paired_test(x, y)
                    values = float(x.mean()), float(y.mean())
                else:
                    diff, lo, hi, p = paired_ratio_test(a, b)
                    values = float(ratio_value(a)), float(ratio_value(b))
                rows.append(
                    dict(
                        study=name,
                        model=model,
                        target=target,
                        recipe=recipe,
                        baseline="none",
                        probe=probe,
                        rate=rate,
                        metric=metric,
                        recipe_value=values[0],
                        baseline_value=values[1],
                        diff=diff,
                        ci_low=lo,
                        ci_high=hi,
                        p_value=p,
                        p_holm=None,
                        n=j.height,
                    )
                )
        if len(rows) > first:
            adjusted = holm(np.array([r["p_value"] for r in rows[first:]]))
            for r, a in zip(rows[first:], adjusted):
                r["p_holm"] = float(a)
    return pl.DataFrame(rows, schema=COMPARISON_SCHEMA)


def summary(scores: pl.DataFrame) -> dict:
    """Means over seeds of the language averages, per run configuration, under `all` (every
    language) and `all_xl` (every language but English): what `dvc metrics show` lists."""
    out: dict = {}
    agg = (
        scores.filter(pl.col("language").is_in([ALL, ZERO_SHOT]))
        .drop_nulls("value")
        .group_by("model", "recipe", "target", "probe", "rate", "language", "metric")
        .agg(pl.col("value").mean())
        .sort("model", "recipe", "target", "probe", "rate", "language", "metric", nulls_last=True)
    )
    for model, recipe, target, probe, rate, language, metric, value in agg.iter_rows():
        name = probe if rate is None else f"{probe}@{rate:g}"
        run = out.setdefault(f"{model}/{recipe}/{target}", {}).setdefault(name, {})
        run.setdefault(language, {})[metric] = round(value, 6)
    return out


def plot_data(scores: pl.DataFrame, metrics: dict[str, str]) -> pl.DataFrame:
    """Each target's primary metric per perturbation rate, recipe and language (mean over
    seeds) for `dvc plots`."""
    rows = [
        scores.filter((pl.col("target") == t) & (pl.col("metric") == m) & pl.col("rate").is_not_null())
        for t, m in metrics.items()
    ]
    frame = pl.concat(rows) if rows else scores.clear()
    return (
        frame.group_by("model", "recipe", "target", "probe", "rate", "language", "metric")
        .agg(value=pl.col("value").mean())
        .sort("model", "recipe", "target", "probe", "language", "rate")
    )


def run(
    pred_paths: list[str],
    attack_paths: list[str],
    out_scores: str,
    out_metrics: str,
    out_comparisons: str | None = None,
    out_plots: str | None = None,
    studies: dict | None = None,
) -> pl.DataFrame:
    """Score prediction and attack files (or the run folders holding them)."""
    found = expand_paths(pred_paths)
    if not found:
        raise XlrobustError(f"no prediction files (*.parquet) in {', '.join(map(str, pred_paths))}")
    scores, out = score(found, expand_paths(attack_paths))
    metrics = primary_metrics(out, target_formats(found))
    write_parquet(scores, out_scores, "score")
    write_json(summary(scores), out_metrics)
    if out_comparisons:
        write_parquet(compare(out, studies or {}, metrics), out_comparisons, "score")
    if out_plots:
        write_text(plot_data(scores, metrics).write_csv(), out_plots)
    return scores


def target_formats(paths: list[str]) -> dict[str, str]:
    """target -> format, from the prediction files' columns."""
    found = {}
    for p in paths:
        df = read_table(p, KEYS).select("target", "format").unique()
        found.update(dict(df.iter_rows()))
    return found
