"""Batched prediction: one model load, many files. Rows are sorted by length and padded
per batch (not to a fixed maximum), in the precision asked (`precision`: fp32; bf16 =
weights held in bfloat16 and run under autocast, so that softmax and layer norms stay
fp32; auto: bf16 where the hardware has it, models.resolve_precision). What a
prediction is (labels, answer spans, tags, neighbours) is the format's: `Model` only
runs the network.

Prediction files carry the run keys (model, recipe, target, seed, given by the caller)
and the probe keys (probe, rate, pseed, written into a perturbed table by `perturb`;
`clean` for an unperturbed one) as columns, the format's name, and the precision of the
prediction and of the model's training (`precision`, `train_precision`: scoring refuses
to compare runs whose precisions differ), so scoring reads what a file is from the file.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats import for_head, format_of_table, get_format
from xlrobust.io import read_examples, write_parquet
from xlrobust.models import (
    autocast,
    check_model_dir,
    device,
    inference_settings,
    load_model,
    model_config,
    resolve_precision,
    training_info,
)

RUN_KEYS = {"model": pl.String, "recipe": pl.String, "target": pl.String, "seed": pl.Int64}
PRECISION_KEYS = {"precision": pl.String, "train_precision": pl.String}
PROBE_KEYS = {"probe": pl.String, "rate": pl.Float64, "pseed": pl.Int64}


PAD_TOLERANCE = 0.1  # a batch's rows are at least this close (relative) to its longest row ...
MIN_BATCH_TOKENS = 2048  # ... once it computes this many tokens (below: a forward's fixed cost dominates)


def length_batches(
    lengths: np.ndarray, batch_size: int, tolerance: float = PAD_TOLERANCE, min_tokens: int = MIN_BATCH_TOKENS
) -> list[np.ndarray]:
    """Batches of row indices, longest rows first (a memory error shows at once), at most
    `batch_size` rows each. A batch takes the next rows while it computes fewer than
    `min_tokens` tokens, and then only rows at least (1 - tolerance) x its longest: padding
    stays under `tolerance` of the computed tokens of every batch that is not small
    whatever the spread of lengths (QA context windows: full 384-token windows and short
    last windows), and short rows (tweets) still fill batches big enough to keep the
    matrix units busy."""
    order = np.argsort(-lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        longest = lengths[order[start]]
        stop = start + 1
        while stop < len(order) and stop - start < batch_size:
            if (stop - start) * longest >= min_tokens and lengths[order[stop]] < (1 - tolerance) * longest:
                break
            stop += 1
        batches.append(order[start:stop])
        start = stop
    return batches


class Model:
    """A model folder loaded with its format's head, run on tokenised features."""

    def __init__(
        self,
        model_dir: str,
        fmt=None,
        max_length: int | None = None,
        batch_size: int | None = None,
        doc_stride: int | None = None,
        layer: int | None = None,
        precision: str | None = None,
        stage: str = "predict",
    ):
        """max_length / batch_size / doc_stride: None = what the model was trained with
        (models.inference_settings); `layer`: the hidden layer a retrieval format pools;
        `precision` (None = auto) of `stage` (predict or attack; a retrieval format's
        prediction is the retrieval stage), resolved by models.resolve_precision."""
        import torch

        self.fmt = fmt or format_of_model(model_dir)
        self.max_length, self.batch_size, self.doc_stride = inference_settings(
            model_dir, max_length, batch_size, doc_stride
        )
        self.layer = layer
        self.model_dir = model_dir  # where a format keeps per-model files (dual: candidate vectors)
        self.model, self.tok = load_model(model_dir, self.fmt)
        self.device = device()
        if stage == "predict":
            stage = self.fmt.prediction_stage
        self.precision = resolve_precision(precision, self.device, stage)
        self.train_precision = training_info(model_dir).get("precision")  # None: not trained by xlrobust
        self.model.to(self.device).eval()
        if self.precision == "bf16":  # inference only: weights held in bf16 once, not cast at every call
            self.model.to(torch.bfloat16)
        self.num_labels = self.model.config.num_labels
        self._torch = torch

    def run(
        self, enc: dict, collate=None, per_token: bool = False, forward: dict | None = None, output=None
    ) -> list[np.ndarray]:
        """The format's output (`fmt.output`, or `output`) for every feature row, in input
        order; `per_token`: each row cut to its own length (no padding positions)."""
        torch = self._torch
        keys = list(enc.keys())
        n = len(enc["input_ids"])
        lengths = np.array(
            [max(map(len, x)) * len(x) if x and isinstance(x[0], list) else len(x) for x in enc["input_ids"]]
        )
        output = output or self.fmt.output
        out: list = [None] * n
        with torch.inference_mode(), autocast(self.device, self.precision):
            for idx in length_batches(lengths, self.batch_size):
                rows = {k: [enc[k][i] for i in idx] for k in keys}
                if collate is None:
                    batch = self.tok.pad(rows, return_tensors="pt")
                else:
                    batch = collate([{k: rows[k][j] for k in keys} for j in range(len(idx))])
                batch.pop("labels", None)
                batch = {k: v.to(self.device) for k, v in batch.items()}
                arr = output(self.model(**batch, **(forward or {})))
                for j, i in enumerate(idx):
                    out[i] = arr[j, : len(enc["input_ids"][i])] if per_token else arr[j]
        return out


