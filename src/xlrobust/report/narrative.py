"""The study sections of the report: each study's question, its answer in numbers (per
task family: the effect of intermediate training differs by family), the figures and
tables behind it, and adversarial examples with their changes marked."""

from __future__ import annotations

from html import escape

import polars as pl

from xlrobust.attack import RECIPE_NOTES
from xlrobust.formats.tagging import SINGLE_CHAR, SINGLE_CHAR_FLAG
from xlrobust.report.charts import (
    heatmap,
    interval_chart,
    max_length_curves,
    mean_over_seeds,
    mlm_comparison,
    rate_curves,
)
from xlrobust.report.html import mark_changes, pct, probe_label, probe_label_expr, table
from xlrobust.settings import ReportSettings, TrainSettings, defaults

ATTACK_METRICS = ("attack_success_rate", "mean_queries", "perturbed_words_pct")
NOT_TABLED = ("_drop", "_under_attack", "flip_rate", "_share", *ATTACK_METRICS)  # _share: data, not model


def metric_words(metric: str) -> str:
    """What a compared metric is, in words (accuracy_drop: the accuracy lost to the perturbation)."""
    if metric.endswith("_drop"):
        return f"the {metric.removesuffix('_drop')} lost to the perturbation"
    if metric.endswith("_under_attack"):
        return f"{metric.removesuffix('_under_attack')} under attack"
    return f"clean {metric}"


def _direction(metric: str, diff: float) -> str:
    if metric.endswith("_drop"):
        return "less robust" if diff > 0 else "more robust"
    if metric.endswith("_under_attack"):
        return "more robust" if diff > 0 else "less robust"
    return "better" if diff > 0 else "worse"


def answer_sentences(c: pl.DataFrame) -> list[str]:
    """One sentence per paired comparison: effect in points, 95% interval, Holm p."""
    out = []
    for r in c.sort("probe", "rate", "recipe", nulls_last=True).iter_rows(named=True):
        sig = r["p_holm"] is not None and r["p_holm"] < 0.05
        verdict = "a significant difference" if sig else "no significant difference"
        out.append(
            f"<b>{escape(r['recipe'])}</b> vs <b>none</b> ({escape(r['model'])}, {escape(r['target'])}, "
            f"{escape(probe_label(r['probe'], r['rate']))}): {escape(metric_words(r['metric']))} is "
            f"{100 * r['recipe_value']:.1f}% vs {100 * r['baseline_value']:.1f}%, a difference of "
            f"{100 * r['diff']:+.1f} points (95% CI {100 * r['ci_low']:+.1f} to {100 * r['ci_high']:+.1f}; "
            f"Holm-adjusted p = {r['p_holm']:.3g}; {r['n']} paired examples): {verdict}"
            + (f", {_direction(r['metric'], r['diff'])} after intermediate training." if sig else ".")
        )
    return out


def headline(c: pl.DataFrame) -> str:
    """The one-sentence answer: how many recipe-vs-none comparisons differ after Holm, in
    which direction, and the largest effect with its interval."""
    sig = c.filter(pl.col("p_holm") < 0.05)
    robust = sig.filter(pl.col("metric").str.ends_with("_drop") | pl.col("metric").str.ends_with("_under_attack"))
    worse = robust.filter(
        (pl.col("metric").str.ends_with("_drop") & (pl.col("diff") > 0))
        | (pl.col("metric").str.ends_with("_under_attack") & (pl.col("diff") < 0))
    ).height
    better = robust.height - worse
    top = c.with_columns(a=pl.col("diff").abs()).sort("a", descending=True).row(0, named=True)
    return (
        f"{sig.height} of {c.height} recipe-vs-none comparisons differ significantly after Holm correction "
        f"({worse} less robust, {better} more robust after intermediate training); the largest effect is "
        f"<b>{escape(top['recipe'])}</b> on {escape(probe_label(top['probe'], top['rate']))} "
        f"({escape(metric_words(top['metric']))}): {100 * top['diff']:+.1f} points "
        f"(95% CI {100 * top['ci_low']:+.1f} to {100 * top['ci_high']:+.1f}; Holm p = {top['p_holm']:.3g})."
    )


