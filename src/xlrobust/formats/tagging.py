"""Token tagging (UDPOS, PAN-X / WikiANN NER; CCG supertags as an intermediate task).

Table: id, lang, tokens (list of str), tags (list of str, one per token). The label set
is the task's (PAN-X: O, B-/I-PER, ORG, LOC; UPOS: 17 tags) or, for a task without one
(CCG), the tags of its training data. As XTREME's run_tag: the first sub-token of each
word carries its tag, the others are ignored (-100); a sentence longer than the max
length is split into windows, so every word is predicted.

Metrics per sentence, scored as ratios of sums over sentences (so intervals resample
sentences and recompute the corpus metric): `f1` = entity-level micro F1 with seqeval's
(conlleval-compatible) entity rules, x = 2 TP, w = 2 TP + FP + FN, for BIO tag sets;
`accuracy` = token accuracy, x = correct tokens, w = tokens, for every tag set. The
primary metric is F1 for BIO tags (NER), token accuracy otherwise (POS).

Perturbation keeps tags aligned: a character probe edits tokens in place (each token is
a word for the rate), word_drop removes a tag with its token, word_swap/word_shuffle
move tags with tokens. `sides`: all tokens, only entity tokens (tag not O), or only
non-entity tokens (TextFlint's split of NER transformations).
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats import register
from xlrobust.formats.base import Format, first_bad
from xlrobust.perturb import CHAR_OPS, WORD_OPS

IGNORE = -100
BIO = re.compile(r"^(O|[BI]-.+)$")


def is_bio(tags) -> bool:
    """True for an NER tag set (every tag O, B-X or I-X)."""
    tags = list(tags)
    return bool(tags) and all(BIO.match(t) for t in tags) and any(t != "O" for t in tags)


def tag_accuracy(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Token accuracy over first sub-words (labels -100 elsewhere and on padding)."""
    keep = labels != IGNORE
    return {"accuracy": float((logits.argmax(-1)[keep] == labels[keep]).mean())}


def entity_counts(gold: list[str], pred: list[str]) -> tuple[int, int, int]:
    """(TP, FP, FN) of one sentence's entities, with seqeval's entity extraction."""
    from seqeval.metrics.sequence_labeling import get_entities

    g, p = set(get_entities(list(gold))), set(get_entities(list(pred)))
    return len(g & p), len(p - g), len(g - p)


