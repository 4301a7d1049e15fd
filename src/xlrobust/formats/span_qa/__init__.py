"""Extractive question answering (XQuAD, MLQA, TyDiQA-GoldP; SQuAD v1.1 / v2.0).

Table: id, lang, text_a (question), text_b (context), answer_start and answer_text
(lists of the gold answers, character offsets; empty = no answer, SQuAD v2), scoring
("squad" or "mlqa": which official evaluation scores the dataset, as XTREME does).

Features as transformers' run_qa.py: the context is split into windows of `max_length`
tokens overlapping by `doc_stride`; training labels are the token start/end of the first
answer, or the CLS token when it is outside the window. Prediction: the n-best start x
end spans of every window (at most MAX_ANSWER_TOKENS long), best score over the
example's windows, one row per question. Metrics per question: exact match and F1,
max over the gold answers, with the official SQuAD v1.1 normalisation or MLQA's
language-specific one (metric.py, copied from the official scripts). Modules: metric,
decode (answer spans), spans (gold spans under perturbation), attack (QAAttacker).
"""

from __future__ import annotations

from html import escape

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats.base import Format, first_bad
from xlrobust.formats.span_qa.attack import QAAttacker
from xlrobust.formats.span_qa.decode import MAX_ANSWER_TOKENS, N_BEST, gold_span_probability, qa_answers
from xlrobust.formats.span_qa.metric import (
    MLQA_LANGS,
    TRIVIAL,
    first_k,
    first_sentence,
    mlqa_normalize,
    normalize,
    question_scores,
    squad_normalize,
    squad_scores,
    trivial_answers,
)
from xlrobust.formats.span_qa.spans import _keep_edges, _map_span, protected_spans

__all__ = [
    "MAX_ANSWER_TOKENS",
    "MLQA_LANGS",
    "N_BEST",
    "SPAN_QA",
    "QAAttacker",
    "SpanQA",
    "_map_span",
    "first_k",
    "first_sentence",
    "gold_span_probability",
    "mlqa_normalize",
    "normalize",
    "protected_spans",
    "qa_answers",
    "question_scores",
    "squad_normalize",
    "squad_scores",
    "trivial_answers",
]


