"""The dual-encoder retrieval format (LAReQA, issue 27): XTREME-R's mAP@20, the random
baseline, the pool and relevance of a table, the LAReQA answer sentence, the parallel
sample, validation, query-side perturbation, and training / prediction / attack on a tiny
encoder (the real-data check is tests/test_integration_dual.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from xlrobust.errors import XlrobustError
from xlrobust.formats import get_format
from xlrobust.formats.dual import average_precision_at_k, pool_of, random_map_at_k, rank_queries

DUAL = get_format("dual")


def xtreme_ap_at_k(targets: set, ranked: list, k: int) -> float:
    """google-research/xtreme's LAReQA `average_precision_at_k`, from a ranked list."""
    ranked = ranked[:k]
    score = hits = 0.0
    for i, pred in enumerate(ranked):
        if pred in targets and pred not in ranked[:i]:
            hits += 1.0
            score += hits / (i + 1.0)
    return score / min(len(targets), k)


def test_ap_at_20_from_ranks_equals_xtremes_from_a_ranked_list():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n, r = int(rng.integers(2, 60)), int(rng.integers(1, 8))
        r = min(r, n)
        order = list(rng.permutation(n))  # candidate ids, best first
        relevant = set(int(c) for c in rng.choice(n, r, replace=False))
        ranks = np.array([order.index(c) + 1 for c in relevant])
        assert average_precision_at_k(ranks, r) == pytest.approx(xtreme_ap_at_k(relevant, order, 20))


def test_ap_counts_only_the_top_20_and_divides_by_min_relevant_20():
    assert average_precision_at_k(np.array([1, 2]), 2) == 1.0
    assert average_precision_at_k(np.array([21]), 1) == 0.0
    assert average_precision_at_k(np.array([2, 30]), 2) == pytest.approx((1 / 2) / 2)
    assert average_precision_at_k(np.arange(1, 26), 25) == 1.0  # 25 relevant: divisor 20


@pytest.mark.parametrize("pool,relevant", [(197, 4), (50, 1), (30, 7), (10, 3)])
def test_random_ranking_expectation_matches_simulation(pool, relevant):
    rng = np.random.default_rng(1)
    sims = [average_precision_at_k(np.sort(rng.permutation(pool)[:relevant] + 1), relevant) for _ in range(40_000)]
    assert random_map_at_k(pool, relevant) == pytest.approx(np.mean(sims), rel=0.03)


def table(rows) -> pl.DataFrame:
    """rows: (id, lang, query, candidate, context, group)."""
    return pl.DataFrame(rows, schema=DUAL.schema, orient="row")


def test_pool_collapses_shared_candidates_and_keeps_every_group_relevant():
    df = table(
        [
            ("en-1", "en", "q1", "s", "c", "g1"),
            ("en-2", "en", "q2", "s", "c", "g2"),  # the same sentence answers both
            ("de-1", "de", "q1 de", "s de", None, "g1"),
            ("x-3", "en", None, "distractor", None, "g3"),  # a candidate-only row
        ]
    )
    pool, rel = pool_of(df)
    assert pool["text_b"].to_list() == ["s", "s de", "distractor"]
    assert sorted(rel.rows()) == [("g1", 0), ("g1", 1), ("g2", 0), ("g3", 2)]


def test_ranks_count_strictly_higher_scores_so_ties_favour_the_relevant():
    q = np.array([[1.0, 0.0]])
    c = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # candidates 0 and 1 tie
    rel = pl.DataFrame({"group": ["g", "h"], "cand": [1, 2]})
    assert rank_queries(q, c, ["g"], rel)[0][0].tolist() == [1]
    assert rank_queries(q, c, ["h"], rel)[0][0].tolist() == [3]


