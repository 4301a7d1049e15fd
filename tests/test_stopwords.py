"""What attacks may not perturb: NLTK's own lists (English exactly), short function-word
lists elsewhere, never sentiment or content words; and `import textattack` works offline
without writing where a user's NLTK reads data."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from xlrobust.stopwords import FUNCTION_WORDS, NLTK_NAMES, NO_LIST, NOT_FUNCTION_WORDS, nltk_list, stopwords

# NLTK's English stopwords, corpora/stopwords/english of nltk_data from 2018 until commit
# 47111d8 (2025-02-20, which added 19 pronoun contractions: 198 words), in the file's order.
NLTK_ENGLISH_179 = """
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him his
himself she she's her hers herself it it's its itself they them their theirs themselves what which who whom this
that that'll these those am is are was were be been being have has had having do does did doing a an the and but
if or because as until while of at by for with about against between into through during before after above below
to from up down in out on off over under again further then once here there when where why how all any both each
few more most other some such no nor not only own same so than too very s t can will just don don't should
should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't
haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't
weren weren't won won't wouldn wouldn't
""".split()

# lang: (function words that are protected, sentiment or content words that are not)
CASES = {
    "en": ("the and of a is", "good great best bad terrible want problem important interesting love"),
    "de": ("der die das und von ist", "gut schlecht toll super schrecklich liebe Problem problem wichtig"),
    "fr": ("le la et de est", "bon bien mauvais génial super terrible aime problème important"),
    "es": ("el la y de es", "bueno bien malo genial excelente terrible quiero problema importante siento siente"),
    "it": ("il la e di è", "buono bene cattivo ottimo male terribile amo problema importante"),
    "pt": ("o a e de é", "bom bem mau ótimo excelente terrível amo problema importante"),
    "ar": ("في من على و", "جميل رائع سيء ممتاز أحب مشكلة مهم حبيب حبذا بئس"),
    "ru": ("и в на не", "хорошо лучше плохо отлично ужасно люблю проблема важно"),
    "tr": ("ve bu için ile", "iyi kötü güzel harika seviyorum sorun önemli"),
    "hi": ("का और है में", "अच्छा बुरा शानदार प्यार समस्या ज़रूरी बढ़िया"),
    "ur": ("کا اور ہے میں", "اچھا برا پیار مسئلہ اہم زبردست"),
    "sw": ("na ya kwa ni", "nzuri mbaya penda tatizo muhimu safi"),
    "zh": ("的 了 和 是", "好 好的 最好 伟大 重要 问题 高兴 喜欢 糟糕 不错"),
    "bg": ("и на е за", "добър добре лош харесва проблем важно"),
    "el": ("και το είναι από", "καλό κακό τέλειο υπέροχο αγαπώ πρόβλημα σημαντικό"),
    "ja": ("の は を です", "良い 悪い 好き 最高 問題 大切"),
    "ko": ("그리고 및 은 를", "좋다 좋아요 나쁘다 최고 사랑 문제 중요"),
    "vi": ("và của là các", "tốt xấu hay tuyệt yêu thích"),
    "th": ("และ ของ ที่ เป็น", "ดี แย่ ชอบ รัก ปัญหา สำคัญ"),
    "he": ("את של על", "טוב רע אוהב בעיה חשוב"),
    "bn": ("এবং আমি", "ভালো খারাপ সমস্যা ভালোবাসা"),
    "ne": ("र पनि", "राम्रो नराम्रो समस्या माया"),
    "fa": ("و در از", "خوب بد عالی مشکل مهم"),
    "uk": ("і та на", "добре погано чудово люблю проблема важливо"),
    "mr": ("आणि आहे", "चांगले वाईट प्रेम समस्या"),
    "hy": ("և է որ", "լավ վատ սեր խնդիր կարևոր"),
}


def test_english_is_nltks_list_exactly():
    assert nltk_list("english") == NLTK_ENGLISH_179  # the package's file is NLTK's, word for word, in order
    assert stopwords("en") == set(NLTK_ENGLISH_179)
    assert "en" not in NOT_FUNCTION_WORDS


@pytest.mark.parametrize("lang", sorted(CASES))
def test_function_words_protected_sentiment_and_content_words_not(lang):
    protected, free = (s.split() for s in CASES[lang])
    words = stopwords(lang)
    assert set(protected) <= words, set(protected) - words
    assert not words & set(free), words & set(free)


def test_nltk_languages_use_nltks_lists_less_only_the_listed_evaluative_words():
    for lang, name in NLTK_NAMES.items():
        nltk = set(nltk_list(name))
        assert NOT_FUNCTION_WORDS.get(lang, set()) <= nltk, lang  # each removal is a real NLTK entry
        assert stopwords(lang) == nltk - NOT_FUNCTION_WORDS.get(lang, set()), lang
    assert set(NOT_FUNCTION_WORDS) <= set(NLTK_NAMES)


def test_every_language_the_project_handles_has_a_documented_source():
    from xlrobust.perturb import CONJUNCTIONS, LANG_SCRIPTS

    attacked = {
        "ar",
        "bg",
        "de",
        "el",
        "en",
        "es",
        "fr",
        "hi",
        "it",
        "ja",
        "ko",
        "pt",
        "ru",
        "sw",
        "th",
        "tr",
        "ur",
        "vi",
        "zh",
    }
    langs = set(LANG_SCRIPTS) | set(CONJUNCTIONS) | attacked
    for lang in sorted(langs):
        assert [lang in FUNCTION_WORDS, lang in NLTK_NAMES, lang in NO_LIST].count(True) == 1, lang
        assert bool(stopwords(lang)) != (lang in NO_LIST), lang  # a list, or the documented empty set
    for lang in ("hi", "ur", "sw", "th", "ja", "ko", "vi", "bg", "el", "zh"):
        assert lang in FUNCTION_WORDS, lang  # NLTK has none (or none usable: el, zh)
        assert 20 <= len(stopwords(lang)) <= 120, lang  # short lists of function words
    assert stopwords("xx") == set()
    s = stopwords("en")
    s.add("good")
    assert "good" not in stopwords("en")  # callers get their own copy


def _tree(paths) -> dict:
    """Every file under `paths` with its size and mtime (what a write would change)."""
    out = {}
    for root in paths:
        for dirpath, _, files in os.walk(root):
            for f in files:
                p = os.path.join(dirpath, f)
                st = os.stat(p)
                out[p] = (st.st_size, st.st_mtime_ns)
    return out


PROBE = r"""
import json, sys, nltk, torch, types
calls = []
nltk.download = lambda *a, **k: calls.append(a) or True  # what textattack's post-install would call
from xlrobust.ta_parts import import_textattack
from xlrobust.formats.classify import make_wrapper
from xlrobust.ta_parts import build
from xlrobust.stopwords import stopwords
ta = import_textattack()
atk = build("deepwordbug", make_wrapper(types.SimpleNamespace(model=torch.nn.Linear(1, 1))), "en", 10)
for lang in ("en", "de", "hi", "zh"):
    stopwords(lang)
