"""scripts/cpu_figures.py: the CPU-study tables of docs/studies.md are generated from scores.parquet."""

from __future__ import annotations

import importlib.util

import polars as pl

from xlrobust.score import SCORE_SCHEMA

from conftest import REPO


def cpu_figures():
    spec = importlib.util.spec_from_file_location("cpu_figures", REPO / "scripts" / "cpu_figures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def row(target, lang, metric, value, lo, hi, base=None, above=None, probe="clean", rate=None, seed=1):
    kind = None if base is None else "majority class"
    return dict(model="me5", recipe="none", target=target, seed=seed, language=lang, probe=probe, rate=rate) | dict(
        metric=metric,
        value=value,
        ci_low=lo,
        ci_high=hi,
        n=100,
        baseline=base,
        baseline_kind=kind,
        above_baseline=above,
        precision="bf16",
        train_precision="bf16",
    )


def test_the_table_marks_languages_not_above_their_baseline_and_lists_the_baselines(tmp_path):
    rows = [
        row("xcopa", "en", "accuracy", 0.60, 0.51, 0.69, 0.55, False),
        row("xcopa", "sw", "accuracy", 0.64, 0.56, 0.73, 0.55, True),
        row("xcopa", "all", "accuracy", 0.62, 0.56, 0.68, 0.55, True),
        row("xcopa", "all", "accuracy_drop", 0.05, 0.01, 0.09, probe="char_swap", rate=0.2),
        row("xcopa", "all", "attack_success_rate", 0.9, 0.7, 1.0, probe="attack:xl_charbug"),
        row("mlqa", "de", "f1", 0.20, 0.10, 0.30, 0.05, True),
        row("mlqa", "en", "f1", 0.30, 0.20, 0.40, 0.09, True),
    ]
    (tmp_path / "results").mkdir()
    pl.DataFrame(rows, schema=SCORE_SCHEMA).write_parquet(tmp_path / "results" / "scores.parquet")
    mod = cpu_figures()
    scores = pl.read_parquet(tmp_path / "results" / "scores.parquet")
    table = mod.figures(scores, "none").splitlines()
    assert table[0] == "| target (metric) | en | de | sw | all | no-skill baseline |"
    assert table[2] == "| mlqa (f1) | 30.0 [20.0, 40.0] | 20.0 [10.0, 30.0] |  |  | majority class: en 9.0, de 5.0 |"
    assert table[3] == (
        "| xcopa (accuracy) | 60.0 [51.0, 69.0] † |  | 64.0 [56.0, 73.0] | 62.0 [56.0, 68.0] | "
        "majority class 55.0 (every language) |"
    )
    rob = mod.robustness(scores, "none").splitlines()
    assert "| xcopa | char_swap@0.2 | accuracy_drop | 5.0 [1.0, 9.0] |" in rob
    assert "| xcopa | attack:xl_charbug | attack_success_rate | 90.0 [70.0, 100.0] |" in rob
    assert mod.main([str(tmp_path / "nothing")]) == 1


def test_write_replaces_the_block_between_the_markers_of_the_doc_the_tables_live_in(tmp_path):
    mod = cpu_figures()
    assert mod.DOC == REPO / "docs" / "studies.md"
    doc = mod.DOC.read_text(encoding="utf-8")
    assert doc.count(mod.BEGIN) == doc.count(mod.END) == 1  # the tables now shown sit between them
    block = doc.split(mod.BEGIN)[1].split(mod.END)[0]
    assert block.startswith("| target (metric) |") and "| target | probe | metric (all languages) |" in block
    (tmp_path / "results").mkdir()
    rows = [row("xcopa", "en", "accuracy", 0.60, 0.51, 0.69, 0.55, False)]
    pl.DataFrame(rows, schema=SCORE_SCHEMA).write_parquet(tmp_path / "results" / "scores.parquet")
    page = tmp_path / "studies.md"
    page.write_text(doc, encoding="utf-8")
    assert mod.main([str(tmp_path), "--write", str(page)]) == 0
    new = page.read_text(encoding="utf-8")
    tables = mod.figures(pl.read_parquet(tmp_path / "results" / "scores.parquet"), "none")
    assert tables in new and block not in new
    assert new.split(mod.BEGIN)[0] == doc.split(mod.BEGIN)[0] and new.split(mod.END)[1] == doc.split(mod.END)[1]
    page.write_text("no markers here", encoding="utf-8")
    assert mod.main([str(tmp_path), "--write", str(page)]) == 1
    assert page.read_text(encoding="utf-8") == "no markers here"
