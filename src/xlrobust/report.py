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
from xlrobust.io import expand_paths, read_table, write_text

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}th,td{border:1px solid #ddd;padding:.3em .55em;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.answer{background:#f0f6ff;border-left:4px solid #3b82f6;padding:.6em 1em}
.ci{color:#777;font-size:.85em}ins{background:#fde68a;text-decoration:none}del{background:#fecaca}
.ex td{text-align:left;max-width:420px}small{color:#666}
"""


# What the adversarial-examples table reads from an attack file.
ATTACK_EXAMPLE_COLUMNS = ["id", "lang", "status", "text_a", "perturbed_text_a", "text_b", "perturbed_text_b", "pred",
                          "perturbed_pred"]


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


def _probe_label(probe: str, rate) -> str:
    return probe if rate is None else f"{probe}@{rate:g}"


def probe_label_expr() -> pl.Expr:
    """`_probe_label` as a polars expression over the probe and rate columns."""
    return pl.struct("probe", "rate").map_elements(lambda r: _probe_label(r["probe"], r["rate"]), return_dtype=pl.String)


METRIC_WORDS = {
    "accuracy": "clean accuracy",
    "accuracy_drop": "the accuracy lost to the perturbation",
    "accuracy_under_attack": "accuracy under attack",
}


def answer_sentences(c: pl.DataFrame) -> list[str]:
    """One sentence per paired comparison: effect in points, 95% interval, Holm p."""
    out = []
    for r in c.sort("probe", "rate", "recipe", nulls_last=True).iter_rows(named=True):
        sig = r["p_holm"] is not None and r["p_holm"] < 0.05
        verdict = "a significant difference" if sig else "no significant difference"
        if r["metric"] == "accuracy_drop":
            direction = "less robust" if r["diff"] > 0 else "more robust"
        elif r["metric"] == "accuracy_under_attack":
            direction = "more robust" if r["diff"] > 0 else "less robust"
        else:
            direction = "better" if r["diff"] > 0 else "worse"
        out.append(
            f"<b>{escape(r['recipe'])}</b> vs <b>none</b> ({escape(r['model'])}, {escape(r['target'])}, "
            f"{escape(_probe_label(r['probe'], r['rate']))}): {METRIC_WORDS.get(r['metric'], escape(r['metric']))} is "
            f"{100 * r['recipe_value']:.1f}% vs {100 * r['baseline_value']:.1f}%, a difference of "
            f"{100 * r['diff']:+.1f} points (95% CI {100 * r['ci_low']:+.1f} to {100 * r['ci_high']:+.1f}; "
            f"Holm-adjusted p = {r['p_holm']:.3g}; {r['n']} paired examples): {verdict}"
            + (f", {direction} after intermediate training." if sig else ".")
        )
    return out


def headline(c: pl.DataFrame) -> str:
    """The study's one-sentence answer: how many recipe-vs-none comparisons differ after
    Holm, in which direction, and the largest effect with its interval."""
    sig = c.filter(pl.col("p_holm") < 0.05)
    worse = sig.filter(((pl.col("metric") == "accuracy_drop") & (pl.col("diff") > 0))
                       | ((pl.col("metric") == "accuracy_under_attack") & (pl.col("diff") < 0))).height
    better = sig.filter(pl.col("metric").is_in(["accuracy_drop", "accuracy_under_attack"])).height - worse
    top = c.with_columns(a=pl.col("diff").abs()).sort("a", descending=True).row(0, named=True)
    return (f"{sig.height} of {c.height} recipe-vs-none comparisons differ significantly after Holm correction "
            f"({worse} less robust, {better} more robust after intermediate training); the largest effect is "
            f"<b>{escape(top['recipe'])}</b> on {escape(_probe_label(top['probe'], top['rate']))} "
            f"({METRIC_WORDS.get(top['metric'], escape(top['metric']))}): {100 * top['diff']:+.1f} points "
            f"(95% CI {100 * top['ci_low']:+.1f} to {100 * top['ci_high']:+.1f}; Holm p = {top['p_holm']:.3g}).")


def recipe_max_lengths(recipes: dict, names: list[str]) -> dict[str, int]:
    """Recipes of a study that differ only in the intermediate max length (Q5)."""
    from xlrobust.train import DEFAULTS

    trained = [r for r in names if r != "none" and recipes[r].get("datasets")]
    lengths = {r: recipes[r].get("train", {}).get("max_length", DEFAULTS["max_length"]) for r in trained}
    same_data = len({tuple(recipes[r]["datasets"]) for r in trained}) == 1
    return lengths if same_data and len(set(lengths.values())) >= 2 else {}


def max_length_curves(s: pl.DataFrame, lengths: dict[str, int]) -> str:
    """Accuracy drop (all languages, mean over seeds) against the intermediate max length,
    one line per probe; the `none` baseline is listed beside the figure."""
    d = _mean_over_seeds(_overall(s).filter((pl.col("metric") == "accuracy_drop") & pl.col("recipe").is_in(list(lengths))),
                         "recipe", "probe", "rate")
    series: dict[str, list] = {}
    for r in d.iter_rows(named=True):
        series.setdefault(_probe_label(r["probe"], r["rate"]), []).append((lengths[r["recipe"]], r["value"]))
    return line_chart(series, "accuracy drop by intermediate max sequence length", "intermediate max length (tokens)",
                      "accuracy drop, all languages (points)", y_range=_y_range(series))


def mlm_comparison(s: pl.DataFrame, recipes: dict, names: list[str]) -> str:
    """Accuracy drop per probe for recipes with and without continued MLM (Q4)."""
    with_mlm = [r for r in names if "mlm" in recipes.get(r, {})]
    if not with_mlm:
        return ""
    d = (_overall(s).filter(pl.col("metric") == "accuracy_drop")
         .with_columns(col=pl.when(pl.col("recipe").is_in(with_mlm)).then(pl.col("recipe") + " (MLM)")
                       .otherwise(pl.col("recipe") + " (no MLM)"), row=probe_label_expr())
         .group_by("row", "col").agg(pl.col("value").mean()).sort("row"))
    if not d.height:
        return ""
    return ("<h3>Figure: continued MLM vs none — accuracy drop per probe (points, all languages)</h3>"
            + heatmap(d, "row", "col", "value", "accuracy drop with and without continued multilingual MLM"))


def _overall(s: pl.DataFrame) -> pl.DataFrame:
    """The all-language rows; with a single language, that language's rows."""
    langs = s["language"].unique().to_list()
    return s.filter(pl.col("language") == ("all" if "all" in langs else langs[0]))


def _y_range(series: dict) -> tuple[float, float]:
    ys = [y for pts in series.values() for _, y in pts] or [0.0]
    lo, hi = min(min(ys), 0.0), max(max(ys), 0.0)
    pad = 0.1 * (hi - lo or 0.1)
    return lo - pad, hi + pad


def line_chart(series: dict[str, list[tuple[float, float]]], title: str, xlabel: str, ylabel: str,
               y_range: tuple[float, float] = (0.0, 1.0)) -> str:
    """An inline SVG line chart: one polyline per series of (x, y) points, y shown in %."""
    w, h, left, bottom, top, right = 560, 300, 50, 40, 20, 170
    xs = sorted({x for pts in series.values() for x, _ in pts})
    if not xs:
        return ""
    x0, x1 = xs[0], xs[-1] if xs[-1] > xs[0] else xs[0] + 1
    px = lambda x: left + (x - x0) / (x1 - x0) * (w - left - right)
    y0, y1 = y_range
    py = lambda y: top + (1 - (y - y0) / (y1 - y0)) * (h - top - bottom)
    colours = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#db2777"]
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' aria-label='{escape(title)}'>",
             f"<title>{escape(title)}</title>",
             f"<line x1='{left}' y1='{py(y0)}' x2='{w - right}' y2='{py(y0)}' stroke='#999'/>",
             f"<line x1='{left}' y1='{py(y0)}' x2='{left}' y2='{py(y1)}' stroke='#999'/>",
             f"<text x='{(left + w - right) / 2}' y='{h - 5}' text-anchor='middle' font-size='12'>{escape(xlabel)}</text>",
             f"<text x='12' y='{top + (h - top - bottom) / 2}' font-size='12' transform='rotate(-90 12 {top + (h - top - bottom) / 2})' text-anchor='middle'>{escape(ylabel)}</text>"]
    for k in range(5):
        y = y0 + (y1 - y0) * k / 4
        parts.append(f"<text x='{left - 6}' y='{py(y) + 4}' text-anchor='end' font-size='10'>{100 * y:.{0 if y1 - y0 > 0.2 else 1}f}</text>")
    for x in xs:
        parts.append(f"<text x='{px(x)}' y='{py(y0) + 14}' text-anchor='middle' font-size='10'>{x:g}</text>")
    for i, (name, pts) in enumerate(sorted(series.items())):
        c = colours[i % len(colours)]
        pts = sorted(pts)
        parts.append(f"<polyline fill='none' stroke='{c}' stroke-width='2' points='{' '.join(f'{px(x):.1f},{py(y):.1f}' for x, y in pts)}'/>")
        parts += [f"<circle cx='{px(x):.1f}' cy='{py(y):.1f}' r='3' fill='{c}'><title>{escape(name)}: {100 * y:.1f}% at {x:g}</title></circle>" for x, y in pts]
        parts.append(f"<text x='{w - right + 8}' y='{top + 14 * i + 10}' font-size='11' fill='{c}'>{escape(name)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def rate_curves(s: pl.DataFrame) -> str:
    """Accuracy (all-language average, mean over seeds) against perturbation rate, rate 0 = clean."""
    acc = _overall(s).filter(pl.col("metric") == "accuracy")
    clean = _mean_over_seeds(acc.filter(pl.col("probe") == "clean"), "model", "recipe", "target")
    pert = _mean_over_seeds(acc.filter(pl.col("rate").is_not_null()), "model", "recipe", "target", "probe", "rate")
    series: dict[str, list] = {}
    for r in pert.iter_rows(named=True):
        series.setdefault(f"{r['recipe']} · {r['probe']}", []).append((r["rate"], r["value"]))
    for name in list(series):
        recipe = name.split(" · ")[0]
        base = clean.filter(pl.col("recipe") == recipe)["value"]
        if len(base):
            series[name].append((0.0, base.mean()))
    return line_chart(series, "accuracy by perturbation rate", "perturbation rate (0 = clean)", "accuracy, all languages (%)")


def study_section(name: str, st: dict, scores: pl.DataFrame, comparisons: pl.DataFrame, attacks: pl.DataFrame,
                  recipes: dict | None = None) -> str:
    recipes = recipes or {}
    s = scores.filter(pl.col("model").is_in(st["models"]) & pl.col("recipe").is_in(st["recipes"])
                      & pl.col("target").is_in(st["targets"]) & pl.col("seed").is_in(st["seeds"]))
    out = [f"<h2 id='study-{escape(name)}'>Study: {escape(name)}</h2>", f"<p><b>Question.</b> {escape(st['question'])}</p>"]
    if s.height == 0:
        return "".join(out) + "<p>No scores for this study yet.</p>"
    per_lang = s.filter(~pl.col("language").is_in(["all", "all_xl"]))
    langs = sorted(per_lang["language"].unique().to_list())
    cols = langs + [c for c in ("all_xl", "all") if c in s["language"].unique()]
    c = comparisons.filter(pl.col("study") == name) if comparisons.height else comparisons
    seeds = s["seed"].n_unique()
    if c.height:
        out.append(f"<div class='answer'><b>Answer.</b> {headline(c)} <small>(paired over the same examples and "
                   f"{seeds} seed(s), {len(langs)} languages; Holm correction across the {c.height} comparisons of "
                   f"this study.)</small><details{' open' if c.height <= 8 else ''}><summary>every comparison</summary><ul>"
                   + "".join(f"<li>{x}</li>" for x in answer_sentences(c)) + "</ul></details></div>")
    else:
        out.append("<div class='answer'><b>Answer.</b> No recipe-vs-none comparison: the study has no `none` recipe.</div>")
    d = (per_lang.filter(pl.col("metric") == "accuracy_drop")
         .with_columns(row=pl.col("recipe") + " · " + probe_label_expr())
         .group_by("row", "language").agg(pl.col("value").mean()).sort("row"))
    if d.height:
        out.append("<h3>Figure: accuracy drop under perturbation by language (points, mean over seeds)</h3>")
        out.append(heatmap(d, "row", "language", "value", f"accuracy drop per recipe and language, study {name}"))
    if s.filter(pl.col("rate").is_not_null())["rate"].n_unique() >= 1:
        out.append("<h3>Figure: accuracy by perturbation rate</h3>" + rate_curves(s))
    lengths = recipe_max_lengths(recipes, st["recipes"])
    if lengths:
        out.append("<h3>Figure: accuracy drop by the intermediate task's max sequence length</h3>"
                   + max_length_curves(s, lengths))
    out.append(mlm_comparison(s, recipes, st["recipes"]))
    if c.height:
        ct = c.select("recipe", "baseline", probe_label_expr().alias("probe"),
            "metric", "recipe_value", "baseline_value", "diff", "ci_low", "ci_high", "p_value", "p_holm", "n")
        pts = {k: (lambda x: "–" if x is None else f"{100 * x:+.1f}") for k in ("diff", "ci_low", "ci_high")}
        out.append("<h3>Paired comparisons with <code>none</code> (points; p from a paired permutation test)</h3>")
        out.append(table(ct, {"recipe_value": pct, "baseline_value": pct, **pts,
                              "p_value": lambda x: f"{x:.3g}", "p_holm": lambda x: f"{x:.3g}"}, left=4))
    for metric, title in (("accuracy", "Accuracy"), ("macro_f1", "Macro-F1")):
        t = _mean_over_seeds(s.filter(pl.col("metric") == metric), "model", "recipe", "probe", "rate", "language")
        if not t.height:
            continue
        t = t.with_columns(cell=pl.when(pl.col("sd").is_null()).then(pl.format("{}", (100 * pl.col("value")).round(1)))
                           .otherwise(pl.format("{} ± {}", (100 * pl.col("value")).round(1), (100 * pl.col("sd")).round(1))),
                           input=probe_label_expr())
        wide = t.pivot(on="language", index=["model", "recipe", "input"], values="cell").sort("model", "recipe", "input")
        out.append(f"<h3>{title} per language (%, mean ± sd over seeds; all_xl = every language but English)</h3>")
        out.append(table(wide.select("model", "recipe", "input", *[x for x in cols if x in wide.columns]), left=3))
    a = _mean_over_seeds(s.filter(pl.col("metric").is_in(["attack_success_rate", "accuracy_under_attack", "mean_queries",
                                                          "perturbed_words_pct"])), "model", "recipe", "probe", "metric", "language")
    if a.height:
        wide = a.pivot(on="language", index=["model", "recipe", "probe", "metric"], values="value").sort("model", "recipe", "metric")
        fmt = lambda x: "–" if x is None else f"{x:.3g}"
        out.append("<h3>Adaptive attacks (rates as fractions; mean over seeds)</h3>")
        from xlrobust.attack import RECIPE_NOTES

        used = sorted({p.removeprefix("attack:") for p in wide["probe"]})
        out.append("<ul>" + "".join(f"<li><b>{escape(r)}</b>: {escape(RECIPE_NOTES.get(r, ''))}</li>" for r in used) + "</ul>")
        out.append(table(wide.select("model", "recipe", "probe", "metric", *[x for x in cols if x in wide.columns]),
                         {x: fmt for x in cols}, left=4))
    if attacks.height:
        ex = (attacks.filter((pl.col("status") == "succeeded") & pl.col("recipe").is_in(st["recipes"]))
              .group_by("lang", maintain_order=True).head(2).sort("lang"))
        if ex.height:
            rows = []
            for r in ex.iter_rows(named=True):
                o, p = mark_changes(r["text_a"], r["perturbed_text_a"])
                if r["text_b"] is not None:  # a sentence pair: both sides, each with its changes marked
                    o2, p2 = mark_changes(r["text_b"], r["perturbed_text_b"] or "")
                    o, p = (f"{x}<br><small>second sentence:</small> {y}" for x, y in ((o, o2), (p, p2)))
                rows.append(f"<tr><td>{escape(r['lang'])}</td><td>{escape(r['recipe'])}</td><td dir='auto'>{o}</td>"
                            f"<td dir='auto'>{p}</td><td>{r['pred']} → {r['perturbed_pred']}</td></tr>")
            out.append("<h3>Adversarial examples per language (changed characters marked)</h3><table class='ex'><tr><th>lang</th>"
                       "<th>recipe</th><th>original</th><th>perturbed</th><th>prediction</th></tr>" + "".join(rows) + "</table>")
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
        where = f"local files {meta['local']}" if meta.get("local") else f"{meta.get('hub')} @ {meta.get('revision')}"
        rows.append((f"dataset {meta['dataset']}", f"{meta['task']} from {where} ({counts})"))
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


def write_report(cfg: dict, scores_path: str, attack_paths: list[str], data_meta: list[str], benchmarks: list[str],
                 out: str, comparisons_path: str | None = None) -> None:
    from xlrobust.score import COMPARISON_SCHEMA, SCORE_SCHEMA

    scores = read_table(scores_path, list(SCORE_SCHEMA))
    comparisons = read_table(comparisons_path, list(COMPARISON_SCHEMA)) if comparisons_path else pl.DataFrame()
    frames = []
    for p in expand_paths(attack_paths):
        key = layout.parse(layout.ATTACK_RE, p)
        frames.append(read_table(p, ATTACK_EXAMPLE_COLUMNS).with_columns(recipe=pl.lit(key["recipe"]), attack=pl.lit(key["attack"])))
    attacks = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    studies = cfgmod.selected_studies(cfg)
    nav = " · ".join(f"<a href='#study-{escape(n)}'>{escape(n)}</a>" for n in studies)
    body = "".join(study_section(n, cfg["study"][n], scores, comparisons, attacks, cfg["recipes"]) for n in studies)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    html = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
            f"<title>xlrobust report</title><style>{CSS}</style></head><body>"
            f"<h1>xlrobust: robustness of zero-shot cross-lingual transfer after English intermediate training</h1>"
            f"<p><small>Generated {now}. Studies: {nav} · <a href='#provenance'>provenance</a></small></p>"
            f"{body}{provenance(cfg, data_meta, benchmarks)}</body></html>")
    write_text(html, out)
