"""Tagging targets (issue 18): PAN-X and UDPOS readers and registry entries, entity F1 and token
accuracy by hand and against seqeval, intervals over sentences, tag-preserving perturbations,
the tagger's features and predictions, the attack goal, and the report's rendering."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest
from seqeval.metrics import f1_score

from xlrobust import data, stats
from xlrobust.errors import XlrobustError
from xlrobust.formats import get_format
from xlrobust.formats.tagging import (
    corpus_f1,
    entity_counts,
    retag,
    sentence_score,
)
from xlrobust.probes import perturb_frame
from xlrobust.readers import get_reader
from xlrobust.tasks import TASKS

TAG = get_format("tagging")
PANX = TASKS["panx"].labels


def panx_spec(samples, **more) -> dict:
    return {
        "task": "panx",
        "local": str(samples / "panx/{split}-{config}.tsv"),
        "local_format": "conll_tags",
        "local_splits": {"validation": "dev", "test": "dev"},
        **more,
    }


def ud_spec(samples, **more) -> dict:
    return {
        "task": "udpos",
        "local": str(samples / "ud/{config}-ud-{split}.conllu"),
        "local_format": "conllu",
        "local_splits": {"train": "dev", "validation": "dev", "test": "dev"},
        "configs": {"en": ["en_ewt"], "de": ["de_gsd"]},
        **more,
    }


def table(rows, lang="en") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [f"{lang}-{i}" for i in range(len(rows))],
            "lang": [lang] * len(rows),
            "tokens": [r[0] for r in rows],
            "tags": [r[1] for r in rows],
        },
        schema=TAG.schema,
    )


# ---------------------------------------------------------------------------- readers and registry
def test_panx_reader_reads_the_release_files_as_wikiann_rows(samples):
    raw, source = get_reader("conll_tags")(str(samples / "panx/{split}-{config}.tsv"), "en", "train", {"task": "panx"})
    assert source.endswith("train-en.tsv") and raw.columns == ["tokens", "ner_tags", "langs"]
    lines = (samples / "panx/train-en.tsv").read_text(encoding="utf-8").split("\n\n")
    blocks = [b for b in lines if b.strip()]
    assert raw.height == len(blocks) >= 800  # the sampled 800, and earlier copies of repeated sentences
    first = [line.split("\t") for line in blocks[0].strip().splitlines()]
    assert raw["tokens"][0].to_list() == [t.removeprefix("en:") for t, _ in first] and len(first) > 1
    # ids in wikiann's ClassLabel order: 0 O, 1 B-PER, 2 I-PER, 3 B-ORG, 4 I-ORG, 5 B-LOC, 6 I-LOC
    order = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
    assert raw["ner_tags"][0].to_list() == [order.index(g) for _, g in first]
    whole, _ = data.load("panx", panx_spec(samples), "train", "en")
    assert whole["tags"][0].to_list() == [g for _, g in first]
    capped, _ = data.load("panx", panx_spec(samples, max_examples={"train": 800}), "train", "en")
    assert capped.height == 800 and set(capped["id"]) < set(whole["id"])
    assert whole["tokens"].list.len().sum() == sum(len(b.strip().splitlines()) for b in blocks)


def test_local_release_files_and_hub_schema_give_the_same_table(samples, tmp_path):
    """One registry entry: the reader's rows written as the Hub's parquet and read as such
    normalise to exactly what the release files give."""
    for name, spec, split, lang, config in (
        ("panx", panx_spec(samples, max_examples={"test": 60}), "test", "zh", "zh"),
        ("udpos", ud_spec(samples), "test", "de", "de_gsd"),
    ):
        raw, _ = get_reader(spec["local_format"])(spec["local"], config, "dev", spec)
        (tmp_path / name / config).mkdir(parents=True)
        raw.write_parquet(tmp_path / name / config / "test.parquet")
        hub = {"task": name, "local": str(tmp_path / name / "{config}/{split}.parquet")}
        if name == "udpos":
            hub["configs"] = spec["configs"]
        hub["max_examples"] = spec.get("max_examples") or {}
        a, _ = data.load(name, spec, split, lang)
        b, _ = data.load(name, hub, split, lang)
        assert a.height and a.equals(b)


def test_conllu_reader_keeps_syntactic_words_with_their_upos(samples):
    path = samples / "ud/en_ewt-ud-dev.conllu"
    lines = path.read_text(encoding="utf-8").splitlines()
    words = [ln.split("\t") for ln in lines if ln and ln[0].isdigit() and ln.split("\t")[0].isdigit()]
    assert any("-" in ln.split("\t")[0] for ln in lines if ln and ln[0].isdigit())  # the file has MWT ranges
    assert any("." in ln.split("\t")[0] for ln in lines if ln and ln[0].isdigit())  # and empty nodes
    df, _ = data.load("ud", ud_spec(samples), "train", "en")
    assert df.height == 600 == sum(ln.startswith("# sent_id") for ln in lines)  # the slice: train 500 + dev 100
    assert df["tokens"].explode().to_list() == [w[1] for w in words]
    assert df["tags"].explode().to_list() == [w[3] for w in words]
    assert df["id"][0] == "en-en_ewt-" + lines[1].split("= ")[1]  # sent_id, prefixed by lang and treebank
    dont = df.filter(pl.col("tokens").list.contains("n't"))["tokens"][0].to_list()
    assert "didn't" not in dont and ["did", "n't"] == dont[dont.index("n't") - 1 : dont.index("n't") + 1]
    assert set(df["tags"].explode().unique()) <= set(TASKS["udpos"].labels) and "_" not in TASKS["udpos"].labels


def test_udpos_merges_a_languages_treebanks_and_skips_those_without_the_split(tmp_path):
    task = TASKS["udpos"]
    assert task.configs["en"][:2] == ("en_ewt", "en_gum") and "en_esl" not in task.configs["en"]
    assert task.parquet_branch and task.config_splits["en_pud"] == ("test",)
    row = {
        "idx": "s1",
        "text": "Hi there",
        "tokens": ["Hi", "there", "don't", "do", "n't"],
        "upos": [15, 14, 13, 17, 7],  # INTJ ADV _ (the range line) AUX PART
        "head": ["0", "1", "None", "1", "4"],
    }
    for tb in task.configs["en"]:
        for split in task.config_splits.get(tb, ("train", "validation", "test")):
            (tmp_path / tb).mkdir(exist_ok=True)
            pl.DataFrame([row]).write_parquet(tmp_path / tb / f"{split}.parquet")
    spec = {"task": "udpos", "local": str(tmp_path / "{config}/{split}.parquet")}
    train, source = data.load("ud", spec, "train", "en")
    assert train["id"].to_list() == [f"en-{tb}-s1" for tb in ("en_ewt", "en_gum", "en_lines", "en_partut")]
    assert train["tokens"][0].to_list() == ["Hi", "there", "do", "n't"]
    assert train["tags"][0].to_list() == ["INTJ", "ADV", "AUX", "PART"]
    test, _ = data.load("ud", spec, "test", "en")
    assert test.height == len(task.configs["en"])  # every treebank has a test split
    one, _ = data.load("ud", {**spec, "configs": {"en": "en_gum"}}, "test", "en")
    assert one["id"].to_list() == ["en-en_gum-s1"]
    with pytest.raises(XlrobustError, match="configs.en: 'en_foo' is not a udpos config of language 'en'"):
        data.load("ud", {**spec, "configs": {"en": ["en_foo"]}}, "test", "en")
    with pytest.raises(XlrobustError, match="no udpos config of language 'en' \\(en_pud\\) has split 'train'"):
        data.load("ud", {**spec, "configs": {"en": ["en_pud"]}}, "train", "en")


def test_config_checks_treebank_choice_and_named_probe_sides():
    from xlrobust import config

    from conftest import REPO

    cfg = config.read(REPO / "config.yaml")
    cfg["datasets"]["udpos"]["configs"] = {"de": ["de_foo"]}
    with pytest.raises(XlrobustError, match="datasets.udpos.configs.de: 'de_foo' is not a udpos config"):
        config.validate(cfg)
    cfg = config.read(REPO / "config.yaml")
    cfg["study"]["cpu_tag"]["perturbations"].append({"name": "entity_char_delete", "rates": [0.5], "sides": "all"})
    with pytest.raises(
        XlrobustError, match="perturbations.2: target panx_local: entity_char_delete perturbs .* 'entities' side"
    ):
        config.validate(cfg)
    cfg = config.read(REPO / "config.yaml")
    cfg["study"]["cpu_tag"]["perturbations"][1].pop("targets")  # entity_ probes need NER tags: not for UD POS
    with pytest.raises(
        XlrobustError, match="target udpos_local: entity_keyboard_typo on sides 'entities' needs NER tags"
    ):
        config.validate(cfg)
    cfg = config.read(REPO / "config.yaml")
    cfg["studies"] = "cpu_tag"
    config.validate(cfg)
    assert config.perturbation_sides(cfg, "panx_local", "entity_char_substitute") == "entities"
    assert config.perturbation_sides(cfg, "panx_local", "char_swap") == "all"


@pytest.mark.parametrize(
    "content, message",
    [
        ("Paris\tB-LOC\n\nBerlin\tB-MISC\n", r"line 3: tag 'B-MISC' is not one of O, B-PER"),
        ("Paris\tB-LOC\nBerlin\n", r"line 2: expected 'token<TAB>tag' \(2 columns\), got 1 column\(s\): 'Berlin'"),
        ("\n\n", "no sentences"),
    ],
)
def test_panx_reader_names_file_and_line_of_bad_input(tmp_path, content, message):
    (tmp_path / "train-en.tsv").write_text(content, encoding="utf-8")
    spec = {"task": "panx", "local": str(tmp_path / "{split}-{config}.tsv"), "local_format": "conll_tags"}
    with pytest.raises(XlrobustError, match=message) as e:
        data.load("panx", spec, "train", "en")
    assert "train-en.tsv" in str(e.value)


def test_panx_reader_strips_xtremes_language_prefix_only_when_every_token_has_it(tmp_path):
    (tmp_path / "train-en.tsv").write_text("en:New\tB-LOC\nen:York\tI-LOC\n\nen:en:x\tO\n", encoding="utf-8")
    spec = {"task": "panx", "local": str(tmp_path / "{split}-{config}.tsv"), "local_format": "conll_tags"}
    df, _ = data.load("panx", spec, "train", "en")
    assert df["tokens"].to_list() == [["New", "York"], ["en:x"]]
    (tmp_path / "train-en.tsv").write_text("en:New\tB-LOC\nYork\tI-LOC\n", encoding="utf-8")
    assert data.load("panx", spec, "train", "en")[0]["tokens"].to_list() == [["en:New", "York"]]


def test_conllu_reader_rejects_unknown_upos_naming_the_sentence(tmp_path):
    (tmp_path / "x_y-ud-train.conllu").write_text(
        "# sent_id = s7\n1\tHi\thi\tGREETING\t_\t_\t0\troot\t_\t_\n\n", encoding="utf-8"
    )
    spec = {"task": "udpos", "local": str(tmp_path / "{config}-ud-{split}.conllu"), "local_format": "conllu"}
    raw_reader = get_reader("conllu")
    with pytest.raises(XlrobustError, match=r"x_y-ud-train.conllu: line 2 \(sentence s7, token 1\): UPOS 'GREETING'"):
        raw_reader(spec["local"], "x_y", "train", spec)


@pytest.mark.parametrize(
    "row, message",
    [
        ({"tokens": ["a", "b"], "ner_tags": [0]}, "'tokens' and 'tags' must be non-empty lists of equal length"),
        ({"tokens": [], "ner_tags": []}, "'tokens' and 'tags' must be non-empty lists of equal length"),
        ({"tokens": ["a", ""], "ner_tags": [0, 0]}, "a token is missing or empty"),
        (
            {"tokens": ["a", "b"], "ner_tags": [0, 9]},
            "a tag is missing or its id is outside the label set in column 'ner_tags'",
        ),
    ],
)
def test_panx_validation_names_row_and_column(tmp_path, row, message):
    pl.DataFrame([row], schema={"tokens": pl.List(pl.String), "ner_tags": pl.List(pl.Int64)}).write_parquet(
        tmp_path / "train.parquet"
    )
    with pytest.raises(XlrobustError, match="row 0.*" + message.replace("(", r"\(")) as e:
        data.load("x", {"task": "panx", "local": str(tmp_path / "{split}.parquet")}, "train", "en")
    assert "train.parquet" in str(e.value)


# ---------------------------------------------------------------------------- metrics
def test_entity_counts_by_hand_partial_matches_and_type_confusions():
    # exact: both entities found
    assert entity_counts(["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER", "O", "B-LOC"]) == (2, 0, 0)
    # partial match (boundary) and type confusion: nothing counts as found
    assert entity_counts(["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "O", "O", "B-ORG"]) == (0, 2, 2)
    # an I- without B- starts an entity (conlleval / seqeval default)
    assert entity_counts(["O", "I-PER", "I-PER"], ["O", "B-PER", "I-PER"]) == (1, 0, 0)
    # a type change inside a span splits it
    assert entity_counts(["B-ORG", "I-ORG", "I-ORG"], ["B-ORG", "I-LOC", "I-LOC"]) == (0, 2, 1)
    # no entity on either side
    assert entity_counts(["O", "O"], ["O", "O"]) == (0, 0, 0)
    assert sentence_score(["O", "O"], ["O", "O"], bio=True) == 1.0
    assert sentence_score(["B-PER", "O"], ["O", "O"], bio=True) == 0.0
    assert sentence_score(["NOUN", "VERB", "DET"], ["NOUN", "NOUN", "DET"], bio=False) == pytest.approx(2 / 3)


def test_outcomes_by_hand_and_corpus_f1_is_a_ratio_of_sums():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"], ["O", "O", "B-LOC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"], ["O", "B-PER", "O"]]
    # sentence 1: TP 1 (PER), FP 1 (ORG), FN 1 (LOC); 2: TP 1; 3: FP 1 (PER), FN 1 (LOC)
    out = TAG.outcomes(table(list(zip(gold, gold))).with_columns(pred_tags=pl.Series(pred)))
    f1 = out.filter(pl.col("metric") == "f1")
    assert f1["x"].to_list() == [2, 2, 0] and f1["w"].to_list() == [4, 2, 2]
    acc = out.filter(pl.col("metric") == "accuracy")
    assert acc["x"].to_list() == [3, 2, 1] and acc["w"].to_list() == [4, 2, 3]
    # corpus F1 = 4 / 8, not the mean of sentence F1s (0.5, 1, 0 -> 0.5 here by chance) nor of tokens
    value, lo, hi = stats.cell_ci((f1["x"].to_numpy(), f1["w"].to_numpy(), None, None))
    assert value == 0.5 == corpus_f1(gold, pred) == pytest.approx(f1_score(gold, pred))
    assert stats.cell_ci((acc["x"].to_numpy(), acc["w"].to_numpy(), None, None))[0] == pytest.approx(6 / 9)


def test_f1_only_for_the_ner_target_when_one_file_mixes_ner_and_pos():
    ner = table([(["Paris", "is"], ["B-LOC", "O"])]).with_columns(target=pl.lit("panx"))
    pos = table([(["Paris", "is"], ["PROPN", "AUX"])], lang="de").with_columns(target=pl.lit("udpos"))
    both = pl.concat([ner, pos]).with_columns(pred_tags=pl.Series([["B-LOC", "O"], ["PROPN", "VERB"]]))
    out = TAG.outcomes(both)
    assert out.filter(pl.col("metric") == "f1")["target"].to_list() == ["panx"]
    assert out.filter(pl.col("metric") == "accuracy")["x"].to_list() == [2, 1]


def test_corpus_f1_equals_seqeval_on_random_sequences():
    rng = random.Random(3)
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
    for _ in range(30):
        lengths = [rng.randint(1, 12) for _ in range(rng.randint(1, 25))]
        gold = [[rng.choice(tags) for _ in range(n)] for n in lengths]  # invalid I- transitions included
        pred = [[t if rng.random() < 0.6 else rng.choice(tags) for t in g] for g in gold]
        ours = corpus_f1(gold, pred)
        assert ours == pytest.approx(f1_score(gold, pred), abs=1e-12)
        x = np.array([2 * entity_counts(g, p)[0] for g, p in zip(gold, pred)], dtype=float)
        w = np.array([2 * c[0] + c[1] + c[2] for c in (entity_counts(g, p) for g, p in zip(gold, pred))], dtype=float)
        if w.sum():
            assert stats.cell_ci((x, w, None, None))[0] == pytest.approx(f1_score(gold, pred), abs=1e-12)


def test_interval_resamples_sentences_and_recomputes_the_corpus_f1():
    x = np.array([2.0, 0.0, 4.0, 2.0, 0.0, 6.0, 2.0])  # 2 TP per sentence
    w = np.array([2.0, 3.0, 6.0, 2.0, 1.0, 8.0, 4.0])  # 2 TP + FP + FN
    value, lo, hi = stats.cell_ci((x, w, None, None), seed=0)
    idx = np.random.default_rng(0).integers(0, len(x), (stats.BOOTSTRAP_RESAMPLES, len(x)))
    boots = x[idx].sum(axis=1) / w[idx].sum(axis=1)
    assert value == pytest.approx(x.sum() / w.sum())
    assert (lo, hi) == pytest.approx(tuple(np.percentile(boots, [2.5, 97.5])))
    assert value != pytest.approx(np.mean(x / w))  # not a mean of per-sentence F1s


def test_paired_comparison_of_f1_on_the_same_sentences():
    xa, wa = np.array([2.0, 2, 4, 0]), np.array([2.0, 3, 4, 2])
    xb, wb = np.array([0.0, 2, 2, 0]), np.array([2.0, 3, 5, 2])
    diff, lo, hi, p = stats.paired_ratio_test((xa, wa, None, None), (xb, wb, None, None))
    assert diff == pytest.approx(8 / 11 - 4 / 12)
    assert lo <= diff <= hi and 0 < p <= 1


# ---------------------------------------------------------------------------- perturbation
SENTENCES = [
    (
        ["John", "Smith", "visited", "New", "York", "City", "with", "Acme", "Corp", "."],
        ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-LOC", "O", "B-ORG", "I-ORG", "O"],
    ),
    (["Paris", "and", "London", "are", "big", "."], ["B-LOC", "O", "B-LOC", "O", "O", "O"]),
    (["Anna", "Berg", "Carl", "Dahl", "met", "."], ["B-PER", "I-PER", "B-PER", "I-PER", "O", "O"]),
]


def _entity_of(tokens, tags):
    """token -> (type, tokens of its entity) for sentences whose tokens are unique."""
    from xlrobust.formats.tagging import entities

    out = {t: None for t in tokens}
    for typ, a, b in entities(tags):
        for i in range(a, b + 1):
            out[tokens[i]] = (typ, tuple(tokens[a : b + 1]))
    return out


@pytest.mark.parametrize("name", TAG.perturbations)
def test_every_tagging_perturbation_keeps_each_tag_with_its_token(name):
    df = table(SENTENCES * 4).with_columns(id=pl.Series([f"en-{i}" for i in range(12)]))
    out = perturb_frame(df, name, "en", 0.6, seed=5, fmt=TAG)
    base, side = TAG.probe(name)
    assert (out["tokens"].list.len() == out["tags"].list.len()).all()
    assert out["edits"].sum() > 0, "the probe changed nothing"
    for (tokens, tags), new_tokens, new_tags in zip(SENTENCES * 4, out["tokens"], out["tags"]):
        new_tokens, new_tags = new_tokens.to_list(), new_tags.to_list()
        before = _entity_of(tokens, tags)
        if base.startswith("word"):
            assert set(new_tokens) <= set(tokens) and len(set(new_tokens)) == len(new_tokens)
            for t, tag in zip(new_tokens, new_tags):  # each token keeps its entity type
                assert tag == "O" if before[t] is None else tag[2:] == before[t][0]
            after = _entity_of(new_tokens, new_tags)
            for t in new_tokens:  # an entity only ever groups tokens of one original entity
                if after[t] is not None:
                    assert set(after[t][1]) <= set(before[t][1])
        else:
            assert new_tags == tags and all(t.strip() and " " not in t for t in new_tokens)
        # only the probe's side is touched: the other side's tokens all stay, unedited, in their order
        # (in their very positions unless tokens were dropped)
        other = [t for t in tokens if side != "all" and (before[t] is not None) != (side == "entities")]
        if base.startswith("word"):
            assert [t for t in new_tokens if t in other] == other
            if base != "word_drop":
                assert all(new_tokens.index(t) == tokens.index(t) for t in other)
        else:
            assert all(new_tokens[tokens.index(t)] == t for t in other)


def test_retag_rederives_bio_prefixes_from_the_original_entities():
    tags = ["B-LOC", "I-LOC", "O", "B-LOC"]
    assert retag(tags, [1, 0, 2, 3]) == ["B-LOC", "I-LOC", "O", "B-LOC"]  # York New: still one entity
    assert retag(tags, [0, 3, 1, 2]) == ["B-LOC", "B-LOC", "B-LOC", "O"]  # New | Paris | York: three
    assert retag(tags, [1, 2, 3]) == ["B-LOC", "O", "B-LOC"]  # "New" dropped: York begins its entity
    assert retag(["NOUN", "VERB"], [1, 0]) == ["VERB", "NOUN"]  # POS tags just move


def test_perturbation_is_seeded_and_sides_need_ner_tags():
    df = table(SENTENCES)
    a = perturb_frame(df, "entity_char_swap", "en", 1.0, seed=1, fmt=TAG)
    assert a.equals(perturb_frame(df, "entity_char_swap", "en", 1.0, seed=1, fmt=TAG))
    assert not a["tokens"].equals(perturb_frame(df, "entity_char_swap", "en", 1.0, seed=2, fmt=TAG)["tokens"])
    assert a["sides"].unique().to_list() == ["entities"] and a["probe"][0] == "entity_char_swap"
    pos = table([(["I", "run"], ["PRON", "VERB"])])
    with pytest.raises(XlrobustError, match="sides 'entities' needs NER tags"):
        perturb_frame(pos, "char_swap", "en", 0.5, seed=1, sides="entities", fmt=TAG)
    with pytest.raises(XlrobustError, match="entity_char_swap perturbs the tagging format's 'entities' side"):
        perturb_frame(df, "entity_char_swap", "en", 0.5, seed=1, sides="context", fmt=TAG)
    # single-character tokens (PAN-X zh) are never deleted away
    zh = table([(list("北京大学"), ["B-ORG", "I-ORG", "I-ORG", "I-ORG"])], lang="zh")
    out = perturb_frame(zh, "char_delete", "zh", 1.0, seed=1, fmt=TAG)
    assert out["tokens"][0].to_list() == list("北京大学") and out["edits"][0] == 0


def test_flip_compares_each_surviving_token_with_its_clean_prediction():
    from xlrobust.formats.tagging import changed_tags

    clean_tokens, clean_pred = ["a", "b", "c", "a"], ["O", "B-PER", "O", "B-LOC"]
    assert not changed_tags(["a", "c", "a"], ["O", "O", "B-LOC"], clean_tokens, clean_pred)  # b dropped
    assert changed_tags(["a", "c", "a"], ["O", "O", "O"], clean_tokens, clean_pred)
    assert not changed_tags(["b", "a", "c", "a"], ["B-PER", "O", "O", "B-LOC"], clean_tokens, clean_pred)  # swap
    assert changed_tags(["x", "b", "c", "a"], ["B-PER", "B-PER", "O", "B-LOC"], clean_tokens, clean_pred)  # typo
    assert not changed_tags(["x", "b", "c", "a"], clean_pred, clean_tokens, clean_pred)


# ---------------------------------------------------------------------------- model: features, prediction
@pytest.fixture(scope="module")
def tiny_tagger(tiny_encoder, tmp_path_factory):
    """The tiny random BERT with a (seeded, untrained) NER head: predictions that move under edits."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    out = tmp_path_factory.mktemp("tagger")
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(tiny_encoder, **TAG.head_kwargs(list(PANX)))
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny_encoder).save_pretrained(out)
    return str(out)


