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


def overall_language(s: pl.DataFrame) -> tuple[str, str]:
    """The language average the figures plot, and its words: `all_xl` (every language but
    English, the zero-shot ones) where there is one, else `all`, else the one language."""
    langs = s["language"].unique().to_list()
    if "all_xl" in langs:
        return "all_xl", "all_xl: languages but English"
    if "all" in langs:
        return "all", "all languages"
    return langs[0], langs[0]


def overall(s: pl.DataFrame) -> pl.DataFrame:
    """The rows of the language average the figures plot (overall_language)."""
    return s.filter(pl.col("language") == overall_language(s)[0])


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
        series,
        f"{metric} by perturbation rate",
        "perturbation rate (0 = clean)",
        f"{metric}, {overall_language(s)[1]} (%)",
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
        f"{metric} drop, {overall_language(s)[1]} (points)",
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
        f"<h3>Figure: continued MLM vs none — {escape(metric)} drop per probe (points, "
        f"{escape(overall_language(s)[1])})</h3>"
        + heatmap(d, "row", "col", "value", f"{metric} drop with and without continued multilingual MLM")
    )


def interval_chart(rows: list[dict], series: list[str], title: str, xlabel: str) -> str:
    """A forest plot as inline SVG: one row per language, a point with its 95% interval per
    series (recipe), the language's no-skill baseline as a dashed line across its row.
    `rows`: {"language", "baseline", series name: (value, lo, hi) or None}; values in [0, 1].
    Rows stay 18 px high whatever their number, so 40+ languages remain readable."""
    if not rows:
        return ""
    lw, right, top, rh = 70, 20, 46, max(18, 6 * len(series) + 6)
    w = 620
    pw = w - lw - right
    h = top + rh * len(rows) + 30
    px = lambda v: lw + max(0.0, min(1.0, v)) * pw  # noqa: E731
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}' role='img' "
        f"aria-label='{escape(title)}'>",
        f"<title>{escape(title)}</title>",
    ]
    for i, name in enumerate(series):  # legend
        c = COLOURS[i % len(COLOURS)]
        parts.append(
            f"<circle cx='{lw + 8 + 130 * i}' cy='12' r='4' fill='{c}'/>"
            f"<text x='{lw + 16 + 130 * i}' y='16' font-size='11' fill='{c}'>{escape(name)}</text>"
        )
    parts.append(
        f"<line x1='{lw + 8 + 130 * len(series)}' y1='12' x2='{lw + 28 + 130 * len(series)}' y2='12' stroke='#555' "
        f"stroke-dasharray='3,2'/><text x='{lw + 32 + 130 * len(series)}' y='16' font-size='11'>no-skill baseline</text>"
    )
    for k in range(6):  # grid and x axis in %
        x = px(k / 5)
        parts.append(
            f"<line x1='{x}' y1='{top - 6}' x2='{x}' y2='{top + rh * len(rows)}' stroke='#eee'/>"
            f"<text x='{x}' y='{top + rh * len(rows) + 14}' text-anchor='middle' font-size='10'>{20 * k}</text>"
        )
    parts.append(f"<text x='{lw + pw / 2}' y='{h - 4}' text-anchor='middle' font-size='12'>{escape(xlabel)}</text>")
    for j, r in enumerate(rows):
        y0 = top + j * rh
        if j % 2:
            parts.append(f"<rect x='{lw}' y='{y0}' width='{pw}' height='{rh}' fill='#fafafa'/>")
        parts.append(
            f"<text x='{lw - 6}' y='{y0 + rh / 2 + 4}' text-anchor='end' font-size='11'>{escape(str(r['language']))}</text>"
        )
        if r.get("baseline") is not None:
            x = px(r["baseline"])
            parts.append(
                f"<line x1='{x:.1f}' y1='{y0 + 1}' x2='{x:.1f}' y2='{y0 + rh - 1}' stroke='#555' stroke-dasharray='3,2'>"
                f"<title>{escape(str(r['language']))}: baseline {100 * r['baseline']:.1f}%</title></line>"
            )
        for i, name in enumerate(series):
            cell = r.get(name)
            if not cell or cell[0] is None:
                continue
            v, lo, hi = cell
            y = y0 + 6 + i * (rh - 12) / max(1, len(series) - 1) if len(series) > 1 else y0 + rh / 2
            c = COLOURS[i % len(COLOURS)]
            label = f"{r['language']} · {name}: {100 * v:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"
            parts.append(
                f"<line x1='{px(lo):.1f}' y1='{y:.1f}' x2='{px(hi):.1f}' y2='{y:.1f}' stroke='{c}' stroke-width='1.5'/>"
                f"<circle cx='{px(v):.1f}' cy='{y:.1f}' r='3' fill='{c}'><title>{escape(label)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)