def recipe_max_lengths(recipes: dict, names: list[str]) -> dict[str, int]:
    """Recipes of a study that differ only in the intermediate max length (Q5)."""

    trained = [r for r in names if r != "none" and recipes[r].get("datasets")]
    lengths = {r: recipes[r].get("train", {}).get("max_length", defaults(TrainSettings)["max_length"]) for r in trained}
    same_data = len({tuple(recipes[r]["datasets"]) for r in trained}) == 1
    return lengths if same_data and len(set(lengths.values())) >= 2 else {}


def no_comparison(st: dict) -> str:
    if "none" not in st["recipes"]:
        return "No recipe-vs-none comparison: the study has no <code>none</code> recipe to compare with."
    if set(st["recipes"]) == {"none"}:
        return (
            "No comparison to make: the study has only the <code>none</code> recipe (no intermediate training), "
            "so it describes robustness without answering how intermediate training changes it."
        )
    return "No recipe-vs-none comparison could be paired yet (no shared examples)."


def answer(c: pl.DataFrame, st: dict, seeds: int, langs: int, family: str | None, above: str = "") -> str:
    which = f" ({escape(family)})" if family else ""
    if not c.height:
        return f"<div class='answer'><b>Answer{which}.</b> {no_comparison(st)}{above}</div>"
    return (
        f"<div class='answer'><b>Answer{which}.</b> {headline(c)} <small>(paired over the same examples and "
        f"{seeds} seed(s), {langs} languages; Holm correction across the {c.height} comparisons of this "
        f"{'task family' if family else 'study'}.)</small><details{' open' if c.height <= 8 else ''}>"
        f"<summary>every comparison</summary><ul>"
        + "".join(f"<li>{x}</li>" for x in answer_sentences(c))
        + f"</ul></details>{above}</div>"
    )


AVERAGES = ("all_xl", "all")  # all_xl: every language but English; all: every language
AVERAGE_WORDS = "all_xl = mean over every language but English (zero-shot); all = mean over every language"


def series_name(model: str, recipe: str, models: int) -> str:
    return recipe if models == 1 else f"{model} · {recipe}"


def over_seeds(t: pl.DataFrame, *keys: str) -> pl.DataFrame:
    """One value per cell over seeds: the mean, the widest 95% interval of any seed, the
    baseline, and above the baseline only when every seed's interval is."""
    return t.group_by(*keys, maintain_order=True).agg(
        value=pl.col("value").mean(),
        lo=pl.col("ci_low").min(),
        hi=pl.col("ci_high").max(),
        baseline=pl.col("baseline").first(),
        kind=pl.col("baseline_kind").first(),
        above=pl.col("above_baseline").all() if t["above_baseline"].null_count() < t.height else pl.lit(None),
        seeds=pl.len(),
    )


def language_order(langs) -> list[str]:
    per = sorted(x for x in set(langs) if x not in AVERAGES)
    return per + [x for x in AVERAGES if x in set(langs)]


def interval_text(v, lo, hi, above=None) -> str:
    if v is None:
        return "–"
    text = f"{100 * v:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]" if lo is not None else f"{100 * v:.1f}"
    return text + (" not above baseline" if above is False else "")


def single_char_notes(s: pl.DataFrame, target: str) -> dict[str, str]:
    """language -> why its entity F1 sits near zero, for languages whose gold tokens are
    mostly single characters (PAN-X ja, zh)."""

    t = s.filter((pl.col("target") == target) & (pl.col("metric") == SINGLE_CHAR) & (pl.col("probe") == "clean"))
    shares = t.group_by("language").agg(pl.col("value").mean())
    return {
        lang: (
            f"{100 * share:.0f}% of its tokens are single characters: an entity is a run of one-character "
            "tokens and one wrong tag breaks it, so entity F1 sits near zero"
        )
        for lang, share in shares.iter_rows()
        if share > SINGLE_CHAR_FLAG
    }


