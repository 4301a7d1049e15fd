"""Adaptive attacks with TextAttack, composed from its parts (transformation,
constraints, search, goal), with per-language stopwords.

The model wrapper pads each query batch to its own longest row instead of TextAttack's
fixed tokenizer maximum, which is where stock attacks spend their time.
A killed attack resumes: finished examples are appended to `<resume dir>/<lang>.jsonl`
and skipped when the same job (model, data, settings) runs again.
"""

from __future__ import annotations

import json
import shutil
import zlib
from collections import OrderedDict
from pathlib import Path

import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.io import read_examples, write_parquet
from xlrobust.perturb import frame_alphabet
from xlrobust.resume import claim
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
DEFAULT_SEED = 765  # TextAttack's own default


def make_wrapper(clf):
    ta = import_textattack()

    class Wrapper(ta.models.wrappers.ModelWrapper):
        """TextAttack model wrapper over our length-sorted, dynamically padded Classifier."""

        def __init__(self, clf):
            self.model = clf.model
            self.clf = clf

        def __call__(self, inputs):
            if inputs and isinstance(inputs[0], tuple):
                return self.clf.logits([a for a, _ in inputs], [b for _, b in inputs])
            return self.clf.logits(list(inputs))

    return Wrapper(clf)


def build(recipe: str, wrapper, lang: str, query_budget: int, alphabet: dict | None = None):
    """Compose a recipe from TextAttack's building blocks (see RECIPE_NOTES)."""
    ta = import_textattack()
    from textattack.constraints.overlap import LevenshteinEditDistance, MaxWordsPerturbed
    from textattack.constraints.pre_transformation import (MinWordLength, RepeatModification,
                                                           StopwordModification)
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
    goal = UntargetedClassification(wrapper, query_budget=query_budget)
    if recipe == "deepwordbug":  # Gao et al. 2018, as textattack.attack_recipes.DeepWordBugGao2018
        transformation = CompositeTransformation(ops(["swap", "substitute", "delete", "insert"]))
        constraints = [RepeatModification(), stop, LevenshteinEditDistance(30)]
        search = GreedyWordSwapWIR()
    elif recipe == "pruthi":  # Pruthi et al. 2019, as textattack.attack_recipes.Pruthi2019
        transformation = CompositeTransformation(
            ops(["swap", "delete", "insert", "keyboard"], random_one=False, skip_first_char=True, skip_last_char=True))
        constraints = [MinWordLength(min_length=4), stop, MaxWordsPerturbed(max_num_words=1), RepeatModification()]
        search = GreedySearch()
    elif recipe == "textbugger":  # Li et al. 2019, character bugs only (see RECIPE_NOTES)
        transformation = CompositeTransformation([
            Char("insert", lang, alphabet, skip_first_char=True, skip_last_char=True, letters_to_insert=" "),
            Char("delete", lang, alphabet, skip_first_char=True, skip_last_char=True),
            Char("swap", lang, alphabet, skip_first_char=True, skip_last_char=True),
            Char("homoglyph", lang, alphabet),
        ])
        constraints = [RepeatModification(), stop]
        search = GreedyWordSwapWIR(wir_method="delete")
    else:  # xl_charbug: DeepWordBug's search with script-aware edits and the language's keyboard
        latin = "".join(alphabet.get(("LATIN", False), [])) + "".join(alphabet.get(("LATIN", True), []))
        transformation = CompositeTransformation(
            ops(["swap", "substitute", "delete", "insert", "keyboard"], latin=latin))
        constraints = [RepeatModification(), stop, LevenshteinEditDistance(30)]
        search = GreedyWordSwapWIR()
    return ta.Attack(goal, constraints, transformation, search)


def example_seed(seed: int, example_id: str) -> int:
    """The seed of one attacked example: numpy takes seeds below 2^32, so the sum wraps."""
    return (seed + zlib.crc32(example_id.encode())) % 2**32


