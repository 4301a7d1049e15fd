"""Extractive QA targets (issue 17): the SQuAD JSON reader and the registry entries on
real files, the official SQuAD and MLQA evaluation rules on hand-computed cases and
against the official scripts, answer-preserving perturbations on every perturbation and
language, the QA attack goal, and scoring and report sections of QA outcomes."""

from __future__ import annotations

import json
import re
import string
import sys
import unicodedata
from collections import Counter, OrderedDict

import numpy as np
import polars as pl
import pytest

from xlrobust import config as xcfg
from xlrobust import data
from xlrobust.errors import XlrobustError
from xlrobust.formats import get_format
from xlrobust.formats.span_qa import _map_span, mlqa_normalize, question_scores, squad_normalize
from xlrobust.perturb import PERTURBATIONS
from xlrobust.probes import perturb_frame
from xlrobust.tasks import MLQA_LANGS, TASKS

QA = get_format("span_qa")
MLQA_DEV = "mlqa/{split}-context-{lang}-question-{lang}.json"
TYDIQA_TRAIN = "tydiqa_goldp/tydiqa-goldp-v1.1-{split}-en.json"
# samples/mlqa: the 30 sampled questions of each dev file (mlqa_dev_shared) and the questions of the
# LAReQA check's parallel sample (mlqa_r_shared, about one in 17, the same questions in every language)
MLQA_DEV_ROWS = {"ar": 59, "de": 53, "en": 57, "es": 55, "hi": 56, "vi": 56, "zh": 58}


def mlqa_spec(samples, **more) -> dict:
    return {
        "task": "mlqa",
        "local": str(samples / MLQA_DEV),
        "local_format": "squad_json",
        "local_splits": {"test": "dev"},
        "splits": ["test"],
        "langs": list(MLQA_LANGS),
        **more,
    }


def tydiqa_spec(samples, **more) -> dict:
    return {
        "task": "tydiqa",
        "local": str(samples / TYDIQA_TRAIN),
        "local_format": "squad_json",
        "local_ids": "position",
        "splits": ["train"],
        **more,
    }


# ---------------------------------------------------------------------------- data
def test_mlqa_dev_release_files_load_in_seven_languages(samples):
    for lang, n in MLQA_DEV_ROWS.items():
        df, source = data.load("mlqa_dev", mlqa_spec(samples), "test", lang)
        assert df.height == n and source.endswith(f"dev-context-{lang}-question-{lang}.json")
        assert df.schema == pl.Schema(QA.schema) and set(df["lang"]) == {lang} and set(df["scoring"]) == {"mlqa"}
        for ctx, starts, texts in df.select("text_b", "answer_start", "answer_text").iter_rows():
            assert texts and all(ctx[s : s + len(t)] == t for s, t in zip(starts, texts))


def test_tydiqa_english_train_file_needs_position_ids_and_rows_split_disjointly(samples):
    spec = tydiqa_spec(samples)
    with pytest.raises(XlrobustError) as e:  # XTREME's file repeats its ids ("0", "1", ...)
        data.load("ty", {**spec, "local_ids": "file"}, "train", "en")
    msg = str(e.value)
    assert "\n" not in msg and "tydiqa-goldp-v1.1-train-en.json" in msg and "question id '0' repeats" in msg
    assert "local_ids: position" in msg
    # the slice: the full file's first 400 questions and its questions 3400-3499, at their positions
    whole, _ = data.load("ty", spec, "train", "en")
    assert whole.height == 500 and whole["id"].n_unique() == 500 and set(whole["scoring"]) == {"squad"}
    # a sample of the full file's first 3400 questions, then of the rest, each at its position
    article = [int(i.split("-")[1][1:]) for i in whole["id"]]
    assert max(article[:400]) < 3400 <= min(article[400:]) and max(article[:400]) > 400
    held = {**spec, "local_splits": {"train": "train[:396]", "validation": "train[396:]"}}
    train, _ = data.load("ty", held, "train", "en")
    dev, source = data.load("ty", held, "validation", "en")
    assert (train.height, dev.height) == (396, 104) and source.endswith("train-en.json[396:]")
    assert not set(train["id"]) & set(dev["id"]) and dev["id"][0] == whole["id"][396]