def language_view(s: pl.DataFrame, target: str, metric: str, figure: bool) -> str:
    """A target's clean metric per language: languages as rows, recipes as columns, each
    value with its 95% bootstrap interval, the no-skill baseline, notes; then the same under
    each probe (recipe · probe as columns); and the figure of the clean table."""
    title = metric.replace("_", " ").capitalize().replace("Macro f1", "Macro-F1")
    t = s.filter((pl.col("target") == target) & (pl.col("metric") == metric))
    clean = over_seeds(t.filter(pl.col("probe") == "clean"), "model", "recipe", "language")
    if not clean.height:
        return ""
    models = clean["model"].n_unique()
    pairs = clean.select("model", "recipe").unique().sort(pl.col("recipe") != "none", "model", "recipe")
    series = [series_name(m, r, models) for m, r in pairs.iter_rows()]  # `none` first, the baseline recipe
    langs = language_order(clean["language"].to_list())
    notes = single_char_notes(s, target) if metric == "f1" else {}
    cells: dict = {}
    base: dict = {}
    for r in clean.iter_rows(named=True):
        cells[(r["language"], series_name(r["model"], r["recipe"], models))] = r
        if r["baseline"] is not None:
            base[r["language"]] = r["baseline"]
    kind = clean["kind"].drop_nulls()
    base_col = f"baseline ({kind[0]})" if kind.len() else "baseline"
    data: dict[str, list] = {"language": langs}
    for name in series:
        data[name] = [
            interval_text(
                *(lambda c: (c["value"], c["lo"], c["hi"], c["above"]) if c else (None,) * 4)(cells.get((x, name)))
            )
            for x in langs
        ]
    data[base_col] = [pct(base.get(x)) for x in langs]
    if notes:
        data["note"] = [notes.get(x, "") for x in langs]
    seeds = clean["seeds"].max()
    out = [
        f"<h3>{escape(title)} per language: {escape(target)} (%, clean; value [95% bootstrap interval over "
        f"examples]{'; mean over ' + str(seeds) + ' seeds, widest interval' if seeds > 1 else ''}; "
        f"'not above baseline': the interval reaches the no-skill baseline; {AVERAGE_WORDS})</h3>",
        table(pl.DataFrame(data), left=1),
    ]
    if figure:
        rows = [
            {
                "language": x,
                "baseline": base.get(x),
                **{n: (lambda c: (c["value"], c["lo"], c["hi"]) if c else None)(cells.get((x, n))) for n in series},
            }
            for x in langs
        ]
        out.append(
            f"<h3>Figure: {escape(title)} per language and recipe, {escape(target)} (point and 95% interval; "
            f"dashed: the no-skill baseline)</h3>"
            + interval_chart(rows, series, f"{title} per language, {target}", f"{title}, clean (%)")
        )
    pert = over_seeds(t.filter(pl.col("probe") != "clean"), "model", "recipe", "probe", "rate", "language")
    if pert.height:
        pert = pert.with_columns(input=probe_label_expr())
        cols = list(
            dict.fromkeys(
                f"{series_name(m, r, models)} · {i}"
                for m, r, i in pert.sort("probe", "rate").select("model", "recipe", "input").iter_rows()
            )
        )
        pc = {
            (r["language"], f"{series_name(r['model'], r['recipe'], models)} · {r['input']}"): r
            for r in pert.iter_rows(named=True)
        }
        plangs = language_order(pert["language"].to_list())
        pdata: dict[str, list] = {"language": plangs}
        for col in cols:
            pdata[col] = [
                interval_text(*(lambda c: (c["value"], c["lo"], c["hi"]) if c else (None,) * 3)(pc.get((x, col))))
                for x in plangs
            ]
        out.append(
            f"<h3>{escape(title)} per language under each probe: {escape(target)} (%, value [95% interval]; "
            f"{AVERAGE_WORDS})</h3>" + table(pl.DataFrame(pdata), left=1)
        )
    return "".join(out)


def above_baseline_sentence(s: pl.DataFrame, targets: list[str], metric: str) -> str:
    """How many languages' clean metric is above its no-skill baseline (the interval's lower
    end above it, every seed), per target and recipe; the others named."""
    t = s.filter(
        pl.col("target").is_in(targets)
        & (pl.col("metric") == metric)
        & (pl.col("probe") == "clean")
        & ~pl.col("language").is_in(list(AVERAGES))
        & pl.col("above_baseline").is_not_null()
    )
    if not t.height:
        return ""
    parts = []
    g = over_seeds(t, "target", "model", "recipe", "language")
    models = g["model"].n_unique()
    g = g.sort("target", pl.col("recipe") != "none", "model", "recipe", maintain_order=True)
    for (target, model, recipe), rows in g.group_by("target", "model", "recipe", maintain_order=True):
        below = sorted(rows.filter(~pl.col("above"))["language"].to_list())
        parts.append(
            f"{escape(target)} with <b>{escape(series_name(model, recipe, models))}</b>: "
            f"{rows.height - len(below)} of {rows.height} languages above the {escape(rows['kind'][0])} baseline"
            + (f" (not above: {escape(', '.join(below))})" if below else "")
        )
    return (
        f"<p><b>Above no skill.</b> Clean {escape(metric)} (95% interval's lower end above the baseline): "
        + "; ".join(parts)
        + ".</p>"
    )