# TextAttack's result class -> the `status` column
STATUS = {"SuccessfulAttackResult": "succeeded", "FailedAttackResult": "failed",
          "SkippedAttackResult": "skipped", "MaximizedAttackResult": "failed"}


def _row(result, ex: dict) -> dict:
    status = STATUS[type(result).__name__]
    orig, pert = result.original_result.attacked_text, result.perturbed_result.attacked_text
    cols = list(pert._text_input.values())
    return {
        "id": ex["id"], "lang": ex["lang"], "label": ex["label"], "status": status,
        "num_queries": int(result.num_queries),
        "words_perturbed": len(orig.all_words_diff(pert)) if status == "succeeded" else 0,
        "words_total": len(orig.words),
        "text_a": ex["text_a"], "text_b": ex["text_b"],
        "perturbed_text_a": cols[0], "perturbed_text_b": cols[1] if len(cols) > 1 else None,
        "pred": int(result.original_result.output), "perturbed_pred": int(result.perturbed_result.output),
    }


def attack(model_dir: str, data: str, langs: list[str], recipe: str, max_examples: int, query_budget: int,
           outs: list[str], seed: int = DEFAULT_SEED, max_length: int | None = None, resume_dir: str | None = None) -> None:
    """Attack the first `max_examples` examples of each language; `outs[i]` gets `langs[i]`.
    Progress goes to `resume_dir` (default: `.attack-progress` next to the first output)."""
    from xlrobust.models import check_labels, check_model_dir, num_labels
    from xlrobust.predict import Classifier

    # Every check a user's input can fail comes before importing textattack (~8 s).
    if len(langs) != len(outs):
        raise XlrobustError(f"--lang has {len(langs)} value(s) but --out has {len(outs)}; give one output per language")
    if recipe not in RECIPES:
        raise XlrobustError(f"unknown attack recipe '{recipe}'; known: {', '.join(RECIPES)}")
    full = [read_examples(data, lang) for lang in langs]  # fail on bad input before loading the model
    check_model_dir(model_dir, need_tokenizer=True)
    check_labels(model_dir, num_labels(model_dir), pl.concat(full)["label"].unique().to_list(), data)
    print(f"recipe {recipe}: {RECIPE_NOTES[recipe]}", flush=True)
    wrapper = make_wrapper(Classifier(model_dir, max_length=max_length))
    set_seed = import_textattack().shared.utils.set_seed
    progress = Path(resume_dir) if resume_dir else Path(outs[0]).parent / ".attack-progress"
    if claim(progress, inputs=[model_dir, data], settings={
            "recipe": recipe, "langs": langs, "max_examples": max_examples, "query_budget": query_budget,
            "seed": seed, "max_length": max_length}):
        print(f"resuming from {progress}", flush=True)
    for lang, whole, out in zip(langs, full, outs):
        atk = build(recipe, wrapper, lang, query_budget, frame_alphabet(whole))  # the language's letters
        df = whole.head(max_examples)
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
                example = ex["text_a"] if ex["text_b"] is None else OrderedDict([("text_a", ex["text_a"]), ("text_b", ex["text_b"])])
                row = _row(atk.attack(example, int(ex["label"])), ex)
                done[ex["id"]] = row
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                fh.flush()
        rows = [done[i] for i in df["id"].to_list()]
        table = pl.DataFrame(rows, schema={
            "id": pl.String, "lang": pl.String, "label": pl.Int64, "status": pl.String, "num_queries": pl.Int64,
            "words_perturbed": pl.Int64, "words_total": pl.Int64, "text_a": pl.String, "text_b": pl.String,
            "perturbed_text_a": pl.String, "perturbed_text_b": pl.String, "pred": pl.Int64, "perturbed_pred": pl.Int64,
        })
        write_parquet(table, out)
        print(f"{lang}: {table['status'].value_counts().sort('status').rows()} -> {out}", flush=True)
    shutil.rmtree(progress)
