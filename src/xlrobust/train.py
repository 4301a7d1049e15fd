"""Intermediate-task training and English target fine-tuning (STILTs), with the
transformers Trainer: dynamic padding, length-grouped batches, bf16 where supported,
per-epoch checkpoints that a rerun resumes from, English-dev model selection.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.io import atomic_path, read_examples

# Defaults follow the XTREME scripts and jiant (lr 2e-5, effective batch 32,
# warmup 10%, grad-norm 1.0); config.yaml overrides them per recipe and target.
DEFAULTS = {
    "lr": 2e-5, "epochs": 3, "batch_size": 32, "grad_accum": 1, "max_length": 128,
    "warmup_ratio": 0.1, "weight_decay": 0.01, "max_grad_norm": 1.0, "eval_batch_size": 64,
}


def is_pair(df: pl.DataFrame) -> bool:
    return df["text_b"].null_count() < df.height


def encode(tok, df: pl.DataFrame, max_length: int):
    """Tokenise without padding (the collator pads each batch to its longest row).

    For pairs, `longest_first` truncation trims the longer side first, so both
    sentences keep tokens.
    """
    from datasets import Dataset

    pair = is_pair(df)
    ds = Dataset.from_dict({"text_a": df["text_a"].to_list(), "text_b": df["text_b"].to_list(), "label": df["label"].to_list()})

    def tokenise(batch):
        if pair:
            enc = tok(batch["text_a"], batch["text_b"], truncation="longest_first", max_length=max_length)
        else:
            enc = tok(batch["text_a"], truncation=True, max_length=max_length)
        enc["labels"] = batch["label"]
        return enc

    return ds.map(tokenise, batched=True, remove_columns=ds.column_names)


def accuracy(eval_pred) -> dict:
    import numpy as np

    logits, labels = eval_pred
    return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}


def last_complete_checkpoint(ckpt_dir: str) -> str | None:
    """The newest checkpoint a kill did not cut short; cut ones are deleted.

    The Trainer writes trainer_state.json last, so a checkpoint without it (or
    without weights) was interrupted while being saved.
    """
    if not os.path.isdir(ckpt_dir):
        return None
    found = sorted((p for p in Path(ckpt_dir).glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                   key=lambda p: int(p.name.split("-")[-1]), reverse=True)
    for ckpt in found:
        if (ckpt / "trainer_state.json").exists() and list(ckpt.glob("*.safetensors")):
            return str(ckpt)
        shutil.rmtree(ckpt, ignore_errors=True)
    return None


def train(init: str, train_file: str, dev_file: str, out_dir: str, num_labels: int,
          seed: int, hp: dict | None = None, keep: str = "classifier") -> dict:
    """Fine-tune `init` on `train_file`, select the best epoch on `dev_file`, save to `out_dir`.

    keep="encoder" saves only the encoder (intermediate training: the head is dropped);
    keep="classifier" saves the whole classification model (target fine-tuning).
    A rerun after a kill resumes from `<out_dir>.checkpoints`.
    """
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                              Trainer, TrainingArguments, set_seed)

    from xlrobust.models import check_model_dir, device, use_bf16

    if keep not in ("classifier", "encoder"):
        raise ValueError(keep)
    hp = {**DEFAULTS, **(hp or {})}
    check_model_dir(init)
    train_df, dev_df = read_examples(train_file), read_examples(dev_file)
    if train_df.height == 0:
        raise XlrobustError(f"{train_file}: no training examples")
    set_seed(seed)  # decides head initialisation; the Trainer's seed decides data order
    tok = AutoTokenizer.from_pretrained(init, trust_remote_code=False)
    model = AutoModelForSequenceClassification.from_pretrained(
        init, num_labels=num_labels, use_safetensors=True, trust_remote_code=False,
        ignore_mismatched_sizes=True,
    )
    ckpt_dir = f"{out_dir}.checkpoints"
    args = TrainingArguments(
        output_dir=ckpt_dir, seed=seed, data_seed=seed,
        learning_rate=hp["lr"], num_train_epochs=hp["epochs"],
        per_device_train_batch_size=hp["batch_size"], gradient_accumulation_steps=hp["grad_accum"],
        per_device_eval_batch_size=hp["eval_batch_size"],
        warmup_ratio=hp["warmup_ratio"], weight_decay=hp["weight_decay"], max_grad_norm=hp["max_grad_norm"],
        eval_strategy="epoch", save_strategy="epoch", save_total_limit=2,
        load_best_model_at_end=True, metric_for_best_model="accuracy", greater_is_better=True,
        group_by_length=True, bf16=use_bf16(device()), logging_steps=10, report_to=[],
        dataloader_num_workers=0, dataloader_pin_memory=device().type == "cuda", save_safetensors=True,
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=encode(tok, train_df, hp["max_length"]),
        eval_dataset=encode(tok, dev_df, hp["max_length"]),
        data_collator=DataCollatorWithPadding(tok), compute_metrics=accuracy,
    )
    last = last_complete_checkpoint(ckpt_dir)
    if last:
        print(f"resuming from {last}", flush=True)
    trainer.train(resume_from_checkpoint=last)
    metrics = trainer.evaluate()
    info = {"init": init, "seed": seed, "hp": hp, "keep": keep, "dev": metrics,
            "train_examples": train_df.height, "dev_examples": dev_df.height}
    with atomic_path(out_dir) as tmp:
        to_save = trainer.model.base_model if keep == "encoder" else trainer.model
        to_save.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (Path(tmp) / "xlrobust_train.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return info
