"""XCOPA (multiple choice) and Tatoeba (retrieval) targets: the release reader and registry
entries on the real files of samples/, the retrieval format (XTREME's pooling, the
search, per-query outcomes), both attack goals, the DAG of a target without fine-tuning,
per-format cluster resources and the estimate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from xlrobust import config as xcfg
from xlrobust import data
from xlrobust.errors import XlrobustError
from xlrobust.formats import get_format
from xlrobust.formats.retrieval import neighbours

from conftest import REPO, SENTIMENT

TATOEBA = {"ar": "ara", "de": "deu", "fr": "fra", "hi": "hin", "sw": "swh", "zh": "cmn"}
RETRIEVAL = get_format("retrieval")
CHOICE = get_format("choice")


def shipped(name: str) -> dict:
    """A dataset entry of the shipped config.yaml, its path (the repository's samples/) made absolute."""
    spec = xcfg.read(REPO / "config.yaml")["datasets"][name]
    return {**spec, "local": str(REPO / spec["local"])}


# ---------------------------------------------------------------------------- data
def test_tatoeba_release_files_through_the_registry(samples, tmp_path):
    meta = data.prepare("tatoeba_real", shipped("tatoeba_real"), tmp_path)
    assert meta["format"] == "retrieval" and list(meta["splits"]) == ["test"]
    assert meta["splits"]["test"]["rows"] == {"ar": 1000, "de": 1000, "fr": 1000, "hi": 1000, "sw": 390, "zh": 1000}
    df = pl.read_parquet(tmp_path / "test.parquet")
    for lang, l3 in TATOEBA.items():  # line i of one side is the translation of line i of the other
        rows = df.filter(pl.col("lang") == lang)
        xx = (samples / f"tatoeba/tatoeba.{l3}-eng.{l3}").read_text(encoding="utf-8").splitlines()
        en = (samples / f"tatoeba/tatoeba.{l3}-eng.eng").read_text(encoding="utf-8").splitlines()
        assert rows["text_a"].to_list() == [x.strip() for x in xx]
        assert rows["text_b"].to_list() == [x.strip() for x in en]
    assert df["id"].n_unique() == df.height


def test_a_local_tatoeba_file_in_a_language_outside_the_registry(tmp_path, capsys):
    """Issue 24: the release's tatoeba.amh-eng.* run as `langs: [am]` (Amharic is not one of
    XTREME-R's 41): any ISO 639 code for local files, the config from its ISO 639-3 code;
    the attack's stopwords fall back to none with one warning."""
    from xlrobust.stopwords import stopwords

    (tmp_path / "tatoeba.amh-eng.amh").write_text("ሰላም።\nደህና ሁን።\n", encoding="utf-8")
    (tmp_path / "tatoeba.amh-eng.eng").write_text("Hello.\nGoodbye.\n", encoding="utf-8")
    spec = {"task": "tatoeba", "splits": ["test"], "local": str(tmp_path / "tatoeba.{config}")}
    spec |= {"local_format": "bitext_lines", "langs": ["am"]}
    cfg = xcfg.read(REPO / "config.yaml")
    cfg["datasets"]["tatoeba_am"] = spec
    xcfg.validate(cfg)  # accepted: a local dataset may name any ISO 639-1/3 code
    meta = data.prepare("tatoeba_am", spec, tmp_path / "out")
    assert meta["splits"]["test"]["rows"] == {"am": 2}
    df = pl.read_parquet(tmp_path / "out/test.parquet")
    assert df.select("lang", "text_a", "text_b").rows() == [("am", "ሰላም።", "Hello."), ("am", "ደህና ሁን።", "Goodbye.")]
    spec["configs"] = {"am": "amh-eng"}  # the config can also be named
    assert data.load("t", spec, "test", "am")[0].height == 2
    assert stopwords("am") == set() and stopwords("gez") == set()
    err = capsys.readouterr().err
    assert "no stopword list for language 'gez' (Geez)" in err and "'am'" not in err  # am: no list by design
    for bad, why in (("xx", "'xx' is not an ISO 639-1 or ISO 639-3 language code"), ("AM", "'AM' does not match")):
        cfg["datasets"]["tatoeba_am"] = {**spec, "langs": [bad], "configs": {}}
        with pytest.raises(XlrobustError, match=why):
            xcfg.validate(cfg)
    cfg["datasets"]["tatoeba_am"] = {"task": "tatoeba", "splits": ["test"], "langs": ["am"]}  # the Hub: its list
    with pytest.raises(XlrobustError, match="unknown language 'am' for the tatoeba Hub source"):
        xcfg.validate(cfg)


def test_bitext_reader_errors_name_the_file(tmp_path):
    spec = {"task": "tatoeba", "splits": ["test"], "local": str(tmp_path / "tatoeba.{config}")}
    spec["local_format"] = "bitext_lines"
    (tmp_path / "tatoeba.deu-eng.deu").write_text("Hallo.\nTschüss.\n", encoding="utf-8")
    with pytest.raises(XlrobustError, match=r"tatoeba.deu-eng.eng: file not found"):
        data.load("t", spec, "test", "de")
    (tmp_path / "tatoeba.deu-eng.eng").write_text("Hello.\n", encoding="utf-8")
    with pytest.raises(XlrobustError, match=r"tatoeba.deu-eng.deu: 2 lines but tatoeba.deu-eng.eng has 1"):
        data.load("t", spec, "test", "de")
    (tmp_path / "tatoeba.deu-eng.eng").write_text("Hello.\n \n", encoding="utf-8")
    with pytest.raises(
        XlrobustError, match=r"deu-eng.deu \+ tatoeba.deu-eng.eng: row 1: empty text in column 'sentence2'"
    ):
        data.load("t", spec, "test", "de")
    (tmp_path / "tatoeba.deu-eng.eng").write_text("Hello.\nBye.\n", encoding="utf-8")
    df, _ = data.load("t", spec, "test", "de")
    assert df.select("text_a", "text_b").rows() == [("Hallo.", "Hello."), ("Tschüss.", "Bye.")]
    assert df["id"].str.contains(r"^de-test-[0-9a-f]{16}$").all()  # content ids (data.content_ids), no positions


def test_xcopa_real_data_dev_held_out_of_copa_train(samples, tmp_path):
    """The cpu_xr split: COPA train rows 0-349 train, 350-399 select the epoch, XCOPA's
    validation split (English: COPA's validation) is the test set."""
    meta = data.prepare("xcopa_real", shipped("xcopa_real"), tmp_path)
    assert meta["format"] == "choice"
    assert meta["splits"]["train"]["rows"] == {"en": 350} and meta["splits"]["validation"]["rows"] == {"en": 50}
    assert meta["splits"]["test"]["rows"] == {lang: 100 for lang in ["en", "et", "it", "sw", "zh"]}
    train, dev, test = (pl.read_parquet(tmp_path / f"{s}.parquet") for s in ("train", "validation", "test"))
    raw = pl.read_ndjson(samples / "xcopa/train-en.jsonl")
    assert train["id"].to_list() == [f"en-{i}" for i in raw["idx"].head(350)]
    assert dev["id"].to_list() == [f"en-{i}" for i in raw["idx"].tail(50)]
    assert dev["text_a"].to_list() == raw["premise"].tail(50).to_list()
    zh = pl.read_ndjson(samples / "xcopa/val-zh.jsonl")
    t = test.filter(pl.col("lang") == "zh")
    assert t["text_a"].to_list() == zh["premise"].to_list() and t["label"].to_list() == zh["label"].to_list()
    assert t["choices"].to_list() == [[a, b] for a, b in zip(zh["choice1"], zh["choice2"])]
    assert t["text_b"].to_list() == [f"What was the {q}?" for q in zh["question"]]  # XTREME-R's question, in English
    assert set(test["text_b"]) == {"What was the cause?", "What was the effect?"}


def test_xcopa_english_is_read_from_copa_and_the_rest_from_xcopa(monkeypatch):
    """On the Hub the registry reads English from aps/super_glue's parquet conversion
    (config copa, whose test labels are hidden: -1) and the other languages from
    cambridgeltl/xcopa at the dataset's pinned revision."""
    import datasets

    import hub_fixtures

    calls = []

    def fake(*args, split=None, revision=None, streaming=False, **kw):
        calls.append((args, split, revision, kw))
        rows = [dict(r) for r in hub_fixtures.COPA_ROWS]
        if args[0] == "aps/super_glue" and split == "test":
            rows = [{**r, "label": -1} for r in rows]
        ds = datasets.Dataset.from_list(rows)
        return ds.to_iterable_dataset() if streaming else ds

    monkeypatch.setattr(datasets, "load_dataset", fake)
    spec = {"task": "xcopa", "revision": "abc123"}
    df, source = data.load("xcopa", spec, "train", "en")
    assert calls[-1] == (("aps/super_glue",), "train", "refs/convert/parquet", {"data_dir": "copa"})
    assert df.height == 2 and "aps/super_glue@refs/convert/parquet/copa/train" in source
    df, source = data.load("xcopa", spec, "test", "et")
    assert calls[-1] == (("cambridgeltl/xcopa", "et"), "test", "abc123", {})
    assert df["id"].to_list() == ["et-0", "et-1"]
    # COPA's hidden test labels (-1): an error naming the row, never rows silently dropped (issue 23)
    with pytest.raises(XlrobustError, match=r"copa/test: row 0: answer outside the choices in column 'label'"):
        data.load("xcopa", spec, "test", "en")


# ---------------------------------------------------------------------------- retrieval format
def test_neighbours_hand_computed():
    q = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    c = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    # sims: q0 [1, .8, 0]; q1 [0, .6, 1]; q2 [.6, .96, .8]
    xx, en, rank = neighbours(q, c)
    assert xx.tolist() == [0, 2, 1]  # nearest candidate of each query
    assert en.tolist() == [0, 2, 1]  # nearest query of each candidate: c0 [1,0,.6], c1 [.8,.6,.96], c2 [0,1,.8]
    assert rank.tolist() == [1, 2, 2]  # the gold (diagonal) candidate's rank per query


@pytest.fixture(scope="module")
def encoder(tiny_encoder):
    from xlrobust.predict import Model

    return Model(tiny_encoder, RETRIEVAL)


def test_pooling_is_xtreme_mean_of_one_layer_special_tokens_included(tiny_encoder, encoder):
    """XTREME's evaluate_retrieval.py: mean over the attention mask ([CLS] and [SEP]
    included) of hidden_states[layer]; checked against transformers run text by text."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    texts = [t for t, _ in SENTIMENT[:5]]
    tok, ref_model = AutoTokenizer.from_pretrained(tiny_encoder), AutoModel.from_pretrained(tiny_encoder)
    for layer in (None, 2, 0):
        from xlrobust.predict import Model

        model = Model(tiny_encoder, RETRIEVAL, layer=layer, precision="fp32")  # the reference runs fp32
        got = RETRIEVAL.embed(model, texts)
        want = []
        for t in texts:
            with torch.no_grad():
                hs = ref_model(**tok(t, return_tensors="pt"), output_hidden_states=True).hidden_states
            v = hs[1 if layer is None else layer][0].mean(0).numpy()  # default: round(2 * 2/3) = 1 of 2 layers
            want.append(v / np.linalg.norm(v))
        np.testing.assert_allclose(got, np.array(want), atol=1e-5)
        assert model._pooled_layer == (1 if layer is None else layer)  # the layers above it were dropped
    with pytest.raises(XlrobustError, match=r"--layer 3: the encoder has hidden states 0..2"):
        RETRIEVAL.embed(Model(tiny_encoder, RETRIEVAL, layer=3), texts)


def retrieval_table(pairs, lang="de"):
    return pl.DataFrame(
        {
            "id": [f"{lang}-{i}" for i in range(len(pairs))],
            "lang": [lang] * len(pairs),
            "text_a": [a for a, _ in pairs],
            "text_b": [b for _, b in pairs],
        }
    )


def test_predict_searches_each_language_and_scores_hit_at_1(encoder):
    texts = [t for t, _ in SENTIMENT[:6]]
    same = retrieval_table(list(zip(texts, texts)), "de")  # a translation identical to its query: cosine 1
    rotated = retrieval_table(list(zip(texts, texts[1:] + texts[:1])), "fr")  # each gold is another row's text
    pred = RETRIEVAL.predict(encoder, pl.concat([same, rotated]))
    assert pred.filter(pl.col("lang") == "de")["nearest"].to_list() == same["id"].to_list()
    assert pred.filter(pl.col("lang") == "de")["rank"].to_list() == [1] * 6
    # fr-i's sentence is fr-(i-1)'s English sentence: its nearest English row is fr-(i-1), and back
    ids = rotated["id"].to_list()
    fr = pred.filter(pl.col("lang") == "fr")
    assert fr["nearest"].to_list() == ids[-1:] + ids[:-1] and fr["nearest_en_xx"].to_list() == ids[1:] + ids[:1]
    assert (fr["rank"] > 1).all()
    out = RETRIEVAL.outcomes(pred)
    acc = out.group_by("lang", "metric").agg(pl.col("x").sum(), pl.col("w").sum()).sort("lang", "metric").rows()
    assert acc == [
        ("de", "accuracy", 6.0, 6.0),
        ("de", "accuracy_en_xx", 6.0, 6.0),
        ("fr", "accuracy", 0.0, 6.0),
        ("fr", "accuracy_en_xx", 0.0, 6.0),
    ]
    cache = encoder.__dict__["_retrieval_cache"]
    assert set(texts) <= set(cache)  # the English side of a probe file is embedded once per process


def test_retrieval_report_rendering_escapes():
    row = {"text_a": "a<b>", "perturbed_text_a": "a<b>x", "text_b": "<i>", "rank": 1, "perturbed_rank": 4}
    row |= {"nearest_text": "<i>", "perturbed_nearest_text": "<script>"}
    assert RETRIEVAL.attack_example(row) == [("query", "a<b>", "a<b>x"), ("gold English", "<i>", "<i>")]
    html = RETRIEVAL.prediction_change(row)
    assert "gold rank 1 → 4" in html and "&lt;script&gt;" in html and "<script>" not in html
    assert (
        CHOICE.prediction_change({"pred": 0, "perturbed_pred": 1, "label": 0}) == "choice 1 → choice 2 (gold: choice 1)"
    )


# ---------------------------------------------------------------------------- attacks
def test_nearest_goal_succeeds_exactly_when_the_gold_is_no_longer_nearest():
    import torch

    from xlrobust.formats.retrieval import nearest_goal

    wrapper = SimpleNamespace(model=torch.nn.Identity())
    goal = nearest_goal(wrapper, 10)
    goal.ground_truth_output = 1
    sims = goal._process_model_outputs([None], np.array([[0.2, 0.9, 0.5]]))  # similarities stay as they are
    assert torch.equal(sims, torch.tensor([[0.2, 0.9, 0.5]], dtype=sims.dtype))
    assert not goal._is_goal_complete(sims[0], None)
    assert goal._get_score(sims[0], None) == pytest.approx(0.5 - 0.9)
    beaten = torch.tensor([0.2, 0.6, 0.7])
    assert goal._is_goal_complete(beaten, None) and goal._get_score(beaten, None) == pytest.approx(0.1)


def test_retrieval_attack_rows_agree_with_a_fresh_search(tiny_encoder, encoder, tmp_path):
    """Status, nearest sentence and gold rank after the attack, checked by embedding the
    perturbed query again and searching the language's whole pool."""
    from xlrobust.attack import attack

    texts = [t for t, _ in SENTIMENT]
    table = retrieval_table([(t.replace("the", "der"), t) for t in texts], "de")
    path = tmp_path / "test.parquet"
    table.write_parquet(path)
    runs = []
    for budget in (150, 3):  # 3 queries: every attack that starts runs out of budget (fails)
        out = tmp_path / f"de{budget}.parquet"
        attack(tiny_encoder, str(path), ["de"], "xl_charbug", 6, budget, [str(out)], fmt_name="retrieval")
        runs.append(pl.read_parquet(out))
    df = pl.concat(runs)
    assert set(df["format"]) == {"retrieval"} and set(df["probe"]) == {"attack:xl_charbug"}
    assert {"succeeded", "failed"} <= set(df["status"])
    pool = RETRIEVAL.embed(encoder, table["text_b"].to_list())
    ids = table["id"].to_list()
    for r in df.iter_rows(named=True):
        sims = RETRIEVAL.embed(encoder, [r["perturbed_text_a"]])[0] @ pool.T
        gold = ids.index(r["id"])
        assert ids[int(sims.argmax())] == r["perturbed_nearest"]
        assert r["perturbed_nearest_text"] == table["text_b"][int(sims.argmax())]
        assert r["perturbed_rank"] == 1 + int((sims > sims[gold] + 1e-6).sum())
        assert r["text_b"] == table["text_b"][gold] and r["num_queries"] <= 150
        if r["status"] == "skipped":  # the gold was not the nearest before the attack
            assert r["nearest"] != r["id"] and r["rank"] > 1 and r["perturbed_text_a"] == r["text_a"]
        elif r["status"] == "succeeded":
            assert r["nearest"] == r["id"] != r["perturbed_nearest"] and r["perturbed_rank"] > 1
            assert r["perturbed_text_a"] != r["text_a"] and r["words_perturbed"] >= 1
        else:
            assert r["status"] == "failed" and r["perturbed_nearest"] == r["id"] and r["perturbed_rank"] == 1
    under = RETRIEVAL.attack_outcomes(df)
    assert under["x"].to_list() == [float(s == "failed") for s in df["status"]]


@pytest.fixture(scope="module")
def choice_model(tiny_encoder, tmp_path_factory):
    """A multiple-choice head on the tiny encoder, trained briefly on XCOPA-shaped rows."""
    import torch
    from transformers import AutoModelForMultipleChoice, AutoTokenizer

    out = tmp_path_factory.mktemp("mc") / "model"
    torch.manual_seed(0)  # the untrained head: the same in any test order (not whatever ran before drew)
    model = AutoModelForMultipleChoice.from_pretrained(tiny_encoder)
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny_encoder).save_pretrained(out)
    return str(out)


