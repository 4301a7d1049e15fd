"""The self-contained HTML report: every study's question, its answer in numbers per
task family, the tables and inline SVG figures behind it, adversarial examples,
provenance. No scripts, no external requests; every piece of dataset, adversarial or
config text passes through `html.escape`.

Modules: `html` (escaping building blocks), `charts` (SVG figures), `narrative` (the
study sections), `provenance`; this one assembles the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

import polars as pl

from xlrobust import config as cfgmod
from xlrobust import published
from xlrobust.formats import get_format
from xlrobust.io import expand_paths, marker, read_table, write_text
from xlrobust.report.html import CSS, mark_changes  # noqa: F401 (the report's public helpers)
from xlrobust.report.narrative import recipe_max_lengths, study_section  # noqa: F401
from xlrobust.report.provenance import provenance
from xlrobust.score import COMPARISON_SCHEMA, SCORE_SCHEMA
from xlrobust.settings import ReportSettings, defaults

ATTACK_EXAMPLE_COLUMNS = ["recipe", "target", "format", "id", "lang", "status", "probe"]


def families(cfg: dict, scores: pl.DataFrame) -> dict:
    """family -> (targets, primary metric, format) over the scored targets (a target the
    config does not define is taken as classification). A family is a format, split by
    primary metric where its targets differ (tagging: NER by F1, POS by accuracy)."""

    found: dict = {}
    for target in scores["target"].unique(maintain_order=True).to_list():
        if target in cfg.get("targets", {}) and cfg["targets"][target]["dataset"] in cfg.get("datasets", {}):
            fmt = cfgmod.target_format(cfg, target)
        else:
            fmt = get_format("classify")
        metric = fmt.primary_metric(set(scores.filter(pl.col("target") == target)["metric"].unique().to_list()))
        targets, _, _ = found.setdefault((fmt.name, metric), ([], metric, fmt))
        targets.append(target)
    split = {name for name, _ in found if sum(n == name for n, _ in found) > 1}
    return {(f"{name} ({metric})" if name in split else name): v for (name, metric), v in found.items()}


def write_report(
    cfg: dict,
    scores_path: str,
    attack_paths: list[str],
    data_meta: list[str],
    benchmarks: list[str],
    out: str,
    comparisons_path: str | None = None,
) -> None:

    scores = read_table(scores_path, list(SCORE_SCHEMA))
    comparisons = read_table(comparisons_path, list(COMPARISON_SCHEMA)) if comparisons_path else pl.DataFrame()
    attacks: dict[str, list] = {}
    for p in expand_paths(attack_paths):
        df = read_table(p, ATTACK_EXAMPLE_COLUMNS)
        if df.height:
            attacks.setdefault(df["format"][0], []).append(df)
    attacks = {f: pl.concat(v, how="diagonal_relaxed") for f, v in attacks.items()}
    studies = cfgmod.selected_studies(cfg)
    fams = families(cfg, scores)
    nav = " · ".join(f"<a href='#study-{escape(n)}'>{escape(n)}</a>" for n in studies)
    figures = published.matches(cfg)
    margin = {**defaults(ReportSettings), **(cfg.get("report") or {})}["published_margin"]
    body = "".join(
        study_section(n, cfg["study"][n], scores, comparisons, attacks, cfg["recipes"], fams, figures, margin)
        for n in studies
    )
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    html = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='generator' content='{marker('report')}'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>xlrobust report</title><style>{CSS}</style></head><body>"
        f"<h1>xlrobust: robustness of zero-shot cross-lingual transfer after English intermediate training</h1>"
        f"<p><small>Generated {now}. Studies: {nav} · <a href='#provenance'>provenance</a></small></p>"
        f"{body}{provenance(cfg, data_meta, benchmarks, scores)}</body></html>"
    )
    write_text(html, out)
