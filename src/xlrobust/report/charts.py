"""The report's figures, as inline SVG (no scripts, no requests): a heatmap of metric
drops, line charts of a metric over perturbation rate and over the intermediate
task's max length, and the continued-MLM comparison."""

from __future__ import annotations

from html import escape

import polars as pl

from xlrobust.report.html import probe_label, probe_label_expr

COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#db2777"]


def heatmap(df: pl.DataFrame, row: str, col: str, value: str, title: str) -> str:
    """An inline SVG heatmap (rows x columns), values as percentage points. With more
    columns than fit 1100 px it is drawn transposed (columns as rows)."""
    rows = df[row].unique(maintain_order=True).to_list()
    cols = sorted(df[col].unique().to_list())
    cell = {(r[row], r[col]): r[value] for r in df.iter_rows(named=True)}
    if len(cols) > 12 and len(cols) > len(rows):  # many languages: languages as rows
        rows, cols = cols, rows
        cell = {(c, r): v for (r, c), v in cell.items()}
    vmax = max([abs(v) for v in cell.values() if v is not None] + [1e-9])
    label_w = max([len(str(r)) for r in rows] + [10]) * 7 + 20
    cw, ch, lw, top = 64, 26, min(label_w, 320), 40
    w, h = lw + cw * len(cols) + 10, top + ch * len(rows) + 10
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}' role='img' "
        f"aria-label='{escape(title)}'>",
        f"<title>{escape(title)}</title>",
    ]
    for j, c in enumerate(cols):
        parts.append(
            f"<text x='{lw + j * cw + cw / 2}' y='{top - 10}' text-anchor='middle' font-size='12'>"
            f"{escape(str(c))}</text>"
        )
    for i, r in enumerate(rows):
        y = top + i * ch
        parts.append(
            f"<text x='{lw - 8}' y='{y + ch / 2 + 4}' text-anchor='end' font-size='12'>{escape(str(r))}</text>"
        )
        for j, c in enumerate(cols):
            v = cell.get((r, c))
            t = 0 if v is None else v / vmax
            # red = metric lost under perturbation, blue = gained
            fill = (
                f"rgb(255,{int(255 - 170 * t)},{int(255 - 170 * t)})"
                if t >= 0
                else f"rgb({int(255 + 170 * t)},{int(255 + 170 * t)},255)"
            )
            label = "–" if v is None else f"{100 * v:+.1f}"
            parts.append(
                f"<rect x='{lw + j * cw}' y='{y}' width='{cw - 2}' height='{ch - 2}' fill='{fill}'/>"
                f"<text x='{lw + j * cw + cw / 2}' y='{y + ch / 2 + 4}' text-anchor='middle' font-size='12'>{label}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def y_range(series: dict) -> tuple[float, float]:
    ys = [y for pts in series.values() for _, y in pts] or [0.0]
    lo, hi = min(min(ys), 0.0), max(max(ys), 0.0)
    pad = 0.1 * (hi - lo or 0.1)
    return lo - pad, hi + pad


def line_chart(
    series: dict[str, list[tuple[float, float]]],
    title: str,
    xlabel: str,
    ylabel: str,
    y_range: tuple[float, float] = (0.0, 1.0),
) -> str:
    """An inline SVG line chart: one polyline per series of (x, y) points, y shown in %."""
    w, h, left, bottom, top, right = 560, 300, 50, 40, 20, 170
    xs = sorted({x for pts in series.values() for x, _ in pts})
    if not xs:
        return ""
    x0, x1 = xs[0], xs[-1] if xs[-1] > xs[0] else xs[0] + 1
    px = lambda x: left + (x - x0) / (x1 - x0) * (w - left - right)  # noqa: E731
    y0, y1 = y_range
    py = lambda y: top + (1 - (y - y0) / (y1 - y0)) * (h - top - bottom)  # noqa: E731
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}' role='img' "
        f"aria-label='{escape(title)}'>",
        f"<title>{escape(title)}</title>",
        f"<line x1='{left}' y1='{py(y0)}' x2='{w - right}' y2='{py(y0)}' stroke='#999'/>",
        f"<line x1='{left}' y1='{py(y0)}' x2='{left}' y2='{py(y1)}' stroke='#999'/>",
        f"<text x='{(left + w - right) / 2}' y='{h - 5}' text-anchor='middle' font-size='12'>{escape(xlabel)}</text>",
        f"<text x='12' y='{top + (h - top - bottom) / 2}' font-size='12' transform='rotate(-90 12 {top + (h - top - bottom) / 2})' text-anchor='middle'>{escape(ylabel)}</text>",
    ]
    for k in range(5):
        y = y0 + (y1 - y0) * k / 4
        parts.append(
            f"<text x='{left - 6}' y='{py(y) + 4}' text-anchor='end' font-size='10'>{100 * y:.{0 if y1 - y0 > 0.2 else 1}f}</text>"
        )
    for x in xs:
        parts.append(f"<text x='{px(x)}' y='{py(y0) + 14}' text-anchor='middle' font-size='10'>{x:g}</text>")
    for i, (name, pts) in enumerate(sorted(series.items())):
        c = COLOURS[i % len(COLOURS)]
        pts = sorted(pts)
        parts.append(
            f"<polyline fill='none' stroke='{c}' stroke-width='2' points='{' '.join(f'{px(x):.1f},{py(y):.1f}' for x, y in pts)}'/>"
        )
        parts += [
            f"<circle cx='{px(x):.1f}' cy='{py(y):.1f}' r='3' fill='{c}'><title>{escape(name)}: {100 * y:.1f}% at {x:g}</title></circle>"
            for x, y in pts
        ]
        parts.append(
            f"<text x='{w - right + 8}' y='{top + 14 * i + 10}' font-size='11' fill='{c}'>{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def mean_over_seeds(scores: pl.DataFrame, *keys: str) -> pl.DataFrame:
    return scores.group_by(*keys).agg(value=pl.col("value").mean(), sd=pl.col("value").std(), seeds=pl.len())


def overall(s: pl.DataFrame) -> pl.DataFrame:
    """The all-language rows; with a single language, that language's rows."""
    langs = s["language"].unique().to_list()
    return s.filter(pl.col("language") == ("all" if "all" in langs else langs[0]))


def rate_curves(s: pl.DataFrame, metric: str = "accuracy") -> str:
    """The metric (all-language average, mean over seeds) against perturbation rate, rate 0 = clean."""
    acc = overall(s).filter(pl.col("metric") == metric)
    clean = mean_over_seeds(acc.filter(pl.col("probe") == "clean"), "model", "recipe", "target")
    pert = mean_over_seeds(acc.filter(pl.col("rate").is_not_null()), "model", "recipe", "target", "probe", "rate")
    series: dict[str, list] = {}
    for r in pert.iter_rows(named=True):
        series.setdefault(f"{r['recipe']} · {r['probe']}", []).append((r["rate"], r["value"]))
    for name in list(series):
        recipe = name.split(" · ")[0]
        base = clean.filter(pl.col("recipe") == recipe)["value"]
        if len(base):
            series[name].append((0.0, base.mean()))
    return line_chart(
        series, f"{metric} by perturbation rate", "perturbation rate (0 = clean)", f"{metric}, all languages (%)"
    )


def max_length_curves(s: pl.DataFrame, lengths: dict[str, int], metric: str = "accuracy") -> str:
    """The metric's drop (all languages, mean over seeds) against the intermediate max
    length, one line per probe."""
    d = mean_over_seeds(
        overall(s).filter((pl.col("metric") == f"{metric}_drop") & pl.col("recipe").is_in(list(lengths))),
        "recipe",
        "probe",
        "rate",
    )
    series: dict[str, list] = {}
    for r in d.iter_rows(named=True):
        series.setdefault(probe_label(r["probe"], r["rate"]), []).append((lengths[r["recipe"]], r["value"]))
    return line_chart(
        series,
        f"{metric} drop by intermediate max sequence length",
        "intermediate max length (tokens)",
        f"{metric} drop, all languages (points)",
        y_range=y_range(series),
    )


def mlm_comparison(s: pl.DataFrame, recipes: dict, names: list[str], metric: str = "accuracy") -> str:
    """The metric's drop per probe for recipes with and without continued MLM (Q4)."""
    with_mlm = [r for r in names if "mlm" in recipes.get(r, {})]
    if not with_mlm:
        return ""
    d = (
        overall(s)
        .filter(pl.col("metric") == f"{metric}_drop")
        .with_columns(
            col=pl.when(pl.col("recipe").is_in(with_mlm))
            .then(pl.col("recipe") + " (MLM)")
            .otherwise(pl.col("recipe") + " (no MLM)"),
            row=probe_label_expr(),
        )
        .group_by("row", "col")
        .agg(pl.col("value").mean())
        .sort("row")
    )
    if not d.height:
        return ""
    return (
        f"<h3>Figure: continued MLM vs none — {escape(metric)} drop per probe (points, all languages)</h3>"
        + heatmap(d, "row", "col", "value", f"{metric} drop with and without continued multilingual MLM")
    )
