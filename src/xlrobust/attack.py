"""Adaptive attacks with TextAttack, composed from its parts (transformation,
constraints, search, goal), with per-language stopwords.

The model wrapper pads each query batch to its own longest row instead of TextAttack's
fixed tokenizer maximum, which is where stock attacks spend their time.
A killed attack resumes: finished examples are appended to `<resume dir>/<lang>.jsonl`
and skipped when the same job (model, data, settings) runs again.
"""

from __future__ import annotations

import functools
import json
import shutil
import zlib
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.io import read_examples, write_parquet
from xlrobust.perturb import frame_alphabet
from xlrobust.resume import claim
from xlrobust.sampling import in_sample_order
from xlrobust.ta_parts import import_textattack

RECIPES = ("deepwordbug", "pruthi", "textbugger", "xl_charbug")
RECIPE_NOTES = {
    "deepwordbug": "TextAttack's DeepWordBug composition; script-aware letters outside Latin (same as stock on English)",
    "pruthi": "TextAttack's Pruthi2019 composition; the language's keyboard layout instead of English QWERTY",
    "textbugger": "character bugs of TextBugger only (insert space, delete, swap, visually similar character): its word-embedding "
    "swap and Universal Sentence Encoder constraint need downloads that are unavailable offline",
    "xl_charbug": "multilingual character recipe: grapheme edits with the language's own letters and keyboard, "
    "per-language stopwords, DeepWordBug's greedy word-importance search",
}


def build(recipe: str, goal, lang: str, query_budget: int, alphabet: dict | None = None, extra=()):
    """Compose a recipe from TextAttack's building blocks (see RECIPE_NOTES) around a goal
    function (a model wrapper: the untargeted classification goal); `extra` constraints
    come before the recipe's (e.g. which input columns may change)."""
    ta = import_textattack()
    from textattack.constraints.overlap import LevenshteinEditDistance, MaxWordsPerturbed
    from textattack.constraints.pre_transformation import MinWordLength, RepeatModification, StopwordModification
    from textattack.goal_functions import UntargetedClassification
    from textattack.search_methods import GreedySearch, GreedyWordSwapWIR
    from textattack.transformations import CompositeTransformation

    from xlrobust.stopwords import stopwords
    from xlrobust.ta_parts import install_word_splitter, make_char_swap

    if recipe not in RECIPES:
        raise XlrobustError(f"unknown attack recipe '{recipe}'; known: {', '.join(RECIPES)}")
    install_word_splitter()
    Char = make_char_swap()
    alphabet = alphabet or {}
    ops = lambda names, **kw: [Char(op, lang, alphabet, **kw) for op in names]  # noqa: E731
    stop = StopwordModification(stopwords=sorted(stopwords(lang)))
    if not isinstance(goal, ta.goal_functions.GoalFunction):
        goal = UntargetedClassification(goal, query_budget=query_budget)
    if recipe == "deepwordbug":  # Gao et al. 2018, as textattack.attack_recipes.DeepWordBugGao2018
        transformation = CompositeTransformation(ops(["swap", "substitute", "delete", "insert"]))
        constraints = [RepeatModification(), stop, LevenshteinEditDistance(30)]
        search = GreedyWordSwapWIR()
    elif recipe == "pruthi":  # Pruthi et al. 2019, as textattack.attack_recipes.Pruthi2019
        transformation = CompositeTransformation(
            ops(["swap", "delete", "insert", "keyboard"], random_one=False, skip_first_char=True, skip_last_char=True)
        )
        constraints = [MinWordLength(min_length=4), stop, MaxWordsPerturbed(max_num_words=1), RepeatModification()]
        search = GreedySearch()
    elif recipe == "textbugger":  # Li et al. 2019, character bugs only (see RECIPE_NOTES)
        transformation = CompositeTransformation(
            [
                Char("insert", lang, alphabet, skip_first_char=True, skip_last_char=True, letters_to_insert=" "),
                Char("delete", lang, alphabet, skip_first_char=True, skip_last_char=True),
                Char("swap", lang, alphabet, skip_first_char=True, skip_last_char=True),
                Char("homoglyph", lang, alphabet),
            ]
        )
        constraints = [RepeatModification(), stop]
        search = GreedyWordSwapWIR(wir_method="delete")
    else:  # xl_charbug: DeepWordBug's search with script-aware edits and the language's keyboard
        latin = "".join(alphabet.get(("LATIN", False), [])) + "".join(alphabet.get(("LATIN", True), []))
        transformation = CompositeTransformation(
            ops(["swap", "substitute", "delete", "insert", "keyboard"], latin=latin)
        )
        constraints = [RepeatModification(), stop, LevenshteinEditDistance(30)]
        search = GreedyWordSwapWIR()
    return ta.Attack(goal, [*extra, *constraints], transformation, search)


