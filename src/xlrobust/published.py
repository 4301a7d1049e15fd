"""Published zero-shot figures beside a study's numbers (issue 27): where a study runs a
model and task that XTREME published (published.yaml: mBERT, XLM-R large), the report
shows the published figure beside the clean score averaged over the languages, and flags a
gap larger than ReportSettings.published_margin, so a broken run shows at once.

The published figure averages the benchmark's own languages and full test sets; a study's
languages, caps and training settings may differ: the flag says "look", not "wrong"."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import yaml

from xlrobust.errors import XlrobustError

TABLE = Path(__file__).with_name("published.yaml")


def load(path: str | Path = TABLE) -> pl.DataFrame:
    """The figures: model (Hub id name), task, metric, value (a fraction), source (its text)."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise XlrobustError(f"{path}: cannot read the published figures ({e})") from None
    sources = doc.get("sources") or {}
    rows = []
    for i, f in enumerate(doc.get("figures") or []):
        missing = [k for k in ("model", "task", "metric", "value", "source") if f.get(k) in (None, "")]
        if missing:
            raise XlrobustError(f"{path}: figure {i}: no {missing[0]}")
        if f["source"] not in sources:
            raise XlrobustError(f"{path}: figure {i}: source '{f['source']}' is not one of sources")
        if not 0 <= float(f["value"]) <= 100:
            raise XlrobustError(f"{path}: figure {i}: value {f['value']} is not a percentage")
        rows.append(
            {
                "model": str(f["model"]).lower(),
                "task": f["task"],
                "metric": f["metric"],
                "value": float(f["value"]) / 100,
                "source": " ".join(str(sources[f["source"]]).split()),
            }
        )
    schema = {"model": pl.String, "task": pl.String, "metric": pl.String, "value": pl.Float64, "source": pl.String}
    return pl.DataFrame(rows, schema=schema)


def hub_name(source: str) -> str:
    """A model's Hub id without its organisation, lower-cased (google-bert/bert-base-multilingual-cased
    and bert-base-multilingual-cased are one model)."""
    return source.split(":")[-1].rstrip("/").split("/")[-1].lower()


def matches(cfg: dict, figures: pl.DataFrame | None = None) -> pl.DataFrame:
    """The (model, target) pairs of the config that have a published figure: columns model,
    target, metric, published, source."""
    figures = load() if figures is None else figures
    pairs = [
        {
            "model": m,
            "target": t,
            "hub": hub_name(spec.get("source", "")),
            "task": cfg["datasets"][tspec["dataset"]]["task"],
        }
        for m, spec in (cfg.get("models") or {}).items()
        for t, tspec in (cfg.get("targets") or {}).items()
        if tspec.get("dataset") in (cfg.get("datasets") or {})
    ]
    schema = {"model": pl.String, "target": pl.String, "hub": pl.String, "task": pl.String}
    return (
        pl.DataFrame(pairs, schema=schema)
        .join(figures.rename({"model": "hub", "value": "published"}), on=["hub", "task"])
        .select("model", "target", "metric", "published", "source")
    )
