"""The extractive QA attack (issue 17): TextAttack, TextFlint and OpenAttack have no attack on
multilingual extractive QA, so the goal function is ours (QAAttacker)."""

from __future__ import annotations

import json
from collections import OrderedDict

import polars as pl

from xlrobust.formats.base import Attacker
from xlrobust.formats.span_qa.metric import question_scores
from xlrobust.formats.span_qa.spans import _map_span
from xlrobust.ta_parts import import_textattack, model_wrapper

# Weight of the gold span's probability in the QA goal's score: small enough that any
# change of F1 outranks it (F1 moves in steps of at least ~1/100 for answers under 100
# tokens), large enough to rank the words of a question by how much they hold the answer.
GOLD_PROBABILITY_WEIGHT = 0.01


class QAAttacker(Attacker):
    """Extractive QA (XQuAD, MLQA, TyDiQA-GoldP). TextAttack, TextFlint and OpenAttack
    have no attack on multilingual extractive QA, so the goal function is ours, and the
    rest is the recipe's TextAttack parts (transformation, constraints, search) as for
    classification.

    Goal: the attack succeeds when the F1 of the model's answer against the gold answers
    (the official SQuAD or MLQA rules of the dataset, max over gold answers) falls to
    AttackSettings.threshold or below (0.0: no token of any gold answer left); an
    example already there is skipped. The score the search maximises is
    (1 - F1) + GOLD_PROBABILITY_WEIGHT x (1 - p(gold span)), p as the QA pipeline scores
    a span (softmax start x softmax end over the window's context): the analogue of
    1 - p(true class) in TextAttack's untargeted classification, so a greedy search
    ranks words and keeps edits that weaken the gold answer before the answer flips.

    What changes: the question; with `context=True` also the context's words outside
    every gold answer (a word touching an answer is never modified, so the gold answers
    stay valid). The gold answers stay in the attacker (TextAttack's Attack.attack
    takes a str ground truth: it gets the answers as JSON, for its logs)."""

    schema = {
        "answer_text": pl.List(pl.String),
        "scoring": pl.String,
        "text_a": pl.String,
        "text_b": pl.String,
        "perturbed_text_a": pl.String,
        "perturbed_text_b": pl.String,
        "prediction": pl.String,
        "perturbed_prediction": pl.String,
        "f1": pl.Float64,
        "perturbed_f1": pl.Float64,
    }

    def __init__(self, fmt, model, lang, recipe, query_budget, alphabet, settings=None, context: bool = False):
        self.context = context
        self.threshold = float((settings or {}).get("threshold") or 0.0)
        self.ex: dict = {}
        self.protected: set[int] = set()
        super().__init__(fmt, model, lang, recipe, query_budget, alphabet, settings)

    # ---- TextAttack parts
    def goal(self, query_budget):
        ta = import_textattack()
        from textattack.goal_function_results import TextToTextGoalFunctionResult

        attacker = self

        class QAGoal(ta.goal_functions.GoalFunction):
            """F1 of the answer against the gold answers falls to the threshold or below."""

            def _process_model_outputs(self, inputs, outputs):
                return outputs

            def _goal_function_result_type(self):
                return TextToTextGoalFunctionResult

            def _is_goal_complete(self, model_output, _):
                return model_output[1] <= attacker.threshold

            def _get_score(self, model_output, _):
                return (1.0 - model_output[1]) + GOLD_PROBABILITY_WEIGHT * (1.0 - model_output[2])

            def _get_displayed_output(self, raw_output):
                return raw_output[0]

        # (question, context) pairs in; (answer, F1, p(gold span)) per pair out
        return QAGoal(model_wrapper(self.model.model, self.query), query_budget=query_budget)

    def constraints(self):
        ta = import_textattack()
        attacker = self

        class QAWords(ta.constraints.PreTransformationConstraint):
            """Only the question's words (and, when the context is attacked, the context's
            words outside the gold answers) may change."""

            def _get_modifiable_indices(self, current_text):
                return attacker.modifiable(current_text)

        return [QAWords()]

    # ---- per example
    def prepare(self, ex):
        from textattack.shared import AttackedText

        self.ex = ex
        self.attack_.clear_cache()  # cached model outputs hold the previous example's F1 and gold probability
        self.protected = set()
        if self.context:  # the words of the original context that touch a gold answer
            text = AttackedText(self.inputs(ex)[0])
            q_words, c_words = text.words_per_input
            spans = [(s, s + len(t)) for s, t in zip(ex["answer_start"], ex["answer_text"])]
            cursor = 0
            for k, w in enumerate(c_words):
                at = ex["text_b"].find(w, cursor)
                if at < 0:  # cannot place the word: keep it
                    self.protected.add(len(q_words) + k)
                    continue
                cursor = at + len(w)
                if any(at < e and s < at + len(w) for s, e in spans):
                    self.protected.add(len(q_words) + k)

    def modifiable(self, current_text) -> set[int]:
        words = current_text.words_per_input
        n_question = len(words[0])
        allowed = set(range(n_question))
        if self.context and sum(map(len, words)) == len(current_text.words):
            index_map = current_text.attack_attrs["original_index_map"]
            protected = {int(index_map[i]) for i in self.protected if i < len(index_map) and index_map[i] >= 0}
            allowed |= set(range(n_question, len(current_text.words))) - protected
        return allowed

    def inputs(self, ex):
        return OrderedDict([("question", ex["text_a"]), ("context", ex["text_b"])]), json.dumps(
            ex["answer_text"], ensure_ascii=False
        )

    def query(self, inputs) -> list[tuple[str, float, float]]:
        """The model's answer to each (question, context), its F1 against the gold answers
        and the probability of the gold span (located in a perturbed context through the
        alignment with the original: the answers' own words never change)."""
        ex = self.ex
        rows = []
        for i, (q, c) in enumerate(inputs):
            starts = list(ex["answer_start"])
            if c != ex["text_b"]:
                starts = [_map_span(ex["text_b"], c, s, s + len(t))[0] for s, t in zip(starts, ex["answer_text"])]
            rows.append(
                {
                    "id": str(i),
                    "lang": ex["lang"],
                    "text_a": q,
                    "text_b": c,
                    "answer_start": starts,
                    "answer_text": list(ex["answer_text"]),
                    "scoring": ex["scoring"],
                }
            )
        df = pl.DataFrame(rows, schema=self.fmt.schema)
        preds, p_gold = self.fmt.answers_and_gold_probability(self.model, df)
        f1 = [question_scores(p, ex["answer_text"], ex["lang"], ex["scoring"])[1] for p in preds]
        return list(zip(preds, f1, p_gold))

    def row(self, result, ex):
        question, context = result.perturbed_result.attacked_text._text_input.values()
        before, after = result.original_result.raw_output, result.perturbed_result.raw_output
        attacked = result.original_result.attacked_text.words_per_input
        return {
            "words_total": len(attacked[0]) + (len(attacked[1]) - len(self.protected) if self.context else 0),
            "answer_text": ex["answer_text"],
            "scoring": ex["scoring"],
            "text_a": ex["text_a"],
            "text_b": ex["text_b"],
            "perturbed_text_a": question,
            "perturbed_text_b": context,
            "prediction": before[0],
            "perturbed_prediction": after[0],
            "f1": float(before[1]),
            "perturbed_f1": float(after[1]),
        }