def xcopa_table(lang="it"):
    good = [t for t, y in SENTIMENT if y == 2]
    bad = [t for t, y in SENTIMENT if y == 0]
    return pl.DataFrame(
        {
            "id": [f"{lang}-{i}" for i in range(6)],
            "lang": [lang] * 6,
            "text_a": [f"the trip is next week and {g}" for g in good],
            "text_b": ["What was the effect?", "What was the cause?"] * 3,
            "choices": [[g, b] if i % 2 else [b, g] for i, (g, b) in enumerate(zip(good, bad))],
            "label": [1, 0] * 3,
        },
        schema=CHOICE.schema,
    )


def test_choice_predicts_and_is_attacked_on_premise_and_choices_only(choice_model, tmp_path):
    from xlrobust.attack import attack
    from xlrobust.predict import Model, predict

    table = xcopa_table()
    path = tmp_path / "test.parquet"
    table.write_parquet(path)
    predict(choice_model, [str(path)], [str(tmp_path / "pred.parquet")], fmt_name="choice")
    pred = pl.read_parquet(tmp_path / "pred.parquet")
    assert pred["format"].to_list() == ["choice"] * 6 and pred["logits"].list.len().to_list() == [2] * 6
    runs = []
    for budget in (100, 2):  # 2 queries: every attack that starts runs out of budget (fails)
        out = tmp_path / f"it{budget}.parquet"
        attack(choice_model, str(path), ["it"], "deepwordbug", 6, budget, [str(out)], fmt_name="choice")
        runs.append(pl.read_parquet(out))
    df = pl.concat(runs)
    assert {"succeeded", "failed", "skipped"} <= set(df["status"])
    model = Model(choice_model)
    for r in df.iter_rows(named=True):
        assert r["pred"] == pred.filter(pl.col("id") == r["id"])["pred"][0]
        assert r["text_b"] == table.filter(pl.col("id") == r["id"])["text_b"][0]  # the question is never edited
        again = table.filter(pl.col("id") == r["id"]).with_columns(
            text_a=pl.lit(r["perturbed_text_a"]), choices=pl.lit(r["perturbed_choices"], dtype=pl.List(pl.String))
        )
        assert int(CHOICE.predict(model, again)["pred"][0]) == r["perturbed_pred"]  # the recorded prediction
        if r["status"] == "succeeded":
            assert r["pred"] == r["label"] != r["perturbed_pred"]
        elif r["status"] == "skipped":
            assert r["pred"] != r["label"]
        else:
            assert r["perturbed_pred"] == r["label"]
    assert len(CHOICE.attack_example(df.row(0, named=True))) == 4  # context, question, two choices


