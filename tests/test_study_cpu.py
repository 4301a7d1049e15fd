"""The real-data CPU study `cpu` (config.yaml) through Snakemake, as a user selects
studies: `snakemake --config 'studies=[cpu,...]'` in a git clone next to ../shared/data (the tweets),
in its reduced form (tests/studies/real_ci.yaml, a --configfile over config.yaml; the
run `real_studies` of conftest.py, shared with the other formats' real-data tests). Real
UMSAB tweets in 8 languages on multilingual-e5-small.
What a researcher checks: English well above chance, every other language above
chance, accuracy falling as the perturbation rate rises, and that the run answered the
study that was selected (not config.yaml's default)."""

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
def test_zero_shot_accuracy_is_above_chance_in_every_language(cpu):
    s = umsab_scores(cpu)
    clean = s.filter((pl.col("probe") == "clean") & (pl.col("metric") == "accuracy"))
    per_lang = clean.group_by("language").agg(pl.col("value").mean(), pl.col("ci_low").mean()).sort("language")
    print("UMSAB clean accuracy (mean over recipes):", dict(per_lang.select("language", "value").iter_rows()))
    langs = set(yaml.safe_load((cpu / "results/config.yaml").read_text())["datasets"]["umsab"]["langs"])
    assert langs <= set(per_lang["language"])
    en = per_lang.filter(pl.col("language") == "en").row(0, named=True)
    assert en["value"] > 0.55 and en["ci_low"] > CHANCE + 0.1  # well above chance
    for r in per_lang.filter(pl.col("language").is_in(sorted(langs - {"en"}))).iter_rows(named=True):
        assert r["value"] > CHANCE + 0.05, r  # zero-shot above chance


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