def test_first_subtoken_labels_and_windows_cover_every_word(tiny_encoder):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_encoder)
    words = ["wonderfully", "the", "food", "was", "greatest"] * 6  # 30 words, several sub-tokens each
    tags = [PANX[i % 7] for i in range(30)]
    feats, where = TAG.features(tok, [words], 16, [tags], list(PANX))
    assert len(where) > 1 and all(len(ids) <= 16 for ids in feats["input_ids"])
    seen = []
    for (_ex, first), labels, ids in zip(where, feats["labels"], feats["input_ids"]):
        for j, w in enumerate(first):
            if w is None:
                assert labels[j] == -100
            else:
                seen.append(w)
                assert labels[j] == PANX.index(tags[w])
                assert tok.convert_ids_to_tokens(ids[j]) == tok.tokenize(words[w])[0]  # its first sub-token
    assert seen == list(range(30))  # each word labelled once, in order


def test_predict_gives_a_tag_per_word_in_input_order(tiny_tagger):
    from xlrobust.predict import Model

    model = Model(tiny_tagger, TAG, max_length=16, batch_size=2)
    df = table([(["the"] * n, ["O"] * n) for n in (3, 40, 1, 7)])
    out = TAG.predict(model, df)
    assert out["pred_tags"].list.len().to_list() == [3, 40, 1, 7]
    again = TAG.pred_tags(model, [["the"] * 7])
    assert again == [out["pred_tags"][3].to_list()]  # alone or in a batch: the same tags
    assert set(out["pred_tags"].explode()) <= set(PANX)


