"""The cpu_dual study end to end through Snakemake, in its own run (its own --configfile,
tests/studies/dual_ci.yaml), in a git clone that reads only the repository's own data
(samples/, scripts/make_samples.py; so it runs on a bare clone too): a multilingual-e5-small
dual encoder trained on English TyDiQA-GoldP (question, answer sentence) pairs ranks a
LAReQA-style pool of MLQA dev answer sentences in 7 languages; then a perturbation, an
attack and the report."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from xlrobust.formats.dual import average_precision_at_k, random_map_at_k

LANGS = ["ar", "de", "en", "es", "hi", "vi", "zh"]


@pytest.fixture(scope="module")
def run(tmp_path_factory, samples):
    from conftest import run_study

    cache = tmp_path_factory.mktemp("dual-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XLROBUST_CACHE", str(cache))  # the candidate vectors (layout.candidate_vectors)
        root, seconds = run_study(tmp_path_factory, "dual", "[cpu_dual]", "--configfile", "tests/studies/dual_ci.yaml")
    print(f"\ncpu_dual through Snakemake: {seconds:.0f} s wall", flush=True)
    (root / "candidate_cache").symlink_to(cache, target_is_directory=True)
    return root


@pytest.mark.slow
def test_reads_only_the_repository_slices_and_embeds_the_pool_once_outside_the_model(run, samples):
    import yaml

    cfg = yaml.safe_load((run / "results/config.yaml").read_text())  # the config the run resolved
    for name in ("tydiqa_r_shared", "mlqa_r_shared"):
        assert cfg["datasets"][name]["local"].startswith("samples/")
    assert (samples / "mlqa" / "dev-context-hi-question-hi.json").is_file()
    # one pool file, read back by the char_swap probe and the attack: no second embedding
    assert len(list((run / "candidate_cache" / "candidates").glob("*.npy"))) == 1
    model = run / "models/target/me5/none/lareqa_real/seed1"
    assert not list(model.parent.glob("*.candidates")) and not list(model.rglob("*.npy"))


@pytest.mark.slow
def test_map_at_20_far_above_a_random_ranking_in_every_language(run):
    info = json.loads((run / "models/target/me5/none/lareqa_real/seed1/xlrobust_train.json").read_text())
    assert info["format"] == "dual" and info["train_examples"] == 160 and info["dev_examples"] == 48
    preds = pl.read_parquet(run / "predictions/me5/none/lareqa_real/seed1/clean.parquet")
    scores = pl.read_parquet(run / "results/scores.parquet")
    clean = scores.filter(
        (pl.col("target") == "lareqa_real") & (pl.col("probe") == "clean") & (pl.col("metric") == "map_at_20")
    )
    got = dict(clean.select("language", "value").iter_rows())
    for lang in LANGS:
        p = preds.filter(pl.col("lang") == lang)
        # the acceptance's recomputation: from the prediction file's ranks alone
        mine = np.mean([average_precision_at_k(np.array(r), n) for r, n in p.select("ranks", "relevant").rows()])
        assert got[lang] == pytest.approx(mine)
        chance = np.mean([random_map_at_k(pool, n) for pool, n in p.select("pool", "relevant").rows()])
        print(f"{lang}: mAP@20 {got[lang]:.3f} (random ranking {chance:.3f}), {p.height} questions")
        assert got[lang] > 10 * chance and got[lang] > 0.3


@pytest.mark.slow
def test_perturbation_attack_and_report(run):
    scores = pl.read_parquet(run / "results/scores.parquet").filter(pl.col("target") == "lareqa_real")
    assert set(LANGS) <= set(scores.filter(pl.col("probe") == "char_swap")["language"])
    attacked = scores.filter(pl.col("probe") == "attack:xl_charbug")
    assert {"attack_success_rate", "map_at_20_under_attack"} <= set(attacked["metric"])
    for lang in LANGS:
        a = pl.read_parquet(run / f"attacks/me5/none/lareqa_real/seed1/xl_charbug/{lang}.parquet")
        assert a.height == 2 and set(a["status"]) <= {"succeeded", "failed", "skipped"}
        for r in a.filter(pl.col("status") == "succeeded").iter_rows(named=True):
            assert min(r["perturbed_ranks"]) > 20  # no relevant answer left in the top 20
    html = (run / "results/report.html").read_text(encoding="utf-8")
    assert "Study: cpu_dual" in html and "Map at 20 per language" in html and "Hit at 1 per language" in html
    assert "best relevant rank" in html  # an attacked query's rank before -> after
