"""Adaptive attacks with TextAttack, composed from its parts (transformation,
constraints, search, goal), with per-language stopwords.

The model wrapper pads each query batch to its own longest row instead of TextAttack's
fixed tokenizer maximum, which is where stock attacks spend their time.
A killed attack resumes: finished examples are appended to `<out>.partial.jsonl`
and skipped on the next run.
"""

from __future__ import annotations

import json
import os
import zlib
from collections import OrderedDict
from pathlib import Path

import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.io import read_examples, write_parquet

RECIPES = ("deepwordbug",)
DEFAULT_SEED = 765  # TextAttack's own default


def _textattack():
    from xlrobust.stopwords import ensure_nltk_stopwords

    ensure_nltk_stopwords()
    import textattack

    return textattack


def make_wrapper(clf):
    ta = _textattack()

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


def build(recipe: str, wrapper, lang: str, query_budget: int):
    """Compose a recipe from TextAttack's building blocks."""
    ta = _textattack()
    from textattack.constraints.overlap import LevenshteinEditDistance
    from textattack.constraints.pre_transformation import RepeatModification, StopwordModification
    from textattack.goal_functions import UntargetedClassification
    from textattack.search_methods import GreedyWordSwapWIR
    from textattack.transformations import (CompositeTransformation, WordSwapNeighboringCharacterSwap,
                                            WordSwapRandomCharacterDeletion, WordSwapRandomCharacterInsertion,
                                            WordSwapRandomCharacterSubstitution)

    from xlrobust.stopwords import stopwords

    if recipe not in RECIPES:
        raise XlrobustError(f"unknown attack recipe '{recipe}'; known: {', '.join(RECIPES)}")
    # DeepWordBug (Gao et al. 2018) as in textattack.attack_recipes.DeepWordBugGao2018,
    # with the stopword list of the attacked language instead of English's.
    transformation = CompositeTransformation([
        WordSwapNeighboringCharacterSwap(), WordSwapRandomCharacterSubstitution(),
        WordSwapRandomCharacterDeletion(), WordSwapRandomCharacterInsertion(),
    ])
    constraints = [RepeatModification(), StopwordModification(stopwords=stopwords(lang)), LevenshteinEditDistance(30)]
    goal = UntargetedClassification(wrapper, query_budget=query_budget)
    return ta.Attack(goal, constraints, transformation, GreedyWordSwapWIR())


def _row(result, ex: dict) -> dict:
    ta = _textattack()
    kind = type(result).__name__
    status = {"SuccessfulAttackResult": "succeeded", "FailedAttackResult": "failed",
              "SkippedAttackResult": "skipped", "MaximizedAttackResult": "failed"}[kind]
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
           outs: list[str], seed: int = DEFAULT_SEED, max_length: int = 128) -> None:
    from xlrobust.predict import Classifier

    set_seed = _textattack().shared.utils.set_seed

    if len(langs) != len(outs):
        raise XlrobustError(f"--lang has {len(langs)} value(s) but --out has {len(outs)}; give one output per language")
    if recipe not in RECIPES:
        raise XlrobustError(f"unknown attack recipe '{recipe}'; known: {', '.join(RECIPES)}")
    frames = [read_examples(data, lang).head(max_examples) for lang in langs]  # fail on bad input before loading
    wrapper = make_wrapper(Classifier(model_dir, max_length=max_length))
    for lang, df, out in zip(langs, frames, outs):
        atk = build(recipe, wrapper, lang, query_budget)
        partial = Path(f"{out}.partial.jsonl")
        done = {}
        if partial.exists():
            for line in partial.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    done[row["id"]] = row
                except json.JSONDecodeError:
                    break  # a line cut by a kill: redo from there
        partial.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "w", encoding="utf-8") as fh:  # rewrite the intact prefix
            for row in done.values():
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            for ex in df.iter_rows(named=True):
                if ex["id"] in done:
                    continue
                set_seed(seed + zlib.crc32(ex["id"].encode()))  # per example: a resumed run draws the same
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
        os.remove(partial)
        print(f"{lang}: {table['status'].value_counts().sort('status').rows()} -> {out}", flush=True)
