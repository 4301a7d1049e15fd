"""Training several heads on one shared encoder with the transformers Trainer.

Single-task training is the one-task case of the same code. What the Trainer does
not offer, and is added here:
- `MultiHeadModel` (of `torch_classes()`): one transformers head model per task, all sharing one encoder
  module; a batch names its task.
- `TaskBatchSampler`: every batch comes from one task (formats pad differently);
  the task of each step is drawn as jiant's samplers do — proportional to task size,
  or to size^(1/T) (temperature) — after optional per-task example caps; continued
  MLM batches are drawn with a fixed probability (`mlm_ratio`). Within a task,
  batches are length-grouped (as the Trainer's `group_by_length`) so padding stays
  small. The order depends only on (seed, epoch), so a resumed run sees the same
  batches as an uninterrupted one.
- `StiltsTrainer.evaluate` (of `torch_classes()`): each task's standard dev metric (its format's); checkpoint
  selection uses their mean (`eval_score`).
"""

from __future__ import annotations

import bisect
import functools

import numpy as np

from xlrobust.settings import RecipeSettings


class MixedDataset:
    """The features of several tasks behind one index; item i knows its task (a map-style
    dataset: what torch's DataLoader indexes)."""

    def __init__(self, features: dict[str, object]):
        self.names = list(features)
        self.parts = [features[n] for n in self.names]
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts]).tolist()

    def __len__(self):
        return self.offsets[-1]

    def locate(self, i: int) -> tuple[int, int]:
        t = bisect.bisect_right(self.offsets, i) - 1
        return t, i - self.offsets[t]

    def __getitem__(self, i):
        t, j = self.locate(i)
        return {**self.parts[t][j], "task": self.names[t]}


class TaskCollator:
    def __init__(self, collators: dict):
        self.collators = collators

    def __call__(self, features):
        task = features[0]["task"]
        batch = self.collators[task]([{k: v for k, v in f.items() if k != "task"} for f in features])
        batch["task"] = task
        return batch


def feature_lengths(features) -> list[int]:
    ids = features["input_ids"]
    return [max(map(len, x)) * len(x) if x and isinstance(x[0], list) else len(x) for x in ids]


class TaskBatchSampler:
    """Batches of global indices into a MixedDataset, one task per batch."""

    def __init__(
        self,
        data: MixedDataset,
        lengths: dict[str, list[int]],
        batch_size: int,
        seed: int,
        sampling: str = RecipeSettings.sampling,
        temperature: float = RecipeSettings.temperature,
        caps: dict[str, int] | None = None,
        mlm_task: str | None = None,
        mlm_ratio: float = RecipeSettings.mlm_ratio,
    ):
        self.data, self.lengths, self.batch_size, self.seed = data, lengths, batch_size, seed
        self.mlm_task, self.mlm_ratio = mlm_task, mlm_ratio
        self.epoch = 0
        self.caps = caps or {}
        self.tasks = [n for n in data.names if n != mlm_task]
        sizes = np.array([min(len(lengths[n]), self.caps.get(n, 10**12)) for n in self.tasks], dtype=float)
        if sampling == "proportional":
            weights = sizes
        elif sampling == "temperature":
            weights = sizes ** (1.0 / temperature)
        elif sampling == "uniform":
            weights = np.ones_like(sizes)
        else:
            raise ValueError(f"unknown sampling '{sampling}'")
        self.probs = weights / weights.sum()
        supervised_steps = int(sum(np.ceil(sizes / batch_size)))
        self.steps = int(np.ceil(supervised_steps / (1.0 - mlm_ratio))) if mlm_task else supervised_steps

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.steps

    def _batches(self, name: str, rng: np.random.Generator) -> list[list[int]]:
        """One pass over a task: shuffled (then capped), grouped by length in mega-batches
        of 50 batches as transformers' LengthGroupedSampler does, batch order shuffled."""
        t = self.data.names.index(name)
        lengths = np.asarray(self.lengths[name])
        order = rng.permutation(len(lengths))[: self.caps.get(name, len(lengths))]
        mega = self.batch_size * 50
        batches = []
        for i in range(0, len(order), mega):
            chunk = order[i : i + mega]
            chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
            batches += [chunk[j : j + self.batch_size] for j in range(0, len(chunk), self.batch_size)]
        off = self.data.offsets[t]
        return [[int(off + k) for k in batches[i]] for i in rng.permutation(len(batches))]

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        queues: dict[str, list] = {}
        for _ in range(self.steps):
            if self.mlm_task and rng.random() < self.mlm_ratio:
                name = self.mlm_task
            else:
                name = self.tasks[int(rng.choice(len(self.tasks), p=self.probs))]
            if not queues.get(name):
                queues[name] = self._batches(name, rng)
            yield queues[name].pop()


