"""The output layout: one place that builds every path (the Snakemake rules import it)
and parses prediction and attack paths back into their keys (scoring uses it)."""

from __future__ import annotations

import re


def data(dataset: str, split: str) -> str:
    return f"data/{dataset}/{split}.parquet"


def pretrained(model: str) -> str:
    return f"models/pretrained/{model}"


def intermediate(model: str, recipe: str, seed) -> str:
    return f"models/intermediate/{model}/{recipe}/seed{seed}"


def encoder(model: str, recipe: str, seed) -> str:
    """The encoder a target model starts from: recipe `none` is the pretrained encoder itself."""
    return pretrained(model) if recipe == "none" else intermediate(model, recipe, seed)


def target(model: str, recipe: str, task: str, seed) -> str:
    return f"models/target/{model}/{recipe}/{task}/seed{seed}"


def perturbed_dir(task: str, lang: str) -> str:
    """Every probe file of one language: one job writes them all."""
    return f"perturbed/{task}/{lang}"


def perturbed(task: str, lang: str, perturbation: str, rate, pseed) -> str:
    return f"{perturbed_dir(task, lang)}/{perturbation}/r{rate}_s{pseed}.parquet"


def _run(model, recipe, task, seed) -> str:
    return f"{model}/{recipe}/{task}/seed{seed}"


def clean_prediction(model, recipe, task, seed) -> str:
    return f"predictions/{_run(model, recipe, task, seed)}/clean.parquet"


def perturbed_prediction(model, recipe, task, seed, lang, perturbation, rate, pseed) -> str:
    return f"predictions/{_run(model, recipe, task, seed)}/{lang}/{perturbation}/r{rate}_s{pseed}.parquet"


def attack(model, recipe, task, seed, lang, attack_recipe) -> str:
    return f"attacks/{_run(model, recipe, task, seed)}/{attack_recipe}/{lang}.parquet"


_RUN = r"(?P<model>[^/]+)/(?P<recipe>[^/]+)/(?P<target>[^/]+)/seed(?P<seed>\d+)"
PREDICTION_RE = re.compile(
    rf"predictions/{_RUN}/(?:clean|(?P<lang>[^/]+)/(?P<probe>[^/]+)/r(?P<rate>[0-9.]+)_s(?P<pseed>\d+))\.parquet$"
)
ATTACK_RE = re.compile(rf"attacks/{_RUN}/(?P<attack>[^/]+)/(?P<lang>[^/]+)\.parquet$")


def parse(pattern: re.Pattern, path: str) -> dict:
    from xlrobust.errors import XlrobustError

    m = pattern.search(str(path).replace("\\", "/"))
    if not m:
        raise XlrobustError(f"{path}: not a path of the output layout ({pattern.pattern})")
    return m.groupdict()
