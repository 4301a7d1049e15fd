"""The self-contained HTML report: every study's question, its answer in numbers, the
tables and an inline SVG figure behind it, adversarial examples, provenance.

No scripts, no external requests; every piece of dataset or adversarial text passes
through `html.escape`.
"""

from __future__ import annotations

import difflib
import json
import subprocess
from datetime import datetime, timezone
from html import escape
from importlib import metadata
from pathlib import Path

import polars as pl

from xlrobust import config as cfgmod
from xlrobust import layout
from xlrobust.io import expand_paths, read_parquet, write_text

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}th,td{border:1px solid #ddd;padding:.3em .55em;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.answer{background:#f0f6ff;border-left:4px solid #3b82f6;padding:.6em 1em}
.ci{color:#777;font-size:.85em}ins{background:#fde68a;text-decoration:none}del{background:#fecaca}
.ex td{text-align:left;max-width:420px}small{color:#666}
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
    fmt = fmt or {}
    head = "".join(f"<th class='l'>{escape(c)}</th>" if i < left else f"<th>{escape(c)}</th>" for i, c in enumerate(df.columns))
    rows = []
    for r in df.iter_rows():
        cells = []
        for i, (c, v) in enumerate(zip(df.columns, r)):
            s = fmt.get(c, lambda x: "–" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x)))(v)
            cells.append(f"<td class='l'>{escape(s)}</td>" if i < left else f"<td>{escape(s)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def heatmap(df: pl.DataFrame, row: str, col: str, value: str, title: str) -> str:
    """An inline SVG heatmap (rows x columns), values as percentage points."""
    rows = df[row].unique(maintain_order=True).to_list()
    cols = sorted(df[col].unique().to_list())
    cell = {(r[row], r[col]): r[value] for r in df.iter_rows(named=True)}
    vmax = max([abs(v) for v in cell.values() if v is not None] + [1e-9])
    cw, ch, lw, top = 64, 26, 230, 40
    w, h = lw + cw * len(cols) + 10, top + ch * len(rows) + 10
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' aria-label='{escape(title)}'>",
             f"<title>{escape(title)}</title>"]
    for j, c in enumerate(cols):
        parts.append(f"<text x='{lw + j * cw + cw / 2}' y='{top - 10}' text-anchor='middle' font-size='13'>{escape(c)}</text>")
    for i, r in enumerate(rows):
        y = top + i * ch
        parts.append(f"<text x='{lw - 8}' y='{y + ch / 2 + 4}' text-anchor='end' font-size='12'>{escape(r)}</text>")
        for j, c in enumerate(cols):
            v = cell.get((r, c))
            t = 0 if v is None else v / vmax
            # red = accuracy lost under perturbation, blue = gained
            fill = f"rgb(255,{int(255 - 170 * t)},{int(255 - 170 * t)})" if t >= 0 else f"rgb({int(255 + 170 * t)},{int(255 + 170 * t)},255)"
            label = "–" if v is None else f"{100 * v:+.1f}"
            parts.append(f"<rect x='{lw + j * cw}' y='{y}' width='{cw - 2}' height='{ch - 2}' fill='{fill}'/>"
                         f"<text x='{lw + j * cw + cw / 2}' y='{y + ch / 2 + 4}' text-anchor='middle' font-size='12'>{label}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _mean_over_seeds(scores: pl.DataFrame, *keys: str) -> pl.DataFrame:
    return scores.group_by(*keys).agg(value=pl.col("value").mean(), sd=pl.col("value").std(), seeds=pl.len())


def study_section(name: str, st: dict, scores: pl.DataFrame, attacks: pl.DataFrame) -> str:
    s = scores.filter(pl.col("model").is_in(st["models"]) & pl.col("recipe").is_in(st["recipes"])
                      & pl.col("target").is_in(st["targets"]) & pl.col("seed").is_in(st["seeds"]))
    out = [f"<h2 id='study-{escape(name)}'>Study: {escape(name)}</h2>", f"<p><b>Question.</b> {escape(st['question'])}</p>"]
    if s.height == 0:
        return "".join(out) + "<p>No scores for this study yet.</p>"
    langs = sorted(s["language"].unique().to_list())
    acc = s.filter(pl.col("metric") == "accuracy").with_columns(
        probe_rate=pl.when(pl.col("rate").is_null()).then(pl.col("probe"))
        .otherwise(pl.col("probe") + "@" + pl.col("rate").cast(pl.String)))
    # answer: each recipe's mean accuracy drop vs `none`, per probe
    drops = (s.filter(pl.col("metric") == "accuracy_drop")
             .with_columns(probe_rate=pl.col("probe") + "@" + pl.col("rate").cast(pl.String))
             .group_by("model", "recipe", "target", "probe_rate").agg(pl.col("value").mean(), n_seeds=pl.col("seed").n_unique()))
    sentences = []
    for (model, target, probe), g in drops.group_by("model", "target", "probe_rate", maintain_order=True):
        base = g.filter(pl.col("recipe") == "none")
        for r in g.filter(pl.col("recipe") != "none").iter_rows(named=True):
            if base.height:
                b = base["value"][0]
                d = 100 * (r["value"] - b)
                word = "no change" if abs(d) < 0.05 else ("more affected" if d > 0 else "less affected")
                sentences.append(
                    f"{model} on {target}, {probe}: after intermediate training on <b>{escape(r['recipe'])}</b> accuracy drops by "
                    f"{100 * r['value']:.1f} points under perturbation vs {100 * b:.1f} without it "
                    f"({d:+.1f} points: {word}), mean of {len(langs)} languages and {r['n_seeds']} seed(s).")
    atk = s.filter(pl.col("metric") == "attack_success_rate").group_by("recipe", "probe").agg(pl.col("value").mean())
    for r in atk.sort("recipe").iter_rows(named=True):
        sentences.append(f"{escape(r['probe'])} succeeds on {pct(r['value'])}% of attacked examples after recipe <b>{escape(r['recipe'])}</b>.")
    out.append("<div class='answer'><b>Answer (demo-scale evidence).</b><ul>" + "".join(f"<li>{x}</li>" for x in sentences) + "</ul></div>")
    # figure: accuracy drop heatmap, (recipe, probe) x language
    d = (s.filter(pl.col("metric") == "accuracy_drop")
         .with_columns(row=pl.col("recipe") + " · " + pl.col("probe") + "@" + pl.col("rate").cast(pl.String))
         .group_by("row", "language").agg(pl.col("value").mean()).sort("row"))
    if d.height:
        out.append("<h3>Accuracy drop under perturbation (points, mean over seeds)</h3>")
        out.append(heatmap(d, "row", "language", "value", f"accuracy drop per recipe and language, study {name}"))
    # table: clean and perturbed accuracy per language per recipe
    t = _mean_over_seeds(acc, "model", "recipe", "probe_rate", "language")
    wide = t.pivot(on="language", index=["model", "recipe", "probe_rate"], values="value").sort("model", "recipe", "probe_rate")
    wide = wide.select("model", "recipe", "probe_rate", *[c for c in langs if c in wide.columns])
    out.append("<h3>Accuracy per language (%, mean over seeds)</h3>")
    out.append(table(wide.rename({"probe_rate": "input"}), {c: pct for c in langs}, left=3))
    a = _mean_over_seeds(s.filter(pl.col("metric").is_in(["attack_success_rate", "accuracy_under_attack"])),
                         "model", "recipe", "probe", "metric", "language")
    if a.height:
        wide = a.pivot(on="language", index=["model", "recipe", "probe", "metric"], values="value").sort("model", "recipe", "metric")
        out.append("<h3>Adaptive attacks (%, mean over seeds)</h3>")
        out.append(table(wide.select("model", "recipe", "probe", "metric", *[c for c in langs if c in wide.columns]),
                         {c: pct for c in langs}, left=4))
    if attacks.height:
        ex = (attacks.filter((pl.col("status") == "succeeded") & pl.col("recipe").is_in(st["recipes"]))
              .group_by("lang", maintain_order=True).head(2).sort("lang"))
        if ex.height:
            rows = []
            for r in ex.iter_rows(named=True):
                o, p = mark_changes(r["text_a"], r["perturbed_text_a"])
                rows.append(f"<tr><td>{escape(r['lang'])}</td><td>{escape(r['recipe'])}</td><td>{o}</td><td>{p}</td>"
                            f"<td>{r['pred']} → {r['perturbed_pred']}</td></tr>")
            out.append("<h3>Adversarial examples (changed characters marked)</h3><table class='ex'><tr><th>lang</th><th>recipe</th>"
                       "<th>original</th><th>perturbed</th><th>prediction</th></tr>" + "".join(rows) + "</table>")
    return "".join(out)


def provenance(cfg: dict, data_meta: list[str], benchmarks: list[str]) -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5).stdout.strip()
    except OSError:
        commit = ""
    pkgs = []
    for p in ["xlrobust", "torch", "transformers", "datasets", "textattack", "polars", "snakemake", "dvc"]:
        try:
            pkgs.append((p, metadata.version(p)))
        except metadata.PackageNotFoundError:
            pkgs.append((p, "not installed"))
    rows = [("config sha256", cfgmod.config_hash(cfg)), ("git commit", commit or "unknown")] + pkgs
    rows += [(f"model {k}", f"{v['source']} @ {v.get('revision') or 'unpinned'}") for k, v in cfg["models"].items()]
    for m in data_meta:
        meta = json.loads(Path(m).read_text(encoding="utf-8"))
        counts = "; ".join(f"{s}: " + ", ".join(f"{lang} {n}" for lang, n in v["rows"].items()) for s, v in meta["splits"].items())
        rows.append((f"dataset {meta['dataset']}", f"{meta['task']} @ {meta.get('revision') or ('local ' + str(meta.get('local')))} ({counts})"))
    html = "<h2 id='provenance'>Provenance</h2>" + table(pl.DataFrame(rows, schema=["what", "value"], orient="row"), left=2)
    benchmarks = expand_paths([b for b in benchmarks if Path(b).exists()], "*.tsv")
    if benchmarks:
        cost = []
        for b in benchmarks:
            df = pl.read_csv(b, separator="\t")
            cost.append((Path(b).parent.name, Path(b).stem, float(df["s"][0]), float(df["max_rss"][0]) if "max_rss" in df.columns else None))
        bdf = (pl.DataFrame(cost, schema=["stage", "job", "seconds", "max_rss_mb"], orient="row")
               .group_by("stage").agg(jobs=pl.len(), seconds=pl.col("seconds").sum(), max_rss_mb=pl.col("max_rss_mb").max()).sort("stage"))
        html += "<h3>Compute cost per stage (from the rules' benchmark files)</h3>" + table(bdf)
    return html


def write_report(cfg: dict, scores_path: str, attack_paths: list[str], data_meta: list[str], benchmarks: list[str], out: str) -> None:
    scores = read_parquet(scores_path)
    frames = []
    for p in expand_paths(attack_paths):
        key = layout.parse(layout.ATTACK_RE, p)
        frames.append(read_parquet(p).with_columns(recipe=pl.lit(key["recipe"]), attack=pl.lit(key["attack"])))
    attacks = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    studies = cfgmod.selected_studies(cfg)
    nav = " · ".join(f"<a href='#study-{escape(n)}'>{escape(n)}</a>" for n in studies)
    body = "".join(study_section(n, cfg["study"][n], scores, attacks) for n in studies)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    html = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
            f"<title>xlrobust report</title><style>{CSS}</style></head><body>"
            f"<h1>xlrobust: robustness of zero-shot cross-lingual transfer after English intermediate training</h1>"
            f"<p><small>Generated {now}. Studies: {nav} · <a href='#provenance'>provenance</a></small></p>"
            f"{body}{provenance(cfg, data_meta, benchmarks)}</body></html>")
    write_text(html, out)