# ---------------------------------------------------------------------------- attack
@pytest.mark.parametrize("recipe", ["deepwordbug", "textbugger"])
def test_attack_keeps_the_given_tokens_and_marks_changed_tags(tiny_tagger, tmp_path, recipe):
    from xlrobust.attack import attack

    rows = [
        (
            ["U.S.", "troops", "(", "the", "food", ")", "won't", "go", "."],
            ["B-LOC", "O", "O", "O", "O", "O", "O", "O", "O"],
        ),
        (["the", "food", "was", "great", "at", "Acme", "Corp", "."], ["O", "O", "O", "O", "O", "B-ORG", "I-ORG", "O"]),
    ]
    df = table(rows)
    df.write_parquet(tmp_path / "test.parquet")
    out = tmp_path / "en.parquet"
    attack(
        tiny_tagger,
        str(tmp_path / "test.parquet"),
        ["en"],
        recipe,
        max_examples=2,
        query_budget=60,
        outs=[str(out)],
        fmt_name="tagging",
        settings={"any_change": True},
        resume_dir=str(tmp_path / "p"),
    )
    res = pl.read_parquet(out)
    assert res["status"].is_in(["succeeded", "failed", "skipped"]).all() and res.height == 2
    assert res["words_total"].to_list() == [9, 8]  # TextAttack's words are the tokens, punctuation included
    for r in res.iter_rows(named=True):
        assert len(r["perturbed_tokens"]) == len(r["tokens"]) == len(r["perturbed_pred_tags"])
        assert all(t and " " not in t for t in r["perturbed_tokens"])  # no space inserted, no token emptied
        changed = r["pred_tags"] != r["perturbed_pred_tags"]
        assert changed == (r["status"] == "succeeded")
        if r["status"] == "succeeded":
            html = TAG.prediction_change(r)
            assert "<del>" in html and "<ins>" in html and "F1" in html
            assert r["tokens"] != r["perturbed_tokens"]
    assert (res["status"] == "succeeded").any()
    under = TAG.attack_outcomes(res)
    assert set(under["metric"]) == {"f1", "accuracy"}


