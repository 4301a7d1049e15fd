"""Intermediate-task training and English target fine-tuning (STILTs), with the
transformers Trainer: a head per task format (heads.py) on one shared encoder
(multitask.py), dynamic padding, length-grouped batches, bf16 mixed precision (fp32
master weights) where `precision` asks for it (auto: where the hardware has it),
per-epoch checkpoints that a rerun resumes from, English-dev model selection.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from unittest.mock import patch

import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats import Format, get_format
from xlrobust.io import atomic_path, read_examples, read_json, read_parquet
from xlrobust.models import autocast, check_model_dir, device, load_tokenizer, resolve_precision
from xlrobust.multitask import (
    Evaluator,
    MixedDataset,
    TaskBatchSampler,
    TaskCollator,
    feature_lengths,
    torch_classes,
)
from xlrobust.resume import claim
from xlrobust.settings import RecipeSettings, TrainSettings, defaults

# Defaults follow the XTREME scripts and jiant (xlrobust.settings.TrainSettings);
# config.yaml overrides them per recipe and target.
DEFAULTS = defaults(TrainSettings)


def _digest(df: pl.DataFrame | None) -> str | None:
    """The rows of a training table, for the resume fingerprint."""
    return None if df is None else f"{df.height}:{int(df.hash_rows(seed=0).sum())}"


def last_complete_checkpoint(ckpt_dir: str) -> str | None:
    """The newest checkpoint a kill did not cut short; cut ones are deleted.

    The Trainer writes trainer_state.json last, so a checkpoint without it (or
    without weights) was interrupted while being saved.
    """
    if not os.path.isdir(ckpt_dir):
        return None
    found = sorted(
        (p for p in Path(ckpt_dir).glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
        reverse=True,
    )
    for ckpt in found:
        if (ckpt / "trainer_state.json").exists() and list(ckpt.glob("*.safetensors")):
            return str(ckpt)
        shutil.rmtree(ckpt, ignore_errors=True)
    return None


@dataclass
class TaskData:
    """One task of a training run: its format, normalised train/dev tables and label names."""

    name: str
    fmt: Format
    train: pl.DataFrame
    dev: pl.DataFrame | None = None
    labels: list[str] = field(default_factory=list)

    @property
    def format(self) -> str:
        return self.fmt.name


def load_task(data_dir: str | os.PathLike, split_dev: bool = True) -> TaskData:
    """A prepared dataset folder (xlrobust prepare: meta.json + <split>.parquet) as a task."""
    d = Path(data_dir)
    meta_path = d / "meta.json"
    if not meta_path.exists():
        raise XlrobustError(f"{d}: not a prepared dataset folder (no meta.json); run xlrobust prepare")
    meta = read_json(meta_path)
    fmt = get_format(meta["format"])
    train_df = read_parquet(d / "train.parquet")
    dev_df = read_parquet(d / "validation.parquet") if split_dev and (d / "validation.parquet").exists() else None
    for name, df in (("train", train_df), ("validation", dev_df)):
        if df is not None and set(fmt.schema) - set(df.columns):
            raise XlrobustError(
                f"{d}/{name}.parquet: missing column(s) {', '.join(sorted(set(fmt.schema) - set(df.columns)))}"
            )
    return TaskData(
        name=meta["dataset"],
        fmt=fmt,
        train=train_df,
        dev=dev_df,
        labels=fmt.label_names(tuple(meta.get("labels") or ()), train_df),
    )


def train(
    init: str,
    train_file: str,
    dev_file: str,
    out_dir: str,
    num_labels: int,
    seed: int,
    hp: dict | None = None,
    keep: str = "classifier",
) -> dict:
    """Fine-tune a sequence classifier on normalised example tables (target fine-tuning)."""
    fmt = get_format("classify")
    train_df, dev_df = read_examples(train_file, None, fmt), read_examples(dev_file, None, fmt)
    for path, df in ((train_file, train_df), (dev_file, dev_df)):
        bad = df.with_row_index().filter((pl.col("label") < 0) | (pl.col("label") >= num_labels))
        if bad.height:
            raise XlrobustError(
                f"{path}: row {bad['index'][0]}: label {bad['label'][0]} outside 0..{num_labels - 1} "
                f"(--num-labels {num_labels})"
            )
        if df.height == 0:
            raise XlrobustError(f"{path}: no examples")
    task = TaskData("target", fmt, train_df, dev_df, labels=[str(i) for i in range(num_labels)])
    return train_tasks(init, [task], out_dir, seed, hp, keep)


def finetune(init: str, data_dir: str, out_dir: str, seed: int, hp: dict | None = None) -> dict:
    """English target fine-tuning on a prepared dataset folder, any trainable format."""
    task = load_task(data_dir)
    if not task.fmt.trains:
        raise XlrobustError(f"{data_dir}: a {task.format} dataset is used without fine-tuning (no finetune job)")
    for split, df in (("train", task.train), ("validation", task.dev)):
        if df is None or df.height == 0:
            raise XlrobustError(f"{data_dir}/{split}.parquet: no examples")
    return train_tasks(init, [task], out_dir, seed, hp, "classifier")


@contextlib.contextmanager
def process_state_kept():
    """A training leaves the process as it found it. It seeds Python's, NumPy's and torch's
    global generators (transformers' set_seed) and initialises accelerate's process-wide
    AcceleratorState (with its mixed precision, e.g. bf16); both outlived the training, so
    what ran next in the same process (a test module, a notebook) drew other random numbers
    (an untrained head's initialisation) or found an accelerator state, depending on which
    trainings had run before. The generators' states are restored and accelerate's shared
    state is put back as it was when the training ends (ACCELERATE_MIXED_PRECISION: train_tasks)."""
    import random

    import numpy as np
    import torch
    from accelerate.state import AcceleratorState, GradientState, PartialState

    py, npy = random.getstate(), np.random.get_state()
    shared = [(cls._shared_state, dict(cls._shared_state)) for cls in (PartialState, AcceleratorState, GradientState)]
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        for state, saved in shared:
            state.clear()
            state.update(saved)


def _check_inputs(init: str, tasks: list[TaskData], keep: str, mlm: TaskData | None) -> None:
    """Before anything loads: what is kept fits the tasks, the encoder folder holds a model,
    and every task has training and English dev examples."""
    if keep not in ("classifier", "encoder"):
        raise ValueError(keep)
    if keep == "classifier" and (len(tasks) != 1 or not tasks[0].fmt.metric or mlm):
        raise XlrobustError("target fine-tuning takes exactly one dataset with a metric (no MLM text)")
    check_model_dir(init)
    for t in tasks:
        if t.train.height == 0:
            raise XlrobustError(f"task '{t.name}': no training examples")
        if t.dev is None or t.dev.height == 0:
            raise XlrobustError(f"task '{t.name}': no English dev examples for checkpoint selection")


@process_state_kept()
def train_tasks(
    init: str,
    tasks: list[TaskData],
    out_dir: str,
    seed: int,
    hp: dict | None = None,
    keep: str = "classifier",
    sampling: str = RecipeSettings.sampling,
    temperature: float = RecipeSettings.temperature,
    caps: dict[str, int] | None = None,
    mlm: TaskData | None = None,
    mlm_ratio: float = RecipeSettings.mlm_ratio,
) -> dict:
    """Train heads for `tasks` (and optional MLM batches) on one shared encoder, select
    the best epoch on the tasks' English dev sets, save to `out_dir`.

    keep="encoder" saves only the encoder (intermediate training: heads dropped);
    keep="classifier" saves the single task's whole model (target fine-tuning).
    A rerun after a kill resumes from `<out_dir>.checkpoints`.
    """
    from transformers import AutoModel, TrainingArguments, set_seed

    MultiHeadModel, StiltsTrainer = torch_classes()

    _check_inputs(init, tasks, keep, mlm)
    hp = {**DEFAULTS, **(hp or {})}
    everything = tasks + ([mlm] if mlm else [])
    set_seed(seed)  # decides head initialisation; the sampler's seed decides data order
    tok = load_tokenizer(init)
    models = {}
    for t in everything:
        models[t.name] = t.fmt.head_class().from_pretrained(
            init,
            ignore_mismatched_sizes=True,
            use_safetensors=True,
            trust_remote_code=False,
            **t.fmt.head_kwargs(t.labels),
            **t.fmt.train_kwargs(hp),
        )
    first = models[tasks[0].name]
    # one head: its own encoder; several: a full encoder (with pooler, which some heads read)
    encoder = (
        getattr(first, first.base_model_prefix)
        if len(models) == 1
        else AutoModel.from_pretrained(init, use_safetensors=True, trust_remote_code=False)
    )
    model = MultiHeadModel(encoder, models)
    if hp["freeze_embeddings"]:  # no gradient, no optimizer state for the (large) word-embedding matrix
        model.encoder.get_input_embeddings().weight.requires_grad_(False)

    enc = dict(max_length=hp["max_length"], doc_stride=hp["doc_stride"])
    train_feats = {t.name: t.fmt.encode(tok, t.train, t.labels, train=True, **enc) for t in everything}
    dev_feats = {t.name: t.fmt.encode(tok, t.dev, t.labels, train=False, **enc) for t in tasks}
    data = MixedDataset(train_feats)
    sampler = TaskBatchSampler(
        data,
        {n: feature_lengths(f) for n, f in train_feats.items()},
        hp["batch_size"],
        seed,
        sampling,
        temperature,
        caps,
        mlm.name if mlm else None,
        mlm_ratio,
    )
    dev = device()
    precision = resolve_precision(hp["precision"], dev, "train")
    print(f"precision {precision} on {dev.type}", flush=True)
    ckpt_dir = f"{out_dir}.checkpoints"
    # TrainingArguments writes ACCELERATE_MIXED_PRECISION into the process environment when bf16
    # is on and leaves it when off, and the Trainer's Accelerator reads it: after a bf16 training
    # an fp32 one in the same process (or under a shell that set the variable) would autocast its
    # forward in bf16 all the same. So this training states its precision to accelerate and the
    # environment is given back as it was when it ends.
    mixed = {"ACCELERATE_MIXED_PRECISION": "bf16" if precision == "bf16" else "no"}
    with patch.dict(os.environ, mixed):
        args = TrainingArguments(
            output_dir=ckpt_dir,
            seed=seed,
            data_seed=seed,
            learning_rate=hp["lr"],
            num_train_epochs=hp["epochs"],
            per_device_train_batch_size=hp["batch_size"],
            gradient_accumulation_steps=hp["grad_accum"],
            per_device_eval_batch_size=hp["eval_batch_size"],
            warmup_ratio=hp["warmup_ratio"],
            weight_decay=hp["weight_decay"],
            max_grad_norm=hp["max_grad_norm"],
            eval_strategy="epoch",
            save_strategy="epoch",
            save_total_limit=2,
            load_best_model_at_end=True,
            metric_for_best_model="score",
            greater_is_better=True,
            bf16=precision == "bf16",  # autocast around forward and loss; weights and optimizer stay fp32
            use_cpu=dev.type == "cpu",  # what device() chose (the Trainer's bf16 on a CPU is its cpu_amp: autocast)
            logging_steps=max(1, min(10, int(len(sampler) * hp["epochs"]) // 10)),
            report_to=[],
            remove_unused_columns=False,
            dataloader_num_workers=0,
            dataloader_pin_memory=dev.type == "cuda",
            save_safetensors=True,
        )
        collate = TaskCollator({t.name: t.fmt.collator(tok) for t in everything})
        trainer = StiltsTrainer(
            model=model,
            args=args,
            train_dataset=data,
            eval_dataset=dev_feats,
            data_collator=collate,
            batch_sampler=sampler,
            evaluator=Evaluator(tasks, dev_feats, tok, hp["eval_batch_size"], dev, lambda: autocast(dev, precision)),
        )
        claim(
            ckpt_dir,
            inputs=[init],
            settings={
                "seed": seed,
                "hp": hp,
                "precision": precision,
                "keep": keep,
                "sampling": sampling,
                "temperature": temperature,
                "caps": caps,
                "mlm_ratio": mlm_ratio,
                "tasks": [[t.name, t.format, _digest(t.train), _digest(t.dev)] for t in everything],
            },
        )
        last = last_complete_checkpoint(ckpt_dir)
        if last:
            print(f"resuming from {last}", flush=True)
        trainer.train(resume_from_checkpoint=last)
        metrics = trainer.evaluate()
    info = {
        "init": init,
        "seed": seed,
        "hp": hp,
        "precision": precision,
        "keep": keep,
        "dev": metrics,
        "format": tasks[0].format if keep == "classifier" else None,
        "train_losses": [e["loss"] for e in trainer.state.log_history if "loss" in e],
        "tasks": {
            t.name: {"format": t.format, "train_examples": t.train.height, "dev_examples": t.dev.height} for t in tasks
        },
        "sampling": {
            "method": sampling,
            "temperature": temperature,
            "caps": caps or {},
            "task_probabilities": dict(zip(sampler.tasks, map(float, sampler.probs))),
        },
        "mlm": {"dataset": mlm.name, "ratio": mlm_ratio, "examples": mlm.train.height} if mlm else None,
        "train_examples": sum(t.train.height for t in tasks),
        "dev_examples": sum(t.dev.height for t in tasks),
    }
    kind = "intermediate" if keep == "encoder" else "finetune"  # the command whose output this is
    with atomic_path(out_dir, directory=True, kind=kind) as tmp:
        to_save = model.encoder if keep == "encoder" else model.heads[tasks[0].name]
        to_save.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (Path(tmp) / "xlrobust_train.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return info
