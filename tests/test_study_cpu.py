"""The real-data CPU study `cpu` (config.yaml) through Snakemake, as a user selects
studies: `snakemake --config 'studies=[cpu,...]'` in a git clone next to ../shared/data (the tweets),
in its reduced form (tests/studies/real_ci.yaml, a --configfile over config.yaml; the
run `real_studies` of conftest.py, shared with the other formats' real-data tests). Real
UMSAB tweets in 8 languages on multilingual-e5-small.
What a researcher checks: English and the zero-shot average above the no-skill baseline
(the lower end of the 95% interval), accuracy falling as the perturbation rate rises, and
that the run answered the study that was selected (not config.yaml's default)."""

import polars as pl
import pytest
import yaml

from conftest import REAL_STUDIES

CHANCE = 1 / 3  # UMSAB: 3 balanced classes


@pytest.fixture(scope="module")
def cpu(shared_data, real_studies):
    return real_studies  # the tweets are outside the repository: skips (fails in CI) without them


def umsab_scores(root) -> pl.DataFrame:
    """The cpu study's scores (the run is shared with the other formats' studies)."""
    return pl.read_parquet(root / "results/scores.parquet").filter(pl.col("target") == "umsab")


@pytest.mark.slow
def test_the_selected_study_is_the_one_that_ran(cpu):
    resolved = yaml.safe_load((cpu / "results/config.yaml").read_text())
    assert resolved["studies"] == REAL_STUDIES and resolved["study"]["cpu"]["seeds"] == [1]  # both config forms applied
    assert resolved["datasets"]["umsab"]["max_examples"]["test"] == 100
    html = (cpu / "results/report.html").read_text()
    assert all(f"Study: {s}<" in html for s in REAL_STUDIES) and "Study: demo<" not in html


@pytest.mark.slow
def test_english_and_the_zero_shot_average_are_above_the_majority_class(cpu):
    """The lower end of each 95% interval, not the point estimate, above the no-skill
    baseline (the majority class of the same tweets, at least chance 1/3): English, and
    all_xl, the zero-shot average; each language's own interval is printed and marked in
    the report (100 tweets per language cannot show every language above it)."""
    s = umsab_scores(cpu)
    clean = s.filter((pl.col("probe") == "clean") & (pl.col("metric") == "accuracy") & (pl.col("recipe") == "none"))
    rows = {r["language"]: r for r in clean.iter_rows(named=True)}
    print(
        "UMSAB clean accuracy [95% interval] vs majority class:",
        {
            k: f"{r['value']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}] vs {r['baseline']:.2f}"
            for k, r in rows.items()
        },
    )
    langs = set(yaml.safe_load((cpu / "results/config.yaml").read_text())["datasets"]["umsab"]["langs"])
    assert langs | {"all", "all_xl"} == set(rows)
    test = pl.read_parquet(cpu / "data/umsab/test.parquet")
    for lang in langs:
        labels = test.filter(pl.col("lang") == lang)["label"]
        assert rows[lang]["baseline"] == pytest.approx(labels.value_counts()["count"].max() / labels.len())
        assert rows[lang]["baseline"] >= CHANCE
    for avg in ("en", "all_xl"):
        assert rows[avg]["above_baseline"] and rows[avg]["ci_low"] > rows[avg]["baseline"], rows[avg]
    assert rows["en"]["ci_low"] > rows["en"]["baseline"] + 0.1  # trained on English: well above it
    above = sum(rows[lang]["above_baseline"] for lang in langs)
    html = (cpu / "results/report.html").read_text()
    assert f"umsab with <b>none</b>: {above} of {len(langs)} languages above the majority class baseline" in html


@pytest.mark.slow
def test_accuracy_falls_as_the_perturbation_rate_rises(cpu):
    s = umsab_scores(cpu).filter((pl.col("language") == "all") & (pl.col("metric") == "accuracy"))
    acc = {
        (r["probe"], r["rate"]): r["value"]
        for r in s.group_by("probe", "rate").agg(pl.col("value").mean()).iter_rows(named=True)
    }
    assert acc[("clean", None)] > acc[("char_swap", 0.1)] > acc[("char_swap", 0.3)], acc
    attacks = umsab_scores(cpu).filter(pl.col("metric") == "attack_success_rate")
    assert attacks.height and attacks["value"].drop_nulls().max() > 0  # the attack ran and flipped something
