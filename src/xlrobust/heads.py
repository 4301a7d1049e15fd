"""One entry per task format: the transformers head class, how examples become
features, the collator that pads a batch, and the standard dev metric.

| format      | head (transformers)                 | dev metric                         |
|-------------|-------------------------------------|------------------------------------|
| single/pair | AutoModelForSequenceClassification  | accuracy                           |
| mc          | AutoModelForMultipleChoice          | accuracy                           |
| qa          | AutoModelForQuestionAnswering       | SQuAD EM / F1 (v2: no-answer aware)|
| tag         | AutoModelForTokenClassification     | token accuracy (first sub-word)    |
| mlm         | AutoModelForMaskedLM                | none (never selects checkpoints)   |

Features are tokenised without padding; the collators pad each batch to its own
longest row (dynamic padding).
"""

from __future__ import annotations

import collections
import re
import string
from dataclasses import dataclass, field

import numpy as np
import polars as pl

MAX_ANSWER_TOKENS = 30
N_BEST = 20


@dataclass
class TaskData:
    """One task of a training run: its normalised train/dev tables and label set."""
    name: str
    format: str
    train: pl.DataFrame
    dev: pl.DataFrame | None = None
    labels: list[str] = field(default_factory=list)  # classification / tag label names

    @property
    def num_labels(self) -> int:
        return len(self.labels)


def head_class(fmt: str):
    import transformers as tf

    return {"single": tf.AutoModelForSequenceClassification, "pair": tf.AutoModelForSequenceClassification,
            "mc": tf.AutoModelForMultipleChoice, "qa": tf.AutoModelForQuestionAnswering,
            "tag": tf.AutoModelForTokenClassification, "mlm": tf.AutoModelForMaskedLM}[fmt]


def head_kwargs(task: TaskData) -> dict:
    return {"num_labels": task.num_labels} if task.format in ("single", "pair", "tag") else {}


def collator(fmt: str, tok):
    import transformers as tf

    if fmt == "mc":
        return tf.DataCollatorForMultipleChoice(tok)
    if fmt == "tag":
        return tf.DataCollatorForTokenClassification(tok)
    if fmt == "mlm":
        return tf.DataCollatorForLanguageModeling(tok, mlm_probability=0.15)
    return tf.DataCollatorWithPadding(tok)


def tag_vocabulary(train: pl.DataFrame) -> list[str]:
    return sorted(set(train["tags"].explode().to_list()))


# ---- encoding -----------------------------------------------------------------------

def encode(task: TaskData, tok, df: pl.DataFrame, max_length: int, doc_stride: int = 128, train: bool = True):
    """Features (a datasets.Dataset) for one table. Pairs and QA truncate with both
    sides kept: `longest_first` for pairs, only the context for QA (windows of
    `doc_stride` overlap). Dev QA features keep offsets and example ids for scoring."""
    from datasets import Dataset

    fmt = task.format
    if fmt in ("single", "pair", "mlm"):
        a = df["text_a"].to_list()
        b = df["text_b"].to_list() if fmt == "pair" else None
        enc = tok(a, b, truncation="longest_first" if b else True, max_length=max_length,
                  return_special_tokens_mask=fmt == "mlm")
        if fmt != "mlm":
            enc["labels"] = df["label"].to_list()
        return Dataset.from_dict(dict(enc))
    if fmt == "mc":
        n = df["choices"].list.len()[0]
        firsts = [a for a in df["text_a"].to_list() for _ in range(n)]
        seconds = [f"{q} {c}" if q else c for q, cs in zip(df["text_b"].to_list(), df["choices"].to_list()) for c in cs]
        enc = tok(firsts, seconds, truncation="longest_first", max_length=max_length)
        feats = {k: [v[i:i + n] for i in range(0, len(v), n)] for k, v in enc.items()}
        feats["labels"] = df["label"].to_list()
        return Dataset.from_dict(feats)
    if fmt == "qa":
        return _encode_qa(tok, df, max_length, doc_stride, train)
    if fmt == "tag":
        enc = tok(df["tokens"].to_list(), is_split_into_words=True, truncation=True, max_length=max_length)
        ids = {t: i for i, t in enumerate(task.labels)}
        labels = []
        for i, tags in enumerate(df["tags"].to_list()):
            prev, row = None, []
            for w in enc.word_ids(i):
                # first sub-word of a word carries its tag; a dev tag unseen in training is -1 (always wrong)
                row.append(-100 if w is None or w == prev else ids.get(tags[w], -1))
                prev = w
            labels.append(row)
        enc["labels"] = labels
        return Dataset.from_dict(dict(enc))
    raise ValueError(fmt)