def example_seed(seed: int, example_id: str) -> int:
    """The seed of one attacked example: numpy takes seeds below 2^32, so the sum wraps."""
    return (seed + zlib.crc32(example_id.encode())) % 2**32


# TextAttack's result class -> the `status` column
STATUS = {
    "SuccessfulAttackResult": "succeeded",
    "FailedAttackResult": "failed",
    "SkippedAttackResult": "skipped",
    "MaximizedAttackResult": "failed",
}


class Attacker:
    """One attack recipe against one model on one language: the format-independent part
    (recipe composition, per-example seeds, result bookkeeping). A format's attacker says
    what is attacked (`inputs`), what counts as success (`goal`), which inputs may change
    (`constraints`) and what a result row holds (`row`)."""

    def __init__(self, fmt, model, lang: str, recipe: str, query_budget: int, alphabet: dict, settings=None):
        self.fmt, self.model, self.lang, self.settings = fmt, model, lang, settings or {}
        self.attack_ = build(recipe, self.goal(query_budget), lang, query_budget, alphabet, self.constraints())

    def goal(self, query_budget: int):
        raise NotImplementedError

    def constraints(self) -> list:
        return []

    def inputs(self, ex: dict):
        """(TextAttack input: a text or an OrderedDict of columns, ground truth output)."""
        raise NotImplementedError

    def row(self, result, ex: dict) -> dict:
        raise NotImplementedError

    def __call__(self, ex: dict) -> dict:
        self.prepare(ex)
        result = self.attack_.attack(*self.inputs(ex))
        status = STATUS[type(result).__name__]
        orig, pert = result.original_result.attacked_text, result.perturbed_result.attacked_text
        return {
            "id": ex["id"],
            "lang": ex["lang"],
            "status": status,
            "num_queries": int(result.num_queries),
            "words_perturbed": len(orig.all_words_diff(pert)) if status == "succeeded" else 0,
            "words_total": len(orig.words),
            **self.row(result, ex),
        }

    def prepare(self, ex: dict) -> None:
        """Per-example state the model wrapper needs (nothing by default)."""

    def start(self, table: pl.DataFrame) -> None:
        """The attacked language's whole table, before its first example (a retrieval
        attacker embeds its candidate pool); nothing by default."""


class ClassificationAttacker(Attacker):
    """TextAttack's untargeted classification goal over our length-sorted, dynamically
    padded classifier (TextAttack's HuggingFaceModelWrapper pads every query to the
    tokenizer maximum)."""

    schema = {
        "label": pl.Int64,
        "text_a": pl.String,
        "text_b": pl.String,
        "perturbed_text_a": pl.String,
        "perturbed_text_b": pl.String,
        "pred": pl.Int64,
        "perturbed_pred": pl.Int64,
    }

    def goal(self, query_budget):
        return make_wrapper(self.fmt, self.model)

    def inputs(self, ex):
        text = (
            ex["text_a"] if ex["text_b"] is None else OrderedDict([("text_a", ex["text_a"]), ("text_b", ex["text_b"])])
        )
        return text, int(ex["label"])

    def row(self, result, ex):
        cols = list(result.perturbed_result.attacked_text._text_input.values())
        return {
            "label": ex["label"],
            "text_a": ex["text_a"],
            "text_b": ex["text_b"],
            "perturbed_text_a": cols[0],
            "perturbed_text_b": cols[1] if len(cols) > 1 else None,
            "pred": int(result.original_result.output),
            "perturbed_pred": int(result.perturbed_result.output),
        }


def make_wrapper(fmt, model=None):
    """A TextAttack model wrapper over `model` (a predict.Model; `make_wrapper(model)`
    takes the model's own format)."""
    if model is None:
        from xlrobust.formats import get_format

        model = fmt
        fmt = getattr(model, "fmt", None) or get_format("classify")
    ta = import_textattack()

    class Wrapper(ta.models.wrappers.ModelWrapper):
        """TextAttack model wrapper: texts (or pairs) in, the format's logits out."""

        def __init__(self):
            self.model = model.model

        def __call__(self, inputs):
            if inputs and isinstance(inputs[0], tuple):
                return fmt.logits(model, [a for a, _ in inputs], [b for _, b in inputs])
            return fmt.logits(model, list(inputs))

    return Wrapper()


