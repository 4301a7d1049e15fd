"""The report's provenance section: config hash, code version, package versions, model
and dataset sources (local files shown as local), the precision (fp32 / bf16) of each
target's prediction, attacks and model training, and compute cost per stage from the
rules' benchmark files."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path

import polars as pl

from xlrobust import config as cfgmod
from xlrobust.io import expand_paths
from xlrobust.report.html import table

PACKAGES = ["xlrobust", "torch", "transformers", "datasets", "textattack", "polars", "snakemake", "dvc"]


def provenance(cfg: dict, data_meta: list[str], benchmarks: list[str], scores: pl.DataFrame | None = None) -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except OSError:
        commit = ""
    pkgs = []
    for p in PACKAGES:
        try:
            pkgs.append((p, metadata.version(p)))
        except metadata.PackageNotFoundError:
            pkgs.append((p, "not installed"))
    rows = [("config sha256", cfgmod.config_hash(cfg)), ("git commit", commit or "unknown")] + pkgs
    rows += [(f"model {k}", f"{v['source']} @ {v.get('revision') or 'unpinned'}") for k, v in cfg["models"].items()]
    for m in data_meta:
        meta = json.loads(Path(m).read_text(encoding="utf-8"))
        counts = "; ".join(
            f"{s}: " + ", ".join(f"{lang} {n}" for lang, n in v["rows"].items()) for s, v in meta["splits"].items()
        )
        where = f"local files {meta['local']}" if meta.get("local") else f"{meta.get('hub')} @ {meta.get('revision')}"
        rows.append((f"dataset {meta['dataset']}", f"{meta['task']} from {where} ({counts})"))
    if scores is not None and "precision" in scores.columns:
        for target, pred, train in (
            scores.select("target", "precision", "train_precision").unique().sort("target").rows()
        ):
            rows.append(
                (
                    f"precision {target}",
                    f"prediction and attacks {pred or 'unrecorded'}; "
                    f"training {train or 'unrecorded (or a pretrained encoder)'}",
                )
            )
    html = "<h2 id='provenance'>Provenance</h2>" + table(
        pl.DataFrame(rows, schema=["what", "value"], orient="row"), left=2
    )
    benchmarks = expand_paths([b for b in benchmarks if Path(b).exists()], "*.tsv")
    if benchmarks:
        cost = []
        for b in benchmarks:
            df = pl.read_csv(b, separator="\t")
            cost.append(
                (
                    Path(b).parent.name,
                    Path(b).stem,
                    float(df["s"][0]),
                    float(df["max_rss"][0]) if "max_rss" in df.columns else None,
                )
            )
        bdf = (
            pl.DataFrame(cost, schema=["stage", "job", "seconds", "max_rss_mb"], orient="row")
            .group_by("stage")
            .agg(jobs=pl.len(), seconds=pl.col("seconds").sum(), max_rss_mb=pl.col("max_rss_mb").max())
            .sort("stage")
        )
        html += "<h3>Compute cost per stage (from the rules' benchmark files)</h3>" + table(bdf)
    return html
