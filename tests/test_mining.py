"""BUCC bitext mining (issue 26): the blocked exact search and XTREME's mining against a
plain brute-force reference on the same vectors (ties included), the threshold and P/R/F1
recomputed by hand, the release reader and the Hub copy through the registry, validation
naming file and line, perturbations on the non-English test side only, the attack checked
against mining again, the config, and the offline real-data check: BUCC-format files built from real Tatoeba
pairs with real distractors, mined with multilingual-e5-small."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from xlrobust import data
from xlrobust.errors import XlrobustError
from xlrobust.formats import get_format
from xlrobust.formats.mining import Mining, knn, mine, optimize_threshold

from conftest import REPO, SENTIMENT

sys.path.insert(0, str(REPO / "bench"))
import mining_reference as ref  # noqa: E402 (bench/ holds the reference implementation)

MINING = get_format("mining")


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def vectors(rng, n: int, m: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    """Random unit vectors, or small-integer vectors with repeated rows (exact ties)."""
    if ties:
        x = rng.integers(-2, 3, (n, 6)).astype(np.float32)
        y = rng.integers(-2, 3, (m, 6)).astype(np.float32)
        y[m // 2 :] = y[: m - m // 2]  # every vector of the second half repeats one of the first
        x[::3] = x[0]
        return x, y
    return unit(rng.normal(size=(n, 16))), unit(rng.normal(size=(m, 16)))


# ---------------------------------------------------------------------------- search and mining
@pytest.mark.parametrize("ties", [False, True])
def test_blocked_knn_and_mining_equal_the_brute_force_reference(ties):
    rng = np.random.default_rng(1)
    for n, m in ((1, 1), (3, 2), (37, 53), (80, 41)):
        x, y = vectors(rng, n, m, ties)
        want_s, want_i = ref.knn(x, y, 4)
        want = ref.mine(x, y, 4)
        assert want  # something is mined
        for block in (1, 2, 5, 4096):
            s, i = knn(x, y, 4, block)
            assert np.array_equal(i, want_i) and np.array_equal(s, want_s), (n, m, block)
            a, b, score = mine(x, y, 4, block)
            assert list(zip(a.tolist(), b.tolist(), score.tolist())) == want, (n, m, block)


def test_ties_go_to_the_smaller_index():
    y = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32)
    s, i = knn(np.array([[1, 0]], dtype=np.float32), y, 3, block=1)
    assert i.tolist() == [[0, 1, 3]] and s.tolist() == [[1, 1, 1]]


def test_margin_and_greedy_max_retrieval_by_hand():
    # x0 ~ y0, x1 ~ y1, k = 1: every margin is cos / ((cos_x_best + cos_y_best) / 2) = 1 for mutual bests
    x = unit(np.array([[1.0, 0.1], [0.1, 1.0]]))
    y = unit(np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]]))
    a, b, score = mine(x, y, k=1)
    sims = x @ y.T
    # y2 = (.7, .7)'s best is x0 or x1 (x0 by index on a tie); the greedy keeps one pair per sentence
    assert sorted(zip(a.tolist(), b.tolist())) == [(0, 0), (1, 1)]
    assert score.tolist() == pytest.approx([1.0, 1.0])
    assert sims[0, 0] == pytest.approx(sims[1, 1])


def test_threshold_is_xtreme_bucc_optimize_and_f1_by_hand():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, False, True, False])
    # F1 walking down with 3 gold pairs: 2/4, 2/5, 4/6 (best), 4/7 -> halfway between 0.7 and 0.6
    assert optimize_threshold(scores, correct, 3) == pytest.approx(0.65)
    cands = {("a", "A"): 0.9, ("b", "X"): 0.8, ("c", "C"): 0.7, ("d", "Y"): 0.6}
    assert ref.bucc_optimize(cands, {("a", "A"), ("c", "C"), ("e", "E")}) == pytest.approx(0.65)
    assert optimize_threshold(np.array([0.5, 0.9]), np.array([False, True]), 1) == pytest.approx(0.7)
    assert optimize_threshold(np.array([0.9]), np.array([True]), 1) == 0.9  # the last candidate: its own margin
    assert optimize_threshold(np.array([0.9]), np.array([False]), 1) == 0.0  # nothing correct: XTREME's 0
    assert ref.bucc_eval(cands, {("a", "A"), ("c", "C"), ("e", "E")}, 0.65) == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3}
    )


# ---------------------------------------------------------------------------- the format on known vectors
def corpus(rng, lang: str, part: str, n_gold: int, n_xx: int, n_en: int, dim: int = 12):
    """Rows of one part with text -> vector: gold pairs are noisy copies, the rest random."""
    rows, vec = [], {}
    en_ids = [f"{lang}-{part}-en-{j}" for j in range(n_en)]
    for j, sid in enumerate(en_ids):
        vec[f"{part} en {j}"] = rng.normal(size=dim)
        rows.append((sid, lang, "en", part, f"{part} en {j}", None))
    for i in range(n_xx):
        text = f"{part} xx {i}"
        if i < n_gold:
            vec[text] = vec[f"{part} en {i}"] + rng.normal(scale=0.6, size=dim)
            rows.append((f"{lang}-{part}-xx-{i}", lang, "xx", part, text, en_ids[i]))
        else:
            vec[text] = rng.normal(size=dim)
            rows.append((f"{lang}-{part}-xx-{i}", lang, "xx", part, text, None))
    return rows, vec


def mining_table(rng, lang="de"):
    tune, v1 = corpus(rng, lang, "tune", 15, 30, 35)
    test, v2 = corpus(rng, lang, "test", 25, 45, 50)
    # a sentence under two ids of its side: XTREME cannot map it back to one id and drops it
    test.append((f"{lang}-test-xx-dup", lang, "xx", "test", "test xx 30", None))
    df = pl.DataFrame(tune + test, schema=list(MINING.schema), orient="row")
    vec = {t: unit(v[None])[0] for t, v in {**v1, **v2}.items()}
    return df, vec


@pytest.fixture
def fake_embed(monkeypatch):
    table = {}

    def embed(self, model, texts, cache=None):
        return np.stack([table[t] for t in texts]).astype(np.float32)

    monkeypatch.setattr(Mining, "embed", embed)
    return table


def reference_run(df: pl.DataFrame, vec: dict, lang: str) -> tuple[float, set, set]:
    """The reference on the same vectors: threshold from the tune part, mined pairs of the test part."""
    out = []
    for part in ("tune", "test"):
        rows = df.filter((pl.col("lang") == lang) & (pl.col("part") == part))
        xs, ens = rows.filter(pl.col("side") == "xx"), rows.filter(pl.col("side") == "en")
        xt, et = list(dict.fromkeys(xs["text"])), list(dict.fromkeys(ens["text"]))
        once = lambda side, t: side.filter(pl.col("text") == t)["id"].to_list()  # noqa: E731
        cands = {}
        for i, j, s in ref.mine(np.stack([vec[t] for t in xt]), np.stack([vec[t] for t in et]), 4):
            a, b = once(xs, xt[i]), once(ens, et[j])
            if len(a) == 1 and len(b) == 1:
                cands[(a[0], b[0])] = s
        gold = set(xs.drop_nulls("gold").select("id", "gold").iter_rows())
        out.append((cands, gold))
    (tune_c, tune_g), (test_c, test_g) = out
    th = ref.bucc_optimize(tune_c, tune_g)
    return th, {p for p, s in test_c.items() if s >= th}, test_g


def test_predict_equals_the_reference_and_pr_f1_recompute_by_hand(fake_embed):
    from xlrobust.stats import ratio_ci

    rng = np.random.default_rng(7)
    df, vec = mining_table(rng, "de")
    fake_embed.update(vec)
    pred = MINING.predict(SimpleNamespace(), df)
    th, want_mined, gold = reference_run(df, vec, "de")
    assert pred["threshold"].unique().to_list() == [pytest.approx(th)]
    mined = set(pred.drop_nulls("mined").select("id", "mined").iter_rows())
    assert mined == want_mined and 0 < len(mined & gold) < len(gold)
    assert pred.height == 46 and set(pred["id"]) == set(
        df.filter((pl.col("part") == "test") & (pl.col("side") == "xx"))["id"]
    )
    assert pred.filter(pl.col("id") == "de-test-xx-dup")["candidate"].to_list() == [None]  # dropped, as XTREME
    # what a reader of the prediction file recomputes equals the scored outcomes
    tp = len(mined & gold)
    by_hand = {"precision": tp / len(mined), "recall": tp / len(gold)}
    by_hand["f1"] = 2 * by_hand["precision"] * by_hand["recall"] / (by_hand["precision"] + by_hand["recall"])
    assert ref.bucc_eval({p: 1.0 for p in mined}, gold, 0.0) == pytest.approx(by_hand)
    out = MINING.outcomes(pred)
    for metric, value in by_hand.items():
        o = out.filter(pl.col("metric") == metric)
        assert ratio_ci((o["x"].to_numpy(), o["w"].to_numpy(), None, None))[0] == pytest.approx(value)
    assert MINING.corpus_scores(pred)["threshold"](pred) == (pytest.approx(th),) * 3


def test_perturbed_table_keeps_the_clean_threshold_and_touches_only_xx_test(fake_embed):
    from xlrobust.probes import perturb_frame

    rng = np.random.default_rng(3)
    df, vec = mining_table(rng, "fr")
    noisy = perturb_frame(df, "char_swap", "fr", 0.5, 1, fmt=MINING)
    changed = noisy.join(df.select("id", old="text"), on="id").filter(pl.col("text") != pl.col("old"))
    assert changed.height > 20
    assert set(changed["side"]) == {"xx"} and set(changed["part"]) == {"test"}
    fake_embed.update(vec)
    fake_embed.update({t: unit(rng.normal(size=(1, 12)))[0] for t in changed["text"]})  # new texts, new vectors
    model = SimpleNamespace()
    clean = MINING.predict(model, df)
    pert = MINING.predict(model, noisy.select(list(MINING.schema)))
    assert pert["threshold"].to_list() == clean["threshold"].to_list()  # not re-tuned on noise


def test_outcomes_per_sentence_make_f1_a_ratio_of_sums():
    pred = pl.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "lang": ["de"] * 5,
            "gold": ["A", "B", None, "D", None],
            "mined": ["A", "X", "Y", None, None],
        }
    )
    out = MINING.outcomes(pred).group_by("metric").agg(pl.col("x").sum(), pl.col("w").sum())
    got = {m: x / w for m, x, w in out.iter_rows()}
    # TP 1 (a), FP 2 (b, c), FN 2 (b, d): P 1/3, R 1/3, F1 = 2 / (2 + 2 + 2)
    assert got == pytest.approx({"precision": 1 / 3, "recall": 1 / 3, "f1": 1 / 3})


# ---------------------------------------------------------------------------- attack
def text_table(lang: str = "de") -> pl.DataFrame:
    """Gold pairs (English sentence, a lightly changed copy) and unpaired sentences on both
    sides, in a tune part and a test part."""
    texts = [t for t, _ in SENTIMENT]
    rows = []
    for part, chunk in (("tune", texts[:8]), ("test", texts[8:])):
        for j, t in enumerate(chunk):
            rows.append((f"{lang}-{part}-en-{j}", lang, "en", part, t, None))
            if j % 4 != 3:  # every fourth English sentence has no translation; its xx side gets a stranger
                rows.append(
                    (f"{lang}-{part}-xx-{j}", lang, "xx", part, t.replace("the", "der"), f"{lang}-{part}-en-{j}")
                )
            else:
                rows.append((f"{lang}-{part}-xx-{j}", lang, "xx", part, f"ganz anders {j}", None))
    return pl.DataFrame(rows, schema=list(MINING.schema), orient="row")


def test_mining_attack_rows_agree_with_mining_the_perturbed_table_again(tiny_encoder, tmp_path):
    """Status, mined sentence and margins after the attack, checked by predicting the whole
    table again with the attacked sentence replaced (a fresh search of both corpora)."""
    from xlrobust.attack import attack
    from xlrobust.predict import Model

    table = text_table()
    path = tmp_path / "test.parquet"
    table.write_parquet(path)
    runs = []
    for budget in (150, 3):
        out = tmp_path / f"de{budget}.parquet"
        attack(tiny_encoder, str(path), ["de"], "xl_charbug", 8, budget, [str(out)], fmt_name="mining")
        runs.append(pl.read_parquet(out))
    df = pl.concat(runs)
    assert set(df["format"]) == {"mining"} and set(df["probe"]) == {"attack:xl_charbug"}
    assert set(df["id"]) <= set(MINING.attack_rows(table)["id"])
    assert {"succeeded", "failed"} <= set(df["status"])
    model = Model(tiny_encoder, MINING)
    clean = MINING.predict(model, table)
    for r in df.iter_rows(named=True):
        again = MINING.predict(
            model,
            table.with_columns(
                text=pl.when(pl.col("id") == r["id"]).then(pl.lit(r["perturbed_text"])).otherwise("text")
            ),
        )
        mine_row = again.filter(pl.col("id") == r["id"]).row(0, named=True)
        before = clean.filter(pl.col("id") == r["id"]).row(0, named=True)
        assert r["threshold"] == pytest.approx(before["threshold"]) == pytest.approx(mine_row["threshold"])
        assert r["candidate"] == before["mined"] and r["perturbed_candidate"] == mine_row["mined"]
        assert r["margin"] == (None if before["margin"] is None else pytest.approx(before["margin"]))
        assert r["perturbed_margin"] == (None if mine_row["margin"] is None else pytest.approx(mine_row["margin"]))
        if r["status"] == "skipped":  # not mined before the attack
            assert before["mined"] != r["gold"] and r["perturbed_text"] == r["text"]
        elif r["status"] == "succeeded":
            assert before["mined"] == r["gold"] != mine_row["mined"] and r["perturbed_text"] != r["text"]
        else:
            assert mine_row["mined"] == r["gold"]
    under = MINING.attack_outcomes(df)
    assert under["x"].to_list() == [2.0 * (s == "failed") for s in df["status"]]


def test_mining_report_rendering_escapes():
    row = {"text": "<b>Satz</b>", "perturbed_text": "<b>Sazt</b>", "gold_text": "a & b", "margin": 1.2}
    row |= {"perturbed_margin": None, "threshold": 1.05, "candidate_text": "<i>x</i>", "perturbed_candidate_text": None}
    html = MINING.prediction_change(row)
    assert "margin 1.200 → – (threshold 1.050)" in html and "&lt;i&gt;x&lt;/i&gt; → None" in html and "<i>" not in html
    assert MINING.attack_example(row) == [
        ("sentence", "<b>Satz</b>", "<b>Sazt</b>"),
        ("gold English", "a & b", "a & b"),
    ]


# ---------------------------------------------------------------------------- data
def write_release(root: Path, pair: str = "de-en", broken: dict | None = None) -> str:
    """A small BUCC release of one pair (sample and training), `broken` replacing files."""
    xx = pair.split("-")[0]
    d = root / pair
    d.mkdir(parents=True, exist_ok=True)
    for split, n in (("sample", 4), ("training", 6)):
        files = {
            xx: "".join(f"{xx}-{i:06d}\t{xx} Satz Nummer {i}.\n" for i in range(1, n + 1)),
            "en": "".join(f"en-{i:06d}\tEnglish sentence {i}.\n" for i in range(1, n + 2)),
            "gold": "".join(f"{xx}-{i:06d}\ten-{i + 1:06d}\n" for i in range(1, n, 2)),
        }
        files.update((broken or {}).get(split, {}))
        for side, text in files.items():
            (d / f"{pair}.{split}.{side}").write_text(text, encoding="utf-8")
    return str(root / "{config}" / "{config}.{split}")


def bucc_spec(local: str, langs=("de",)) -> dict:
    return {"task": "bucc", "local": local, "local_format": "bucc", "splits": ["test"], "langs": list(langs)}


def test_release_files_through_the_registry(tmp_path):
    meta = data.prepare("bucc_local", bucc_spec(write_release(tmp_path / "bucc")), tmp_path / "out")
    assert meta["format"] == "mining" and meta["splits"]["test"]["rows"] == {"de": 4 + 5 + 6 + 7}
    df = pl.read_parquet(tmp_path / "out" / "test.parquet")
    assert df.columns == list(MINING.schema)
    counts = dict(df.group_by("part", "side").len().select(pl.concat_str("part", "side", separator="/"), "len").rows())
    assert counts == {"tune/xx": 4, "tune/en": 5, "test/xx": 6, "test/en": 7}
    row = df.filter(pl.col("id") == "de-test-xx-de-000003").row(0, named=True)
    assert row["gold"] == "de-test-en-en-000004" and row["text"] == "de Satz Nummer 3."
    assert df.filter(pl.col("id") == row["gold"])["text"].to_list() == ["English sentence 4."]
    assert df.filter(pl.col("side") == "xx")["gold"].null_count() == 2 + 3


def test_max_examples_cannot_cut_a_corpus(tmp_path):
    spec = {**bucc_spec(write_release(tmp_path / "bucc")), "max_examples": {"test": 5}}
    with pytest.raises(XlrobustError, match=r"dataset 'b': max_examples.test: a mining table cannot be cut"):
        data.prepare("b", spec, tmp_path / "out")


@pytest.mark.parametrize(
    "split, side, text, message",
    [
        (
            "training",
            "gold",
            "de-000001\ten-000099\n",
            r"de-en.training.gold: line 1: id 'en-000099' is not in de-en.training.en",
        ),
        (
            "sample",
            "gold",
            "de-000009\ten-000001\n",
            r"de-en.sample.gold: line 1: id 'de-000009' is not in de-en.sample.de",
        ),
        (
            "training",
            "gold",
            "de-000001\ten-000001\nde-000001\ten-000002\n",
            r"training.gold: line 2: 'de-000001' is in two gold pairs",
        ),
        (
            "training",
            "de",
            "de-000001\tEins.\nde-000001\tZwei.\n",
            r"de-en.training.de: line 2: duplicate id 'de-000001'",
        ),
        (
            "sample",
            "en",
            "en-000001\tOne.\nen-000002\t  \n",
            r"de-en.sample.en: line 2: empty sentence \(id 'en-000002'\)",
        ),
        ("sample", "de", "de-000001 no tab\n", r"de-en.sample.de: line 1: expected 'id<TAB>sentence'"),
    ],
)
def test_release_validation_names_file_and_line(tmp_path, split, side, text, message):
    local = write_release(tmp_path / "bucc", broken={split: {side: text}})
    with pytest.raises(XlrobustError, match=message):
        data.prepare("bucc_local", bucc_spec(local), tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_hub_copy_holds_out_a_seeded_tune_part_with_whole_gold_pairs():
    from xlrobust.tasks import get_task

    n = 200
    raw = pl.DataFrame(
        {
            "sentence1": [[f"Satz {i}." for i in range(1, n + 1)]],
            "sentence2": [[f"Sentence {j}." for j in range(1, n + 11)]],
            "gold": [[[i, i + 10] for i in range(1, n + 1, 2)]],  # 1-based positions, as the Hub copy
        }
    )
    df = data.normalise(raw, get_task("bucc"), "ru", "test", "hub")
    again = data.normalise(raw, get_task("bucc"), "ru", "test", "hub")
    assert df.equals(again)  # seeded
    xx = df.filter(pl.col("side") == "xx")
    assert xx.height == n and df.height == 2 * n + 10 and xx["gold"].null_count() == n // 2
    linked = xx.drop_nulls("gold").join(df.select(gold="id", en_text="text", en_part="part"), on="gold")
    assert linked.height == n // 2 and (linked["part"] == linked["en_part"]).all()  # a gold pair stays whole
    k = linked.with_columns(i=pl.col("text").str.extract(r"(\d+)").cast(pl.Int64))
    assert k.select((pl.col("en_text") == pl.format("Sentence {}.", pl.col("i") + 10)).all()).item()
    share = (df["part"] == "tune").mean()
    assert 0.1 < share < 0.3
    with pytest.raises(XlrobustError, match=r"hub: gold pair 0 \[0, 1\] is outside sentence1 / sentence2"):
        data.normalise(raw.with_columns(gold=pl.lit([[0, 1]])), get_task("bucc"), "ru", "test", "hub")


def test_config_has_bucc_in_q3_and_q5_with_attack_jobs():
    from xlrobust import config as xcfg

    cfg = xcfg.read(REPO / "config.yaml")
    assert "bucc" in cfg["study"]["q3"]["targets"] and "bucc" in cfg["study"]["q5"]["targets"]
    cfg["studies"] = ["q3"]
    cfg = xcfg.validate(cfg)
    assert xcfg.target_format(cfg, "bucc").name == "mining"
    runs = {r.target for r, _, _ in xcfg.attack_jobs(cfg)}
    assert {"tatoeba", "bucc"} <= runs


# ---------------------------------------------------------------------------- real data (me5)
TATOEBA = {"de": "deu", "fr": "fra", "zh": "cmn", "ar": "ara", "hi": "hin", "sw": "swh"}


def bucc_from_tatoeba(data_dir: Path, out: Path, langs=("de", "fr", "zh"), sizes=None, seed: int = 0) -> str:
    """BUCC-format release files from real Tatoeba pairs: per language and split, `gold`
    aligned pairs plus as many real distractors on each side (xx side: sentences of the
    other languages' files; English side: English sentences of the other pairs, none equal
    to a sentence of this pair), ids shuffled."""
    sizes = sizes or {"sample": 40, "training": 120}
    rng = np.random.default_rng(seed)
    lines = {
        lang: [
            (data_dir / f"tatoeba/tatoeba.{l3}-eng.{s}").read_text(encoding="utf-8").splitlines() for s in (l3, "eng")
        ]
        for lang, l3 in TATOEBA.items()
    }
    for lang in langs:
        xx_all, en_all = lines[lang]
        order = rng.permutation(len(xx_all))
        own_en = set(en_all)
        other_xx = [s for other, (x, _) in lines.items() if other != lang for s in x]
        other_en = list(
            dict.fromkeys(s for other, (_, e) in lines.items() if other != lang for s in e if s not in own_en)
        )
        start = 0
        for split, n in sizes.items():
            pick = order[start : start + n]
            start += n
            xx = [xx_all[i] for i in pick] + [other_xx[i] for i in rng.choice(len(other_xx), n, replace=False)]
            en = [en_all[i] for i in pick] + [other_en[i] for i in rng.choice(len(other_en), n, replace=False)]
            xx_ids, en_ids = rng.permutation(len(xx)), rng.permutation(len(en))
            d = out / f"{lang}-en"
            d.mkdir(parents=True, exist_ok=True)
            base = d / f"{lang}-en.{split}"
            Path(f"{base}.{lang}").write_text(
                "".join(f"{lang}-{xx_ids[i]:06d}\t{s}\n" for i, s in enumerate(xx)), "utf-8"
            )
            Path(f"{base}.en").write_text("".join(f"en-{en_ids[i]:06d}\t{s}\n" for i, s in enumerate(en)), "utf-8")
            Path(f"{base}.gold").write_text(
                "".join(f"{lang}-{xx_ids[i]:06d}\ten-{en_ids[i]:06d}\n" for i in range(n)), "utf-8"
            )
    return str(out / "{config}" / "{config}.{split}")


@pytest.fixture(scope="module")
def me5_folder(tmp_path_factory) -> str:
    from xlrobust.me5 import convert, image_path

    out = tmp_path_factory.mktemp("me5") / "me5"
    convert(image_path("e5-small"), out)
    return str(out)


@pytest.mark.slow
def test_real_tatoeba_as_bucc_mines_far_above_no_skill_with_me5(samples, me5_folder, tmp_path):
    """Mining, threshold tuning on the sample split and F1 on the training split, end to end
    on real text: prepare (release reader) -> predict (CLI function) -> outcomes -> bootstrap."""
    from xlrobust.predict import predict
    from xlrobust.stats import ratio_ci

    langs = ("de", "fr", "zh")
    local = bucc_from_tatoeba(samples, tmp_path / "bucc", langs)
    data.prepare("bucc_tatoeba", bucc_spec(local, langs), tmp_path / "data")
    out = tmp_path / "pred.parquet"
    predict(me5_folder, [str(tmp_path / "data/test.parquet")], [str(out)], max_length=64, fmt_name="mining")
    pred = pl.read_parquet(out)
    outcomes = MINING.outcomes(pred)
    for lang in langs:
        o = outcomes.filter((pl.col("lang") == lang) & (pl.col("metric") == "f1"))
        f1, lo, hi = ratio_ci((o["x"].to_numpy(), o["w"].to_numpy(), None, None))
        p = pred.filter(pl.col("lang") == lang)
        n_xx, n_gold, n_en = p.height, p["gold"].drop_nulls().len(), 2 * 120  # English: 120 gold + 120 others
        # no skill: a random one-to-one matching of every xx sentence: E[TP] = gold / English sentences
        no_skill = 2 * (n_gold / n_en) / (n_xx + n_gold)
        print(
            f"BUCC-from-Tatoeba {lang}: F1 {f1:.3f} [{lo:.3f}, {hi:.3f}], threshold {p['threshold'][0]:.3f}, "
            f"no-skill {no_skill:.4f}"
        )
        assert lo > 0.6 > 100 * no_skill


@pytest.mark.slow
def test_bucc_study_runs_every_stage_from_its_own_configfile(samples, tmp_path):
    """prepare (release reader) -> fetch me5 -> perturb -> predict -> score -> report, through
    Snakemake in a git clone, from tests/studies/bucc_small.yaml."""
    import os
    import subprocess

    from xlrobust.layout import perturbed_prediction

    from conftest import git_clone

    root = git_clone(tmp_path / "project")
    bucc_from_tatoeba(samples, root / "local/bucc_tatoeba", ("de", "zh"), {"sample": 30, "training": 60})
    bin_ = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    cmd = [
        str(bin_ / "snakemake"),
        "--cores",
        "2",
        "results/report.html",
        "--configfile",
        "tests/studies/bucc_small.yaml",
    ]
    r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    scores = pl.read_parquet(root / "results/scores.parquet").filter(pl.col("target") == "bucc_tatoeba")
    clean = scores.filter(pl.col("probe") == "clean")
    f1 = dict(clean.filter(pl.col("metric") == "f1").select("language", "value").iter_rows())
    th = dict(clean.filter(pl.col("metric") == "threshold").select("language", "value").iter_rows())
    print("BUCC-from-Tatoeba through Snakemake: F1", {k: round(v, 3) for k, v in f1.items()}, "threshold", th)
    assert {"de", "zh", "all"} <= set(f1) and min(f1["de"], f1["zh"]) > 0.5
    assert {"precision", "recall"} <= set(clean["metric"]) and all(v > 0 for v in th.values())
    drop = scores.filter((pl.col("probe") == "char_swap") & (pl.col("metric") == "f1_drop"))
    assert set(drop["language"]) >= {"de", "zh"}
    for lang in ("de", "zh"):  # the probe is scored at the clean threshold
        pred = pl.read_parquet(root / perturbed_prediction("me5", "none", "bucc_tatoeba", 1, lang, "char_swap", 0.2, 1))
        assert pred["threshold"].unique().to_list() == [pytest.approx(th[lang])]
    attacked = scores.filter(pl.col("probe") == "attack:xl_charbug")
    assert {"attack_success_rate", "f1_under_attack"} <= set(attacked["metric"])
    for lang in ("de", "zh"):
        a = pl.read_parquet(root / f"attacks/me5/none/bucc_tatoeba/seed1/xl_charbug/{lang}.parquet")
        assert (
            a.height == 3
            and a["gold"].null_count() == 0
            and a["threshold"].unique().to_list() == [pytest.approx(th[lang])]
        )
    html = (root / "results/report.html").read_text(encoding="utf-8")
    assert "Study: bucc_small" in html and "bucc_tatoeba" in html
    if attacked.filter((pl.col("metric") == "attack_success_rate") & (pl.col("value") > 0)).height:
        assert "mined with:" in html  # the broken pairs: sentence, margin and mined sentence before -> after


@pytest.mark.parametrize("ties", [False, True])
def test_miner_replacing_one_vector_equals_mining_from_scratch(ties):
    from xlrobust.formats.mining import Miner

    rng = np.random.default_rng(5)
    x, y = vectors(rng, 30, 40, ties)
    miner = Miner(x, y, block=7)
    assert [v.tolist() for v in miner.mine()] == [v.tolist() for v in mine(x, y)]
    for i in (0, 4, 29):
        for v in (y[3], x[(i + 1) % 30], unit(rng.normal(size=(1, x.shape[1])))[0] if not ties else y[0] * 2):
            x2 = x.copy()
            x2[i] = v
            want = [a.tolist() for a in mine(x2, y)]
            assert [a.tolist() for a in miner.mine_with(i, v)] == want, (i, ties)
            floor = float(np.median(want[2]))  # the pairs above a threshold, from a shorter greedy pass
            above = [a.tolist() for a in miner.mine_with(i, v, floor)]
            assert above == [w[: sum(s >= floor for s in want[2])] for w in want]