class ChoiceAttacker(Attacker):
    """Multiple choice (XCOPA): the classification goal over the chosen alternative; the
    context and the choices may change, the question word stays."""

    schema = {
        "label": pl.Int64,
        "text_a": pl.String,
        "text_b": pl.String,
        "choices": pl.List(pl.String),
        "perturbed_text_a": pl.String,
        "perturbed_choices": pl.List(pl.String),
        "pred": pl.Int64,
        "perturbed_pred": pl.Int64,
    }

    def goal(self, query_budget):
        ta = import_textattack()
        attacker = self

        class Wrapper(ta.models.wrappers.ModelWrapper):
            def __init__(self):
                self.model = attacker.model.model

            def __call__(self, inputs):
                q = attacker.question
                rows = [
                    {
                        "id": str(i),
                        "lang": attacker.lang,
                        "text_a": t[0],
                        "text_b": q,
                        "choices": list(t[1:]),
                        "label": 0,
                    }
                    for i, t in enumerate(inputs)
                ]
                return attacker.fmt.logits(attacker.model, pl.DataFrame(rows, schema=attacker.fmt.schema))

        from textattack.goal_functions import UntargetedClassification

        return UntargetedClassification(Wrapper(), query_budget=query_budget)

    def prepare(self, ex):
        self.question = ex["text_b"]

    def inputs(self, ex):
        cols = [("text_a", ex["text_a"])] + [(f"choice{i}", c) for i, c in enumerate(ex["choices"])]
        return OrderedDict(cols), int(ex["label"])

    def row(self, result, ex):
        cols = list(result.perturbed_result.attacked_text._text_input.values())
        return {
            "label": ex["label"],
            "text_a": ex["text_a"],
            "text_b": ex["text_b"],
            "choices": ex["choices"],
            "perturbed_text_a": cols[0],
            "perturbed_choices": cols[1:],
            "pred": int(result.original_result.output),
            "perturbed_pred": int(result.perturbed_result.output),
        }


# ---- extractive QA attack (issue 17)
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

        class Wrapper(ta.models.wrappers.ModelWrapper):
            """(question, context) pairs in; (answer, F1, p(gold span)) per pair out."""

            def __init__(self):
                self.model = attacker.model.model

            def __call__(self, inputs):
                return attacker.query(inputs)

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

        return QAGoal(Wrapper(), query_budget=query_budget)

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
        import json

        return OrderedDict([("question", ex["text_a"]), ("context", ex["text_b"])]), json.dumps(
            ex["answer_text"], ensure_ascii=False
        )

    def query(self, inputs) -> list[tuple[str, float, float]]:
        """The model's answer to each (question, context), its F1 against the gold answers
        and the probability of the gold span (located in a perturbed context through the
        alignment with the original: the answers' own words never change)."""
        from xlrobust.formats.span_qa import _map_span, question_scores

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


# ---- tagging attack (issue 18)
# TextAttack has no attack on token classification (its NamedEntityRecognition goal sums pipeline
# confidences, eval_reference.md §8a). Ours attacks the sentence as its tokens joined by spaces, with
# TextAttack's words = exactly those tokens (AttackedText.words would drop punctuation and split
# "U.S.", eval_reference.md §8b), so the i-th word is the i-th tagged token throughout; a constraint
# rejects every candidate that adds or removes a word (TextBugger's space insertion, an emptied
# word), so the gold tags stay aligned with the perturbed tokens.
INNER_SPACE = "\u2060"  # WORD JOINER: stands for whitespace inside a token (a UD token "10 000") while attacked


def _token_words(s: str, words_to_ignore=[]):  # noqa: B006 (TextAttack's signature)
    return [w for w in s.split() if w not in words_to_ignore]


@contextmanager
def token_words():
    """TextAttack's words are whitespace-separated tokens while the block runs (TextAttack
    reads its splitter from its attacked_text module's globals)."""
    import textattack.shared.attacked_text as at

    saved = at.words_from_text
    at.words_from_text = _token_words
    try:
        yield
    finally:
        at.words_from_text = saved


def tokens_text(tokens: list[str]) -> str:
    return " ".join(INNER_SPACE.join(t.split()) if t.strip() else INNER_SPACE for t in tokens)


def text_tokens(text: str) -> list[str]:
    return [w.replace(INNER_SPACE, " ") for w in text.split()]


