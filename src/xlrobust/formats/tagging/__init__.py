"""Token tagging (UDPOS, PAN-X / WikiANN NER; CCG supertags as an intermediate task).

Table: id, lang, tokens (list of str), tags (list of str, one per token). The label set
is the task's (PAN-X: O, B-/I-PER, ORG, LOC; UPOS: 17 tags) or, for a task without one
(CCG), the tags of its training data. As XTREME's run_tag (third_party/utils_tag.py): the
first sub-token of each word carries its tag, the others are ignored (-100); a sentence
longer than the max length is split into windows, so every word is predicted; a word's
prediction is the argmax at its first sub-token.

Metrics per sentence, scored as ratios of sums over sentences (so intervals resample
sentences and recompute the corpus metric): `f1` = entity-level micro F1 with seqeval's
default (conlleval-compatible) entity rules, x = 2 TP, w = 2 TP + FP + FN, for BIO tag
sets; `accuracy` = token accuracy, x = correct tokens, w = tokens, for every tag set. The
corpus F1 (sum x / sum w) is seqeval's `f1_score` over the same sentences. The primary
metric is F1 for BIO tags (NER), token accuracy otherwise (POS). XTREME also scores UDPOS
with seqeval, which for POS tags is an F1 over runs of equal tags, not accuracy: we report
token accuracy, the standard POS metric (XTREME-R's text calls it accuracy too).

Perturbation keeps tags aligned: a character probe edits tokens in place (each token is
a word for the rate) and never empties one; word_drop removes a tag with its token;
word_swap / word_shuffle move tags with tokens. `sides`: all tokens, only entity tokens
(tag not O) or only the others (TextFlint's split of NER transformations, eval_reference
§7: EntTypos edits entity words only), and the named probes entity_<perturbation> /
context_<perturbation> fix that side, so one study can compare both. In an NER sentence
each token keeps its entity type; B-/I- are re-derived after a word probe so that tokens
of one original entity that stay adjacent stay one entity (TextFlint re-tags replaced
entities the same way).

Modules: tags (the tag scheme and the per-sentence and corpus scores), attack (TaggingAttacker).
"""

from __future__ import annotations

from html import escape

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats.base import Format, first_bad
from xlrobust.formats.tagging.attack import TaggingAttacker
from xlrobust.formats.tagging.tags import (
    BIO,
    IGNORE,
    SINGLE_CHAR,
    SINGLE_CHAR_FLAG,
    bio_tags,
    corpus_f1,
    entities,
    entity_counts,
    is_bio,
    retag,
    sentence_score,
    tag_accuracy,
)
from xlrobust.models import model_config
from xlrobust.perturb import CHAR_OPS, WORD_OPS

