"""The output layout: the one place that builds every path. The Snakemake rules call these
functions with wildcard patterns ("{model}") for their outputs and with values for
their inputs; dvcgen and the tests use them too. Nothing parses a path back into its
keys: the files carry their keys as columns."""

from __future__ import annotations

import os


def data_dir(dataset: str) -> str:
    return f"data/{dataset}"


def data(dataset: str, split: str) -> str:
    return f"{data_dir(dataset)}/{split}.parquet"


def data_meta(dataset: str) -> str:
    return f"{data_dir(dataset)}/meta.json"


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


def predictions(model, recipe, task, seed) -> str:
    """Every prediction file of one target model: one job writes them all."""
    return f"predictions/{_run(model, recipe, task, seed)}"


def clean_prediction(model, recipe, task, seed) -> str:
    return f"{predictions(model, recipe, task, seed)}/clean.parquet"


def perturbed_prediction(model, recipe, task, seed, lang, perturbation, rate, pseed) -> str:
    return f"{predictions(model, recipe, task, seed)}/{lang}/{perturbation}/r{rate}_s{pseed}.parquet"


def attacks(model, recipe, task, seed, attack_recipe) -> str:
    """Every language of one attack recipe on one target model: one job."""
    return f"attacks/{_run(model, recipe, task, seed)}/{attack_recipe}"


def attack(model, recipe, task, seed, lang, attack_recipe) -> str:
    return f"{attacks(model, recipe, task, seed, attack_recipe)}/{lang}.parquet"


def partial(output: str) -> str:
    """Where a killed job's progress waits for its rerun: next to its output, which
    Snakemake deletes before a rerun."""
    return f"{output}.partial"


def candidate_vectors(digest: str) -> str:
    """A dual-encoder candidate pool's vectors, keyed by the digest of the model's files, the
    settings and the pool (formats.dual): shared by a model's prediction and attack jobs, so
    outside every rule's output (not the model folder, which another stage owns); the folder
    is $XLROBUST_CACHE, by default ~/.cache/xlrobust."""
    root = os.environ.get("XLROBUST_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "xlrobust")
    return os.path.join(root, "candidates", f"{digest}.npy")


def log(stage: str, *keys) -> str:
    return "/".join(["logs", stage, *map(str, keys)]) + ".log"


def benchmark(stage: str, *keys) -> str:
    return f"benchmarks/{stage}/" + ".".join(map(str, keys)) + ".tsv"


CONFIG = "results/config.yaml"
SCORES = "results/scores.parquet"
COMPARISONS = "results/comparisons.parquet"
METRICS = "results/metrics.json"
PLOTS = "results/plots/score_by_rate.csv"
REPORT = "results/report.html"
BENCHMARKS = "benchmarks"