@functools.cache
def tagging_goal():
    """The TextAttack goal function of TaggingAttacker (a class built once textattack is imported)."""
    ta = import_textattack()
    from textattack.goal_function_results import TextToTextGoalFunctionResult
    from textattack.shared import validators

    from xlrobust.formats.tagging import sentence_score

    class TaggingGoal(ta.goal_functions.GoalFunction):
        def __init__(self, wrapper, attacker, bio: bool, threshold: float, any_change: bool, **kwargs):
            self.attacker, self.bio, self.threshold, self.any_change = attacker, bio, threshold, any_change
            super().__init__(wrapper, **kwargs)

        def _process_model_outputs(self, inputs, outputs):
            return list(outputs)

        def _reference(self, tags, attacked_text):
            """The reference tags (gold, or the clean prediction) of the words this text has."""
            ref = self.attacker.reference if self.any_change else self.attacker.gold
            where = attacked_text.attack_attrs["original_index_map"]
            kept = sorted((int(new), j) for j, new in enumerate(where) if new >= 0)
            aligned = [ref[j] for _, j in kept]
            return aligned if len(aligned) == len(tags) else None

        def _score(self, tags, attacked_text) -> float:
            """The sentence's F1 / accuracy against the reference (any_change: 1 = the clean
            prediction's entities, or tags, exactly)."""
            if self.any_change and self.attacker.reference is None:
                self.attacker.reference = list(tags)  # the first call is the clean sentence
            ref = self._reference(tags, attacked_text)
            return 1.0 if ref is None else sentence_score(ref, tags, self.bio)

        def _is_goal_complete(self, model_output, attacked_text):
            score = self._score(model_output, attacked_text)
            return score < 1.0 if self.any_change else score <= self.threshold

        def _get_score(self, model_output, attacked_text):
            return 1.0 - self._score(model_output, attacked_text)

        def _goal_function_result_type(self):
            return TextToTextGoalFunctionResult

        def _get_displayed_output(self, raw_output):
            return list(raw_output)

    # which model classes the goal fits (TextAttack logs a warning for a goal it does not know)
    validators.MODELS_BY_GOAL_FUNCTION[TaggingGoal] = [r"^transformers\.models\..*ForTokenClassification$"]
    return TaggingGoal


class TaggingAttacker(Attacker):
    """Untargeted attack on a tagger, one sentence at a time. Success: the sentence's entity F1
    (NER) or token accuracy (POS) against the gold tags falls to AttackSettings.threshold or
    below; or, with `any_change`, any predicted entity (POS: tag) differs from the clean
    prediction. The search follows 1 - that score (TextAttack maximises a goal's score). A
    word-importance ranking that deletes words (TextBugger) is scored on the remaining words,
    aligned through AttackedText's original_index_map."""

    schema = {
        "tokens": pl.List(pl.String),
        "tags": pl.List(pl.String),
        "perturbed_tokens": pl.List(pl.String),
        "pred_tags": pl.List(pl.String),
        "perturbed_pred_tags": pl.List(pl.String),
    }

    def goal(self, query_budget):
        from xlrobust.formats.tagging import is_bio

        ta = import_textattack()
        fmt, model = self.fmt, self.model

        class Wrapper(ta.models.wrappers.ModelWrapper):
            def __init__(self):
                self.model = model.model

            def __call__(self, texts):
                return fmt.pred_tags(model, [text_tokens(t) for t in texts])

        labels = [model.model.config.id2label[i] for i in range(model.num_labels)]
        return tagging_goal()(
            Wrapper(),
            attacker=self,
            bio=is_bio(labels),
            threshold=float(self.settings.get("threshold", 0.0)),
            any_change=bool(self.settings.get("any_change", False)),
            query_budget=query_budget,
            model_batch_size=max(32, model.batch_size),
        )

    def constraints(self):
        ta = import_textattack()

        class SameTokens(ta.constraints.Constraint):
            """The perturbed sentence has the original's tokens, each edited at most: no word
            added, split or emptied (so each gold tag keeps its token)."""

            def __init__(self):
                super().__init__(compare_against_original=True)

            def _check_constraint(self, transformed_text, reference_text):
                return len(transformed_text.words) == len(reference_text.words)

        return [SameTokens()]

    def prepare(self, ex):
        self.gold, self.reference = list(ex["tags"]), None

    def inputs(self, ex):
        return tokens_text(ex["tokens"]), str(ex["id"])

    def __call__(self, ex):
        with token_words():
            return super().__call__(ex)

    def row(self, result, ex):
        perturbed = text_tokens(result.perturbed_result.attacked_text.text)
        if len(perturbed) != len(ex["tokens"]):  # SameTokens forbids it: a broken invariant, not bad input
            raise RuntimeError(f"sentence {ex['id']}: the attack changed the number of tokens")
        return {
            "tokens": list(ex["tokens"]),
            "tags": list(ex["tags"]),
            "perturbed_tokens": perturbed,
            "pred_tags": list(result.original_result.output),
            "perturbed_pred_tags": list(result.perturbed_result.output),
        }


