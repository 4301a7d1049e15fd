"""The settings of each stage, one dataclass each: the one place their names, types,
defaults, bounds and help live. The CLI flags (`add_arguments`), the defaults, the
config.yaml schema fragments (`schema`, injected into workflow/schemas/config.schema.yaml
at validation) and the flags the rules pass (`flags`) are all derived from them, as
transformers' HfArgumentParser derives run_glue.py's arguments from its dataclasses.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field, fields


def _f(default, help: str, **bounds):  # noqa: A002 (the argparse word)
    return field(default=default, metadata={"help": help, **bounds})


PRECISIONS = ("auto", "fp32", "bf16")


def _precision(stage: str):
    return _f(
        "auto",
        f"number format of the {stage}: fp32; bf16 (bfloat16 matrix products under autocast); auto = bf16 on "
        "CUDA GPUs that support it and on CPUs with bf16 matrix units (AMX, AVX512-BF16), fp32 elsewhere "
        "(docs/precision.md)",
        enum=list(PRECISIONS),
    )


@dataclass
class TrainSettings:
    """Intermediate and target training. Defaults follow the XTREME scripts and jiant;
    `train:` in a recipe or target of config.yaml overrides them."""

    lr: float = _f(2e-5, "peak learning rate (linear warmup, then linear decay)", exclusiveMinimum=0, maximum=1)
    epochs: float = _f(3, "training epochs (a fraction trains part of the last one)", exclusiveMinimum=0)
    batch_size: int = _f(32, "examples per step and device", minimum=1)
    grad_accum: int = _f(
        1, "steps accumulated per optimizer update (effective batch = batch_size x grad_accum)", minimum=1
    )
    max_length: int = _f(128, "max sequence length in tokens (QA: of a context window)", minimum=8, maximum=4096)
    doc_stride: int = _f(128, "QA: overlap of consecutive context windows in tokens", minimum=8, maximum=4096)
    warmup_ratio: float = _f(0.1, "fraction of steps with linear warmup", minimum=0, maximum=1)
    weight_decay: float = _f(0.01, "AdamW weight decay", minimum=0)
    max_grad_norm: float = _f(1.0, "gradient clipping norm", exclusiveMinimum=0)
    eval_batch_size: int = _f(64, "examples per batch when evaluating dev (and, later, predicting)", minimum=1)
    dual_scale: float = _f(
        20.0,
        "dual-encoder retrieval: the scale (1 / temperature) of the cosine similarities in the softmax over a batch's candidates",
        exclusiveMinimum=0,
    )
    freeze_embeddings: bool = _f(
        False,
        "keep the word embeddings fixed (on CPU an optimizer step over a 250k-word "
        "multilingual vocabulary dominates training; freezing them also keeps the "
        "languages English training never sees aligned)",
    )
    precision: str = _precision("training (and its dev evaluation)")


SAMPLINGS = ("proportional", "temperature", "uniform")


@dataclass
class RecipeSettings:
    """Multi-task sampling and MLM mix of intermediate training (a recipe in config.yaml)

    temperature 2.0: what the command line always defaulted to and the all_tasks recipe
    states (T = 1 would make temperature sampling proportional sampling)."""

    sampling: str = _f(
        "proportional",
        "which task each multi-task step trains (jiant's samplers): in proportion to task size, "
        "to size^(1/T), or uniformly",
        enum=list(SAMPLINGS),
    )
    temperature: float = _f(2.0, "T of temperature sampling: p(task) ~ size^(1/T)", exclusiveMinimum=0)
    cap: int | None = _f(None, "at most this many training examples per task and epoch", minimum=1)
    mlm_ratio: float = _f(
        0.0,
        "fraction of steps that are masked-LM batches on multilingual text (config.yaml: `mlm: {dataset, ratio}`)",
        minimum=0,
        exclusiveMaximum=1,
    )


@dataclass
class PredictSettings:
    """Prediction; None = what the model was trained with (its xlrobust_train.json)."""

    batch_size: int | None = _f(None, "examples per batch (default: the model's eval batch size, else 64)", minimum=1)
    max_length: int | None = _f(
        None, "max sequence length (default: the model's training max length, else 128)", minimum=8
    )
    layer: int | None = _f(
        None,
        "retrieval and mining: the hidden layer whose mean is a sentence's vector (default: two "
        "thirds of the depth, 8 of 12 as XTREME)",
        minimum=0,
    )
    precision: str = _precision("prediction (retrieval: of the sentence embeddings)")


@dataclass
class AttackSettings:
    """Adaptive attacks of a study (`attack:` in config.yaml)."""

    recipes: list = _f((), "attack recipes (xlrobust.attack.RECIPES)")
    max_examples: int = _f(
        100,
        "examples attacked per language: the first ones of the test set in its sample order (a random subset of the clean sample unless the dataset's sample order is head)",
        minimum=1,
    )
    query_budget: int = _f(2000, "model queries per example before the attack gives up", minimum=1)
    seed: int = _f(
        765,
        "seed of the attack's random choices (TextAttack's default); each example's seed is this plus a hash of its id",
        minimum=0,
        maximum=2**32 - 1,
    )
    threshold: float = _f(
        0.0,
        "QA and tagging: the attack succeeds when the example's F1 (or token accuracy) falls to this value or below",
        minimum=0,
        maximum=1,
    )
    any_change: bool = _f(
        False,
        "tagging: the attack succeeds as soon as any predicted entity (POS: any tag) changes, instead of at the threshold",
    )
    precision: str = _precision("attack's model queries")


SAMPLE_ORDERS = ("random", "head")


@dataclass
class SampleSettings:
    """Which rows a dataset's `max_examples` keeps (`sample:` of a dataset in config.yaml)."""

    order: str = _f(
        "random",
        "random: a prepared split is in a seeded random order and a cap keeps its first rows, the rows whose hash "
        "of (seed, id) is smallest: a function of the seed and each row's id only, so parallel languages share "
        "items and a file's sample is the sample of any part of it holding the chosen rows; head: the file's "
        "order, a cap keeps its first rows",
        enum=list(SAMPLE_ORDERS),
    )
    seed: int = _f(
        0,
        "seed of the random order (recorded in the prepared data's meta.json and the report's provenance)",
        minimum=0,
        maximum=2**32 - 1,
    )