@functools.cache
def torch_classes() -> tuple[type, type]:
    """(MultiHeadModel, StiltsTrainer), defined at their first use: their bases are torch's
    nn.Module and transformers' Trainer, whose import takes seconds, and every `xlrobust`
    command imports this module (through xlrobust.train), most of them never training."""
    from torch import nn
    from torch.utils.data import DataLoader
    from transformers import Trainer

    class MultiHeadModel(nn.Module):
        accepts_loss_kwargs = False  # the Trainer must not pass num_items_in_batch to the heads
        _keys_to_ignore_on_save = None  # read by the Trainer when it reloads the best checkpoint

        def __init__(self, encoder: nn.Module, task_models: dict[str, nn.Module]):
            super().__init__()
            self.encoder = encoder  # registered first: its parameter names win in state_dict
            self.heads = nn.ModuleDict(task_models)
            for model in task_models.values():
                setattr(model, model.base_model_prefix, encoder)
                model.tie_weights()  # an MLM decoder is re-tied to the shared embeddings

        def forward(self, task: str, **batch):
            return self.heads[task](**batch)

        def state_dict(self, *args, **kwargs):
            """Each tensor once (safetensors refuses shared storage); loading is non-strict
            and fills the shared copies through the one kept."""
            sd, seen = {}, set()
            for name, t in super().state_dict(*args, **kwargs).items():
                key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
                if key not in seen:
                    seen.add(key)
                    sd[name] = t
            return sd

    class StiltsTrainer(Trainer):
        """The Trainer with task-homogeneous batches and per-format dev metrics."""

        def __init__(self, *args, batch_sampler: TaskBatchSampler, evaluator, **kwargs):
            super().__init__(*args, **kwargs)
            self.batch_sampler = batch_sampler
            self.evaluator = evaluator

        def get_train_dataloader(self):
            loader = DataLoader(
                self.train_dataset,
                batch_sampler=self.batch_sampler,
                collate_fn=self.data_collator,
                num_workers=self.args.dataloader_num_workers,
                pin_memory=self.args.dataloader_pin_memory,
            )
            return self.accelerator.prepare(loader)

        def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
            metrics = {f"{metric_key_prefix}_{k}": v for k, v in self.evaluator(self.model).items()}
            metrics["epoch"] = self.state.epoch
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
            return metrics

    return MultiHeadModel, StiltsTrainer


class Evaluator:
    """Each task's standard dev metric (its format's); `score` is their mean (each in [0, 1])."""

    def __init__(self, tasks: list, dev_features: dict, tok, batch_size: int, device, autocast):
        self.tasks = [t for t in tasks if t.dev is not None and t.fmt.metric]
        self.dev_features, self.tok, self.batch_size = dev_features, tok, batch_size
        self.device, self.autocast = device, autocast

    def _outputs(self, model, task):
        import torch

        with torch.no_grad():
            return self._forward(model, task)

    def _forward(self, model, task):
        feats = self.dev_features[task.name]
        inputs = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in feats.column_names]
        collate = task.fmt.collator(self.tok)
        order = np.argsort(feature_lengths(feats), kind="stable")
        outs = []
        model.eval()
        for i in range(0, len(order), self.batch_size):
            idx = order[i : i + self.batch_size].tolist()
            rows = feats.select(idx).select_columns(inputs + (["labels"] if task.fmt.collator_keeps_labels else []))
            batch = collate([dict(r) for r in rows])
            batch.pop("labels", None)
            batch = {k: v.to(self.device) for k, v in batch.items()}
            with self.autocast():
                out = model(task=task.name, **batch)
            outs.append(task.fmt.output(out))
        return order, outs

    def __call__(self, model) -> dict:
        metrics, main = {}, []
        for task in self.tasks:
            order, outs = self._outputs(model, task)
            m, score = task.fmt.dev_metrics(outs, order, self.dev_features[task.name], task.dev, task.train)
            for k, v in m.items():
                metrics[f"{task.name}_{k}"] = v
            main.append(score)
        metrics["score"] = float(np.mean(main)) if main else 0.0
        if len(self.tasks) == 1 and "accuracy" in m:
            metrics["accuracy"] = m["accuracy"]
        return metrics