# ---- retrieval attack (issue 19)


def nearest_goal(model_wrapper, query_budget: int):
    """TextAttack's untargeted classification goal with the candidates as classes and
    cosine similarities as scores: it succeeds when the gold candidate is no longer the
    nearest (another is strictly nearer: ties as in formats.retrieval.neighbours). Its score is the margin of the best other candidate over the gold one (> 0:
    succeeded), not 1 - softmax(gold): over a pool of 1000 near-equal similarities a
    softmax is flat, and the margin is what the search has to push past zero."""
    import torch

    import_textattack()
    from textattack.goal_functions import UntargetedClassification

    class NearestNeighbourGoal(UntargetedClassification):
        def _process_model_outputs(self, inputs, scores):
            scores = torch.as_tensor(np.asarray(scores) if isinstance(scores, list) else scores)
            if scores.ndim == 1 and len(inputs) == 1:
                scores = scores.unsqueeze(0)
            if scores.ndim != 2 or scores.shape[0] != len(inputs):
                raise ValueError(f"similarities of shape {tuple(scores.shape)} for {len(inputs)} queries")
            return scores.cpu()  # similarities, not probabilities: no softmax

        def _is_goal_complete(self, model_output, _):
            return self._get_score(model_output, _) > 0  # a tie with the gold is still a hit (formats.retrieval)

        def _get_displayed_output(self, raw_output):
            """The nearest candidate, the gold when it ties for nearest (retrieval.neighbours)."""
            gold = self.ground_truth_output
            return gold if float(raw_output[gold]) >= float(raw_output.max()) else int(raw_output.argmax())

        def _get_score(self, model_output, _):
            gold = float(model_output[self.ground_truth_output])
            others = torch.cat([model_output[: self.ground_truth_output], model_output[self.ground_truth_output + 1 :]])
            return float(others.max()) - gold if len(others) else -1.0

    return NearestNeighbourGoal(model_wrapper, query_budget=query_budget)


class RetrievalAttacker(Attacker):
    """Retrieval (Tatoeba): the query, the non-English sentence, is edited until its English
    translation is no longer its nearest neighbour among the language's English sentences
    (the candidate pool of prediction, embedded once per language). Recorded: the nearest
    candidate and the gold's rank (1 = nearest) before and after."""

    schema = {
        "text_a": pl.String,
        "text_b": pl.String,
        "perturbed_text_a": pl.String,
        "nearest": pl.String,
        "perturbed_nearest": pl.String,
        "nearest_text": pl.String,
        "perturbed_nearest_text": pl.String,
        "rank": pl.Int64,
        "perturbed_rank": pl.Int64,
    }

    def goal(self, query_budget):
        ta = import_textattack()
        attacker = self

        class Wrapper(ta.models.wrappers.ModelWrapper):
            """Queries in, their cosine similarities to every candidate out."""

            def __init__(self):
                self.model = attacker.model.model

            def __call__(self, inputs):
                return attacker.fmt.embed(attacker.model, list(inputs)) @ attacker.pool.T

        return nearest_goal(Wrapper(), query_budget)

    def start(self, table):
        self.ids = table["id"].to_list()
        self.position = {i: k for k, i in enumerate(self.ids)}
        self.candidates = table["text_b"].to_list()
        self.pool = self.fmt.embed(self.model, self.candidates)

    def inputs(self, ex):
        return ex["text_a"], self.position[ex["id"]]

    def row(self, result, ex):
        gold = self.position[ex["id"]]
        ranks = [
            1 + int((r.raw_output > r.raw_output[gold]).sum())
            for r in (result.original_result, result.perturbed_result)
        ]
        before, after = int(result.original_result.output), int(result.perturbed_result.output)
        return {
            "text_a": ex["text_a"],
            "text_b": ex["text_b"],
            "perturbed_text_a": result.perturbed_result.attacked_text.text,
            "nearest": self.ids[before],
            "perturbed_nearest": self.ids[after],
            "nearest_text": self.candidates[before],
            "perturbed_nearest_text": self.candidates[after],
            "rank": ranks[0],
            "perturbed_rank": ranks[1],
        }


# ---- dual-encoder retrieval attack (issue 27)