stop = [c for c in atk.pre_transformation_constraints if type(c).__name__ == "StopwordModification"][0]
marker = ta.shared.utils.path_in_cache("post_install_check_3")
import os
print(json.dumps({"path": nltk.data.path, "downloads": calls, "english": sorted(nltk.corpus.stopwords.words("english")),
                  "ours": sorted(stop.stopwords), "marker": os.path.exists(marker)}))
"""


@pytest.mark.parametrize("user_has_corpus", [False, True])
def test_import_writes_nothing_where_users_nltk_reads(tmp_path, user_has_corpus):
    """`import textattack` through xlrobust, building an attack and reading stopwords create or
    change no file in any folder on NLTK's path but xlrobust's private one, which a user's
    NLTK never reads; textattack's post-install downloads do not run."""
    home, cache, user = tmp_path / "home", tmp_path / "cache", tmp_path / "user_nltk_data"
    (home / "nltk_data").mkdir(parents=True)  # existing and writable: where nltk.download would write
    user.mkdir()
    if user_has_corpus:
        (user / "corpora" / "stopwords").mkdir(parents=True)
        (user / "corpora" / "stopwords" / "english").write_text("users\nown\nlist\n", encoding="utf-8")
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(cache), "NLTK_DATA": str(user)}
    env.pop("TA_CACHE_DIR", None)
    default_path = json.loads(
        subprocess.run(
            [sys.executable, "-c", "import json, nltk; print(json.dumps(nltk.data.path))"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    private = cache / "xlrobust" / "nltk_data"
    assert str(private) not in default_path  # a user's NLTK does not read our folder
    before = _tree(default_path)
    r = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert _tree(default_path) == before  # nothing created or changed where the user's NLTK reads
    assert got["downloads"] == []
    assert not got["marker"]  # textattack's own post-install still runs for the user's textattack
    assert got["ours"] == sorted(NLTK_ENGLISH_179)  # our attack's list, whatever NLTK's path holds
    if user_has_corpus:
        assert got["english"] == ["list", "own", "users"] and str(private) not in got["path"]
        assert not private.exists()
    else:  # our private folder, at the end of this process's path, holds NLTK's real lists
        assert got["path"][-1] == str(private) and got["path"][:-1] == default_path
        assert got["english"] == sorted(NLTK_ENGLISH_179)
        from xlrobust.stopwords import nltk_lists_dir

        files = {p.name: p.read_bytes() for p in (private / "corpora" / "stopwords").iterdir()}
        assert files == {p.name: p.read_bytes() for p in nltk_lists_dir().iterdir() if p.is_file()}


def test_private_folder_replaces_lists_of_earlier_versions(tmp_path, monkeypatch):
    """Earlier versions wrote stopwordsiso's lists under NLTK's names there (and extra languages)."""
    from xlrobust.stopwords import private_nltk_data

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    old = tmp_path / "xlrobust" / "nltk_data" / "corpora" / "stopwords"
    old.mkdir(parents=True)
    (old / "english").write_text("good\ngreat\nthe\n", encoding="utf-8")
    (old / "hindi").write_text("का\n", encoding="utf-8")
    root = private_nltk_data()
    assert (root / "corpora" / "stopwords" / "english").read_text(encoding="utf-8").split() == NLTK_ENGLISH_179
    assert not (old / "hindi").exists()