def _encode_qa(tok, df: pl.DataFrame, max_length: int, doc_stride: int, train: bool):
    """SQuAD features as in transformers' run_qa.py: the context is split into
    overlapping windows; training labels are token start/end of the first answer, or
    the CLS token when the answer is outside the window (or there is none)."""
    from datasets import Dataset

    pad_right = tok.padding_side == "right"
    questions = [q.lstrip() for q in df["text_a"].to_list()]
    contexts = df["text_b"].to_list()
    enc = tok(questions if pad_right else contexts, contexts if pad_right else questions,
              truncation="only_second" if pad_right else "only_first", max_length=max_length,
              stride=min(doc_stride, max_length // 2), return_overflowing_tokens=True, return_offsets_mapping=True)
    ctx_side = 1 if pad_right else 0
    sample = enc.pop("overflow_to_sample_mapping")
    starts, ends, example_ids, offsets = [], [], [], []
    for i, offs in enumerate(enc["offset_mapping"]):
        seq = enc.sequence_ids(i)
        ex = sample[i]
        if train:
            cls = enc["input_ids"][i].index(tok.cls_token_id) if tok.cls_token_id in enc["input_ids"][i] else 0
            a_starts, a_texts = df["answer_start"][ex], df["answer_text"][ex]
            s_tok = e_tok = cls
            if len(a_starts):
                s_char, e_char = a_starts[0], a_starts[0] + len(a_texts[0])
                ctx = [j for j, s in enumerate(seq) if s == ctx_side]
                if offs[ctx[0]][0] <= s_char and offs[ctx[-1]][1] >= e_char:
                    s_tok = next(j for j in ctx if offs[j][1] > s_char)
                    e_tok = next(j for j in reversed(ctx) if offs[j][0] < e_char)
            starts.append(s_tok)
            ends.append(e_tok)
        else:
            example_ids.append(ex)
            offsets.append([o if seq[j] == ctx_side else None for j, o in enumerate(offs)])
    enc.pop("offset_mapping")
    feats = dict(enc)
    if train:
        feats.update(start_positions=starts, end_positions=ends)
    else:
        feats.update(example_index=example_ids, context_offsets=offsets)
    return Dataset.from_dict(feats)


# ---- metrics ------------------------------------------------------------------------

def accuracy(logits: np.ndarray, labels: np.ndarray) -> dict:
    return {"accuracy": float((logits.argmax(-1) == labels).mean())}


def tag_accuracy(logits: np.ndarray, labels: np.ndarray) -> dict:
    keep = labels != -100
    return {"accuracy": float((logits.argmax(-1)[keep] == labels[keep]).mean())}


def _normalize_answer(s: str) -> str:
    """The official SQuAD evaluation normalisation."""
    s = "".join(ch for ch in s.lower() if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def _f1(pred: str, gold: str) -> float:
    p, g = _normalize_answer(pred).split(), _normalize_answer(gold).split()
    if not p or not g:
        return float(p == g)
    common = sum((collections.Counter(p) & collections.Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: list[str], golds: list[list[str]]) -> dict:
    """Exact match and F1 (in %), max over the gold answers; no gold answers = ''."""
    em = f1 = 0.0
    for pred, gold in zip(predictions, golds):
        gold = gold or [""]
        em += max(float(_normalize_answer(pred) == _normalize_answer(g)) for g in gold)
        f1 += max(_f1(pred, g) for g in gold)
    n = max(len(predictions), 1)
    return {"exact_match": 100 * em / n, "f1": 100 * f1 / n}


def qa_answers(start_logits: np.ndarray, end_logits: np.ndarray, features, df: pl.DataFrame,
               allow_no_answer: bool) -> list[str]:
    """Best span per example over its windows (n-best start x end, spans of at most
    MAX_ANSWER_TOKENS); with no-answer allowed, '' wins when the CLS score is higher."""
    best: dict[int, tuple[float, str]] = {}
    null: dict[int, float] = {}
    contexts = df["text_b"].to_list()
    for i, (ex, offs) in enumerate(zip(features["example_index"], features["context_offsets"])):
        s_log, e_log = start_logits[i], end_logits[i]
        null[ex] = min(null.get(ex, np.inf), float(s_log[0] + e_log[0]))
        for s in np.argsort(s_log)[-N_BEST:][::-1]:
            for e in np.argsort(e_log)[-N_BEST:][::-1]:
                if s >= len(offs) or e >= len(offs) or offs[s] is None or offs[e] is None:
                    continue
                if e < s or e - s + 1 > MAX_ANSWER_TOKENS:
                    continue
                score = float(s_log[s] + e_log[e])
                if score > best.get(ex, (-np.inf, ""))[0]:
                    best[ex] = (score, contexts[ex][offs[s][0]:offs[e][1]])
    out = []
    for ex in range(df.height):
        score, text = best.get(ex, (-np.inf, ""))
        out.append("" if allow_no_answer and null.get(ex, -np.inf) > score else text)
    return out