def attack_table(s: pl.DataFrame, metric: str, cols: list[str]) -> str:
    a = mean_over_seeds(
        s.filter(pl.col("metric").is_in([ATTACK_METRICS[0], f"{metric}_under_attack", *ATTACK_METRICS[1:]])),
        "model",
        "recipe",
        "probe",
        "metric",
        "language",
    )
    if not a.height:
        return ""
    fmt = lambda x: "–" if x is None else f"{x:.3g}"  # noqa: E731
    used = sorted({p.removeprefix("attack:") for p in a["probe"]})
    notes = "<ul>" + "".join(f"<li><b>{escape(r)}</b>: {escape(RECIPE_NOTES.get(r, ''))}</li>" for r in used) + "</ul>"
    langs = [x for x in cols if x in a["language"].unique()]
    if len(langs) > 12:  # the clean table's shape: languages as rows, recipe · attack · metric as columns
        models = a["model"].n_unique()
        words = {
            ATTACK_METRICS[0]: "success rate",
            f"{metric}_under_attack": f"{metric} under attack",
            "mean_queries": "queries",
            "perturbed_words_pct": "% words perturbed",
        }
        a = a.sort(
            pl.col("recipe") != "none",
            "model",
            "recipe",
            "probe",
            pl.col("metric").replace_strict(
                list(words), list(range(len(words))), default=len(words), return_dtype=pl.Int64
            ),
        )
        cell, columns = {}, {}
        for r in a.iter_rows(named=True):
            name = (
                f"{series_name(r['model'], r['recipe'], models)} · {r['probe'].removeprefix('attack:')} · "
                + words.get(r["metric"], r["metric"])
            )
            columns[name] = None
            cell[(r["language"], name)] = r["value"]
        rows = language_order(langs)
        wide = pl.DataFrame(
            {"language": rows, **{c: [cell.get((x, c)) for x in rows] for c in columns}},
            schema={"language": pl.String, **{c: pl.Float64 for c in columns}},
        )
        return (
            "<h3>Adaptive attacks per language (rates as fractions; mean over seeds; columns: recipe · attack · "
            f"metric; {AVERAGE_WORDS})</h3>" + notes + table(wide, {c: fmt for c in columns}, left=1)
        )
    wide = a.pivot(on="language", index=["model", "recipe", "probe", "metric"], values="value").sort(
        "model", "recipe", "metric"
    )
    return (
        "<h3>Adaptive attacks (rates as fractions; mean over seeds)</h3>"
        + notes
        + table(
            wide.select("model", "recipe", "probe", "metric", *[x for x in cols if x in wide.columns]),
            {x: fmt for x in cols},
            left=4,
        )
    )


def adversarial_examples(attacks: pl.DataFrame, recipes: list[str], fmt) -> str:
    """Two succeeded attacks per language, every changed field with its characters marked."""
    ex = (
        attacks.filter((pl.col("status") == "succeeded") & pl.col("recipe").is_in(recipes))
        .group_by("lang", maintain_order=True)
        .head(2)
        .sort("lang")
    )
    if not ex.height:
        return ""
    rows = []
    for r in ex.iter_rows(named=True):
        before, after = [], []
        for label, a, b in fmt.attack_example(r):
            o, p = mark_changes(a or "", b or "")
            prefix = f"<small>{escape(label)}:</small> " if label else ""
            before.append(prefix + o)
            after.append(prefix + p)
        rows.append(
            f"<tr><td>{escape(r['lang'])}</td><td>{escape(r['recipe'])}</td><td dir='auto'>{'<br>'.join(before)}</td>"
            f"<td dir='auto'>{'<br>'.join(after)}</td><td dir='auto'>{fmt.prediction_change(r)}</td></tr>"
        )
    return (
        "<h3>Adversarial examples per language (changed characters marked)</h3><div class='wide'><table class='ex'>"
        "<tr><th>lang</th><th>recipe</th><th>original</th><th>perturbed</th><th>prediction</th></tr>"
        + "".join(rows)
        + "</table></div>"
    )