def test_choice_perturbation_sides(tmp_path):
    from xlrobust.probes import perturb_frame

    table = xcopa_table()
    a = perturb_frame(table, "char_swap", "it", 0.5, 1, "a", fmt=CHOICE)
    c = perturb_frame(table, "char_swap", "it", 0.5, 1, "choices", fmt=CHOICE)
    both = perturb_frame(table, "char_swap", "it", 0.5, 1, None, fmt=CHOICE)  # default: both
    assert a["choices"].to_list() == table["choices"].to_list() and a["text_a"].to_list() != table["text_a"].to_list()
    assert c["text_a"].to_list() == table["text_a"].to_list() and c["choices"].to_list() != table["choices"].to_list()
    assert both["text_a"].to_list() == a["text_a"].to_list() and both["choices"].to_list() == c["choices"].to_list()
    for df in (a, c, both):  # the question and the answer never change
        assert df["text_b"].to_list() == table["text_b"].to_list() and df["label"].to_list() == table["label"].to_list()


# ---------------------------------------------------------------------------- config, DAG, estimate
def shipped_config(**over) -> dict:
    cfg = xcfg.read(REPO / "config.yaml")
    cfg.update(over)
    return xcfg.validate(cfg)


def test_config_checks_sides_per_format():
    cfg = shipped_config(studies="cpu_xr")
    cfg["study"]["cpu_xr"]["targets"] = ["xcopa_real"]
    cfg["study"]["cpu_xr"]["perturbations"] = [{"name": "char_swap", "rates": [0.2], "sides": "choices"}]
    assert xcfg.perturbation_sides(xcfg.validate(cfg), "xcopa_real", "char_swap") == "choices"
    cfg["study"]["cpu_xr"]["targets"] = ["xcopa_real", "tatoeba_real"]
    with pytest.raises(XlrobustError, match="'choices' is not a side of target tatoeba_real \\(retrieval: a\\)"):
        xcfg.validate(cfg)