def test_tydiqa_rows_keep_their_language_by_id_prefix(tmp_path):
    import hub_fixtures

    local = hub_fixtures.write(TASKS["tydiqa"], tmp_path, ["en"])
    en, _ = data.load("ty", {"task": "tydiqa", "local": local}, "train", "en")
    ar, _ = data.load("ty", {"task": "tydiqa", "local": local}, "train", "ar")
    assert en["id"].to_list() == ["en-english-9017813441823713085-0", "en-english-3384291733815311716-1"]
    assert ar["id"].to_list() == ["ar-arabic-2387335860751143628-0"]
    fi, _ = data.load("ty", {"task": "tydiqa", "local": local}, "test", "fi")
    assert fi["id"].to_list() == ["fi-finnish-1003-0"]


def test_hub_reads_of_the_qa_tasks(monkeypatch):
    """Which repo, revision, config/data_dir and split each QA task asks `datasets` for."""
    import datasets

    import hub_fixtures

    calls = []

    def fake(*args, split=None, revision=None, streaming=False, **kw):
        calls.append((args, split, revision, kw))
        name = next(t.name for t in TASKS.values() if t.hub == args[0])
        return datasets.Dataset.from_list(hub_fixtures.ROWS_BY_LANG[name][split])

    monkeypatch.setattr(datasets, "load_dataset", fake)
    data.load("x", {"task": "xquad"}, "test", "th")
    assert calls[-1] == (("google/xquad", "xquad.th"), "validation", None, {})
    df, _ = data.load("m", {"task": "mlqa"}, "test", "hi")
    assert calls[-1] == (("facebook/mlqa",), "test", "refs/convert/parquet", {"data_dir": "mlqa.hi.hi"})
    assert set(df["scoring"]) == {"mlqa"}
    df, _ = data.load("t", {"task": "tydiqa"}, "test", "sw")
    assert calls[-1] == (("google-research-datasets/tydiqa", "secondary_task"), "validation", None, {})
    assert df["id"].to_list() == ["sw-swahili-1007-0"] and set(df["scoring"]) == {"squad"}


def _squad_file(tmp_path, qas, context="Beyonce was born in Houston, Texas.") -> str:
    (tmp_path / "train.json").write_text(
        json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}),
        encoding="utf-8",
    )
    return str(tmp_path / "{split}.json")


@pytest.mark.parametrize(
    "qas, context, message",
    [
        (
            [{"id": "q1", "question": "Where?", "answers": [{"text": "Dallas", "answer_start": 20}]}],
            None,
            r"train.json: row 0 \(question en-q1\): answer 'Dallas' is not the context at answer_start 20 .*'answers'",
        ),
        (
            [{"id": "q2", "question": "Where?", "answers": [{"text": "Houston", "answer_start": 99}]}],
            None,
            r"train.json: row 0: answer start outside the context in field 'answers' \(question en-q2",
        ),
        (
            [{"id": "q3", "question": "  ", "answers": [{"text": "Houston", "answer_start": 20}]}],
            None,
            r"train.json: row 0 \(question en-q3\): empty text in field 'question'",
        ),
        (
            [{"id": "q4", "question": "Where?", "answers": [{"text": "Houston", "answer_start": 20}]}],
            "",
            r"train.json: row 0 \(question en-q4\): empty text in field 'context'",
        ),
        (
            [{"id": "q5", "question": "Where?", "answers": [{"text": "Houston", "answer_start": "20"}]}],
            None,
            r"train.json: question q5: answer 0 in field 'answers' needs a 'text' string and an integer 'answer_start'",
        ),
        (
            [
                {"id": "q6", "question": "Where?", "answers": [{"text": "Houston", "answer_start": 20}]},
                {"id": "q6", "question": "Who?", "answers": [{"text": "Beyonce", "answer_start": 0}]},
            ],
            None,
            r"train.json: question id 'q6' repeats",
        ),
        ([{"question": "Where?", "answers": []}], None, r"train.json: article 0, paragraph 0, question 0: no 'id'"),
    ],
)
def test_bad_qa_inputs_end_in_one_line_naming_file_and_question(tmp_path, qas, context, message):
    local = _squad_file(tmp_path, qas, **({} if context is None else {"context": context}))
    with pytest.raises(XlrobustError, match=message) as e:
        data.load("x", {"task": "squad", "local": local, "local_format": "squad_json"}, "train", "en")
    assert "\n" not in str(e.value)


def test_unreadable_squad_json_names_the_file_and_place(tmp_path):
    (tmp_path / "train.json").write_text('{"data": [{"paragraphs": [}', encoding="utf-8")
    spec = {"task": "squad", "local": str(tmp_path / "{split}.json"), "local_format": "squad_json"}
    with pytest.raises(XlrobustError, match=r"train.json: not valid JSON \(line 1, column 27"):
        data.load("x", spec, "train", "en")
    (tmp_path / "train.json").write_text('{"version": "1.1"}', encoding="utf-8")
    with pytest.raises(XlrobustError, match="train.json: no 'data' list of articles"):
        data.load("x", spec, "train", "en")