def family_section(
    s: pl.DataFrame,
    c: pl.DataFrame,
    attacks: pl.DataFrame,
    st: dict,
    recipes: dict,
    metric: str,
    fmt,
    family: str | None,
    name: str,
) -> str:
    per_lang = s.filter(~pl.col("language").is_in(["all", "all_xl"]))
    langs = sorted(per_lang["language"].unique().to_list())
    cols = langs + [x for x in ("all_xl", "all") if x in s["language"].unique()]
    targets = s["target"].unique(maintain_order=True).to_list()
    above = above_baseline_sentence(s, targets, metric)
    out = [answer(c, st, s["seed"].n_unique(), len(langs), family, above)]
    notes = [(p["name"], fmt.probe_note(p.get("sides") or fmt.default_side)) for p in st.get("perturbations", [])]
    if any(note for _, note in notes):  # what a probe does to the examples, where the format says it matters
        out.append(
            "<p><small>What each probe perturbs: "
            + "; ".join(f"<b>{escape(n)}</b>: {escape(note)}" for n, note in notes if note)
            + ".</small></p>"
        )
    d = (
        per_lang.filter(pl.col("metric") == f"{metric}_drop")
        .with_columns(row=pl.col("recipe") + " · " + probe_label_expr())
        .group_by("row", "language")
        .agg(pl.col("value").mean())
        .sort("row")
    )
    if d.height:
        out.append(f"<h3>Figure: {escape(metric)} drop under perturbation by language (points, mean over seeds)</h3>")
        out.append(heatmap(d, "row", "language", "value", f"{metric} drop per recipe and language, study {name}"))
    if s.filter(pl.col("rate").is_not_null())["rate"].n_unique() >= 1:
        out.append(f"<h3>Figure: {escape(metric)} by perturbation rate</h3>" + rate_curves(s, metric))
    lengths = recipe_max_lengths(recipes, st["recipes"])
    if lengths:
        out.append(
            "<h3>Figure: drop by the intermediate task's max sequence length</h3>"
            + max_length_curves(s, lengths, metric)
        )
    out.append(mlm_comparison(s, recipes, st["recipes"], metric))
    if c.height:
        ct = c.select(
            "recipe",
            "baseline",
            probe_label_expr().alias("probe"),
            "metric",
            "recipe_value",
            "baseline_value",
            "diff",
            "ci_low",
            "ci_high",
            "p_value",
            "p_holm",
            "n",
        )
        pts = {k: (lambda x: "–" if x is None else f"{100 * x:+.1f}") for k in ("diff", "ci_low", "ci_high")}
        out.append("<h3>Paired comparisons with <code>none</code> (points; p from a paired permutation test)</h3>")
        out.append(
            table(
                ct,
                {
                    "recipe_value": pct,
                    "baseline_value": pct,
                    **pts,
                    "p_value": lambda x: f"{x:.3g}",
                    "p_holm": lambda x: f"{x:.3g}",
                },
                left=4,
            )
        )
    base = [m for m in per_lang["metric"].unique(maintain_order=True).to_list() if not m.endswith(NOT_TABLED)]
    for target in targets:
        for m in [metric] + sorted(m for m in base if m != metric):
            out.append(language_view(s, target, m, figure=m == metric))
    out.append(attack_table(s, metric, cols))
    if attacks.height:
        out.append(adversarial_examples(attacks, st["recipes"], fmt))
    return "".join(out)


def suite_summary(s: pl.DataFrame, targets: dict[str, str]) -> str:
    """XTREME-R's summary: each target's primary metric averaged over its zero-shot
    languages (`all_xl`: every language but English; a target scored in English only shows
    English), per model and recipe, mean over seeds; then the robustness side: the mean
    drop over the study's perturbations and the metric under attack, on the same languages."""
    rows = []
    for target, metric in targets.items():
        t = s.filter(pl.col("target") == target)
        langs = set(t["language"].unique().to_list())
        over = "all_xl" if "all_xl" in langs else ("en" if "en" in langs else sorted(langs)[0])
        t = t.filter(pl.col("language") == over)
        for label, m, probe in (
            (f"{target} ({metric}, {over})", metric, "clean"),
            (f"{target}: {metric} drop ({over})", f"{metric}_drop", None),
            (f"{target}: under attack ({over})", f"{metric}_under_attack", None),
        ):
            g = t.filter(pl.col("metric") == m)
            if probe:
                g = g.filter(pl.col("probe") == probe)
            if g.height:
                rows.append(
                    g.group_by("model", "recipe").agg(value=pl.col("value").mean()).with_columns(column=pl.lit(label))
                )
    if not rows:
        return ""
    d = pl.concat(rows)
    order = list(dict.fromkeys(d["column"].to_list()))
    wide = d.pivot(on="column", index=["model", "recipe"], values="value").sort("model", "recipe")
    fmt = {c: pct for c in order}
    return (
        "<h3>Suite summary (XTREME-R style; %, each column averages the target's languages but English "
        "(all_xl, the zero-shot languages; a column marked en: English only), mean over seeds; drop = mean "
        "over the study's perturbations)</h3>" + table(wide.select("model", "recipe", *order), fmt, left=2)
    )