class DualAttacker(Attacker):
    """Dual-encoder retrieval (LAReQA, Mewsli-X): the query is edited until none of its
    relevant candidates stays in the top K (20) of the whole multilingual pool (embedded
    once, as prediction does). TextAttack's goal sees the similarities to every candidate;
    its score is the K-th best irrelevant similarity minus the best relevant one (> 0: no
    relevant candidate left in the top K). Recorded: the relevant candidates' ranks before
    and after, what the attacked mAP@20 is computed from."""

    schema = {
        "text_a": pl.String,
        "perturbed_text_a": pl.String,
        "nearest_text": pl.String,
        "perturbed_nearest_text": pl.String,
        "relevant": pl.Int64,
        "ranks": pl.List(pl.Int64),
        "perturbed_ranks": pl.List(pl.Int64),
    }

    def goal(self, query_budget):
        import torch

        ta = import_textattack()
        from textattack.goal_functions import UntargetedClassification

        attacker = self
        k = self.fmt.k

        class Wrapper(ta.models.wrappers.ModelWrapper):
            def __init__(self):
                self.model = attacker.model.model

            def __call__(self, inputs):
                return attacker.fmt.embed_queries(attacker.model, list(inputs)) @ attacker.pool.T

        class OutOfTopK(UntargetedClassification):
            def _process_model_outputs(self, inputs, scores):
                scores = torch.as_tensor(np.asarray(scores) if isinstance(scores, list) else scores)
                return (scores.unsqueeze(0) if scores.ndim == 1 else scores).cpu()

            def _get_score(self, model_output, _):
                rel = attacker.gold
                best = float(model_output[rel].max())
                mask = torch.ones(len(model_output), dtype=torch.bool)
                mask[rel] = False
                others = torch.sort(model_output[mask], descending=True).values
                return float(others[k - 1]) - best if len(others) >= k else -1.0

            def _is_goal_complete(self, model_output, _):
                return self._get_score(model_output, _) > 0

        return OutOfTopK(Wrapper(), query_budget=query_budget)

    def start(self, table):
        from xlrobust.formats.dual import pool_of

        pool, rel = pool_of(table)
        self.candidates = pool["text_b"].to_list()
        self.by_group = {g: np.asarray(v) for g, v in rel.group_by("group").agg("cand").iter_rows()}
        self.pool = self.fmt.candidate_vectors(self.model, pool)

    def prepare(self, ex):
        self.gold = self.by_group.get(ex["group"], np.zeros(0, dtype=np.int64))
        if len(self.gold) == 0:
            raise XlrobustError(f"example {ex['id']}: no candidate of its group '{ex['group']}' in the pool")

    def inputs(self, ex):
        return ex["text_a"], 0  # the goal reads the relevant candidates from `self.gold`

    def row(self, result, ex):
        ranks = [
            sorted(1 + int((r.raw_output > r.raw_output[g]).sum()) for g in self.gold)
            for r in (result.original_result, result.perturbed_result)
        ]
        nearest = [
            self.candidates[int(r.raw_output.argmax())] for r in (result.original_result, result.perturbed_result)
        ]
        return {
            "text_a": ex["text_a"],
            "perturbed_text_a": result.perturbed_result.attacked_text.text,
            "nearest_text": nearest[0],
            "perturbed_nearest_text": nearest[1],
            "relevant": len(self.gold),
            "ranks": ranks[0],
            "perturbed_ranks": ranks[1],
        }


KEYS = {
    "model": pl.String,
    "recipe": pl.String,
    "target": pl.String,
    "seed": pl.Int64,
    "probe": pl.String,
    "rate": pl.Float64,
    "pseed": pl.Int64,
    "format": pl.String,
    "precision": pl.String,
    "train_precision": pl.String,
}
COMMON = {
    "id": pl.String,
    "lang": pl.String,
    "status": pl.String,
    "num_queries": pl.Int64,
    "words_perturbed": pl.Int64,
    "words_total": pl.Int64,
}