class Tagging(Format):
    name = "tagging"
    schema = {"id": pl.String, "lang": pl.String, "tokens": pl.List(pl.String), "tags": pl.List(pl.String)}
    head = "AutoModelForTokenClassification"
    prediction_columns = ("tokens", "tags", "pred_tags")  # what `predict` writes besides id and lang
    architecture_suffix = "ForTokenClassification"
    metric = "f1"
    sides = {"all": (), "entities": (), "context": ()}
    default_side = "all"
    collator_keeps_labels = True
    perturbations = CHAR_OPS + WORD_OPS  # tags follow their tokens; clauses have no tags to follow

    def label_names(self, task_labels, train):
        if task_labels:
            return list(task_labels)
        return sorted(set(train["tags"].explode().drop_nulls().to_list())) if train is not None else []

    def check(self, df, labels, source, raw_name) -> None:
        row = first_bad(
            df,
            pl.col("tokens").is_null()
            | (pl.col("tokens").list.len() == 0)
            | pl.col("tags").is_null()
            | (pl.col("tokens").list.len() != pl.col("tags").list.len()),
        )
        if row is not None:
            n_tok, n_tag = (0 if df[c][row] is None else df[c][row].len() for c in ("tokens", "tags"))
            raise XlrobustError(
                f"{source}: row {row}: 'tokens' and 'tags' must be non-empty lists of equal length "
                f"(sentence {df['id'][row]}: {n_tok} tokens, {n_tag} tags)"
            )
        row = first_bad(df, pl.col("tokens").list.eval(pl.element().is_null()).list.any())
        if row is not None:
            raise XlrobustError(f"{source}: row {row} (sentence {df['id'][row]}): a token is missing (null)")
        if labels:
            known = pl.Series(list(labels), dtype=pl.String)
            row = first_bad(df, ~pl.col("tags").list.eval(pl.element().is_in(known)).list.all())
            if row is not None:
                bad = next(t for t in df["tags"][row] if t not in set(labels))
                raise XlrobustError(
                    f"{source}: row {row} (sentence {df['id'][row]}): tag '{bad}' is not in the label "
                    f"set ({', '.join(labels)})"
                )

    def check_model(self, model_dir, df, source) -> None:
        from xlrobust.models import model_config

        known = set((model_config(model_dir).get("id2label") or {}).values())
        tags = set(df["tags"].explode().drop_nulls().to_list())
        if tags and not tags & known:
            raise XlrobustError(
                f"{source}: none of its tags ({', '.join(sorted(tags)[:6])}, ...) is a label of the model "
                f"{model_dir} ({', '.join(sorted(known)[:6])}, ...): it was trained on another task"
            )

    def primary_metric(self, metrics: set[str]) -> str:
        return "f1" if "f1" in metrics else "accuracy"

    # ------------------------------------------------------------------ model
    def head_kwargs(self, labels):
        return {
            "num_labels": len(labels),
            "id2label": dict(enumerate(labels)),
            "label2id": {t: i for i, t in enumerate(labels)},
        }

    def features(self, tok, tokens: list[list[str]], max_length: int, tags=None, labels=None) -> tuple[dict, list]:
        """Windows of at most max_length sub-tokens (every word in one window); the label of
        a word on its first sub-token. Returns the features and, per window, (sentence,
        word index of each sub-token or None)."""
        enc = tok(
            tokens,
            is_split_into_words=True,
            truncation=True,
            max_length=max_length,
            return_overflowing_tokens=True,
            stride=0,
        )
        sample = enc.pop("overflow_to_sample_mapping")
        ids = {t: i for i, t in enumerate(labels or [])}
        where, label_rows, seen = [], [], set()
        for i in range(len(enc["input_ids"])):
            ex, words = sample[i], enc.word_ids(i)
            first = []
            for j, w in enumerate(words):
                # the first sub-token of a word carries its tag (once, in the window it starts in)
                ok = w is not None and (j == 0 or words[j - 1] != w) and (ex, w) not in seen
                if ok:
                    seen.add((ex, w))
                first.append(w if ok else None)
            where.append((ex, first))
            if tags is not None:  # an unseen dev tag is -1: always wrong
                label_rows.append([IGNORE if w is None else ids.get(tags[ex][w], -1) for w in first])
        feats = {k: v for k, v in enc.items() if k != "offset_mapping"}
        if tags is not None:
            feats["labels"] = label_rows
        return feats, where

    def encode(self, tok, df, labels, max_length, doc_stride=128, train=True):
        from datasets import Dataset

        feats, _ = self.features(tok, df["tokens"].to_list(), max_length, df["tags"].to_list(), labels)
        return Dataset.from_dict(feats)

    def collator(self, tok):
        import transformers

        return transformers.DataCollatorForTokenClassification(tok)

    def dev_metrics(self, outputs, order, features, dev, train):
        width = max(o.shape[1] for o in outputs)
        logits = np.full((len(order), width, outputs[0].shape[-1]), -1e9, dtype=np.float32)
        labels = np.full((len(order), width), IGNORE)
        row = 0
        for o in outputs:
            logits[row : row + len(o), : o.shape[1]] = o
            row += len(o)
        for k, i in enumerate(order):
            lab = features[int(i)]["labels"]
            labels[k, : len(lab)] = lab
        m = tag_accuracy(logits, labels)
        return m, m["accuracy"]

    # ------------------------------------------------------------------ prediction and outcomes
    def pred_tags(self, model, tokens: list[list[str]]) -> list[list[str]]:
        """Word-level tags per sentence; a word the tokenizer gives no sub-token (an empty
        token) gets the model's first label ('O' in NER label sets)."""
        labels = [model.model.config.id2label[i] for i in range(model.num_labels)]
        out = [[labels[0]] * len(t) for t in tokens]
        if not tokens:
            return out
        feats, where = self.features(model.tok, tokens, model.max_length)
        inputs = {k: feats[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in feats}
        for (ex, first), logits in zip(where, model.run(inputs, per_token=True)):
            for j, w in enumerate(first):
                if w is not None:
                    out[ex][w] = labels[int(logits[j].argmax())]
        return out

    def predict(self, model, df):
        return pl.DataFrame(
            {
                "id": df["id"],
                "lang": df["lang"],
                "tokens": df["tokens"],
                "tags": df["tags"],
                "pred_tags": pl.Series(self.pred_tags(model, df["tokens"].to_list()), dtype=pl.List(pl.String)),
            }
        )

    def outcomes(self, preds):
        gold, pred = preds["tags"].to_list(), preds["pred_tags"].to_list()
        correct = [sum(a == b for a, b in zip(g, p)) for g, p in zip(gold, pred)]
        parts = [
            preds.with_columns(
                metric=pl.lit("accuracy"),
                x=pl.Series(correct, dtype=pl.Float64),
                w=pl.Series([len(g) for g in gold], dtype=pl.Float64),
            )
        ]
        if is_bio(t for g in gold for t in g):
            counts = [entity_counts(g, p) for g, p in zip(gold, pred)]
            parts.append(
                preds.with_columns(
                    metric=pl.lit("f1"),
                    x=pl.Series([2 * tp for tp, _, _ in counts], dtype=pl.Float64),
                    w=pl.Series([2 * tp + fp + fn for tp, fp, fn in counts], dtype=pl.Float64),
                )
            )
        return pl.concat(parts)

    def answer(self) -> pl.Expr:
        return pl.col("pred_tags")

    # ------------------------------------------------------------------ robustness
    def perturb(self, df, perturber, sides):
        self.columns_of(sides)
        new_tokens, new_tags, edits = [], [], []
        for sid, tokens, tags in df.select("id", "tokens", "tags").iter_rows():
            eligible = [sides == "all" or (t != "O") == (sides == "entities") for t in tags]
            if perturber.kind == "char":
                out, n = [], 0
                for i, (tok, ok) in enumerate(zip(tokens, eligible)):
                    new, m = perturber(tok, f"{sid}|{i}") if ok else (tok, 0)
                    out.append(new)
                    n += m
                new_tokens.append(out)
                new_tags.append(list(tags))
            elif perturber.kind == "word":
                idx = [i for i, ok in enumerate(eligible) if ok]  # the tokens the probe may move or drop
                order, n = perturber.order(len(idx), f"{sid}|tokens")
                moved = iter([idx[k] for k in order])  # their new order (shorter after a drop)
                result = [i if not ok else next(moved, None) for i, ok in enumerate(eligible)]
                result = [i for i in result if i is not None]
                new_tokens.append([tokens[i] for i in result])
                new_tags.append([tags[i] for i in result])
            else:
                raise XlrobustError(
                    f"{perturber.name} is not available for tagging (tags could not follow the words); "
                    f"use one of {', '.join(self.perturbations)}"
                )
            edits.append(n)
        return df.with_columns(
            pl.Series("tokens", new_tokens, dtype=pl.List(pl.String)),
            pl.Series("tags", new_tags, dtype=pl.List(pl.String)),
            pl.Series("edits", edits, dtype=pl.Int64),
        )

    def attack(self, model, lang, recipe, query_budget, alphabet, settings):
        from xlrobust.attack import TaggingAttacker

        return TaggingAttacker(self, model, lang, recipe, query_budget, alphabet, settings)


TAGGING = register(Tagging())
