"""The tag scheme of token tagging and its scores: BIO detection, entities (seqeval's rules),
per-sentence F1 / accuracy, corpus F1, and re-tagging after a word probe."""

from __future__ import annotations

import re

import numpy as np

IGNORE = -100
BIO = re.compile(r"^(O|[BI]-.+)$")
# A description of the data in the score table (no metric of the model): the share of gold
# tokens that are one character. PAN-X ja/zh split words into characters, so an entity is
# a run of one-character tokens and a one-character slip breaks it: entity F1 sits near zero.
SINGLE_CHAR = "single_char_token_share"
SINGLE_CHAR_FLAG = 0.5  # the report flags a language above this share


def bio_tags(tags) -> bool:
    """True when every tag is O, B-X or I-X."""
    return all(BIO.match(t) for t in tags)


def is_bio(tags) -> bool:
    """True for an NER tag set (every tag O, B-X or I-X, and some entity tag)."""
    tags = list(tags)
    return bool(tags) and bio_tags(tags) and any(t != "O" for t in tags)


def tag_accuracy(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Token accuracy over first sub-words (labels -100 elsewhere and on padding)."""
    keep = labels != IGNORE
    return {"accuracy": float((logits.argmax(-1)[keep] == labels[keep]).mean())}


def entities(tags: list[str]) -> set[tuple[str, int, int]]:
    """seqeval's entities (type, first, last token) of one sentence (default mode: an I-X
    after O or after another type starts an entity, as conlleval)."""
    from seqeval.metrics.sequence_labeling import get_entities

    return set(get_entities(list(tags)))


def entity_counts(gold: list[str], pred: list[str]) -> tuple[int, int, int]:
    """(TP, FP, FN) of one sentence's entities."""
    g, p = entities(gold), entities(pred)
    return len(g & p), len(p - g), len(g - p)


def sentence_score(gold: list[str], pred: list[str], bio: bool) -> float:
    """One sentence's F1 (NER; 1 when neither side has an entity) or token accuracy (POS)."""
    if bio:
        tp, fp, fn = entity_counts(gold, pred)
        return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
    return sum(a == b for a, b in zip(gold, pred)) / max(len(gold), 1)


def corpus_f1(gold: list[list[str]], pred: list[list[str]]) -> float:
    """Micro entity F1 over sentences: sum 2 TP / sum (2 TP + FP + FN) (= seqeval's f1_score)."""
    counts = np.array([entity_counts(g, p) for g, p in zip(gold, pred)]).reshape(-1, 3).sum(axis=0)
    tp, fp, fn = counts
    return float(2 * tp / (2 * tp + fp + fn)) if 2 * tp + fp + fn else 0.0


def retag(tags: list[str], kept: list[int]) -> list[str]:
    """The tags of the tokens `kept` (original indices, new order) after a word probe: POS
    tags and O as they were; an entity token keeps its type, and is I- only when the token
    before it now is of the same original entity (else B-)."""
    if not bio_tags(tags) or all(t == "O" for t in tags):
        return [tags[i] for i in kept]
    owner = [None] * len(tags)
    for e, (_, first, last) in enumerate(sorted(entities(tags), key=lambda x: x[1])):
        for i in range(first, last + 1):
            owner[i] = e
    out = []
    for k, i in enumerate(kept):
        if owner[i] is None:
            out.append(tags[i])
        else:
            inside = k > 0 and owner[kept[k - 1]] == owner[i]
            out.append(("I-" if inside else "B-") + tags[i][2:])
    return out
