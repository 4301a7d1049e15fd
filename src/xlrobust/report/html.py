"""HTML building blocks of the report: escaping tables, marked text changes, numbers.
Every piece of dataset, adversarial or config text passes through `html.escape`."""

from __future__ import annotations

import difflib
from html import escape

import polars as pl

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}th,td{border:1px solid #ddd;padding:.3em .55em;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.answer{background:#f0f6ff;border-left:4px solid #3b82f6;padding:.6em 1em}
.ci{color:#777;font-size:.85em}ins{background:#fde68a;text-decoration:none}del{background:#fecaca}
.ex td{text-align:left;max-width:420px}small{color:#666}
.wide{overflow-x:auto;max-width:100%}svg{max-width:100%;height:auto}
"""


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def mark_changes(a: str, b: str) -> tuple[str, str]:
    """Escape both texts and mark the characters that differ."""
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    left, right = [], []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        x, y = escape(a[i1:i2]), escape(b[j1:j2])
        if op == "equal":
            left.append(x), right.append(y)
        else:
            left.append(f"<del>{x}</del>" if x else "")
            right.append(f"<ins>{y}</ins>" if y else "")
    return "".join(left), "".join(right)


def table(df: pl.DataFrame, fmt=None, left: int = 1) -> str:
    """An HTML table; the first `left` columns left-aligned; `fmt`: column -> formatter.
    Wrapped so a wide table scrolls inside the page instead of widening it."""
    fmt = fmt or {}
    head = "".join(
        f"<th class='l'>{escape(c)}</th>" if i < left else f"<th>{escape(c)}</th>" for i, c in enumerate(df.columns)
    )
    rows = []
    for r in df.iter_rows():
        cells = []
        for i, (c, v) in enumerate(zip(df.columns, r)):
            s = fmt.get(c, lambda x: "–" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x)))(v)
            cells.append(f"<td class='l'>{escape(s)}</td>" if i < left else f"<td>{escape(s)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class='wide'><table><tr>{head}</tr>{''.join(rows)}</table></div>"


def probe_label(probe: str, rate) -> str:
    return probe if rate is None else f"{probe}@{rate:g}"


def probe_label_expr() -> pl.Expr:
    """`probe_label` as a polars expression over the probe and rate columns."""
    return pl.struct("probe", "rate").map_elements(lambda r: probe_label(r["probe"], r["rate"]), return_dtype=pl.String)