@dataclass
class ReportSettings:
    """The report (`report:` in config.yaml)."""

    published_margin: float = _f(
        0.05,
        "flag a clean score (recipe none, mean over all languages) that differs from the published zero-shot figure "
        "of the same model and task (src/xlrobust/published.yaml) by more than this (0.05 = 5 points)",
        minimum=0,
        maximum=1,
    )


# every settings group (tests/test_settings.py checks each one's defaults across CLI, schema and API)
GROUPS = (TrainSettings, RecipeSettings, PredictSettings, AttackSettings, SampleSettings, ReportSettings)


def defaults(cls) -> dict:
    return dataclasses.asdict(cls())


def _type(f) -> type:
    t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    return {"float": float, "int": int, "bool": bool, "int | None": int, "float | None": float}.get(t, str)


def add_arguments(parser: argparse.ArgumentParser, cls, title: str | None = None) -> None:
    """One --flag per field; every default is None so that only what was given is passed on."""
    group = parser.add_argument_group(title or cls.__doc__.splitlines()[0])
    for f in fields(cls):
        if f.name == "recipes":
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        help_ = f"{f.metadata['help']} (default: {default})"
        if _type(f) is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_)
        elif "enum" in f.metadata:
            group.add_argument(flag, choices=f.metadata["enum"], default=None, help=help_)
        else:
            group.add_argument(flag, type=_type(f), default=None, help=help_)


def given(args, cls) -> dict:
    """The fields of `cls` given on the command line."""
    return {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}


def flags(values: dict) -> str:
    """The command-line flags of some settings (what a rule passes on)."""
    out = []
    for k, v in sorted(values.items()):
        flag = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            out.append(flag if v else f"--no-{k.replace('_', '-')}")
        else:
            out.append(f"{flag} {v}")
    return " ".join(out)


def schema(cls, exclude: tuple[str, ...] = ()) -> dict:
    """The JSON-schema object of config.yaml that holds these settings."""
    props = {}
    for f in fields(cls):
        if f.name in exclude:
            continue
        t = _type(f)
        if f.name == "recipes":
            prop = {"type": "array", "items": {"$ref": "#/$defs/name"}, "uniqueItems": True}
        else:
            prop = {"type": {float: "number", int: "integer", bool: "boolean", str: "string"}[t]}
            prop.update({k: v for k, v in f.metadata.items() if k != "help"})
        prop["description"] = f.metadata["help"]
        props[f.name] = prop
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": props,
        "description": cls.__doc__.splitlines()[0],
    }


def docs(cls) -> str:
    """A markdown table of the settings (the README's tables are checked against it)."""
    rows = [
        f"| `{f.name}` | {f.default if f.default not in (None, ()) else '–'} | {f.metadata['help']} |"
        for f in fields(cls)
    ]
    return "| setting | default | what it does |\n|---|---|---|\n" + "\n".join(rows)
