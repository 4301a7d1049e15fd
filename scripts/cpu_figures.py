"""The table of the real-data CPU studies' figures (docs/studies.md), generated from a run's
results/scores.parquet (no hand-copied numbers): one row per target and clean metric, one
column per language, each cell the value with its 95% bootstrap interval (×100; mean over
seeds with the widest interval, as the report), † where the interval reaches the format's
no-skill baseline, and the baseline in the last column.

    .venv/bin/python scripts/cpu_figures.py RUN_DIR [--recipe none] [--write docs/studies.md]

RUN_DIR is the project folder the studies ran in (it holds results/scores.parquet). The
tables are printed; with --write they replace the block between the file's
<!-- cpu_figures --> and <!-- /cpu_figures --> markers instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from xlrobust.io import write_text
from xlrobust.report.narrative import NOT_TABLED, over_seeds

LANGS = ["en", "ar", "de", "es", "fr", "hi", "it", "pt", "sw", "vi", "zh", "et"]
DOC = Path(__file__).resolve().parents[1] / "docs" / "studies.md"  # where the tables live
BEGIN, END = "<!-- cpu_figures -->\n", "\n<!-- /cpu_figures -->"


def replace_block(text: str, tables: str, name: str) -> str:
    """`text` with the block between its cpu_figures markers (each there once) replaced by `tables`."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"{name}: needs one {BEGIN.strip()} ... {END.strip()} block")
    head, rest = text.split(BEGIN)
    return head + BEGIN + tables + END + rest.split(END, 1)[1]


def cell(r: dict) -> str:
    text = f"{100 * r['value']:.1f}"
    if r["lo"] is not None:
        text += f" [{100 * r['lo']:.1f}, {100 * r['hi']:.1f}]"
    return text + (" †" if r["above"] is False else "")


def baseline_text(rows: pl.DataFrame, langs: list[str]) -> str:
    b = rows.filter(pl.col("baseline").is_not_null() & ~pl.col("language").is_in(["all", "all_xl"]))
    if not b.height:
        return "–"
    kind = b["kind"][0]
    if b["baseline"].round(6).n_unique() == 1:
        return f"{kind} {100 * b['baseline'][0]:.1f} (every language)"
    per = sorted(b.select("language", "baseline").rows(), key=lambda r: langs.index(r[0]))
    return f"{kind}: " + ", ".join(f"{x} {100 * v:.1f}" for x, v in per)


def figures(scores: pl.DataFrame, recipe: str) -> str:
    clean = scores.filter(
        (pl.col("probe") == "clean")
        & (pl.col("recipe") == recipe)
        & ~pl.any_horizontal(pl.col("metric").str.ends_with(x) for x in NOT_TABLED)
    )
    per = over_seeds(clean, "target", "metric", "language")
    present = set(per["language"])
    langs = [x for x in LANGS if x in present] + sorted(present - set(LANGS) - {"all", "all_xl"})
    langs += [x for x in ("all_xl", "all") if x in present]
    head = "| target (metric) | " + " | ".join(langs) + " | no-skill baseline |"
    lines = [head, "|" + "---|" * (len(langs) + 2)]
    for (target, metric), rows in per.sort("target", "metric").group_by("target", "metric", maintain_order=True):
        got = {r["language"]: r for r in rows.iter_rows(named=True)}
        cells = [cell(got[x]) if x in got else "" for x in langs]
        lines.append(f"| {target} ({metric}) | " + " | ".join(cells) + f" | {baseline_text(rows, langs)} |")
    seeds = int(per["seeds"].max())
    return "\n".join(lines) + (
        f"\n\n[recipe `{recipe}`, clean, ×100; value [95% bootstrap interval over examples]"
        + (f", mean over {seeds} seeds with the widest interval" if seeds > 1 else ", one seed")
        + "; † = not above the no-skill baseline (the interval reaches it); all_xl = every language "
        "but English, all = every language]"
    )


def robustness(scores: pl.DataFrame, recipe: str) -> str:
    """Per target and probe, over every language (`all`): each metric's drop under the
    perturbations and the attack's success rate, with their 95% intervals (×100)."""
    from xlrobust.report.html import probe_label

    t = scores.filter(
        (pl.col("recipe") == recipe)
        & (pl.col("language") == "all")
        & (pl.col("metric").str.ends_with("_drop") | (pl.col("metric") == "attack_success_rate"))
    )
    g = (
        t.group_by("target", "probe", "rate", "metric")
        .agg(value=pl.col("value").mean(), lo=pl.col("ci_low").min(), hi=pl.col("ci_high").max())
        .sort("target", "probe", "rate", "metric", nulls_last=True)
    )
    lines = ["| target | probe | metric (all languages) | value [95% interval] |", "|---|---|---|---|"]
    for r in g.iter_rows(named=True):
        interval = f" [{100 * r['lo']:.1f}, {100 * r['hi']:.1f}]" if r["lo"] is not None else ""
        lines.append(
            f"| {r['target']} | {probe_label(r['probe'], r['rate'])} | {r['metric']} | {100 * r['value']:.1f}{interval} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--recipe", default="none")
    ap.add_argument("--write", type=Path, default=None, help=f"the file whose block to replace (the tables': {DOC})")
    a = ap.parse_args(argv)
    path = a.run_dir / "results" / "scores.parquet"
    if not path.exists():
        print(f"error: {path}: not found (run the studies first)", file=sys.stderr)
        return 1
    scores = pl.read_parquet(path)
    tables = figures(scores, a.recipe) + "\n\n" + robustness(scores, a.recipe)
    if a.write is None:
        print(tables)
        return 0
    try:
        text = replace_block(a.write.read_text(encoding="utf-8"), tables, str(a.write))
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    write_text(text, str(a.write))
    print(f"wrote the tables into {a.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
