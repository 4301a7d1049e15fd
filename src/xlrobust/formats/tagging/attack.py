"""The tagging attack (issue 18): an untargeted attack on a tagger, one sentence at a time."""

from __future__ import annotations

import functools
from contextlib import contextmanager

import polars as pl

from xlrobust.formats.base import Attacker
from xlrobust.formats.tagging.tags import is_bio, sentence_score
from xlrobust.ta_parts import import_textattack, model_wrapper

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
        model = self.model
        labels = [model.model.config.id2label[i] for i in range(model.num_labels)]
        return tagging_goal()(
            model_wrapper(model.model, self.pred_tags),
            attacker=self,
            bio=is_bio(labels),
            threshold=float(self.settings.get("threshold", 0.0)),
            any_change=bool(self.settings.get("any_change", False)),
            query_budget=query_budget,
            model_batch_size=max(32, model.batch_size),
        )

    def pred_tags(self, texts):
        """The predicted tags of each attacked sentence (tokens joined by spaces)."""
        return self.fmt.pred_tags(self.model, [text_tokens(t) for t in texts])

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