def test_retrieval_target_predicts_with_the_encoder_on_cpu_resources():
    cfg = shipped_config(studies="cpu_xr")
    assert xcfg.prediction_model(cfg, "me5", "none", "tatoeba_real", 1) == "models/pretrained/me5"
    assert xcfg.prediction_model(cfg, "me5", "squad", "tatoeba_real", 1) == "models/intermediate/me5/squad/seed1"
    assert xcfg.prediction_model(cfg, "me5", "none", "xcopa_real", 1) == "models/target/me5/none/xcopa_real/seed1"
    res = xcfg.rule_resources(cfg, "predict")
    assert res["gpu"](SimpleNamespace(target="tatoeba_real")) == 0  # resources.predict_retrieval
    assert res["gpu"](SimpleNamespace(target="xcopa_real")) == 1  # resources.predict
    assert xcfg.rule_resources(cfg, "attack")["runtime"](SimpleNamespace(target="tatoeba_real")) == 240
    cfg["targets"]["tatoeba_real"]["predict"] = {"layer": 6, "max_length": 64, "batch_size": 8}
    assert xcfg.model_flags(cfg, "tatoeba_real") == " --layer 6 --max-length 64"  # the attack's model = predict's
    assert xcfg.model_flags(cfg, "xcopa_real") == ""


