"""bf16 against fp32 prediction on a study's real test sets: for every clean prediction of
a run folder (predictions/<model>/<recipe>/<target>/seed<seed>/clean.parquet, what the
workflow wrote), the same model predicts the same test table again, once with `precision
fp32` and once with `precision bf16`; each is scored as the workflow scores it. Printed
per target and language: the clean primary metric in fp32 with its 95% bootstrap
interval, the bf16 value and whether it lies inside that interval, and the share of
predictions that differ between the two (the format's prediction columns: label, answer
text, tags, nearest sentence).

    .venv/bin/python scripts/precision_check.py RUN_DIR [--config config.yaml] [--targets umsab tatoeba_real]

RUN_DIR is the project folder a study ran in (Snakemake's working directory: it holds
models/, data/ and predictions/). Example, after the four real-data CPU studies:

    snakemake --cores all results/report.html --config 'studies=[cpu,cpu_qa,cpu_tag,cpu_xr]'
    .venv/bin/python scripts/precision_check.py .

Only prediction is compared here (the model is the run's, trained in the run's training
precision, recorded in its xlrobust_train.json).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import polars as pl

from xlrobust import config, layout
from xlrobust.errors import XlrobustError
from xlrobust.formats import get_format
from xlrobust.predict import predict
from xlrobust.score import score

PRECISIONS = ("fp32", "bf16")


def runs(root: Path, targets: list[str] | None) -> list[dict]:
    """The run keys of the clean predictions in a run folder."""
    found = []
    for clean in sorted(root.glob("predictions/*/*/*/seed*/clean.parquet")):
        keys = pl.read_parquet(clean, columns=["model", "recipe", "target", "seed", "format"]).head(1).to_dicts()
        if keys and (not targets or keys[0]["target"] in targets):
            found.append(keys[0])
    return found


def compare(root: Path, cfg: dict, run: dict, tmp: Path) -> pl.DataFrame:
    fmt = get_format(run["format"])
    target = run["target"]
    keys = (run["model"], run["recipe"], target, run["seed"])
    model = root / (layout.target(*keys) if fmt.trains else layout.encoder(run["model"], run["recipe"], run["seed"]))
    test = root / layout.data(cfg["targets"][target]["dataset"], "test")
    given = cfg["targets"][target].get("predict", {})
    files = {}
    for p in PRECISIONS:
        files[p] = tmp / f"{target}-{run['recipe']}-{run['seed']}-{p}.parquet"
        predict(
            str(model),
            [str(test)],
            [str(files[p])],
            max_length=given.get("max_length"),
            batch_size=given.get("batch_size"),
            run={k: run[k] for k in ("model", "recipe", "target", "seed")},
            fmt_name=fmt.name,
            layer=given.get("layer"),
            precision=p,
        )
    scores = {}
    for p in PRECISIONS:
        s, _ = score([str(files[p])], [])
        metric = fmt.primary_metric(set(s["metric"].unique().to_list()))
        scores[p] = s.filter((pl.col("probe") == "clean") & (pl.col("metric") == metric)).select(
            "language", "metric", "value", "ci_low", "ci_high", "n"
        )
    cols = list(fmt.prediction_columns)
    a, b = (pl.read_parquet(files[p]).select("id", "lang", *cols) for p in PRECISIONS)
    joined = a.join(b, on=["id", "lang"], suffix="_bf16")
    differ = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_bf16")) for c in cols])
    share = joined.group_by("lang").agg(differ=differ.mean(), n_predictions=pl.len())
    share = pl.concat(
        [
            share,
            joined.select(pl.lit("all").alias("lang"), differ.mean().alias("differ"), pl.len().alias("n_predictions")),
        ]
    )
    table = (
        scores["fp32"]
        .join(scores["bf16"].select("language", bf16=pl.col("value")), on="language", how="left")
        .join(share.rename({"lang": "language"}), on="language", how="left")
    )
    return table.select(
        pl.lit(target).alias("target"),
        pl.lit(run["recipe"]).alias("recipe"),
        pl.lit(run["seed"]).alias("seed"),
        "language",
        "metric",
        pl.col("value").alias("fp32"),
        "ci_low",
        "ci_high",
        "bf16",
        pl.col("bf16").is_between(pl.col("ci_low"), pl.col("ci_high")).alias("inside"),
        "differ",
        "n",
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="the project folder a study ran in (holds models/, data/, predictions/)")
    ap.add_argument("--config", default="config.yaml", help="the config the run used (targets -> datasets)")
    ap.add_argument("--targets", nargs="+", default=None, help="only these targets (default: every one found)")
    a = ap.parse_args()
    root = Path(a.run_dir)
    try:
        cfg = config.load(a.config)
        found = runs(root, a.targets)
        if not found:
            raise XlrobustError(f"{root}: no predictions/*/*/*/seed*/clean.parquet to compare")
        with tempfile.TemporaryDirectory(prefix="xlrobust-precision-") as tmp:
            table = pl.concat([compare(root, cfg, r, Path(tmp)) for r in found])
    except XlrobustError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=160, float_precision=4, tbl_hide_dataframe_shape=True):
        print(table)
    inside = table.filter(pl.col("bf16").is_not_null())
    print(
        f"\nbf16 inside the fp32 95% interval: {inside['inside'].sum()}/{inside.height} (target, language) cells; "
        f"predictions that differ: {table.filter(pl.col('language') == 'all')['differ'].mean():.2%} on average "
        "over the targets"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