def attack(
    model_dir: str,
    data: str,
    langs: list[str],
    recipe: str,
    max_examples: int | None = None,
    query_budget: int | None = None,
    outs: list[str] | None = None,
    seed: int | None = None,
    max_length: int | None = None,
    resume_dir: str | None = None,
    run: dict | None = None,
    fmt_name: str | None = None,
    settings: dict | None = None,
    layer: int | None = None,
) -> None:
    """Attack the first `max_examples` examples of each language in the data's sample order
    (xlrobust.sampling.in_sample_order); `outs[i]` gets `langs[i]`.
    Progress goes to `resume_dir` (default: `.attack-progress` next to the first output).
    `settings` (xlrobust.settings.AttackSettings fields) fill what is not given (a seed in
    `settings` wins over `seed`)."""
    from xlrobust.formats import get_format
    from xlrobust.models import check_model_dir
    from xlrobust.predict import Model, check_fits, format_of_model
    from xlrobust.settings import AttackSettings, defaults

    opts = {**defaults(AttackSettings), **(settings or {})}
    max_examples = max_examples or opts["max_examples"]
    query_budget = query_budget or opts["query_budget"]
    seed = opts["seed"] if seed is None or "seed" in (settings or {}) else seed
    outs = outs or []
    # Every check a user's input can fail comes before importing textattack (~8 s).
    if len(langs) != len(outs):
        raise XlrobustError(f"--lang has {len(langs)} value(s) but --out has {len(outs)}; give one output per language")
    if recipe not in RECIPES:
        raise XlrobustError(f"unknown attack recipe '{recipe}'; known: {', '.join(RECIPES)}")
    check_model_dir(model_dir, need_tokenizer=True)
    fmt = get_format(fmt_name) if fmt_name else format_of_model(model_dir)
    if not fmt_name:
        check_fits(model_dir, fmt, [data])
    full = [read_examples(data, lang, fmt) for lang in langs]  # fail on bad input before loading the model
    fmt.check_model(model_dir, pl.concat(full), data)
    print(f"recipe {recipe}: {RECIPE_NOTES[recipe]}", flush=True)
    model = Model(model_dir, fmt, max_length=max_length, layer=layer, precision=opts["precision"], stage="attack")
    print(f"precision {model.precision} on {model.device.type}", flush=True)
    set_seed = import_textattack().shared.utils.set_seed
    progress = Path(resume_dir) if resume_dir else Path(outs[0]).parent / ".attack-progress"
    if claim(
        progress,
        inputs=[model_dir, data],
        settings={
            "recipe": recipe,
            "langs": langs,
            "max_examples": max_examples,
            "query_budget": query_budget,
            "seed": seed,
            "max_length": max_length,
            "layer": layer,
            "threshold": opts["threshold"],
            "any_change": opts["any_change"],
            "precision": model.precision,
            "run": run or {},
        },
    ):
        print(f"resuming from {progress}", flush=True)
    keys = {**(run or {}), "probe": f"attack:{recipe}", "rate": None, "pseed": None, "format": fmt.name}
    keys.update(precision=model.precision, train_precision=model.train_precision)
    for lang, whole, out in zip(langs, full, outs):
        attacker = fmt.attack(model, lang, recipe, query_budget, frame_alphabet(whole), opts)  # the language's letters
        attacker.start(fmt.attack_pool(data, whole))
        rows = fmt.attack_rows(whole)
        df = (in_sample_order(rows, lang, data) if fmt.rows_cappable else rows).head(max_examples)
        partial = progress / f"{lang}.jsonl"
        done = {}
        if partial.exists():
            for line in partial.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    done[row["id"]] = row
                except json.JSONDecodeError:
                    break  # a line cut by a kill: redo from there
        with open(partial, "w", encoding="utf-8") as fh:  # rewrite the intact prefix
            for row in done.values():
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            for ex in df.iter_rows(named=True):
                if ex["id"] in done:
                    continue
                set_seed(example_seed(seed, ex["id"]))  # per example: a resumed run draws the same
                row = attacker(ex)
                done[ex["id"]] = row
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                fh.flush()
        rows = [done[i] for i in df["id"].to_list()]
        table = pl.DataFrame(rows, schema={**COMMON, **attacker.schema})
        table = table.select(*(pl.lit(keys.get(k), dtype=t).alias(k) for k, t in KEYS.items()), pl.all())
        write_parquet(table, out, "attack")
        print(f"{lang}: {table['status'].value_counts().sort('status').rows()} -> {out}", flush=True)
    shutil.rmtree(progress)


# ---- mining attack (issue 26)


def mined_goal(model_wrapper, query_budget: int):
    """Succeeds when the attacked gold pair leaves the mined set (at the clean threshold).
    The wrapper returns [the pair's margin (-1e3 when it is not mined), the threshold]:
    class 0 ("still mined") wins while margin >= threshold; the score the search raises is
    threshold - margin (> 0: broken)."""
    import torch

    import_textattack()
    from textattack.goal_functions import UntargetedClassification

    class MinedPairGoal(UntargetedClassification):
        def _process_model_outputs(self, inputs, scores):
            scores = torch.as_tensor(np.asarray(scores, dtype=np.float64))
            return scores.reshape(len(inputs), 2).cpu()  # margins, not probabilities: no softmax

        def _is_goal_complete(self, model_output, _):
            return float(model_output[0]) < float(model_output[1])

        def _get_score(self, model_output, _):
            return float(model_output[1]) - float(model_output[0])

    return MinedPairGoal(model_wrapper, query_budget=query_budget)