class SpanQA(Format):
    name = "span_qa"
    schema = {
        "id": pl.String,
        "lang": pl.String,
        "text_a": pl.String,
        "text_b": pl.String,
        "answer_start": pl.List(pl.Int64),
        "answer_text": pl.List(pl.String),
        "scoring": pl.String,
    }
    text_columns = ("text_a", "text_b")
    head = "AutoModelForQuestionAnswering"
    # what `predict` writes besides id and lang (the no-model answers are the no-skill baseline)
    prediction_columns = ("answer_text", "scoring", "prediction", *TRIVIAL)
    architecture_suffix = "ForQuestionAnswering"
    metric = "f1"
    # question; context outside the answers (answers kept exactly); both; and the named probe
    # that also perturbs the answer spans, with the gold answers rewritten to match
    sides = {
        "question": ("text_a",),
        "context": ("text_b",),
        "both": ("text_a", "text_b"),
        "with_answers": ("text_a", "text_b", "answer_text"),
    }
    default_side = "question"

    def label_names(self, task_labels, train):
        return []

    def validate(self, df, labels, source, raw_name=None) -> None:
        """As every format's, with the question id in each error (a SQuAD JSON file has no
        rows to count: the id is what a user searches for)."""
        raw_name = raw_name or {}
        for col in self.text_columns:
            row = first_bad(df, pl.col(col).is_null() | (pl.col(col).str.strip_chars() == ""))
            if row is not None:
                raise XlrobustError(
                    f"{source}: row {row} (question {df['id'][row]}): empty text in field '{raw_name.get(col, col)}'"
                )
        super().validate(df, labels, source, raw_name)

    def check(self, df, labels, source, raw_name) -> None:
        row = first_bad(df, pl.col("answer_start").list.len() != pl.col("answer_text").list.len())
        if row is not None:
            raise XlrobustError(
                f"{source}: row {row} (question {df['id'][row]}): answer_start and answer_text "
                "have different lengths in field 'answers'"
            )
        row = first_bad(df, ~pl.col("scoring").is_in(["squad", "mlqa"]))
        if row is not None:
            raise XlrobustError(f"{source}: row {row}: scoring '{df['scoring'][row]}' is neither squad nor mlqa")
        for i, (qid, ctx, starts, texts) in enumerate(
            df.select("id", "text_b", "answer_start", "answer_text").iter_rows()
        ):
            for s, t in zip(starts, texts):
                if s is None or t is None or s < 0 or s + len(t) > len(ctx):
                    raise XlrobustError(
                        f"{source}: row {i}: answer start outside the context in field 'answers' "
                        f"(question {qid}, answer_start {s})"
                    )
                if not t.strip():
                    raise XlrobustError(f"{source}: row {i} (question {qid}): empty answer text in field 'answers'")
                if ctx[s : s + len(t)] != t:
                    raise XlrobustError(
                        f"{source}: row {i} (question {qid}): answer {t!r} is not the context at answer_start {s} "
                        f"(the context there reads {ctx[s : s + len(t or '')]!r}) in field 'answers'"
                    )

    # ------------------------------------------------------------------ model
    def encode(self, tok, df, labels, max_length, doc_stride=128, train=True):
        from datasets import Dataset

        return Dataset.from_dict(self.features(tok, df, max_length, doc_stride, train))

    @staticmethod
    def fit_questions(tok, questions: list[str], max_length: int, stride: int) -> list[str]:
        """Questions cut to their first tokens so that every window keeps more context tokens
        than the stride (XTREME's run_squad truncates questions to max_query_length; run_qa.py
        fails on a long one): a question may take at most max_length - special tokens -
        stride - 1 tokens. Then the context is split into windows as usual."""
        room = max_length - tok.num_special_tokens_to_add(pair=True) - stride - 1
        if room < 1:
            raise XlrobustError(f"--max-length {max_length} leaves no room for a question and a context window")
        enc = tok(questions, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        out = []
        for q, ids, offs in zip(questions, enc["input_ids"], enc["offset_mapping"]):
            keep = room
            while len(ids) > room and keep > 0:  # the cut text may tokenize longer: cut until it fits
                q = q[: offs[keep - 1][1]]
                if len(tok(q, add_special_tokens=False, verbose=False)["input_ids"]) <= room:
                    break
                keep -= 1
            out.append(q)
        return out

    def features(self, tok, df: pl.DataFrame, max_length: int, doc_stride: int, train: bool) -> dict:
        """run_qa.py's features; dev/prediction features keep offsets and example index."""
        pad_right = tok.padding_side == "right"
        stride = min(doc_stride, max_length // 2)
        questions = self.fit_questions(tok, [q.lstrip() for q in df["text_a"].to_list()], max_length, stride)
        contexts = df["text_b"].to_list()
        enc = tok(
            questions if pad_right else contexts,
            contexts if pad_right else questions,
            truncation="only_second" if pad_right else "only_first",
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        ctx_side = 1 if pad_right else 0
        sample = enc.pop("overflow_to_sample_mapping")
        starts, ends, example_ids, offsets = [], [], [], []
        a_starts, a_texts = df["answer_start"].to_list(), df["answer_text"].to_list()
        for i, offs in enumerate(enc["offset_mapping"]):
            seq = enc.sequence_ids(i)
            ex = sample[i]
            if train:
                cls = enc["input_ids"][i].index(tok.cls_token_id) if tok.cls_token_id in enc["input_ids"][i] else 0
                s_tok = e_tok = cls
                ctx = [j for j, s in enumerate(seq) if s == ctx_side]
                if len(a_starts[ex]) and ctx:  # no context token: the question filled the window
                    s_char, e_char = a_starts[ex][0], a_starts[ex][0] + len(a_texts[ex][0])
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
        return feats

    def output(self, out) -> np.ndarray:
        return np.stack([out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()], -1)

    def dev_metrics(self, outputs, order, features, dev, train):
        width = max(o.shape[1] for o in outputs)
        logits = np.full((len(order), width, 2), -1e9, dtype=np.float32)
        row = 0
        for o in outputs:
            logits[row : row + len(o), : o.shape[1]] = o
            row += len(o)
        inv = np.empty_like(order)
        inv[order] = np.arange(len(order))
        logits = logits[inv]
        answers = qa_answers(
            logits[:, :, 0],
            logits[:, :, 1],
            features,
            dev["text_b"].to_list(),
            allow_no_answer=bool((train["answer_text"].list.len() == 0).any()),
        )
        m = squad_scores(answers, dev["answer_text"].to_list())
        return m, m["f1"] / 100

    # ------------------------------------------------------------------ prediction and outcomes
    def window_logits(self, model, df: pl.DataFrame) -> tuple[np.ndarray, dict]:
        """Start and end logits (windows x tokens x 2, padding at -1e9) of every context
        window of the table, and the windows' features: all windows in one length-sorted,
        batched run (predict.Model.run), each batch padded to its own longest window."""
        feats = self.features(model.tok, df, model.max_length, model.doc_stride, train=False)
        inputs = {k: feats[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in feats}
        outs = model.run(inputs, per_token=True)
        width = max(len(o) for o in outs)
        logits = np.full((len(outs), width, 2), -1e9, dtype=np.float32)
        for i, o in enumerate(outs):
            logits[i, : len(o)] = o
        return logits, feats

    def answers(self, model, df: pl.DataFrame, allow_no_answer: bool = False) -> list[str]:
        """The predicted answer text of each question (n-best span decoding over its windows)."""
        if df.height == 0:
            return []
        logits, feats = self.window_logits(model, df)
        return qa_answers(logits[:, :, 0], logits[:, :, 1], feats, df["text_b"].to_list(), allow_no_answer)

    def answers_and_gold_probability(self, model, df: pl.DataFrame) -> tuple[list[str], list[float]]:
        """The predicted answers and the probability of the gold spans (`gold_span_probability`),
        from one run: what the attack's goal asks of each query."""
        if df.height == 0:
            return [], []
        logits, feats = self.window_logits(model, df)
        start, end = logits[:, :, 0], logits[:, :, 1]
        preds = qa_answers(start, end, feats, df["text_b"].to_list(), allow_no_answer=False)
        return preds, gold_span_probability(
            start, end, feats, df["answer_start"].to_list(), df["answer_text"].to_list()
        )

    def predict(self, model, df):
        return pl.DataFrame(
            {
                "id": df["id"],
                "lang": df["lang"],
                "answer_text": df["answer_text"],
                "scoring": df["scoring"],
                "prediction": pl.Series(self.answers(model, df), dtype=pl.String),
            }
        ).hstack(trivial_answers(df))

    def outcomes(self, preds):
        scores = [
            question_scores(p, g, lang, sc)
            for p, g, lang, sc in preds.select("prediction", "answer_text", "lang", "scoring").iter_rows()
        ]
        em = pl.Series([s[0] for s in scores], dtype=pl.Float64)
        f1 = pl.Series([s[1] for s in scores], dtype=pl.Float64)
        return pl.concat(
            [
                preds.with_columns(metric=pl.lit("exact_match"), x=em, w=pl.lit(1.0)),
                preds.with_columns(metric=pl.lit("f1"), x=f1, w=pl.lit(1.0)),
            ]
        )

    def coverage(self, df, titles):
        articles = {titles[i] for i in df["id"] if i in titles}
        return (f"{len(articles)} articles, " if articles else "") + f"{df['text_b'].n_unique()} paragraphs"

    def baselines(self, preds):
        """No skill: the better of the first-k-tokens and first-sentence answers, per metric."""
        out = {}
        for col in TRIVIAL:
            for row in (
                self.outcomes(preds.with_columns(prediction=pl.col(col)))
                .group_by("metric")
                .agg(pl.col("x").mean())
                .iter_rows()
            ):
                if row[0] not in out or row[1] > out[row[0]][0]:
                    out[row[0]] = (row[1], "first-k tokens or first sentence")
        return out

    def answer(self) -> pl.Expr:
        return pl.col("prediction")

    def attack_outcomes(self, attacks):
        """Exact match and F1 of the prediction each attack ended with (the clean prediction
        when the attack was skipped: already at or below the threshold)."""
        final = attacks.with_columns(prediction=pl.col("perturbed_prediction"))
        return self.outcomes(final)

    # ------------------------------------------------------------------ robustness
    def perturb(self, df, perturber, sides):
        cols = self.columns_of(sides)
        questions, contexts, starts, texts, edits = [], [], [], [], []
        for row in df.iter_rows(named=True):
            n = 0
            q = row["text_a"]
            if "text_a" in cols:
                q, n = perturber(q, f"{row['id']}|text_a")
            ctx, st, tx = row["text_b"], list(row["answer_start"]), list(row["answer_text"])
            if "text_b" in cols:
                ctx, st, tx, m = self._perturb_context(perturber, row["id"], ctx, st, tx, "answer_text" in cols)
                n += m
            questions.append(q)
            contexts.append(ctx)
            starts.append(st)
            texts.append(tx)
            edits.append(n)
        return df.with_columns(
            pl.Series("text_a", questions, dtype=pl.String),
            pl.Series("text_b", contexts, dtype=pl.String),
            pl.Series("answer_start", starts, dtype=pl.List(pl.Int64)),
            pl.Series("answer_text", texts, dtype=pl.List(pl.String)),
            pl.Series("edits", edits, dtype=pl.Int64),
        )

    @staticmethod
    def _perturb_context(perturber, qid: str, ctx: str, starts: list[int], texts: list[str], answers_too: bool):
        """The context outside the merged answer intervals is perturbed piece by piece (each
        piece with its own key); with `answers_too` the intervals are perturbed as well and
        every gold answer becomes the text its span now covers. Every answer_start is
        recomputed: context[start:start + len(answer)] == answer holds afterwards."""
        spans = protected_spans(starts, texts)
        pieces, cut = [], 0
        for s, e in spans:
            pieces += [(ctx[cut:s], False), (ctx[s:e], True)]
            cut = e
        pieces.append((ctx[cut:], False))
        out, new_at, edits = [], {}, 0
        pos = 0
        for k, (text, protected) in enumerate(pieces):
            new, n = (text, 0)
            if text and (not protected or answers_too):
                new, n = _keep_edges(perturber, text, f"{qid}|context|{k}")
            if protected:
                new_at[k] = (pos, text, new)
            out.append(new)
            pos += len(new)
            edits += n
        new_ctx = "".join(out)
        new_starts, new_texts = [], []
        old_pos = {k: sum(len(t) for t, _ in pieces[:k]) for k in new_at}
        for s, t in zip(starts, texts):
            k = next(k for k in new_at if old_pos[k] <= s and s + len(t) <= old_pos[k] + len(pieces[k][0]))
            base, old, new = new_at[k]
            a, b = s - old_pos[k], s - old_pos[k] + len(t)
            if old != new:  # the answer's interval was perturbed: map its ends through the edit
                a, b = _map_span(old, new, a, b)
            new_starts.append(base + a)
            new_texts.append(new_ctx[base + a : base + b])
        return new_ctx, new_starts, new_texts, edits

    def probe_note(self, side: str) -> str:
        return {
            "question": "the question is perturbed; contexts and gold answers are unchanged",
            "context": "the context outside the gold answers is perturbed (every answer kept character for "
            "character, answer_start recomputed); questions and gold answers are unchanged",
            "both": "the question and the context outside the gold answers are perturbed (answers kept, "
            "answer_start recomputed)",
            "with_answers": "the question and the whole context, the gold answer spans included, are perturbed: "
            "the gold answers are rewritten to the perturbed spans, so this probe scores against perturbed gold "
            "answers",
        }.get(side, "")

    def attack_example(self, row):
        pairs = [("question", row.get("text_a"), row.get("perturbed_text_a"))]
        if row.get("perturbed_text_b") not in (None, row.get("text_b")):  # the context was attacked too
            pairs.append(("context", row.get("text_b"), row.get("perturbed_text_b")))
        return pairs

    def prediction_change(self, row):
        """The gold answers, and the model's answer before -> after the attack (a changed
        answer marked as a whole: two spans rarely share characters worth marking)."""
        gold = " | ".join(row.get("answer_text") or [])
        before, after = escape(row.get("prediction") or ""), escape(row.get("perturbed_prediction") or "")
        if before != after:
            before, after = f"<del>{before}</del>", f"<ins>{after}</ins>"
        return f"<small>gold:</small> {escape(gold)}<br><small>answer:</small> {before} → {after}"

    def attack(self, model, lang, recipe, query_budget, alphabet, settings):
        return QAAttacker(self, model, lang, recipe, query_budget, alphabet, settings)


SPAN_QA = SpanQA()
