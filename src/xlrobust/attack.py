"""The attack stage: adaptive attacks with TextAttack, one job per (model, data, recipe).

What every format shares is here: the checks of a job's inputs, the per-example seeds, the
job loop and its resume, the output table. The recipes (RECIPES, composed from TextAttack's
parts with per-language stopwords) are in xlrobust.ta_parts; what is attacked and what
counts as success is the format's attacker (`fmt.attack(...)`, in its package
xlrobust.formats.<name>). The model wrapper pads each query batch to its own longest row
instead of TextAttack's fixed tokenizer maximum, which is where stock attacks spend their time.
A killed attack resumes: finished examples are appended to `<resume dir>/<lang>.jsonl`
and skipped when the same job (model, data, settings) runs again.
"""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats import get_format
from xlrobust.io import read_examples, write_parquet
from xlrobust.models import check_model_dir
from xlrobust.perturb import frame_alphabet
from xlrobust.predict import Model, check_fits, format_of_model
from xlrobust.resume import claim
from xlrobust.sampling import in_sample_order
from xlrobust.settings import AttackSettings, defaults
from xlrobust.ta_parts import RECIPE_NOTES, RECIPES, import_textattack

__all__ = ["RECIPES", "RECIPE_NOTES", "attack", "example_seed"]


def example_seed(seed: int, example_id: str) -> int:
    """The seed of one attacked example: numpy takes seeds below 2^32, so the sum wraps."""
    return (seed + zlib.crc32(example_id.encode())) % 2**32


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