# ---------------------------------------------------------------------------- metrics
# The official scripts, verbatim in logic (/work/notes/eval_reference.md sections 1-2:
# facebookresearch/MLQA mlqa_evaluation_v1.py, allenai/bi-att-flow squad/evaluate-v1.1.py).
OFFICIAL_PUNCT = {chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")}.union(
    string.punctuation
)


def official_mlqa_normalize(s, lang):
    def remove_articles(text, lang):
        return {
            "en": lambda t: re.sub(r"\b(a|an|the)\b", " ", t),
            "es": lambda t: re.sub(r"\b(un|una|unos|unas|el|la|los|las)\b", " ", t),
            "hi": lambda t: t,
            "vi": lambda t: re.sub(r"\b(của|là|cái|chiếc|những)\b", " ", t),
            "de": lambda t: re.sub(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b", " ", t),
            "ar": lambda t: re.sub("\\sال^|ال", " ", t),
            "zh": lambda t: t,
        }[lang](text)

    def mixed_segmentation(text):
        segs_out, temp_str = [], ""
        for char in text:
            if re.search(r"[\u4e00-\u9fa5]", char) or char in OFFICIAL_PUNCT:
                if temp_str != "":
                    segs_out.extend(temp_str.split())
                    temp_str = ""
                segs_out.append(char)
            else:
                temp_str += char
        if temp_str != "":
            segs_out.extend(temp_str.split())
        return segs_out

    def white_space_fix(text, lang):
        tokens = mixed_segmentation(text) if lang == "zh" else text.split()
        return " ".join([t for t in tokens if t.strip() != ""])

    s = "".join(ch for ch in s.lower() if ch not in OFFICIAL_PUNCT)
    return white_space_fix(remove_articles(s, lang), lang)


def official_squad_normalize(s):
    s = "".join(ch for ch in s.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", s).split())


def official_f1(p_tokens, g_tokens):
    common = Counter(p_tokens) & Counter(g_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision, recall = num_same / len(p_tokens), num_same / len(g_tokens)
    return 2 * precision * recall / (precision + recall)


def official_scores(pred, golds, lang, scoring):
    norm = (lambda s: official_mlqa_normalize(s, lang)) if scoring == "mlqa" else official_squad_normalize
    em = max(float(norm(pred) == norm(g)) for g in golds)
    f1 = max(official_f1(norm(pred).split(), norm(g).split()) for g in golds)
    return em, f1


@pytest.mark.parametrize(
    "pred, golds, lang, scoring, em, f1",
    [
        # SQuAD v1.1 rules (XQuAD, TyDiQA): ASCII punctuation, English articles, whitespace tokens
        ("the Arizona Cardinals!", ["Arizona Cardinals"], "en", "squad", 1, 1),
        ("Cardinals", ["the Arizona Cardinals"], "en", "squad", 0, 2 / 3),  # P 1, R 1/2
        ("Levi's Stadium in Santa Clara", ["Santa Clara", "Levi's Stadium"], "en", "squad", 0, 4 / 7),  # P 2/5, R 1
        ("“Paris”", ["Paris"], "en", "squad", 0, 0),  # curly quotes are not ASCII punctuation
        ("北京大学", ["北京"], "zh", "squad", 0, 0),  # one whitespace token each
        ("भारत की राजधानी।", ["भारत की राजधानी"], "hi", "squad", 0, 2 / 3),  # the danda stays
        ("Katze", ["die Katze", "Hund"], "de", "squad", 0, 2 / 3),  # no German articles under SQuAD rules
        # MLQA rules: Unicode punctuation, the language's articles, characters as tokens for zh
        ("“Paris”", ["Paris"], "en", "mlqa", 1, 1),
        ("北京大学", ["北京"], "zh", "mlqa", 0, 2 / 3),  # 4 character tokens, 2 shared: P 1/2, R 1
        ("北京大学（PKU）", ["北京大学"], "zh", "mlqa", 0, 8 / 9),  # 北 京 大 学 pku: P 4/5, R 1
        ("1898年。", ["1898年"], "zh", "mlqa", 1, 1),  # 1898 + 年, 。 dropped
        ("الكتاب الجديد", ["كتاب جديد"], "ar", "mlqa", 1, 1),  # the article ال dropped
        ("سؤال", ["سؤ"], "ar", "mlqa", 1, 1),  # the official regex drops every ال, also inside a word
        ("مدينة القاهرة", ["القاهرة"], "ar", "mlqa", 0, 2 / 3),  # P 1/2, R 1
        ("भारत की राजधानी।", ["भारत की राजधानी"], "hi", "mlqa", 1, 1),  # the danda is punctuation
        ("Katze", ["die Katze", "Hund"], "de", "mlqa", 1, 1),
        ("los Estados Unidos", ["Estados Unidos."], "es", "mlqa", 1, 1),
        ("Thủ đô của Việt Nam", ["thủ đô Việt Nam", "Hà Nội"], "vi", "mlqa", 1, 1),
        ("thủ đô", ["thủ đô Việt Nam"], "vi", "mlqa", 0, 2 / 3),
    ],
)
def test_question_scores_hand_computed(pred, golds, lang, scoring, em, f1):
    got = question_scores(pred, golds, lang, scoring)
    assert got == (pytest.approx(em), pytest.approx(f1))
    assert got == pytest.approx(official_scores(pred, golds, lang, scoring))


def test_normalisations_equal_the_official_scripts_on_real_answers(samples):
    """Every gold answer of the MLQA dev slice, and spans around it, normalised and scored by ours and
    by the official scripts' logic."""
    rng = np.random.default_rng(0)
    checked = 0
    for lang in MLQA_LANGS:
        df, _ = data.load("mlqa_dev", mlqa_spec(samples), "test", lang)
        for ctx, starts, texts in df.select("text_b", "answer_start", "answer_text").iter_rows():
            s = starts[0]
            a, b = max(0, s - int(rng.integers(0, 15))), s + len(texts[0]) + int(rng.integers(-3, 15))
            pred = ctx[a:b]
            assert mlqa_normalize(texts[0], lang) == official_mlqa_normalize(texts[0], lang)
            assert squad_normalize(pred) == official_squad_normalize(pred)
            for scoring in ("mlqa", "squad"):
                assert question_scores(pred, texts, lang, scoring) == pytest.approx(
                    official_scores(pred, texts, lang, scoring)
                )
            checked += 1
    assert checked == sum(MLQA_DEV_ROWS.values())


def test_mlqa_rules_fall_back_for_a_language_they_do_not_know(capsys):
    """Issue 24: a local dataset may hold any language; MLQA's rules name 7, so another
    language is scored without article removal, with one warning naming it."""
    # no articles dropped: [the, cat] vs [a, cat], P = R = 1/2 (English rules would give 1.0)
    assert question_scores("the cat .", ["a cat"], "am", "mlqa") == (0.0, pytest.approx(0.5))
    assert question_scores("ድመት", ["ድመት"], "am", "mlqa") == (1.0, 1.0)
    err = capsys.readouterr().err
    assert err.count("no MLQA answer-normalisation rules for language 'am' (Amharic)") == 1  # once per language
    assert question_scores("", [], "en", "squad") == (1.0, 1.0)  # SQuAD v2 no-answer: right only when empty
    assert question_scores("Houston", [], "en", "squad") == (0.0, 0.0)


# ---------------------------------------------------------------------------- perturbations
def _qa_rows(samples, per_lang: int = 6) -> pl.DataFrame:
    """Real MLQA dev questions per language, plus a question with two overlapping gold
    answers and one with an answer inside a word."""
    parts = [data.load("mlqa_dev", mlqa_spec(samples), "test", lang)[0].head(per_lang) for lang in MLQA_LANGS]
    ctx = "The Panthers beat the Arizona Cardinals 49-15 in the NFC Championship Game in Charlotte."
    extra = pl.DataFrame(
        {
            "id": ["en-nested", "en-inword"],
            "lang": ["en", "en"],
            "text_a": ["Who lost the game?", "Which team?"],
            "text_b": [ctx, ctx],
            "answer_start": [[ctx.index(w) for w in ("the Arizona", "Arizona", "49-15")], [4, ctx.index("Cardinal")]],
            "answer_text": [["the Arizona Cardinals", "Arizona Cardinals", "49-15"], ["Panther", "Cardinal"]],
            "scoring": ["mlqa", "mlqa"],
        },
        schema=QA.schema,
    )
    return pl.concat([*parts, extra])


def _valid(df: pl.DataFrame) -> bool:
    return all(
        ctx[s : s + len(t)] == t
        for ctx, starts, texts in df.select("text_b", "answer_start", "answer_text").iter_rows()
        for s, t in zip(starts, texts)
    )


@pytest.mark.parametrize("name", PERTURBATIONS)
def test_every_perturbation_keeps_every_gold_answer_valid_in_every_language(samples, name):
    rows = _qa_rows(samples)
    changed = {}
    for side in QA.sides:
        for lang, df in rows.group_by("lang", maintain_order=True):
            out = perturb_frame(df, name, lang[0], 0.5, 7, side, fmt=QA)
            assert _valid(out), (name, side, lang)
            QA.validate(out.select(list(QA.schema)), (), f"{name}/{side}")  # a perturbed table is a valid QA table
            same = lambda c, out=out, df=df: out[c].to_list() == df[c].to_list()  # noqa: E731
            if side == "question":
                assert same("text_b") and same("answer_start") and same("answer_text")
            if side in ("context", "both"):
                assert same("answer_text")  # answers kept character for character
            if side == "context":
                assert same("text_a")
            changed[side] = changed.get(side, 0) + int((out["text_a"] != df["text_a"]).sum())
            changed[side] += int((out["text_b"] != df["text_b"]).sum())
            if side == "with_answers":
                changed["answers"] = changed.get("answers", 0) + sum(
                    a != b for a, b in zip(out["answer_text"].to_list(), df["answer_text"].to_list())
                )
    sides = [s for s in QA.sides if not (name == "clause_reorder" and s == "question")]  # questions: one clause
    assert all(changed[side] > 0 for side in sides), changed  # each side perturbs something
    if name.startswith(("char_", "keyboard")):
        assert changed["answers"] > 0  # with_answers rewrites gold answers


def test_context_perturbation_is_seeded_and_recomputes_starts(samples):
    rows = _qa_rows(samples).filter(pl.col("lang") == "en")
    a = perturb_frame(rows, "word_drop", "en", 0.3, 1, "context", fmt=QA)
    b = perturb_frame(rows, "word_drop", "en", 0.3, 1, "context", fmt=QA)
    assert a.equals(b)
    nested = a.filter(pl.col("id") == "en-nested").row(0, named=True)
    assert nested["answer_text"] == ["the Arizona Cardinals", "Arizona Cardinals", "49-15"]
    assert nested["answer_start"][1] == nested["answer_start"][0] + 4  # the nested answer moved with its outer one
    assert a["answer_start"].to_list() != rows["answer_start"].to_list()  # words before answers dropped: starts moved


def test_map_span_widens_to_whole_edits():
    assert _map_span("Arizona", "Arizona", 2, 5) == (2, 5)
    assert _map_span("Arizona", "Airzona", 0, 7) == (0, 7)  # a swap inside
    assert _map_span("Arizona", "Arizna", 1, 7) == (1, 6)  # a deletion inside
    assert _map_span("ab cd", "ab Xcd", 3, 5) == (4, 6)  # an insertion before the start is outside
    assert _map_span("abcd", "aXYd", 2, 4) == (1, 4)  # a start inside a replaced block covers the block


# ---------------------------------------------------------------------------- attack
class Scripted:
    """A fake QA model for the attack goal: answers the gold answer (or `partial`) while the
    word `question_word` of the question (None: any question) and the word `needs` of the
    context (None: any context) are intact, else `wrong`."""

    def __init__(self, question_word="lost", needs=None, wrong="Charlotte", partial=None):
        self.question_word, self.needs, self.wrong, self.partial = question_word, needs, wrong, partial
        self.model = object()
        self.queries = 0

    def answer(self, q, c, gold):
        self.queries += 1
        ok = (self.question_word is None or self.question_word in q.split()) and (
            self.needs is None or self.needs in c.split()
        )
        if self.partial is not None:
            return self.partial if ok else self.wrong
        return gold if ok else self.wrong


class ScriptedQA(type(QA)):
    def answers_and_gold_probability(self, model, df):
        preds = [model.answer(q, c, g[0]) for q, c, g in df.select("text_a", "text_b", "answer_text").iter_rows()]
        return preds, [0.9 if p == g[0] else 0.1 for p, g in zip(preds, df["answer_text"].to_list())]


@pytest.fixture(scope="module")
def ta():
    from xlrobust.ta_parts import import_textattack

    return import_textattack()


def _example(**over) -> dict:
    ctx = "The Panthers were born to beat the Arizona Cardinals in Charlotte."
    ex = {
        "id": "en-1",
        "lang": "en",
        "text_a": "Who lost against the Panthers?",
        "text_b": ctx,
        "answer_start": [ctx.index("Arizona")],
        "answer_text": ["Arizona Cardinals"],
        "scoring": "squad",
    }
    return {**ex, **over}


def _attack(ex, model, context=False, threshold=0.0, recipe="deepwordbug", budget=300):
    from xlrobust.attack import example_seed
    from xlrobust.formats.span_qa.attack import QAAttacker
    from xlrobust.ta_parts import import_textattack

    attacker = QAAttacker(ScriptedQA(), model, "en", recipe, budget, {}, {"threshold": threshold}, context=context)
    import_textattack().shared.utils.set_seed(example_seed(765, ex["id"]))
    return attacker(ex)


def test_qa_attack_succeeds_when_f1_falls_to_zero_editing_the_question_only(ta):
    ex = _example()
    row = _attack(ex, Scripted())
    assert row["status"] == "succeeded" and row["f1"] == 1.0 and row["perturbed_f1"] == 0.0
    assert row["prediction"] == "Arizona Cardinals" and row["perturbed_prediction"] == "Charlotte"
    assert row["perturbed_text_b"] == ex["text_b"]  # the context is not attacked by default
    assert "lost" not in row["perturbed_text_a"].split() and row["words_perturbed"] >= 1
    assert row["words_total"] == 5  # the question's words (TextAttack's split drops the '?')
    outcomes = QA.attack_outcomes(pl.DataFrame([row]).with_columns(pl.lit("en").alias("lang")))
    assert dict(outcomes.select("metric", "x").iter_rows()) == {"exact_match": 0.0, "f1": 0.0}


def test_qa_attack_on_the_context_never_touches_an_answer_word(ta):
    ex = _example()
    # the model ignores the question; it needs the context word "born" (outside the answer)
    row = _attack(ex, Scripted(question_word=None, needs="born"), context=True)
    assert row["status"] == "succeeded" and row["perturbed_text_a"] == ex["text_a"]
    assert "born" not in row["perturbed_text_b"].split()
    assert "Arizona Cardinals" in row["perturbed_text_b"]  # the gold answer is intact in the attacked context
    assert row["words_total"] == 5 + 11 - 2  # question words + context words outside the answer
    # a model that only an edit of the answer itself would fool: answer words are protected
    row = _attack(ex, Scripted(question_word=None, needs="Arizona"), context=True, budget=200)
    assert row["status"] == "failed" and "Arizona Cardinals" in row["perturbed_text_b"]
    assert row["perturbed_f1"] == 1.0


def test_qa_attack_threshold_decides_success_and_skips(ta):
    ex = _example()
    half = Scripted(partial="Cardinals in Charlotte")  # F1 vs "Arizona Cardinals": P 1/3, R 1/2 -> 0.4
    row = _attack(ex, half, threshold=0.4)
    assert row["status"] == "skipped" and row["f1"] == pytest.approx(0.4)
    row = _attack(ex, half, threshold=0.0)
    assert row["status"] == "succeeded" and row["perturbed_f1"] == 0.0 and row["f1"] == pytest.approx(0.4)


def test_qa_goal_score_prefers_lower_f1_then_lower_gold_probability(ta):
    from xlrobust.formats.span_qa.attack import GOLD_PROBABILITY_WEIGHT, QAAttacker

    attacker = QAAttacker(ScriptedQA(), Scripted(), "en", "deepwordbug", 10, {}, {"threshold": 0.0})
    goal = attacker.attack_.goal_function
    scores = [goal._get_score(out, None) for out in [("a", 1.0, 0.9), ("a", 1.0, 0.2), ("b", 0.5, 0.99), ("c", 0, 1)]]
    assert scores == sorted(scores) and scores[1] - scores[0] == pytest.approx(0.7 * GOLD_PROBABILITY_WEIGHT)
    assert goal._is_goal_complete(("c", 0.0, 1.0), None) and not goal._is_goal_complete(("b", 0.01, 0.0), None)


def test_qa_attack_words_line_up_across_question_and_chinese_context(ta):
    """The column a word belongs to comes from TextAttack's per-column split (jieba for
    Chinese): the per-column words must add up to the joined text's words."""
    from textattack.shared import AttackedText

    from xlrobust.ta_parts import install_word_splitter

    install_word_splitter()
    t = AttackedText(OrderedDict([("question", "色雷斯王朝是什么？"), ("context", "色雷斯王朝统治了色雷斯。")]))
    assert sum(map(len, t.words_per_input)) == len(t.words)


# ---------------------------------------------------------------------------- real model, attack, score, report
@pytest.fixture(scope="module")
def qa_model(tiny_encoder, tmp_path_factory) -> str:
    """A QA model folder with a random head on the tiny encoder (predictions are arbitrary
    but deterministic: what the pipeline tests need)."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    out = tmp_path_factory.mktemp("qa_model")
    torch.manual_seed(0)
    AutoModelForQuestionAnswering.from_pretrained(tiny_encoder).save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny_encoder).save_pretrained(out)
    return str(out)


def test_predict_attack_score_and_report_of_a_qa_model(qa_model, tmp_path, ta):
    from xlrobust.attack import attack
    from xlrobust.predict import predict
    from xlrobust.report.narrative import study_section
    from xlrobust.score import compare, score

    ctx = "the food was great and the movie starts at nine , said the hotel ."
    rows = [
        ("what was great ?", ctx, ctx.index("the food"), "the food"),
        ("when does the movie start ?", ctx, ctx.index("nine"), "nine"),
        ("who said it ?", ctx, ctx.index("the hotel"), "the hotel"),
    ]
    test = pl.DataFrame(
        {
            "id": [f"{lang}-{i}" for lang in ("en", "de") for i in range(3)],
            "lang": ["en"] * 3 + ["de"] * 3,
            "text_a": [q for _ in range(2) for q, *_ in rows],
            "text_b": [c for _ in range(2) for _, c, *_ in rows],
            "answer_start": [[s] for _ in range(2) for *_, s, _ in rows],
            "answer_text": [[t] for _ in range(2) for *_, t in rows],
            "scoring": ["mlqa"] * 6,
        },
        schema=QA.schema,
    )
    test.write_parquet(tmp_path / "test.parquet")
    pert = perturb_frame(test, "char_swap", "en", 1.0, 1, "context", fmt=QA)
    pert.write_parquet(tmp_path / "pert.parquet")
    outs = {}
    for recipe in ("none", "other"):
        run = {"model": "tiny", "recipe": recipe, "target": "qa", "seed": 1}
        outs[recipe] = [str(tmp_path / f"{recipe}-{n}.parquet") for n in ("clean", "pert")]
        tables = [str(tmp_path / "test.parquet"), str(tmp_path / "pert.parquet")]
        predict(qa_model, tables, outs[recipe], run=run, fmt_name="span_qa")
    preds = pl.read_parquet(outs["none"][0])
    cols = ["id", "lang", "answer_text", "scoring", "prediction", "first_k", "first_sentence"]
    assert preds.columns[-7:] == cols and preds.height == 6
    assert all(p in ctx for p in preds["prediction"])  # a span of the context
    # the no-model answers (the no-skill baseline): the context's opening words and sentence
    assert all(ctx.startswith(a) for a in preds["first_k"]) and all(ctx.startswith(a) for a in preds["first_sentence"])
    atk = [str(tmp_path / "atk-en.parquet"), str(tmp_path / "atk-de.parquet")]
    run = {"model": "tiny", "recipe": "none", "target": "qa", "seed": 1}
    attack(
        qa_model, str(tmp_path / "test.parquet"), ["en", "de"], "xl_charbug", 3, 40, atk, run=run, fmt_name="span_qa"
    )
    a = pl.read_parquet(atk[0])
    assert a.height == 3 and set(a["status"]) <= {"succeeded", "failed", "skipped"}
    for r in a.iter_rows(named=True):
        want = question_scores(r["prediction"], r["answer_text"], "en", "mlqa")[1]
        assert r["f1"] == pytest.approx(want)
        if r["status"] == "skipped":
            assert r["f1"] == 0.0 and r["perturbed_prediction"] == r["prediction"]
        elif r["status"] == "succeeded":
            assert r["perturbed_f1"] == 0.0 and r["perturbed_text_a"] != r["text_a"]
        assert r["perturbed_text_b"] == r["text_b"]
    paths = outs["none"] + outs["other"]
    scores, out = score(paths, atk)
    clean = scores.filter((pl.col("probe") == "clean") & (pl.col("recipe") == "none"))
    metrics = set(scores["metric"])
    assert {"f1", "exact_match", "f1_drop", "exact_match_drop", "flip_rate", "f1_under_attack"} <= metrics
    assert {"exact_match_under_attack", "attack_success_rate"} <= metrics
    f1_en = [question_scores(p, g, "en", "mlqa")[1] for p, g in preds.head(3)["prediction", "answer_text"].iter_rows()]
    got = clean.filter((pl.col("metric") == "f1") & (pl.col("language") == "en"))["value"][0]
    assert got == pytest.approx(np.mean(f1_en))
    assert set(clean["language"]) == {"en", "de", "all", "all_xl"}  # all_xl: every language but English (de)
    # the no-skill baseline: the better of the two no-model answers under the same rules
    en_rows = clean.filter((pl.col("metric") == "f1") & (pl.col("language") == "en")).row(0, named=True)
    k1 = [question_scores(ctx.split()[0], [t], "en", "mlqa")[1] for *_, t in rows]  # median answer: 1 token
    sent = [question_scores(ctx, [t], "en", "mlqa")[1] for *_, t in rows]  # one sentence: the whole context
    assert en_rows["baseline"] == pytest.approx(max(np.mean(k1), np.mean(sent))) and en_rows["baseline"] > 0
    assert en_rows["baseline_kind"] == "first-k tokens or first sentence"
    study = {"models": ["tiny"], "recipes": ["none", "other"], "targets": ["qa"], "seeds": [1]}
    comp = compare(out, {"s": study}, {"qa": "f1"})
    assert set(comp["metric"]) == {"f1", "f1_drop"} and (comp["diff"] == 0).all()  # same model: no difference
    html = study_section(
        "s",
        {**study, "question": "Q?", "perturbations": [{"name": "char_swap", "rates": [1.0], "sides": "with_answers"}]},
        scores,
        comp,
        {"span_qa": pl.concat([pl.read_parquet(p) for p in atk], how="diagonal_relaxed")},
        {"none": {}, "other": {"datasets": ["x"]}},
        {"span_qa": (["qa"], "f1", QA)},
    )
    assert "F1 per language" in html and "Exact match per language" in html and "f1 drop" in html
    assert "the gold answers are rewritten to the perturbed spans" in html


def test_adversarial_example_shows_question_changes_and_both_answers():
    row = {
        "text_a": "Who lost?",
        "perturbed_text_a": "Wgo lost?",
        "text_b": "ctx",
        "perturbed_text_b": "ctx",
        "answer_text": ["Arizona <Cardinals>"],
        "prediction": "Arizona Cardinals",
        "perturbed_prediction": "Charlotte",
    }
    assert QA.attack_example(row) == [("question", "Who lost?", "Wgo lost?")]  # the context did not change
    html = QA.prediction_change(row)
    assert "Arizona &lt;Cardinals&gt;" in html and "<del>" in html and "<ins>" in html and "Charlotte" in html
    assert len(QA.attack_example({**row, "perturbed_text_b": "ctx2"})) == 2


# ---------------------------------------------------------------------------- config
def test_qa_targets_in_the_config_train_on_their_english_data():
    from conftest import REPO

    cfg = xcfg.validate({**xcfg.read(REPO / "config.yaml"), "studies": "all"})
    assert xcfg.train_dataset(cfg, "xquad") == xcfg.train_dataset(cfg, "mlqa") == "squad"
    assert xcfg.train_dataset(cfg, "tydiqa") == "tydiqa"
    for t in ("xquad", "mlqa", "tydiqa", "cpu_qa"):
        assert xcfg.target_format(cfg, t) is QA
    hp = cfg["targets"]["xquad"]["train"]
    assert (hp["max_length"], hp["doc_stride"], hp["lr"]) == (384, 128, 3e-5) and hp["epochs"] in (2, 3)
    assert xcfg.target_langs(cfg, "xquad") == "ar de el en es hi ru th tr vi zh".split()
    one = xcfg.validate({**cfg, "studies": "cpu_qa"})
    assert set(xcfg.used_datasets(one)) == {"mlqa_dev_shared", "tydiqa_en_shared"}
    bad = json.loads(json.dumps(cfg))
    bad["targets"]["xquad"]["train_dataset"] = "xnli"
    with pytest.raises(XlrobustError, match="targets.xquad.train_dataset: 'xnli' is classify data but 'xquad'"):
        xcfg.validate(bad)


def test_estimate_counts_qa_targets_from_their_training_data():
    import copy

    from xlrobust import estimate

    from conftest import REPO

    cfg = xcfg.validate({**xcfg.read(REPO / "config.yaml"), "studies": "q3"})
    one = copy.deepcopy(cfg)
    one["study"]["q3"].update(models=["xlmr"], recipes=["none"], targets=["xquad"], seeds=[1])
    lines = {ln.stage: ln for ln in estimate.estimate(one)}
    p, hp = 278e6, one["targets"]["xquad"]["train"]
    train = 87_599 * min(180, hp["max_length"])  # SQuAD v1.1 train, 180 tokens a question
    dev = 10_570 * 128  # SQuAD dev, evaluated every epoch (counted at 128 tokens)
    assert lines["finetune"].flops == pytest.approx(6 * p * train * hp["epochs"] + 2 * p * dev * hp["epochs"])
    assert lines["predict"].jobs == 1 and lines["predict"].flops > 0
