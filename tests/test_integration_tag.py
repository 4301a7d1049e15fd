"""The structured prediction targets end to end on real data (issue 18): study `cpu_tag` of
config.yaml through Snakemake in a git clone of the repository, as a user runs it. PAN-X
(samples/panx: slices of the release tsv files) English train subset -> dev in ar de en hi sw zh, and UD
(CoNLL-U) English EWT -> German GSD, with multilingual-e5-small: fetch, prepare, finetune,
perturb (keyboard_typo; entity_keyboard_typo on PAN-X), predict, attack (xl_charbug), score, report.
Runs once (module fixture); the tests check what a researcher would."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
import yaml

from xlrobust.formats.tagging import corpus_f1, sentence_score

BIN = Path(sys.executable).parent
PANX_LANGS = ["ar", "de", "en", "hi", "sw", "zh"]


@pytest.fixture(scope="module")
def study(real_studies) -> Path:
    return real_studies  # the cpu_tag study's run, shared with the other real-data tests


def scores(root: Path) -> pl.DataFrame:
    return pl.read_parquet(root / "results/scores.parquet")


def row(s: pl.DataFrame, target: str, lang: str, metric: str, probe: str = "clean") -> dict:
    rows = s.filter(
        (pl.col("target") == target)
        & (pl.col("language") == lang)
        & (pl.col("metric") == metric)
        & (pl.col("probe") == probe)
    )
    assert rows.height == 1, (target, lang, metric, probe, rows)
    return rows.row(0, named=True)


def value(s: pl.DataFrame, target: str, lang: str, metric: str, probe: str = "clean") -> float:
    row = s.filter(
        (pl.col("target") == target)
        & (pl.col("language") == lang)
        & (pl.col("metric") == metric)
        & (pl.col("probe") == probe)
    )
    assert row.height == 1, (target, lang, metric, probe, row)
    return row["value"][0]


@pytest.mark.slow
def test_every_panx_language_beats_the_all_o_baseline_on_the_same_sentences(study):
    s = scores(study)
    test = pl.read_parquet(study / "data/panx_local/test.parquet")
    assert sorted(test["lang"].unique()) == PANX_LANGS
    report = {}
    for lang in PANX_LANGS:
        gold = test.filter(pl.col("lang") == lang)["tags"].to_list()
        all_o = [["O"] * len(g) for g in gold]
        base_f1 = corpus_f1(gold, all_o)  # 0: all-O finds no entity
        base_acc = sum(t == "O" for g in gold for t in g) / sum(map(len, gold))
        f1, acc = value(s, "panx_local", lang, "f1"), value(s, "panx_local", lang, "accuracy")
        r = row(s, "panx_local", lang, "f1")
        report[lang] = (round(f1, 3), round(r["ci_low"], 3), round(acc, 3), round(base_acc, 3))
        assert r["baseline"] == base_f1 == 0 and r["baseline_kind"] == "all-O"
        single = value(s, "panx_local", lang, "single_char_token_share")
        if single <= 0.5:  # the lower end of the interval above all-O, where words are words
            assert r["ci_low"] > base_f1 and r["above_baseline"], (lang, r)
        else:  # zh: one character per token (the report says why its F1 sits near zero)
            assert lang == "zh", (lang, single)
    print("PAN-X F1, its 95% interval's lower end, token accuracy, all-O token accuracy:", report)
    assert sum(ci_low > 0.2 for _, ci_low, _, _ in report.values()) >= 4  # most languages well above it
    preds = pl.read_parquet(study / "predictions/me5/none/panx_local/seed1/clean.parquet")
    for lang in PANX_LANGS:  # the scored F1 is the corpus F1 of the predictions (seqeval's entity rules)
        g = preds.filter(pl.col("lang") == lang)
        assert value(s, "panx_local", lang, "f1") == pytest.approx(
            corpus_f1(g["tags"].to_list(), g["pred_tags"].to_list())
        )


@pytest.mark.slow
def test_ud_german_beats_the_majority_tag_baseline(study):
    s = scores(study)
    train = pl.read_parquet(study / "data/udpos_local/train.parquet")
    test = pl.read_parquet(study / "data/udpos_local/test.parquet")
    majority = Counter(train["tags"].explode().to_list()).most_common(1)[0][0]  # from the English training data
    base = (test["tags"].explode() == majority).mean()
    acc = value(s, "udpos_local", "de", "accuracy")
    r = row(s, "udpos_local", "de", "accuracy")
    print(
        f"UD German token accuracy {acc:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] (majority tag {majority}: {base:.3f})"
    )
    # the score's baseline: the German test's own majority tag, at least the English one's share
    assert r["baseline"] >= base and r["baseline_kind"] == "majority tag"
    assert r["ci_low"] > r["baseline"] and r["above_baseline"]
    assert "f1" not in s.filter(pl.col("target") == "udpos_local")["metric"].unique().to_list()  # POS: accuracy


@pytest.mark.slow
def test_perturbations_keep_tags_aligned_and_entity_probe_touches_entities_only(study):
    clean = pl.read_parquet(study / "data/panx_local/test.parquet").filter(pl.col("lang") == "de")
    ent = pl.read_parquet(study / "perturbed/panx_local/de/entity_keyboard_typo/r0.3_s1.parquet")
    both = pl.read_parquet(study / "perturbed/panx_local/de/keyboard_typo/r0.3_s1.parquet")
    for p in (ent, both):
        assert p["id"].to_list() == clean["id"].to_list() and p["tags"].to_list() == clean["tags"].to_list()
        assert (p["tokens"].list.len() == p["tags"].list.len()).all()
    changed = {"O": 0, "entity": 0}
    for a, b, tags in zip(clean["tokens"], ent["tokens"], clean["tags"]):
        for x, y, t in zip(a, b, tags):
            if x != y:
                changed["O" if t == "O" else "entity"] += 1
    assert changed["O"] == 0 and changed["entity"] > 0
    assert ent["sides"][0] == "entities" and both["sides"][0] == "all"
    assert not (study / "perturbed/udpos_local/de/entity_keyboard_typo").exists()  # NER-only probe
    s = scores(study)
    for probe in ("keyboard_typo", "entity_keyboard_typo"):
        drop = value(s, "panx_local", "all", "f1_drop", probe)
        assert -1 <= drop <= 1
    assert value(s, "udpos_local", "de", "accuracy_drop", "keyboard_typo") > -0.05


@pytest.mark.slow
def test_attack_keeps_tokens_and_the_report_marks_changed_characters_and_tags(study):
    attacks = pl.concat(
        pl.read_parquet(p)
        for target in ("panx_local", "udpos_local")  # the run is shared with the other formats' studies
        for p in sorted((study / f"attacks/me5/none/{target}/seed1/xl_charbug").glob("*.parquet"))
    )
    assert sorted(attacks["lang"].unique()) == sorted(set(PANX_LANGS) | {"de"})
    threshold = yaml.safe_load((study / "results/config.yaml").read_text())["study"]["cpu_tag"]["attack"]["threshold"]
    for r in attacks.iter_rows(named=True):
        assert len(r["perturbed_tokens"]) == len(r["tokens"]) == len(r["tags"]) == len(r["perturbed_pred_tags"])
        assert all(" " not in t for t in r["perturbed_tokens"])  # no token split or joined
        bio = r["target"] == "panx_local"
        before, after = (
            sentence_score(r["tags"], r["pred_tags"], bio),
            sentence_score(r["tags"], r["perturbed_pred_tags"], bio),
        )
        if r["status"] == "succeeded":  # the sentence's F1 (POS: accuracy) fell to the threshold
            assert before > threshold >= after and r["tokens"] != r["perturbed_tokens"]
        elif r["status"] == "skipped":
            assert before <= threshold
        else:
            assert after > threshold
    succeeded = attacks.filter(pl.col("status") == "succeeded")
    print("attack outcomes:", {f"{t} {s}": n for t, s, n in attacks.group_by("target", "status").len().iter_rows()})
    html = (study / "results/report.html").read_text(encoding="utf-8")
    assert (
        "Study: cpu_tag" in html and "Task family: tagging (f1)" in html and "Task family: tagging (accuracy)" in html
    )
    for lang in PANX_LANGS:  # a row per language in the per-language table
        assert f"<tr><td class='l'>{lang}</td>" in html
    zh = html[html.index("F1 per language: panx_local") :]
    zh = zh[zh.index("<tr><td class='l'>zh</td>") :]
    assert "of its tokens are single characters" in zh[: zh.index("</tr>")]  # why zh's F1 sits near zero
    assert "f1 drop under perturbation by language" in html and "<svg" in html and "attack:xl_charbug" in html
    assert succeeded.height > 0
    assert "Adversarial examples" in html and "<ins>" in html and "<del>" in html and "tags changed" in html
    cfg = yaml.safe_load((study / "results/config.yaml").read_text())
    assert "cpu_tag" in cfg["studies"]
    print("wall time:", (study / "wall_seconds").read_text().strip(), "s")