def published_view(s: pl.DataFrame, published: pl.DataFrame | None, margin: float) -> str:
    """The clean score of recipe `none` (mean over all languages and seeds) beside the
    published zero-shot figure of the same model and task (xlrobust.published.matches),
    flagged when they differ by more than `margin`."""
    if published is None or not published.height:
        return ""
    clean = s.filter((pl.col("probe") == "clean") & (pl.col("recipe") == "none") & (pl.col("language") == "all"))
    d = (
        clean.join(published, on=["model", "target", "metric"])
        .group_by("target", "model", "metric", "published", "source", maintain_order=True)
        .agg(clean=pl.col("value").mean())
    )
    if not d.height:
        return ""
    d = d.with_columns(gap=pl.col("clean") - pl.col("published")).with_columns(
        flag=pl.when(pl.col("gap").abs() > margin)
        .then(pl.lit(f"⚑ gap > {100 * margin:.1f} points"))
        .otherwise(pl.lit(""))
    )
    return (
        "<h3>Published zero-shot figures beside the clean scores (%, recipe none, mean over all languages and "
        "seeds; the published figure averages the benchmark's own languages and full test sets)</h3>"
        + table(
            d.select("target", "model", "metric", "clean", "published", "gap", "flag", "source"),
            {"clean": pct, "published": pct, "gap": lambda x: f"{100 * x:+.1f}"},
            left=3,
        )
    )


def study_section(
    name: str,
    st: dict,
    scores: pl.DataFrame,
    comparisons: pl.DataFrame,
    attacks: dict,
    recipes: dict | None = None,
    families: dict | None = None,
    published: pl.DataFrame | None = None,
    published_margin: float = ReportSettings.published_margin,
) -> str:
    """One study: its question, then per task family (targets of one format) the answer and
    everything behind it. `families`: family -> (targets, primary metric, format) (report.families);
    `attacks`: format name -> attack rows; `published`: figures to show beside the clean
    scores (xlrobust.published.matches)."""
    recipes = recipes or {}
    s = scores.filter(
        pl.col("model").is_in(st["models"])
        & pl.col("recipe").is_in(st["recipes"])
        & pl.col("target").is_in(st["targets"])
        & pl.col("seed").is_in(st["seeds"])
    )
    out = [
        f"<h2 id='study-{escape(name)}'>Study: {escape(name)}</h2>",
        f"<p><b>Question.</b> {escape(st['question'])}</p>",
    ]
    if s.height == 0:
        return "".join(out) + "<p>No scores for this study yet.</p>"
    c_all = comparisons.filter(pl.col("study") == name) if comparisons.height else comparisons
    fams = {f: v for f, v in (families or {}).items() if set(v[0]) & set(st["targets"])}
    if len(st["targets"]) > 1:
        out.append(suite_summary(s, {t: m for ts, m, _ in fams.values() for t in ts if t in st["targets"]}))
    out.append(published_view(s, published, published_margin))
    for fam, (targets, metric, fmt) in fams.items():
        sf = s.filter(pl.col("target").is_in(targets))
        if sf.height == 0:
            continue
        cf = c_all.filter(pl.col("target").is_in(targets)) if c_all.height else c_all
        af = attacks.get(fmt.name, pl.DataFrame())
        af = af.filter(pl.col("target").is_in(targets)) if af.height else af
        if len(fams) > 1:
            anchor = "-".join(fam.replace("(", " ").replace(")", " ").split())  # "tagging (f1)" -> tagging-f1
            out.append(
                f"<h3 id='study-{escape(name)}-{escape(anchor)}'>Task family: {escape(fam)} "
                f"({escape(', '.join(t for t in targets if t in st['targets']))}; {escape(metric)})</h3>"
            )
        out.append(family_section(sf, cf, af, st, recipes, metric, fmt, fam if len(fams) > 1 else None, name))
    return "".join(out)