class Classifier(Model):
    """A sequence classifier that scores lists of texts or text pairs (the attack's model
    wrapper queries it)."""

    def __init__(
        self,
        model_dir: str,
        max_length: int | None = None,
        batch_size: int | None = None,
        precision: str | None = None,
    ):
        super().__init__(model_dir, get_format("classify"), max_length, batch_size, precision=precision)

    def logits(self, text_a: list[str], text_b: list[str | None] | None = None) -> np.ndarray:
        """Logits (n, num_labels) in input order."""
        return self.fmt.logits(self, list(text_a), text_b)


def precision_keys(model: Model) -> dict:
    """The precision columns of what `model` predicts."""
    return {"precision": model.precision, "train_precision": model.train_precision}


def with_keys(preds: pl.DataFrame, fmt, run: dict, probe: dict, precision: dict | None = None) -> pl.DataFrame:
    """Prediction rows with the run keys, the probe keys, the format and the precisions as columns."""
    keys = [pl.lit(run.get(k), dtype=t).alias(k) for k, t in RUN_KEYS.items()]
    keys += [pl.lit(probe.get(k), dtype=t).alias(k) for k, t in PROBE_KEYS.items()]
    prec = [pl.lit((precision or {}).get(k), dtype=t).alias(k) for k, t in PRECISION_KEYS.items()]
    return preds.select(*keys, pl.lit(fmt.name).alias("format"), *prec, pl.all())


def probe_of(df: pl.DataFrame) -> dict:
    """A perturbed table's probe keys (perturb writes them); an unperturbed table is `clean`."""
    if "probe" not in df.columns:
        return {"probe": "clean", "rate": None, "pseed": None}
    return {k: df[k][0] if df.height else None for k in PROBE_KEYS}


def parse_run(pairs: list[str] | None) -> dict:
    """`--run model=m recipe=none target=t seed=1` as a dict (seed an int)."""
    run = {}
    for p in pairs or []:
        k, sep, v = p.partition("=")
        if not sep or k not in RUN_KEYS:
            raise XlrobustError(f"--run {p}: give key=value with a key among {', '.join(RUN_KEYS)}")
        if k == "seed":
            if not v.isdigit():
                raise XlrobustError(f"--run {p}: the seed must be a whole number")
            v = int(v)
        run[k] = v
    return run


def format_of_model(path: str):
    """The task format a model folder predicts: the one xlrobust trained it for, else the
    one whose transformers head built it (config.json `architectures`)."""
    check_model_dir(path)
    trained = training_info(path).get("format")
    if trained:
        return get_format(trained)
    fmt = for_head(model_config(path).get("architectures") or [])
    if fmt is None:
        raise XlrobustError(
            f"model folder {path}: no task head known from its architectures "
            f"{model_config(path).get('architectures')}; give --format"
        )
    return fmt


def check_fits(model_dir: str, fmt, data: list[str]) -> None:
    """A model's head must be the format of the tables it predicts (when nobody said --format)."""
    for src in data:
        table = format_of_table(src)
        if table is not fmt:
            raise XlrobustError(
                f"model folder {model_dir} predicts {fmt.name} ({fmt.head}) but {src} is a {table.name} "
                f"table: fine-tune a {table.name} model from it (xlrobust finetune) or give --format"
            )


def predict(
    model_dir: str,
    data: list[str],
    out: list[str],
    lang: str | None = None,
    max_length: int | None = None,
    batch_size: int | None = None,
    run: dict | None = None,
    fmt_name: str | None = None,
    layer: int | None = None,
    precision: str | None = None,
) -> None:
    """Predict every table of `data` into the matching `out` file, with one model load."""
    if len(data) != len(out):
        raise XlrobustError(f"--data has {len(data)} file(s) but --out has {len(out)}; give one output per input")
    check_model_dir(model_dir, need_tokenizer=True)
    fmt = get_format(fmt_name) if fmt_name else format_of_model(model_dir)
    if not fmt_name:
        check_fits(model_dir, fmt, data)
    for src in data:  # every input checked before the model loads (read again below: memory stays one file)
        fmt.check_model(model_dir, read_examples(src, lang, fmt), src)
    model = Model(model_dir, fmt, max_length=max_length, batch_size=batch_size, layer=layer, precision=precision)
    print(f"precision {model.precision} on {model.device.type}", flush=True)
    for src, dst in zip(data, out):
        df = read_examples(src, lang, fmt)
        write_parquet(
            with_keys(fmt.predict(model, df), fmt, run or {}, probe_of(df), precision_keys(model)), dst, "predict"
        )
        print(f"{src}: {df.height} rows -> {dst}", flush=True)