__all__ = [
    "BIO",
    "IGNORE",
    "SINGLE_CHAR",
    "SINGLE_CHAR_FLAG",
    "TAGGING",
    "Tagging",
    "TaggingAttacker",
    "changed_tags",
    "corpus_f1",
    "entities",
    "entity_counts",
    "is_bio",
    "retag",
    "sentence_score",
    "single_char_share",
    "tag_accuracy",
]


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
    named_perturbations = {
        **{f"entity_{op}": (op, "entities") for op in CHAR_OPS + WORD_OPS},
        **{f"context_{op}": (op, "context") for op in CHAR_OPS + WORD_OPS},
    }
    perturbations = CHAR_OPS + WORD_OPS + tuple(named_perturbations)

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
        row = first_bad(df, pl.col("tokens").list.eval(pl.element().is_null() | (pl.element() == "")).list.any())
        if row is not None:
            raise XlrobustError(f"{source}: row {row} (sentence {df['id'][row]}): a token is missing or empty")
        row = first_bad(df, pl.col("tags").list.eval(pl.element().is_null()).list.any())
        if row is not None:
            raise XlrobustError(
                f"{source}: row {row} (sentence {df['id'][row]}): a tag is missing or its id is outside the "
                f"label set in column '{raw_name.get('tags', 'tags')}'"
            )
        if labels:
            row = first_bad(df, ~pl.col("tags").list.eval(pl.element().is_in(list(labels))).list.all())
            if row is not None:
                bad = next(t for t in df["tags"][row] if t not in set(labels))
                raise XlrobustError(
                    f"{source}: row {row} (sentence {df['id'][row]}): tag '{bad}' is not in the label "
                    f"set ({', '.join(labels)})"
                )

    def check_model(self, model_dir, df, source) -> None:
        known = set((model_config(model_dir).get("id2label") or {}).values())
        tags = set(df["tags"].explode().drop_nulls().to_list())
        if tags and not tags & known:
            raise XlrobustError(
                f"{source}: none of its tags ({', '.join(sorted(tags)[:6])}, ...) is a label of the model "
                f"{model_dir} ({', '.join(sorted(known)[:6])}, ...): it was trained on another task"
            )

    def probe(self, name, sides=None, labels=()):
        base, side = super().probe(name, sides)
        if side != "all" and labels and not bio_tags(labels):
            raise XlrobustError(
                f"{name} on sides '{side}' needs NER tags (O, B-X, I-X), not {', '.join(labels[:4])}, ...: "
                "give the probe `targets:` without this one"
            )
        return base, side

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

        feats, where = self.features(tok, df["tokens"].to_list(), max_length, df["tags"].to_list(), labels)
        if not train and is_bio(labels):  # NER dev: which word each position predicts, for entity F1
            feats["sentence"] = [ex for ex, _ in where]
            feats["word"] = [[-1 if w is None else w for w in first] for _, first in where]
            feats["tag_names"] = [list(labels)] * len(where)
        return Dataset.from_dict(feats)

    def collator(self, tok):
        import transformers

        return transformers.DataCollatorForTokenClassification(tok)

    def dev_metrics(self, outputs, order, features, dev, train):
        """Token accuracy, and for NER tags entity F1 over the dev sentences, which selects the
        checkpoint as XTREME's run_tag selects on dev F1."""
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
        if "tag_names" not in features.column_names:  # not NER: accuracy selects
            return m, m["accuracy"]
        names = features[0]["tag_names"]
        gold = dev["tags"].to_list()
        pred = [["O"] * len(g) for g in gold]
        argmax = logits.argmax(-1)
        for k, i in enumerate(order):
            f = features[int(i)]
            for j, w in enumerate(f["word"]):
                if w >= 0:
                    pred[f["sentence"]][w] = names[int(argmax[k, j])]
        m["f1"] = corpus_f1(gold, pred)
        return m, m["f1"]

    # ------------------------------------------------------------------ prediction and outcomes
    def pred_tags(self, model, tokens: list[list[str]]) -> list[list[str]]:
        """Word-level tags per sentence; a word the tokenizer gives no sub-token (a token of
        characters it drops) gets the model's first label ('O' in NER label sets)."""
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
        """Token accuracy for every sentence; entity F1 (x = 2 TP, w = 2 TP + FP + FN) for the
        sentences of NER targets: tag sets are told apart per target (a file of one format may
        hold an NER and a POS target), or over the whole table when it has no target column."""
        gold, pred = preds["tags"].to_list(), preds["pred_tags"].to_list()
        correct = [sum(a == b for a, b in zip(g, p)) for g, p in zip(gold, pred)]
        parts = [
            preds.with_columns(
                metric=pl.lit("accuracy"),
                x=pl.Series(correct, dtype=pl.Float64),
                w=pl.Series([len(g) for g in gold], dtype=pl.Float64),
            )
        ]
        groups = preds["target"].to_list() if "target" in preds.columns else [None] * preds.height
        tags_of: dict = {}
        for group, g in zip(groups, gold):
            tags_of.setdefault(group, set()).update(g)
        ner = {group for group, tags in tags_of.items() if is_bio(tags)}
        rows = [i for i, group in enumerate(groups) if group in ner]
        if rows:
            counts = [entity_counts(gold[i], pred[i]) for i in rows]
            parts.append(
                preds[rows].with_columns(
                    metric=pl.lit("f1"),
                    x=pl.Series([2 * tp for tp, _, _ in counts], dtype=pl.Float64),
                    w=pl.Series([2 * tp + fp + fn for tp, fp, fn in counts], dtype=pl.Float64),
                )
            )
        return pl.concat(parts)

    def baselines(self, preds):
        """No skill: the most frequent gold tag of the language's sentences for token accuracy
        (O in NER), and all-O for entity F1 (it finds no entity: 0)."""
        tags = preds["tags"].explode().drop_nulls()
        if not tags.len():
            return {}
        out = {"accuracy": (float(tags.value_counts(sort=True)["count"][0] / tags.len()), "majority tag")}
        if bio_tags(tags.unique().to_list()):
            out["f1"] = (0.0, "all-O")
        return out

    def corpus_scores(self, preds):
        return {SINGLE_CHAR: single_char_share}

    def attack_outcomes(self, attacks):
        """F1 and token accuracy of the prediction each attack ended with (a skipped sentence:
        its clean prediction; a failed one: the last, still above the threshold)."""
        return self.outcomes(attacks.with_columns(pred_tags=pl.col("perturbed_pred_tags")))

    def answer(self) -> pl.Expr:
        return pl.struct("tokens", "pred_tags")

    def flip(self) -> pl.Expr:
        """A perturbed sentence flips when some token's predicted tag differs from the clean
        prediction of the same token: tokens matched in place after a character probe (same
        count), by text after a word probe (a dropped token has nothing to differ)."""
        return pl.struct(a="answer", c="canswer").map_elements(
            lambda r: changed_tags(r["a"]["tokens"], r["a"]["pred_tags"], r["c"]["tokens"], r["c"]["pred_tags"]),
            return_dtype=pl.Boolean,
        )

    # ------------------------------------------------------------------ robustness
    def perturb(self, df, perturber, sides):
        self.columns_of(sides)
        if sides != "all":
            bad = first_bad(df, ~pl.col("tags").list.eval(pl.element().str.contains(BIO.pattern)).list.all())
            if bad is not None:
                raise XlrobustError(
                    f"sides '{sides}' needs NER tags (O, B-X, I-X): sentence {df['id'][bad]} has "
                    f"{', '.join(t for t in df['tags'][bad] if not BIO.match(t))}"
                )
        new_tokens, new_tags, edits = [], [], []
        for sid, tokens, tags in df.select("id", "tokens", "tags").iter_rows():
            eligible = [sides == "all" or (t != "O") == (sides == "entities") for t in tags]
            if perturber.kind == "char":
                out, n = [], 0
                for i, (tok, ok) in enumerate(zip(tokens, eligible)):
                    new, m = perturber(tok, f"{sid}|{i}") if ok else (tok, 0)
                    if not new.strip() or len(new.split()) != len(tok.split()):
                        new, m = tok, 0  # a token never disappears or splits: its tag stays its own
                    out.append(new)
                    n += m
                new_tokens.append(out)
                new_tags.append(list(tags))
            elif perturber.kind == "word":
                idx = [i for i, ok in enumerate(eligible) if ok]  # the tokens the probe may move or drop
                order, n = perturber.order(len(idx), f"{sid}|tokens") if idx else ([], 0)
                moved = iter([idx[k] for k in order])  # their new order (shorter after a drop)
                kept = [i if not ok else next(moved, None) for i, ok in enumerate(eligible)]
                kept = [i for i in kept if i is not None]
                new_tokens.append([tokens[i] for i in kept])
                new_tags.append(retag(list(tags), kept))
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
        return TaggingAttacker(self, model, lang, recipe, query_budget, alphabet, settings)

    def attack_example(self, row: dict) -> list[tuple[str, str | None, str | None]]:
        """The sentence before and after (tokens joined by spaces: the attack never adds or
        removes a space, so the changed characters show in place)."""
        return [("", " ".join(row.get("tokens") or []), " ".join(row.get("perturbed_tokens") or []))]

    def prediction_change(self, row: dict) -> str:
        """The predicted tags before -> after, the changed ones marked, and the sentence's
        score against the gold tags before -> after."""
        gold = list(row.get("tags") or [])
        before, after = list(row.get("pred_tags") or []), list(row.get("perturbed_pred_tags") or [])
        tokens = list(row.get("perturbed_tokens") or row.get("tokens") or [])
        bio = bool(gold) and bio_tags(gold)  # NER (an all-O sentence too); POS tags are never O/B-/I-
        parts = []
        for i, (a, b) in enumerate(zip(before, after)):
            if a != b:
                word = escape(tokens[i]) if i < len(tokens) else ""
                parts.append(f"{word}: <del>{escape(a)}</del> → <ins>{escape(b)}</ins>")
        metric = "F1" if bio else "accuracy"
        score = f"{metric} {sentence_score(gold, before, bio):.2f} → {sentence_score(gold, after, bio):.2f}"
        changed = "; ".join(parts) if parts else "no tag changed"
        return f"{changed}<br><small>{escape(score)} ({len(parts)} of {len(before)} tags changed)</small>"


def single_char_share(preds: pl.DataFrame) -> tuple[float, float, float]:
    """The share of gold tokens that are one character (value, and as its own interval)."""
    lengths = preds["tokens"].explode().drop_nulls().str.len_chars()
    share = float((lengths == 1).mean()) if lengths.len() else 0.0
    return share, share, share


def changed_tags(tokens: list[str], pred: list[str], clean_tokens: list[str], clean_pred: list[str]) -> bool:
    """Whether some token's predicted tag differs from its clean prediction (see Tagging.flip)."""
    if len(tokens) == len(clean_tokens) and sorted(tokens) != sorted(clean_tokens):
        return list(pred) != list(clean_pred)  # a character probe: the same positions
    where: dict[str, list[int]] = {}
    for i, t in enumerate(clean_tokens):
        where.setdefault(t, []).append(i)
    for t, p in zip(tokens, pred):  # a word probe: the k-th copy of a token is the k-th copy before
        if not where.get(t):
            return True
        if clean_pred[where[t].pop(0)] != p:
            return True
    return False


TAGGING = Tagging()