def test_attack_succeeds_by_threshold_on_sentence_f1(tiny_tagger, tmp_path):
    """Goal: the sentence's entity F1 against the gold tags falls to the threshold; gold tags that
    the untrained head already misses entirely (F1 0) are skipped."""
    from xlrobust.attack import attack
    from xlrobust.predict import Model

    model = Model(tiny_tagger, TAG)
    tokens = ["the", "food", "was", "great", "wonderful", "movie"]
    pred = TAG.pred_tags(model, [tokens])[0]
    # sentence 1: gold = the clean prediction (F1 1: both agree, or neither has an entity);
    # sentence 2: one gold entity the prediction cannot match at position 0 (F1 0)
    wrong = ["B-" + next(t for t in ("PER", "ORG", "LOC") if pred[0][2:] != t)] + ["O"] * 5
    hit = table([(tokens, pred), (tokens, wrong)])
    hit.write_parquet(tmp_path / "t.parquet")
    out = tmp_path / "en.parquet"
    attack(
        tiny_tagger,
        str(tmp_path / "t.parquet"),
        ["en"],
        "xl_charbug",
        max_examples=2,
        query_budget=80,
        outs=[str(out)],
        fmt_name="tagging",
        settings={"threshold": 0.5},
        resume_dir=str(tmp_path / "p"),
    )
    res = pl.read_parquet(out)
    first, second = res.row(0, named=True), res.row(1, named=True)
    assert sentence_score(first["tags"], first["pred_tags"], True) == 1.0  # gold = its own prediction
    assert second["status"] == "skipped"  # F1 0 <= 0.5 before any edit
    if first["status"] == "succeeded":
        assert sentence_score(first["tags"], first["perturbed_pred_tags"], True) <= 0.5
    else:
        assert sentence_score(first["tags"], first["perturbed_pred_tags"], True) > 0.5


def test_attack_example_shows_tokens_joined_and_escapes_text():
    row = {
        "tokens": ["<b>", "Paris"],
        "perturbed_tokens": ["<b>", "Pairs"],
        "tags": ["O", "B-LOC"],
        "pred_tags": ["O", "B-LOC"],
        "perturbed_pred_tags": ["B-PER", "O"],
    }
    assert TAG.attack_example(row) == [("", "<b> Paris", "<b> Pairs")]
    html = TAG.prediction_change(row)
    assert "&lt;b&gt;: <del>O</del> → <ins>B-PER</ins>" in html and "Pairs: <del>B-LOC</del> → <ins>O</ins>" in html
    assert "<b>" not in html and "F1 1.00 → 0.00" in html and "2 of 2 tags changed" in html