class MiningAttacker(Attacker):
    """Mining (BUCC): a gold pair's non-English sentence is edited until the pair is no longer
    mined at the clean threshold (re-mined exactly after each edit with
    xlrobust.formats.mining.Miner: the other sentences' vectors stay). Recorded: the sentence
    mined with it and its margin, before and after."""

    schema = {
        "text": pl.String,
        "perturbed_text": pl.String,
        "gold": pl.String,
        "gold_text": pl.String,
        "candidate": pl.String,
        "perturbed_candidate": pl.String,
        "candidate_text": pl.String,
        "perturbed_candidate_text": pl.String,
        "margin": pl.Float64,
        "perturbed_margin": pl.Float64,
        "threshold": pl.Float64,
    }

    def goal(self, query_budget):
        ta = import_textattack()
        attacker = self

        class Wrapper(ta.models.wrappers.ModelWrapper):
            def __init__(self):
                self.model = attacker.model.model

            def __call__(self, inputs):
                return np.array([attacker.outcome(text)[1:3] for text in inputs], dtype=np.float64)

        return mined_goal(Wrapper(), query_budget)

    def start(self, table):
        from xlrobust.formats.mining import Miner

        cache = self.model.__dict__.setdefault("_retrieval_cache", {})
        self.threshold = self.fmt.threshold(self.model, table, cache)
        test = table.filter(pl.col("part") == "test")
        (xx_texts, xx_ids), (en_texts, en_ids) = self.fmt.corpus(test)
        self.xx_texts, self.xx_ids, self.en_ids = xx_texts, xx_ids, en_ids
        self.en_text = dict(zip(test["id"].to_list(), test["text"].to_list()))
        self.position = {t: p for p, t in enumerate(xx_texts)}
        self.miner = Miner(self.fmt.embed(self.model, xx_texts, cache), self.fmt.embed(self.model, en_texts, cache))

    def prepare(self, ex):
        self.ex = ex
        self.i = self.position[ex["text"]]

    def outcome(self, text: str, floor: float | None = None) -> tuple[str | None, float, float, float | None]:
        """(the English id paired with the attacked sentence, the gold pair's margin or -1e3,
        the threshold, the sentence's own margin) when its text is `text`. The goal asks only
        about pairs at or above the threshold (`floor`, a shorter greedy pass); the recorded
        rows take every candidate (floor -inf), so a broken pair's margin after shows too."""
        i, th = self.i, self.threshold
        if text != self.xx_texts[i] and text in self.position:  # now a repeated text: XTREME drops it
            return None, -1e3, th, None
        v = self.fmt.embed(self.model, [text])[0]
        src, trg, score = self.miner.mine_with(i, v, floor=th if floor is None else floor)
        hit = np.nonzero(src == i)[0]
        if not len(hit) or self.xx_ids[i] is None:
            return None, -1e3, th, None
        en = self.en_ids[trg[hit[0]]]
        margin = float(score[hit[0]])
        return en, (margin if en == self.ex["gold"] and margin >= th else -1e3), th, margin

    def inputs(self, ex):
        return ex["text"], 0

    def row(self, result, ex):
        after_text = result.perturbed_result.attacked_text.text
        (b_en, _, th, b_margin), (a_en, _, _, a_margin) = (
            self.outcome(t, floor=-np.inf) for t in (ex["text"], after_text)
        )
        mined = lambda en, margin: en if margin is not None and margin >= th else None  # noqa: E731
        return {
            "text": ex["text"],
            "perturbed_text": after_text,
            "gold": ex["gold"],
            "gold_text": self.en_text.get(ex["gold"]),
            "candidate": mined(b_en, b_margin),  # the English sentence mined with it (at the threshold)
            "perturbed_candidate": mined(a_en, a_margin),
            "candidate_text": self.en_text.get(mined(b_en, b_margin)),
            "perturbed_candidate_text": self.en_text.get(mined(a_en, a_margin)),
            "margin": b_margin,  # its greedy pair's margin, above the threshold or not
            "perturbed_margin": a_margin,
            "threshold": th,
        }
