"""config.yaml: schema validation (one line per error) and expansion of the selected
studies into the runs the workflow builds."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from xlrobust.errors import XlrobustError
from xlrobust.tasks import get_task

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def load(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise XlrobustError(f"{path}: config file not found")
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise XlrobustError(f"{path}:{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    return validate(cfg or {}, source=str(path))


def from_json(text: str, source: str = "--json") -> dict:
    """A config given as JSON (what Snakemake resolved), validated."""
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise XlrobustError(f"{source}: not valid JSON ({e.msg} at character {e.pos})") from None
    return validate(cfg, source=source)


def dump(cfg: dict) -> str:
    """YAML of a config, keys in their given order (deterministic)."""
    return yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=120)


def dataset_spec(name: str, text: str) -> dict:
    """One `datasets` entry given as JSON, checked against the schema and the task registry."""
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as e:
        raise XlrobustError(f"--spec: not valid JSON ({e.msg} at character {e.pos})") from None
    import jsonschema

    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    sub = {"$defs": schema["$defs"], **schema["properties"]["datasets"]["additionalProperties"]}
    err = next(iter(sorted(jsonschema.Draft202012Validator(sub).iter_errors(spec), key=lambda e: len(e.absolute_path))), None)
    if err is not None:
        where = ".".join(["datasets", name, *map(str, err.absolute_path)])
        raise XlrobustError(f"--spec: {where}: {err.message}")
    _check_dataset(name, spec, "--spec")
    return spec


def validate(cfg: dict, schema_path: str | Path = SCHEMA, source: str = "config") -> dict:
    """Check `cfg` against the JSON schema and cross-references; raise one clear line."""
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise XlrobustError(f"{source}: {where}: {e.message}")
    _cross_check(cfg, source)
    return cfg


def _cross_check(cfg: dict, source: str) -> None:
    from xlrobust.attack import RECIPES as ATTACKS
    from xlrobust.perturb import PERTURBATIONS

    def need(kind: str, name: str, known, where: str):
        if name not in known:
            raise XlrobustError(f"{source}: {where}: unknown {kind} '{name}' (known: {', '.join(sorted(known))})")

    for name, ds in cfg["datasets"].items():
        _check_dataset(name, ds, source)
    for name, spec in cfg["targets"].items():
        need("dataset", spec["dataset"], cfg["datasets"], f"targets.{name}.dataset")
        if get_task(cfg["datasets"][spec["dataset"]]["task"]).format not in ("single", "pair"):
            raise XlrobustError(f"{source}: targets.{name}.dataset: '{spec['dataset']}' is not a classification task")
    for name, spec in cfg["recipes"].items():
        for ds in spec.get("datasets", []):
            need("dataset", ds, cfg["datasets"], f"recipes.{name}.datasets")
        if "mlm" in spec:
            need("dataset", spec["mlm"]["dataset"], cfg["datasets"], f"recipes.{name}.mlm.dataset")
            if get_task(cfg["datasets"][spec["mlm"]["dataset"]]["task"]).format != "mlm":
                raise XlrobustError(f"{source}: recipes.{name}.mlm.dataset: '{spec['mlm']['dataset']}' is not MLM text")
        if name != "none" and not spec.get("datasets"):
            raise XlrobustError(f"{source}: recipes.{name}: needs 'datasets' (only 'none' trains nothing)")
    for name, st in cfg["study"].items():
        for m in st["models"]:
            need("model", m, cfg["models"], f"study.{name}.models")
        for r in st["recipes"]:
            need("recipe", r, cfg["recipes"], f"study.{name}.recipes")
        for t in st["targets"]:
            need("target", t, cfg["targets"], f"study.{name}.targets")
        for p in st.get("perturbations", []):
            need("perturbation", p["name"], PERTURBATIONS, f"study.{name}.perturbations")
        for a in st.get("attack", {}).get("recipes", []):
            need("attack recipe", a, ATTACKS, f"study.{name}.attack.recipes")
    selected_studies(cfg, source)


def _check_dataset(name: str, ds: dict, source: str) -> None:
    task = get_task(ds["task"])
    for lang in ds.get("langs", []) + ds.get("train_langs", []) + [ds.get("train_lang", "en")]:
        if lang not in task.configs:
            raise XlrobustError(f"{source}: datasets.{name}.langs: unknown language '{lang}' "
                                f"(known: {', '.join(sorted(task.configs))})")


def selected_studies(cfg: dict, source: str = "config") -> list[str]:
    sel = cfg["studies"]
    names = list(cfg["study"]) if sel == "all" else ([sel] if isinstance(sel, str) else list(sel))
    for n in names:
        if n not in cfg["study"]:
            raise XlrobustError(f"{source}: studies: unknown study '{n}' (known: {', '.join(cfg['study'])}, or all)")
    return names


@dataclass(frozen=True)
class Run:
    """One fine-tuned target model: what every downstream file is keyed by."""
    model: str
    recipe: str
    target: str
    seed: int
    study: str


def runs(cfg: dict) -> list[Run]:
    out = {}
    for name in selected_studies(cfg):
        st = cfg["study"][name]
        for m, r, t, s in itertools.product(st["models"], st["recipes"], st["targets"], st["seeds"]):
            out.setdefault((m, r, t, s), Run(m, r, t, s, name))
    return list(out.values())


def used_datasets(cfg: dict) -> list[str]:
    """Datasets the selected studies read: their targets' and their recipes' (MLM text included)."""
    names = []
    for r in runs(cfg):
        names.append(cfg["targets"][r.target]["dataset"])
        spec = cfg["recipes"][r.recipe]
        names += spec.get("datasets", []) + ([spec["mlm"]["dataset"]] if "mlm" in spec else [])
    return sorted(set(names))


def used(cfg: dict) -> dict:
    """The part of a config the selected studies use (what a run's results record and its
    score and report read): the selected studies and the models, recipes, targets and
    datasets they name (cluster resources left out: they change no result). Still a valid config."""
    studies = selected_studies(cfg)
    rs = runs(cfg)
    pick = lambda section, names: {k: v for k, v in cfg[section].items() if k in set(names)}  # noqa: E731
    out = {"studies": studies,
           "models": pick("models", [r.model for r in rs]),
           "datasets": pick("datasets", used_datasets(cfg)),
           "recipes": pick("recipes", [r.recipe for r in rs]),
           "targets": pick("targets", [r.target for r in rs])}
    out["study"] = {n: cfg["study"][n] for n in studies}
    return out


def target_langs(cfg: dict, target: str) -> list[str]:
    return cfg["datasets"][cfg["targets"][target]["dataset"]]["langs"]


def probes(cfg: dict, target: str) -> list[tuple[str, float, int]]:
    """(perturbation, rate, perturbation seed) triples of all selected studies with this target."""
    out = []
    for name in selected_studies(cfg):
        st = cfg["study"][name]
        if target not in st["targets"]:
            continue
        for p in st.get("perturbations", []):
            for rate in p["rates"]:
                for ps in st.get("perturbation_seeds", [1]):
                    if (p["name"], rate, ps) not in out:
                        out.append((p["name"], rate, ps))
    return out


def attacks(cfg: dict, run: Run) -> dict:
    return cfg["study"][run.study].get("attack", {"recipes": []})


def config_hash(cfg: dict) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:12]
