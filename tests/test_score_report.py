import numpy as np
import polars as pl
import pytest

from xlrobust import config, layout
from xlrobust.report import mark_changes, write_report
from xlrobust.score import compare, score, summary
from xlrobust.stats import holm, macro_f1, mean_ci, paired_test

from conftest import REPO


def _pred(path, ids, labels, preds, lang="en", run=("m", "none", "t", 1), probe=("clean", None, None)):
    """A classification prediction file as `xlrobust predict` writes it: its rows carry the
    run keys, the probe keys and the format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = dict(zip(["model", "recipe", "target", "seed"], run)) | dict(zip(["probe", "rate", "pseed"], probe))
    pl.DataFrame(
        {
            **{k: [v] * len(ids) for k, v in keys.items()},
            "format": ["classify"] * len(ids),
            "id": ids,
            "lang": [lang] * len(ids),
            "label": labels,
            "pred": preds,
            "logits": [[0.0, 1.0]] * len(ids),
        },
        schema_overrides={"rate": pl.Float64, "pseed": pl.Int64},
    ).write_parquet(path)
    return str(path)


def _keys(df: pl.DataFrame, run=("m", "none", "t", 1), probe=("attack:deepwordbug", None, None)) -> pl.DataFrame:
    keys = dict(zip(["model", "recipe", "target", "seed"], run)) | dict(zip(["probe", "rate", "pseed"], probe))
    return df.select(
        *[pl.lit(v).alias(k) for k, v in keys.items()], pl.lit("classify").alias("format"), pl.all()
    ).with_columns(pl.col("rate").cast(pl.Float64), pl.col("pseed").cast(pl.Int64))


@pytest.fixture()
def files(tmp_path):
    ids = ["a", "b", "c", "d"]
    clean = _pred(tmp_path / layout.clean_prediction("m", "none", "t", 1), ids, [1, 0, 1, 0], [1, 0, 1, 1])  # 3/4
    pert = _pred(
        tmp_path / layout.perturbed_prediction("m", "none", "t", 1, "en", "char_swap", 0.2, 1),
        ids,
        [1, 0, 1, 0],
        [0, 0, 1, 0],
        probe=("char_swap", 0.2, 1),
    )  # 3/4 correct, flips a and d
    atk = tmp_path / layout.attack("m", "none", "t", 1, "en", "deepwordbug")
    atk.parent.mkdir(parents=True)
    _keys(
        pl.DataFrame(
            {
                "id": ids,
                "lang": ["en"] * 4,
                "label": [1, 0, 1, 0],
                "status": ["succeeded", "failed", "skipped", "succeeded"],
                "num_queries": [10, 30, 0, 20],
                "words_perturbed": [1, 0, 0, 2],
                "words_total": [4, 4, 4, 4],
                "text_a": ["x"] * 4,
                "text_b": [None] * 4,
                "perturbed_text_a": ["y"] * 4,
                "perturbed_text_b": [None] * 4,
                "pred": [1, 0, 0, 0],
                "perturbed_pred": [0, 0, 0, 1],
            },
            schema_overrides={"text_b": pl.String, "perturbed_text_b": pl.String},
        )
    ).write_parquet(atk)
    return [clean, pert], [str(atk)]


def test_hand_computed_metrics(files):
    preds, atks = files
    s, _ = score(preds, atks)
    s = s.filter(pl.col("language") == "en")

    def get(probe, metric):
        return s.filter((pl.col("probe") == probe) & (pl.col("metric") == metric))["value"][0]

    assert get("clean", "accuracy") == 0.75
    assert get("char_swap", "accuracy") == 0.75
    assert get("char_swap", "flip_rate") == 0.5
    assert get("char_swap", "accuracy_drop") == 0.0
    assert get("attack:deepwordbug", "attack_success_rate") == pytest.approx(2 / 3)  # skipped not attacked
    assert get("attack:deepwordbug", "accuracy_under_attack") == 0.25
    assert get("attack:deepwordbug", "mean_queries") == 20
    assert get("attack:deepwordbug", "perturbed_words_pct") == pytest.approx(37.5)
    assert set(s.columns) == {
        "model",
        "recipe",
        "target",
        "seed",
        "language",
        "probe",
        "rate",
        "metric",
        "value",
        "ci_low",
        "ci_high",
        "n",
        "baseline",
        "baseline_kind",
        "above_baseline",
        "precision",  # of the target's predictions and attacks (unknown here: files without the column)
        "train_precision",
    }
    assert s["precision"].is_null().all()
    # the no-skill baseline on the same examples: labels 1, 0, 1, 0 -> majority class 0.5;
    # clean accuracy 0.75 from 4 examples: the interval reaches 0.5, so not above it
    clean = s.filter((pl.col("probe") == "clean") & (pl.col("metric") == "accuracy")).row(0, named=True)
    assert clean["baseline"] == 0.5 and clean["baseline_kind"] == "majority class"
    assert clean["ci_low"] <= 0.5 and clean["above_baseline"] is False
    assert s.filter(pl.col("probe") != "clean")["baseline"].null_count() == s.filter(pl.col("probe") != "clean").height
    # macro-F1 of clean: class 1: 2 tp, 1 fp -> 0.8; class 0: 1 tp, 1 fn -> 2/3
    assert get("clean", "macro_f1") == pytest.approx((0.8 + 2 / 3) / 2)


def test_bootstrap_interval_covers_true_mean():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(100):
        x = rng.random(60) < 0.7
        _, lo, hi = mean_ci(x, seed=int(rng.integers(1e6)))
        hits += lo <= 0.7 <= hi
    assert 88 <= hits <= 99  # nominal 95%
    assert mean_ci(np.array([])) == (None, None, None)


def test_report_escapes_text_and_shows_languages(files, tmp_path):
    preds, atks = files
    evil_a, evil_b = "<script>alert(1)</script>", '"><img src=x onerror=alert(2)>'
    df = pl.read_parquet(atks[0]).with_columns(text_a=pl.lit(evil_a), perturbed_text_a=pl.lit(evil_b))
    df.write_parquet(atks[0])
    s, _ = score(preds, atks)
    s.write_parquet(tmp_path / "scores.parquet")

    cfg = config.read(REPO / "config.yaml")
    cfg["study"]["demo"].update(models=["m"], recipes=["none"], targets=["t"], seeds=[1])
    out = tmp_path / "report.html"
    write_report(cfg, str(tmp_path / "scores.parquet"), atks, [], [], str(out))
    html = out.read_text()
    assert "<script" not in html and "<img" not in html
    plain = __import__("re").sub(r"</?(ins|del)>", "", html)  # drop the change marks
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in plain  # shown, as text
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in plain
    assert "<th>en</th>" in html  # the language column of the tables
    from xlrobust.attack import RECIPE_NOTES

    assert f"<b>deepwordbug</b>: {RECIPE_NOTES['deepwordbug']}".replace("'", "&#x27;") in html  # what the recipe is
    assert "Content-Security-Policy" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    from browser import open_page

    page = open_page(out)  # a real browser: the payloads render as text and run nothing
    assert page["alert"] is None and page["console"] == [] and page["requests"] == []
    assert evil_a in page["text"] and evil_b in page["text"]


def test_mark_changes():
    a, b = mark_changes("good <b>", "g0od <b>")
    assert a == "g<del>o</del>od &lt;b&gt;" and b == "g<ins>0</ins>od &lt;b&gt;"


def test_language_averages_and_summary(tmp_path):
    ids = ["a", "b"]
    preds = [_pred(tmp_path / layout.clean_prediction("m", "none", "t", 1), ids, [1, 0], [1, 0], lang="en")]
    de = tmp_path / "de.parquet"
    _pred(de, ids, [1, 0], [0, 0], lang="de")  # 1/2
    both = pl.concat([pl.read_parquet(preds[0]), pl.read_parquet(de)])
    both.write_parquet(preds[0])
    s, _ = score(preds, [])
    acc = {r["language"]: r["value"] for r in s.filter(pl.col("metric") == "accuracy").iter_rows(named=True)}
    assert acc == {"en": 1.0, "de": 0.5, "all": 0.75, "all_xl": 0.5}  # unweighted mean; all_xl: every language but en
    clean = summary(s)["m/none/t"]["clean"]  # metrics.json: both averages, named
    assert clean["all"]["accuracy"] == 0.75 and clean["all_xl"]["accuracy"] == 0.5


def test_macro_f1_vectorised_matches_loop():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, (5, 40)), rng.integers(0, 3, (5, 40))
    from sklearn.metrics import f1_score

    for i in range(5):
        assert macro_f1(y[i], p[i]) == pytest.approx(f1_score(y[i], p[i], average="macro"))


def test_paired_test_finds_planted_effect_not_null():
    rng = np.random.default_rng(3)
    base = (rng.random(400) < 0.6).astype(float)
    better = np.where(rng.random(400) < 0.25, 1.0, base)  # +~10 points on the same examples
    diff, lo, hi, p = paired_test(better, base)
    assert diff > 0.05 and lo > 0 and p < 0.01
    # null: a second system with the same accuracy, independent errors
    ps = [paired_test((rng.random(400) < 0.6).astype(float), base, seed=k)[3] for k in range(20)]
    assert np.mean(np.array(ps) < 0.05) <= 0.2  # ~5% false positives expected


def test_holm_matches_definition():
    p = np.array([0.01, 0.04, 0.03, 0.2])
    assert holm(p).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.2])


def test_compare_pairs_recipe_with_none_on_same_examples(tmp_path):
    ids = [str(i) for i in range(60)]
    labels = [i % 2 for i in range(60)]
    preds = []
    for recipe, wrong in (("none", 20), ("inter", 2)):
        p = [1 - y if i < wrong else y for i, y in enumerate(labels)]
        preds.append(
            _pred(tmp_path / layout.clean_prediction("m", recipe, "t", 1), ids, labels, p, run=("m", recipe, "t", 1))
        )
    _, out = score(preds, [])
    c = compare(out, {"st": {"models": ["m"], "targets": ["t"], "seeds": [1], "recipes": ["none", "inter"]}})
    assert c.height == 1
    r = c.row(0, named=True)
    assert r["diff"] == pytest.approx(18 / 60) and r["p_holm"] < 0.001 and r["n"] == 60


def test_report_answers_q4_and_q5_style_studies_with_their_figures(tmp_path):
    """A study whose recipes differ only in intermediate max length gets the max-length
    curve; one with a continued-MLM recipe gets the MLM comparison; both state a
    one-sentence answer with effect and interval."""
    import re

    from xlrobust.report import recipe_max_lengths

    n, ids = 80, [str(i) for i in range(80)]
    labels = [i % 2 for i in range(n)]
    preds = []
    # clean: all right; perturbed: wrong on the first k examples (k grows with the recipe's length)
    for recipe, k in (("none", 30), ("len128", 24), ("len512", 4), ("mlm", 10)):
        preds.append(
            _pred(
                tmp_path / layout.clean_prediction("m", recipe, "t", 1), ids, labels, labels, run=("m", recipe, "t", 1)
            )
        )
        for rate in (0.1, 0.3):
            wrong = int(k * rate / 0.3)
            p = [1 - y if i < wrong else y for i, y in enumerate(labels)]
            preds.append(
                _pred(
                    tmp_path / layout.perturbed_prediction("m", recipe, "t", 1, "en", "char_swap", rate, 1),
                    ids,
                    labels,
                    p,
                    run=("m", recipe, "t", 1),
                    probe=("char_swap", rate, 1),
                )
            )
    s, out = score(preds, [])
    cfg = config.read(REPO / "config.yaml")
    cfg["recipes"].update(
        len128={"datasets": ["mnli"], "train": {"max_length": 128}},
        len512={"datasets": ["mnli"], "train": {"max_length": 512}},
        mlm={"datasets": ["mnli"], "mlm": {"dataset": "wiki", "ratio": 0.2}},
    )
    base = {
        "models": ["m"],
        "targets": ["t"],
        "seeds": [1],
        "perturbations": [{"name": "char_swap", "rates": [0.1, 0.3]}],
    }
    cfg["study"] = {
        "q5": {**base, "question": "max length?", "recipes": ["none", "len128", "len512"]},
        "q4": {**base, "question": "mlm?", "recipes": ["none", "mlm"]},
    }
    cfg["studies"] = "all"
    assert recipe_max_lengths(cfg["recipes"], ["none", "len128", "len512"]) == {"len128": 128, "len512": 512}
    assert recipe_max_lengths(cfg["recipes"], ["none", "mlm"]) == {}
    s.write_parquet(tmp_path / "scores.parquet")
    c = compare(out, {k: cfg["study"][k] for k in ("q5", "q4")})
    c.write_parquet(tmp_path / "comparisons.parquet")
    report = tmp_path / "report.html"
    write_report(cfg, str(tmp_path / "scores.parquet"), [], [], [], str(report), str(tmp_path / "comparisons.parquet"))
    html = report.read_text()
    q5 = html[html.index("id='study-q5'") : html.index("id='study-q4'")]
    q4 = html[html.index("id='study-q4'") : html.index("id='provenance'")]
    assert "accuracy drop by intermediate max sequence length" in q5 and "MLM" not in q5
    assert "<polyline" in q5[q5.index("accuracy by perturbation rate") :]  # rate curves from the one language
    assert "continued MLM vs none" in q4 and "max sequence length" not in q4
    # the headline: len512 loses 26 fewer of 80 at rate 0.3 than none: -32.5 points, the largest effect
    head = re.search(r"<b>Answer\.</b>(.*?)<small>", q5).group(1)
    assert "comparisons differ significantly" in head and "<b>len512</b>" in head and "-32.5 points" in head
    assert "95% CI" in head
    from browser import open_page

    page = open_page(report)
    assert page["console"] == [] and page["requests"] == []


def test_report_shows_both_sides_of_an_attacked_pair_and_local_data_as_local(files, tmp_path):
    """Issue 14: adversarial pairs showed only the first sentence; a local dataset was
    listed as coming from a Hub revision."""
    import json

    preds, atks = files
    df = pl.read_parquet(atks[0]).with_columns(
        text_a=pl.lit("the premise"),
        perturbed_text_a=pl.lit("the premise"),
        text_b=pl.lit("a hypothesis"),
        perturbed_text_b=pl.lit("a hypotehsis"),
    )
    df.write_parquet(atks[0])
    s, _ = score(preds, atks)
    s.write_parquet(tmp_path / "scores.parquet")
    meta = tmp_path / "meta.json"
    meta.write_text(
        json.dumps(
            {
                "dataset": "demo_x",
                "task": "mnli",
                "hub": "nyu-mll/glue",
                "revision": "main",
                "local": "demo/nli/{split}.jsonl",
                "splits": {"test": {"rows": {"en": 4}}},
            }
        )
    )
    cfg = config.read(REPO / "config.yaml")
    cfg["study"]["demo"].update(models=["m"], recipes=["none"], targets=["t"], seeds=[1])
    write_report(cfg, str(tmp_path / "scores.parquet"), atks, [str(meta)], [], str(tmp_path / "r.html"))
    html = (tmp_path / "r.html").read_text()
    assert "second sentence:</small> a hypoth<del>e</del>sis" in html  # the second sentence, changes marked
    assert "second sentence:</small> a hypot<ins>e</ins>hsis" in html
    assert "mnli from local files demo/nli/{split}.jsonl" in html
    assert "nyu-mll/glue @ main" not in html


def test_a_forty_language_study_fits_a_1280_px_browser_window(tmp_path):
    """XTREME-R's size (PAN-X and Tatoeba have 40+ languages): tables and heatmaps turn
    languages into rows, and nothing makes the page wider than a 1280 px window."""

    from browser import open_page

    rng = np.random.default_rng(0)
    langs = [f"{a}{b}" for a in "abcdefgh" for b in "xyzvw"][:40]
    ids = [str(i) for i in range(30)]
    preds, atks = [], []
    for recipe in ("none", "inter"):
        run = ("m", recipe, "t", 1)
        for probe, rate in (("clean", None), ("char_swap", 0.1), ("char_swap", 0.3)):
            frames = []
            for lang in langs:
                labels = rng.integers(0, 2, 30).tolist()
                p = [y if rng.random() < 0.8 - (rate or 0) else 1 - y for y in labels]
                f = tmp_path / f"{recipe}-{probe}-{rate}-{lang}.parquet"
                frames.append(
                    _pred(f, ids, labels, p, lang=lang, run=run, probe=(probe, rate, None if rate is None else 1))
                )
            preds += frames
        a = tmp_path / f"attack-{recipe}.parquet"
        rows = pl.DataFrame(
            {
                "id": ids * len(langs),
                "lang": [x for x in langs for _ in ids],
                "label": [1] * 30 * len(langs),
                "status": rng.choice(["succeeded", "failed", "skipped"], 30 * len(langs)).tolist(),
                "num_queries": [10] * 30 * len(langs),
                "words_perturbed": [1] * 30 * len(langs),
                "words_total": [8] * 30 * len(langs),
                "text_a": ["a long original sentence"] * 30 * len(langs),
                "text_b": [None] * 30 * len(langs),
                "perturbed_text_a": ["a lnog original sentence"] * 30 * len(langs),
                "perturbed_text_b": [None] * 30 * len(langs),
                "pred": [1] * 30 * len(langs),
                "perturbed_pred": [0] * 30 * len(langs),
            },
            schema_overrides={"text_b": pl.String, "perturbed_text_b": pl.String},
        )
        _keys(rows, run=run).write_parquet(a)
        atks.append(str(a))
    s, out = score(preds, atks)
    s.write_parquet(tmp_path / "scores.parquet")
    cfg = config.read(REPO / "config.yaml")
    cfg["recipes"]["inter"] = {"datasets": ["demo_nli"]}
    cfg["study"] = {
        "wide": {
            "question": "40 languages?",
            "models": ["m"],
            "recipes": ["none", "inter"],
            "targets": ["t"],
            "seeds": [1],
            "perturbations": [{"name": "char_swap", "rates": [0.1, 0.3]}],
        },
        "only_none": {
            "question": "no intermediate training?",
            "models": ["m"],
            "recipes": ["none"],
            "targets": ["t"],
            "seeds": [1],
        },
    }
    cfg["studies"] = "all"
    compare(out, {"wide": cfg["study"]["wide"]}).write_parquet(tmp_path / "c.parquet")
    report = tmp_path / "report.html"
    write_report(cfg, str(tmp_path / "scores.parquet"), atks, [], [], str(report), str(tmp_path / "c.parquet"))
    page = open_page(report, width=1280)
    assert page["overflow"] == 0, f"the page is {page['overflow']} px wider than the window"
    assert page["console"] == [] and all(shown for shown, _, _ in page["figures"])
    html = report.read_text()
    assert "has only the <code>none</code> recipe" in html  # says it has no comparison to make
    for lang in langs:
        assert f"<td class='l'>{lang}</td>" in html  # languages as rows
    # the per-language figure: a row per language (and the averages), every one as tall
    import re

    fig = html[html.index("Figure: Accuracy per language and recipe") :]
    fig = fig[fig.index("<svg") : fig.index("</svg>")]
    labels = re.findall(r"text-anchor='end' font-size='11'>(\w+)</text>", fig)
    assert labels == sorted(langs) + ["all_xl", "all"]
    height = int(re.search(r"height='(\d+)'", fig).group(1))
    assert height >= 18 * len(labels) and fig.count("<circle") == 2 + 2 * len(labels)  # 2 legend dots
    # the attack table in the clean table's shape: a row per language, recipe · attack · metric as columns
    att = html[html.index("Adaptive attacks per language") :]
    att = att[: att.index("</table>")]
    heads = re.findall(r"<th(?: class='l')?>(.*?)</th>", att)
    assert heads[0] == "language" and heads[1:] == [
        f"{r} · deepwordbug · {m}"
        for r in ("none", "inter")
        for m in ("success rate", "accuracy under attack", "queries", "% words perturbed")
    ]
    rows = re.findall(r"<tr><td class='l'>(\w+)</td>(.*?)</tr>", att)
    assert [x for x, _ in rows] == sorted(langs) + ["all_xl", "all"]
    assert all(r.count("<td>") == 8 and "<td>m</td>" not in r for _, r in rows)  # model and recipe not repeated
    sr = s.filter(
        (pl.col("metric") == "attack_success_rate") & (pl.col("recipe") == "inter") & (pl.col("language") == langs[7])
    )["value"][0]
    assert re.findall(r"<td>(.*?)</td>", dict(rows)[langs[7]])[4] == f"{sr:.3g}"


def test_per_language_view_marks_languages_whose_interval_reaches_the_baseline(tmp_path):
    """Issue 24: languages as rows, recipes as columns, value [95% interval], the no-skill
    baseline beside it; a language whose interval reaches the baseline is marked, the
    answer counts the languages above it, and the figure draws the same."""
    import re

    rng = np.random.default_rng(3)
    n = 200
    ids = [str(i) for i in range(n)]
    labels = [i % 2 for i in range(n)]  # balanced: majority class = chance = 0.5
    right = {"en": 0.9, "de": 0.75, "sw": 0.5}
    path = tmp_path / layout.clean_prediction("m", "none", "t", 1)
    frames = []
    for recipe in ("none", "inter"):
        for lang, p_right in right.items():
            p = [y if rng.random() < p_right else 1 - y for y in labels]
            f = tmp_path / f"{recipe}-{lang}.parquet"
            frames.append(pl.read_parquet(_pred(f, ids, labels, p, lang=lang, run=("m", recipe, "t", 1))))
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.concat(frames).write_parquet(path)
    s, _ = score([str(path)], [])
    clean = s.filter((pl.col("probe") == "clean") & (pl.col("metric") == "accuracy"))
    above = {(r["recipe"], r["language"]): r["above_baseline"] for r in clean.iter_rows(named=True)}
    assert (clean["baseline"] == 0.5).all()
    assert above[("none", "en")] and above[("none", "de")] and not above[("none", "sw")]
    xl = clean.filter((pl.col("language") == "all_xl") & (pl.col("recipe") == "none")).row(0, named=True)
    assert xl["n"] == 2 * n and xl["baseline"] == 0.5  # de and sw, not en
    s.write_parquet(tmp_path / "scores.parquet")
    cfg = config.read(REPO / "config.yaml")
    cfg["recipes"]["inter"] = {"datasets": ["mnli"]}
    cfg["study"]["demo"].update(models=["m"], recipes=["none", "inter"], targets=["t"], seeds=[1])
    write_report(cfg, str(tmp_path / "scores.parquet"), [], [], [], str(tmp_path / "r.html"))
    html = (tmp_path / "r.html").read_text()
    head = html[html.index("Accuracy per language: t") :]
    table = head[: head.index("</table>")]
    assert "<th>none</th><th>inter</th><th>baseline (majority class)</th>" in table
    rows = {m.group(1): m.group(2) for m in re.finditer(r"<tr><td class='l'>(\w+)</td>(.*?)</tr>", table)}
    assert list(rows) == ["de", "en", "sw", "all_xl", "all"]  # languages, then the averages
    assert "not above baseline" in rows["sw"] and "not above baseline" not in rows["en"]
    assert re.search(r"<td>\d+\.\d \[\d+\.\d, \d+\.\d\]</td>", rows["en"])  # value [interval]
    assert "2 of 3 languages above the majority class baseline (not above: sw)" in html
    fig = head[head.index("<svg") : head.index("</svg>")]
    assert fig.count("stroke-dasharray") == 1 + 5 and fig.count("<circle") == 2 + 2 * 5  # baselines, points
    assert "Suite summary" not in html or "all_xl" in html


def test_tagging_baselines_and_the_single_character_note(tmp_path):
    """Issue 24: entity F1's baseline is all-O (0) and token accuracy's the majority tag; a
    language whose tokens are mostly single characters (PAN-X zh) is flagged beside its F1."""

    sents = {
        "de": ([["Angela", "Merkel", "sprach", "in", "Berlin"]] * 5, [["B-PER", "I-PER", "O", "O", "B-LOC"]] * 5),
        "zh": ([["默", "克", "尔", "在", "柏", "林"]] * 5, [["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"]] * 5),
    }
    rows = []
    for lang, (tokens, tags) in sents.items():
        for i, (t, g) in enumerate(zip(tokens, tags)):
            pred = list(g) if i % 2 == 0 else ["O"] * len(g)  # right on 3 of 5 sentences
            rows.append(dict(id=f"{lang}-{i}", lang=lang, tokens=t, tags=g, pred_tags=pred))
    path = tmp_path / layout.clean_prediction("m", "none", "ner", 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = dict(model="m", recipe="none", target="ner", seed=1, probe="clean", rate=None, pseed=None, format="tagging")
    pl.DataFrame([keys | r for r in rows], schema_overrides={"rate": pl.Float64, "pseed": pl.Int64}).write_parquet(path)
    s, _ = score([str(path)], [])
    clean = s.filter(pl.col("probe") == "clean")

    def row(lang, metric):
        return clean.filter((pl.col("language") == lang) & (pl.col("metric") == metric)).row(0, named=True)

    assert row("de", "f1")["baseline"] == 0.0 and row("de", "f1")["baseline_kind"] == "all-O"
    assert row("de", "accuracy")["baseline"] == pytest.approx(2 / 5)  # O: 2 of 5 tokens
    assert row("zh", "accuracy")["baseline"] == pytest.approx(2 / 6)  # I-PER: 2 of 6
    assert row("zh", "single_char_token_share")["value"] == 1.0 and row("de", "single_char_token_share")["value"] == 0
    s.write_parquet(tmp_path / "scores.parquet")
    cfg = config.read(REPO / "config.yaml")
    cfg["study"]["demo"].update(models=["m"], recipes=["none"], targets=["ner"], seeds=[1])
    write_report(cfg, str(tmp_path / "scores.parquet"), [], [], [], str(tmp_path / "r.html"))
    html = (tmp_path / "r.html").read_text()
    f1 = html[html.index("F1 per language: ner") :]
    f1 = f1[: f1.index("</table>")]
    assert "<th>baseline (all-O)</th><th>note</th>" in f1
    zh = f1[f1.index("<td class='l'>zh</td>") :]
    assert "100% of its tokens are single characters" in zh[: zh.index("</tr>")]
    de = f1[f1.index("<td class='l'>de</td>") :]
    assert "single characters" not in de[: de.index("</tr>")]
    assert "Single char token share" not in html  # data, not a model metric: no table of its own
