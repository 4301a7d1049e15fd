"""Extractive QA's metrics: exact match and F1 per question, max over the gold answers, with the
official SQuAD v1.1 normalisation or MLQA's language-specific one, and the no-skill
baselines scored with the same rules."""

from __future__ import annotations

import collections
import functools
import re
import string
import sys
import unicodedata

import numpy as np
import polars as pl

from xlrobust.langs import fallback


# ---------------------------------------------------------------------------------------------
# The official evaluation rules, verbatim in behaviour:
#   SQuAD v1.1: evaluate-v1.1.py (allenai/bi-att-flow squad/, what XTREME runs for XQuAD, TyDiQA);
#   MLQA: mlqa_evaluation_v1.py (facebookresearch/MLQA, what XTREME runs for MLQA).
def squad_normalize(s: str) -> str:
    """SQuAD v1.1: lower, drop ASCII punctuation, drop a/an/the, fix whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _ASCII_PUNCT)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


_ASCII_PUNCT = set(string.punctuation)


@functools.cache
def mlqa_punct() -> frozenset[str]:
    """MLQA's punctuation: every Unicode P* character and ASCII punctuation (built on first
    use: a scan of all code points, which Snakemake's planning, importing this, need not pay)."""
    return frozenset(
        {chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")}.union(
            string.punctuation
        )
    )


MLQA_ARTICLES = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "ar": "\\sال^|ال",  # as in the official script: in effect every ال
    "hi": None,
    "zh": None,
}
MLQA_LANGS = tuple(MLQA_ARTICLES)


def _mixed_segmentation(text: str) -> list[str]:
    """MLQA's zh tokenisation: every CJK character (and punctuation) its own token."""
    out, run = [], ""
    for ch in text:
        if re.search(r"[\u4e00-\u9fa5]", ch) or ch in mlqa_punct():
            if run:
                out.extend(run.split())
                run = ""
            out.append(ch)
        else:
            run += ch
    if run:
        out.extend(run.split())
    return out


def mlqa_normalize(s: str, lang: str) -> str:
    """MLQA: lower, drop Unicode punctuation, drop the language's articles, tokens joined by spaces."""
    if lang not in MLQA_ARTICLES:
        fallback(lang, "MLQA answer-normalisation rules", "no articles removed, whitespace tokens")
    s = "".join(ch for ch in s.lower() if ch not in mlqa_punct())
    if MLQA_ARTICLES.get(lang):
        s = re.sub(MLQA_ARTICLES[lang], " ", s)
    tokens = _mixed_segmentation(s) if lang == "zh" else s.split()
    return " ".join(t for t in tokens if t.strip() != "")


def normalize(s: str, lang: str, scoring: str) -> str:
    return mlqa_normalize(s, lang) if scoring == "mlqa" else squad_normalize(s)


def _f1(pred: list[str], gold: list[str]) -> float:
    common = collections.Counter(pred) & collections.Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def question_scores(prediction: str, golds: list[str], lang: str = "en", scoring: str = "squad") -> tuple[float, float]:
    """(exact match, F1) of one question in [0, 1], max over its gold answers. No gold
    answer (SQuAD v2): right only for an empty prediction."""
    if not golds:
        return (1.0, 1.0) if not prediction.strip() else (0.0, 0.0)
    p = normalize(prediction, lang, scoring)
    gs = [normalize(g, lang, scoring) for g in golds]
    em = max(float(p == g) for g in gs)
    f1 = max(_f1(p.split(), g.split()) for g in gs)
    return em, f1


def squad_scores(predictions: list[str], golds: list[list[str]]) -> dict:
    """Exact match and F1 (in %) over questions with SQuAD v1.1 rules (dev selection of
    English QA; an empty gold list is a no-answer question)."""
    em = f1 = 0.0
    for pred, gold in zip(predictions, golds):
        gold = gold or [""]
        p = squad_normalize(pred)
        gs = [squad_normalize(g) for g in gold]
        em += max(float(p == g) for g in gs)
        f1 += max(
            float(p.split() == g.split()) if not p.split() or not g.split() else _f1(p.split(), g.split()) for g in gs
        )
    n = max(len(predictions), 1)
    return {"exact_match": 100 * em / n, "f1": 100 * f1 / n}


# ---------------------------------------------------------------------------------------------
# The no-skill baseline: answers that use no model, scored with the same official rules.
TRIVIAL = ("first_k", "first_sentence")


def first_sentence(ctx: str) -> str:
    """The context's first sentence (Latin, CJK, Devanagari and Arabic sentence ends)."""
    return re.split(r"(?<=[.!?。！？])\s*|(?<=।)\s*|(?<=؟)\s*", ctx.strip(), maxsplit=1)[0]


def first_k(ctx: str, k: int, lang: str) -> str:
    """The context's first k tokens (characters for zh, as MLQA scores zh per character)."""
    return "".join(ctx.split())[:k] if lang == "zh" else " ".join(ctx.split()[:k])


def trivial_answers(df: pl.DataFrame) -> pl.DataFrame:
    """The two no-model answers per question (columns TRIVIAL): the context's first k
    tokens, k = the median first-gold-answer length of the question's language in its
    scoring tokens, and the context's first sentence."""
    k = {}
    for (lang,), g in df.group_by("lang"):
        lengths = [
            len(normalize(a[0], lang, sc).split()) for a, sc in g.select("answer_text", "scoring").iter_rows() if a
        ]
        k[lang] = max(1, int(np.median(lengths))) if lengths else 1
    rows = df.select("text_b", "lang").iter_rows()
    firsts, sentences = (
        zip(*[(first_k(c, k[lang], lang), first_sentence(c)) for c, lang in rows]) if df.height else ((), ())
    )
    return pl.DataFrame(
        {"first_k": list(firsts), "first_sentence": list(sentences)}, schema=dict.fromkeys(TRIVIAL, pl.String)
    )