def test_dry_run_has_no_finetune_job_for_retrieval(tmp_path):
    """The DAG of cpu_xr: XCOPA is fine-tuned, Tatoeba is predicted and attacked with the
    pretrained encoder itself."""
    r = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "-n", "--cores", "1", "--config", "studies=cpu_xr"]
        + ["--printshellcmds", "--forceall"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    finetunes = [ln for ln in out.splitlines() if ln.startswith("xlrobust finetune") or " xlrobust finetune " in ln]
    assert len(finetunes) == 1 and "data/xcopa_real" in finetunes[0]
    predicts = [ln for ln in out.splitlines() if "xlrobust predict" in ln]
    tat = [ln for ln in predicts if "target=tatoeba_real" in ln]
    assert len(predicts) == 2 and len(tat) == 1 and "--model models/pretrained/me5 --format retrieval" in tat[0]
    assert "--max-length 64" in tat[0]
    attacks = [ln for ln in out.splitlines() if "xlrobust attack" in ln]
    assert any("--model models/pretrained/me5 --format retrieval" in ln for ln in attacks) and len(attacks) == 2


def test_estimate_counts_no_finetune_for_retrieval():
    from xlrobust import estimate

    cfg = shipped_config(studies="cpu_xr")
    lines = {ln.stage: ln for ln in estimate.estimate(cfg)}
    assert lines["finetune"].jobs == 1 and lines["predict"].jobs == 2 and lines["attack"].jobs == 2
    cfg["study"]["cpu_xr"]["targets"] = ["tatoeba_real"]
    lines = {ln.stage: ln for ln in estimate.estimate(xcfg.validate(cfg))}
    assert lines["finetune"].jobs == 0 and lines["finetune"].flops == 0
    r = subprocess.run(
        [sys.executable, "-m", "xlrobust", "estimate", "--studies", "cpu_xr", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["finetune"]["jobs"] == 1