def test_ranking_by_candidate_blocks_equals_ranking_all_at_once():
    """The blocked ranking (a running top-20 merge, ranks counted block by block; what keeps
    Mewsli-X's million candidates out of memory) against the whole similarity matrix at once,
    with tied scores (duplicated candidates) and a memory-mapped candidate file."""
    import tempfile

    rng = np.random.default_rng(3)
    c = rng.normal(size=(503, 16)).astype(np.float32)
    c[[10, 200, 400]] = c[7]  # ties across blocks
    q = rng.normal(size=(70, 16)).astype(np.float32)
    q[5] = c[7]
    groups = [f"g{int(g)}" for g in rng.integers(0, 40, size=len(q))]
    cand_group = rng.integers(0, 40, size=len(c))
    cand_group[[7, 10]] = int(groups[5][1:])
    rel = pl.DataFrame({"group": [f"g{g}" for g in cand_group], "cand": np.arange(len(c))})
    sims = (q.astype(np.float64) @ c.astype(np.float64).T).astype(np.float32)  # all at once (the same scores)
    want_ranks = [
        np.sort(1 + (sims[j][None, :] > sims[j][np.flatnonzero(cand_group == int(g[1:]))][:, None]).sum(axis=1))
        for j, g in enumerate(groups)
    ]
    want_top = np.lexsort((np.broadcast_to(np.arange(len(c)), sims.shape), -sims), axis=1)[:, :20]
    with tempfile.TemporaryDirectory() as d:
        mm = np.lib.format.open_memmap(f"{d}/c.npy", mode="w+", dtype=np.float32, shape=c.shape)
        mm[:] = c
        for cand in (c, np.load(f"{d}/c.npy", mmap_mode="r")):
            for qb, cb in ((256, 65536), (7, 50), (1, 13), (70, 503)):
                ranks, top = rank_queries(q, cand, groups, rel, query_block=qb, candidate_block=cb)
                assert [r.tolist() for r in ranks] == [r.tolist() for r in want_ranks]
                assert (top == want_top).all()
        del mm
    assert rank_queries(q[5:6], c, groups[5:6], rel)[0][0][0] == 1  # the query equals candidates 7 and 10: rank 1


def test_lareqa_answer_sentence_is_the_one_holding_the_answer():
    from xlrobust.tasks import answer_sentence

    ctx = "Paris is big. It has two million people! Yes."
    assert answer_sentence(ctx, ctx.index("two")) == "It has two million people!"
    assert answer_sentence(ctx, 0) == "Paris is big."
    assert answer_sentence("北京是首都。它很大。", 7) == "它很大。"
    assert answer_sentence(ctx, None) is None


def test_parallel_sample_keeps_the_same_questions_in_every_language():
    from xlrobust.data import parallel_sample

    ids = [f"q{i}" for i in range(400)]
    kept = {}
    for lang in ("en", "de"):
        df = pl.DataFrame({"id": [f"{lang}-{i}" for i in ids], "lang": [lang] * 400})
        kept[lang] = df.pipe(parallel_sample, lang, 10)["id"].str.slice(3).to_list()
    assert kept["en"] == kept["de"] and 20 < len(kept["en"]) < 70


def test_bad_rows_are_named():
    with pytest.raises(XlrobustError, match="row 1: neither a query"):
        DUAL.validate(table([("a", "en", "q", "s", None, "g"), ("b", "en", None, None, None, "g")]), (), "t")
    with pytest.raises(XlrobustError, match="row 0: no relevance group"):
        DUAL.validate(table([("a", "en", "q", "s", None, None)]), (), "t")
    with pytest.raises(XlrobustError, match="row 0: empty text in column 'text_a'"):
        DUAL.validate(table([("a", "en", "  ", "s", None, "g")]), (), "t")


def test_perturbation_touches_queries_only():
    df = table([("a", "en", "hello", "s", "c", "g"), ("b", "en", None, "t", None, "h")])
    out = DUAL.perturb(df, lambda text, key: (text.upper(), 1), "query")
    assert out["text_a"].to_list() == ["HELLO", None] and out["text_b"].to_list() == ["s", "t"]
    assert out["edits"].to_list() == [1, 0]


PAIRS = [
    ("what was great", "the food was great", "g1"),
    ("what was wonderful", "what a wonderful movie", "g2"),
    ("what was excellent", "excellent service, really", "g3"),
    ("what did i love", "i loved this amazing hotel", "g4"),
    ("what was fantastic", "fantastic trip and lovely people", "g5"),
    ("what was terrible", "the food was terrible", "g6"),
    ("what was awful", "what an awful movie", "g7"),
    ("what did i hate", "i hated this boring hotel", "g8"),
]


