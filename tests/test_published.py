"""Published zero-shot figures beside a study's clean scores (issue 27): the shipped table
and its sources, model matching by Hub id, and the report's table with its flag (on a
fixture table, so the test does not depend on the shipped figures)."""

from __future__ import annotations

import polars as pl
import pytest
import yaml

from xlrobust import published
from xlrobust.errors import XlrobustError
from xlrobust.report.narrative import published_view
from xlrobust.tasks import TASKS


def test_shipped_figures_name_their_source_and_known_tasks():
    figures = published.load()
    assert figures.height == 12 and figures["source"].str.contains("multilingual-t5").all()
    assert set(figures["task"]) <= set(TASKS) and figures["value"].is_between(0, 1).all()
    assert set(figures["model"]) == {"bert-base-multilingual-cased", "xlm-roberta-large"}
    # the shipped config's mbert and xlmr_large run XNLI, PAWS-X, PAN-X and the QA targets
    from xlrobust import config

    got = published.matches(config.load("config.yaml"))
    assert {("mbert", "xnli"), ("xlmr_large", "xquad")} <= set(got.select("model", "target").iter_rows())
    assert "xlmr" not in got["model"].to_list()  # xlm-roberta-base: nothing published for it here


def test_hub_ids_match_with_or_without_organisation():
    assert published.hub_name("google-bert/bert-base-multilingual-cased") == "bert-base-multilingual-cased"
    assert published.hub_name("FacebookAI/XLM-RoBERTa-large") == "xlm-roberta-large"


@pytest.fixture
def fixture_table(tmp_path):
    doc = {
        "sources": {"paper": "A paper, Table 2"},
        "figures": [
            {"model": "tiny-bert", "task": "xnli", "metric": "accuracy", "value": 50.0, "source": "paper"},
            {"model": "tiny-bert", "task": "paws-x", "metric": "accuracy", "value": 90.0, "source": "paper"},
        ],
    }
    path = tmp_path / "published.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def score(model, recipe, target, language, value, probe="clean"):
    return {
        "model": model,
        "recipe": recipe,
        "target": target,
        "seed": 1,
        "language": language,
        "probe": probe,
        "metric": "accuracy",
        "value": value,
    }


def test_report_shows_the_published_figure_and_flags_a_gap_beyond_the_margin(fixture_table):
    cfg = {
        "models": {"tiny": {"source": "org/tiny-bert"}, "other": {"source": "org/other"}},
        "datasets": {"d1": {"task": "xnli"}, "d2": {"task": "paws-x"}},
        "targets": {"nli": {"dataset": "d1"}, "paws": {"dataset": "d2"}},
    }
    figures = published.matches(cfg, published.load(fixture_table))
    assert sorted(figures.select("model", "target").iter_rows()) == [("tiny", "nli"), ("tiny", "paws")]
    s = pl.DataFrame(
        [
            score("tiny", "none", "nli", "all", 0.52),  # 2 points from 50.0: within 5
            score("tiny", "none", "paws", "all", 0.70),  # 20 points below 90.0: flagged
            score("tiny", "none", "paws", "de", 0.10),  # a language, not the mean: not compared
            score("tiny", "mnli", "nli", "all", 0.99),  # an intermediate recipe: not the published setting
            score("tiny", "none", "nli", "all", 0.40, probe="char_swap"),  # perturbed: not clean
            score("other", "none", "nli", "all", 0.10),  # nothing published for this model
        ]
    )
    html = published_view(s, figures, 0.05)
    assert html.count("<tr>") == 3  # header + two rows
    assert "52.0" in html and "50.0" in html and "+2.0" in html
    assert "70.0" in html and "90.0" in html and "-20.0" in html
    assert html.count("⚑ gap &gt; 5.0 points") == 1 and "A paper, Table 2" in html
    assert published_view(s, figures, 0.25).count("⚑") == 0  # the margin is the setting's
    assert published_view(s, figures.clear(), 0.05) == ""


def test_a_figure_without_a_known_source_is_refused(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "sources": {},
                "figures": [{"model": "m", "task": "xnli", "metric": "accuracy", "value": 1, "source": "x"}],
            }
        )
    )
    with pytest.raises(XlrobustError, match="figure 0: source 'x' is not one of sources"):
        published.load(path)