@pytest.fixture(autouse=True)
def candidate_cache(tmp_path, monkeypatch) -> Path:
    """Candidate vectors go to this test's own cache folder (layout.candidate_vectors)."""
    monkeypatch.setenv("XLROBUST_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "candidates"


@pytest.fixture(scope="module")
def dual_model(tiny_encoder, tmp_path_factory) -> tuple[str, Path]:
    from xlrobust.train import finetune

    d = tmp_path_factory.mktemp("dual")
    data = d / "data"
    data.mkdir()
    rows = [(f"en-{i}", "en", q, s, None, g) for i, (q, s, g) in enumerate(PAIRS)]
    table(rows).write_parquet(data / "train.parquet")
    table(rows[:6]).write_parquet(data / "validation.parquet")
    test = rows + [(f"de-{i}", "de", q + " bitte", s + " ja", None, g) for i, (q, s, g) in enumerate(PAIRS)]
    table(test).write_parquet(data / "test.parquet")
    (data / "meta.json").write_text(json.dumps({"dataset": "toy", "format": "dual", "labels": []}))
    hp = {"epochs": 2, "batch_size": 4, "lr": 1e-3, "max_length": 32, "dual_scale": 10.0}
    info = finetune(tiny_encoder, str(data), str(d / "model"), 1, hp)
    assert info["format"] == "dual" and {"eval_toy_map_at_20", "eval_toy_hit_at_1"} <= set(info["dev"])
    assert len(info["train_losses"]) >= 1
    return str(d / "model"), data


def test_trained_model_predicts_ranks_that_recompute_its_map(dual_model, tmp_path, candidate_cache):
    from xlrobust.predict import predict

    model, data = dual_model
    before = sorted(p.relative_to(Path(model).parent) for p in Path(model).parent.rglob("*"))
    out = tmp_path / "pred.parquet"
    predict(model, [str(data / "test.parquet")], [str(out)])
    preds = pl.read_parquet(out)
    assert preds.height == 16 and set(preds["pool"]) == {16} and set(preds["relevant"]) == {2}
    cache = list(candidate_cache.glob("*.npy"))
    assert len(cache) == 1 and np.load(cache[0]).shape[0] == 16  # the pool, embedded once, kept
    # the model folder (its training stage's output) and its surroundings are untouched
    assert sorted(p.relative_to(Path(model).parent) for p in Path(model).parent.rglob("*")) == before
    outcomes = DUAL.outcomes(preds)
    mine = outcomes.filter(pl.col("metric") == "map_at_20")["x"].to_list()
    for ranks, ap in zip(preds["ranks"].to_list(), mine):  # from the file alone: ranks and relevant count
        assert ap == pytest.approx(average_precision_at_k(np.array(ranks), 2))
    hits = outcomes.filter(pl.col("metric") == "hit_at_1")["x"].to_list()
    assert hits == [float(r[0] == 1) for r in preds["ranks"].to_list()]
    base = DUAL.baselines(preds)  # the report's no-skill columns: a random ranking of the 16-candidate pool
    assert base["map_at_20"][0] == pytest.approx(random_map_at_k(16, 2)) and base["hit_at_1"][0] == 2 / 16
    mtime = cache[0].stat().st_mtime_ns
    predict(model, [str(data / "test.parquet")], [str(tmp_path / "again.parquet")])  # reuses the pool file
    assert cache[0].stat().st_mtime_ns == mtime
    assert pl.read_parquet(tmp_path / "again.parquet")["ranks"].to_list() == preds["ranks"].to_list()


def test_attack_goal_is_no_relevant_candidate_in_the_top_20(dual_model, tmp_path):
    from xlrobust.attack import attack

    model, data = dual_model
    out = tmp_path / "de.parquet"
    attack(model, str(data / "test.parquet"), ["de"], "xl_charbug", 3, 50, [str(out)])
    rows = pl.read_parquet(out)
    assert rows.height == 3 and set(rows["relevant"]) == {2}
    # the pool has 16 candidates, 2 relevant: 14 others cannot push both out of a top 20
    assert set(rows["status"]) <= {"failed"}
    x = DUAL.attack_outcomes(rows)["x"].to_list()
    assert x == [average_precision_at_k(np.array(r), 2) for r in rows["perturbed_ranks"].to_list()]


def process_state() -> dict:
    """What a training or prediction could leave behind for whatever runs next in the process."""
    import os
    import random

    import torch
    from accelerate.state import AcceleratorState, GradientState, PartialState

    return {
        "env": {k: v for k, v in os.environ.items() if k.startswith("ACCELERATE")},
        "random": random.getstate(),
        "numpy": np.random.get_state()[1].tobytes(),
        "torch": torch.get_rng_state().numpy().tobytes(),
        "accelerate": [dict(c._shared_state) for c in (PartialState, AcceleratorState, GradientState)],
        "dtype": torch.get_default_dtype(),
        "autocast": (torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")),
        "threads": torch.get_num_threads(),
        "matmul": torch.get_float32_matmul_precision(),
        "grad": torch.is_grad_enabled(),
        "cwd": os.getcwd(),
    }


def test_training_and_prediction_leave_the_process_as_they_found_it(dual_model, tiny_encoder, tmp_path):
    """A (bf16 where the CPU has it) dual training used to leave the global random generators
    seeded by it and accelerate's AcceleratorState initialised at bf16: tests run after it in
    the same pytest process drew other numbers (an untrained choice head's initialisation:
    test_xr's XCOPA attack found every prediction wrong, all 'skipped') and found a
    mixed-precision state (test_precision's fp32 training)."""
    import random

    import torch

    from xlrobust.predict import predict
    from xlrobust.train import finetune

    _, data = dual_model
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    before = process_state()
    hp = {"epochs": 1, "batch_size": 4, "lr": 1e-3, "max_length": 32, "dual_scale": 10.0}
    info = finetune(tiny_encoder, str(data), str(tmp_path / "model"), 1, hp)
    assert info["format"] == "dual"
    assert process_state() == before
    predict(str(tmp_path / "model"), [str(data / "test.parquet")], [str(tmp_path / "pred.parquet")])
    assert process_state() == before


def test_mewsli_x_from_hub_schema_fixtures_ranks_the_entity_set(tiny_encoder, tmp_path, candidate_cache):
    """Mewsli-X end to end on authored rows in izhx/mewsli-x's schema (tests/hub_fixtures.py;
    no real Mewsli-X data is available offline): the entity set joins the test table as
    candidate-only rows ('mul'), a dual encoder trains on the English Wikipedia pairs, each
    WikiNews mention is ranked against the whole entity set, which is embedded once."""
    from xlrobust import data
    from xlrobust.predict import predict
    from xlrobust.tasks import get_task
    from xlrobust.train import finetune

    import hub_fixtures

    langs = ["de", "ja"]
    raw = hub_fixtures.write(get_task("mewsli_x"), tmp_path / "raw", langs)
    meta = data.prepare(
        "mewsli_x", {"task": "mewsli_x", "splits": ["test"], "langs": langs, "local": raw}, tmp_path / "x"
    )
    assert meta["splits"]["test"]["rows"] == {"de": 2, "ja": 2} and meta["splits"]["test"]["pool"] == 4
    test = pl.read_parquet(tmp_path / "x/test.parquet")
    assert test.filter(pl.col("lang") == "mul")["text_a"].null_count() == 4
    raw = hub_fixtures.write(get_task("mewsli_x_pairs"), tmp_path / "raw_pairs", ["en"])
    spec = {"task": "mewsli_x_pairs", "splits": ["train", "validation"], "local": raw}
    data.prepare("mewsli_x_pairs", spec, tmp_path / "pairs")
    hp = {"epochs": 1, "batch_size": 2, "lr": 1e-3, "max_length": 32, "dual_scale": 10.0}
    info = finetune(tiny_encoder, str(tmp_path / "pairs"), str(tmp_path / "model"), 1, hp)
    assert info["format"] == "dual" and info["train_examples"] == 2
    predict(str(tmp_path / "model"), [str(tmp_path / "x/test.parquet")], [str(tmp_path / "pred.parquet")])
    preds = pl.read_parquet(tmp_path / "pred.parquet")
    assert sorted(preds["lang"].unique()) == langs and preds.height == 4  # the mentions, not the entities
    assert set(preds["pool"]) == {4} and set(preds["relevant"]) == {1}
    assert all(len(r) == 1 and 1 <= r[0] <= 4 for r in preds["ranks"])
    assert set(preds["nearest"]) <= {e["description"] for e in hub_fixtures.MEWSLI_ENTITIES}
    assert len(list(candidate_cache.glob("*.npy"))) == 1  # the entity set, embedded once
    ap = DUAL.outcomes(preds).filter(pl.col("metric") == "map_at_20")["x"].to_list()
    assert ap == [average_precision_at_k(np.array(r), 1) for r in preds["ranks"].to_list()]
