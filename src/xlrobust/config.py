"""config.yaml (and the files of config/ merged over it): schema validation (one line per
error) and expansion of the selected studies into the runs the workflow builds."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from xlrobust import layout, settings
from xlrobust.attack import RECIPES as ATTACKS
from xlrobust.data import config_list, split_rows
from xlrobust.errors import XlrobustError
from xlrobust.formats import all_formats, get_format
from xlrobust.langs import check_code
from xlrobust.perturb import PERTURBATIONS
from xlrobust.readers import READERS
from xlrobust.settings import RecipeSettings, flags
from xlrobust.tasks import get_task

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

# The project's config is config.yaml (which studies run, and the demo) with these files merged
# over it in this order (paths relative to config.yaml's folder), as Snakemake merges config
# files; the Snakefile loads exactly these, then any --configfile and --config.
PROJECT = "config.yaml"
PARTS = ("config/catalogue.yaml", "config/studies.yaml", "config/cpu.yaml", "config/cluster.yaml")


def files(path: str | Path) -> list[Path]:
    """The files a config is read from: a project's config.yaml (one with a config/ folder
    beside it) and its PARTS; any other file (a run's results/config.yaml, a study file) alone."""
    path = Path(path)
    if path.name == PROJECT and (path.parent / "config").is_dir():
        return [path, *(path.parent / part for part in PARTS)]
    return [path]


def read(path: str | Path) -> dict:
    """A config, not validated: its files (see `files`) merged in order with Snakemake's own
    merge (mappings merged key by key, anything else replaced), as the workflow sees it."""
    from snakemake.utils import update_config

    cfg: dict = {}
    for f in files(path):
        update_config(cfg, _read_yaml(f))
    return cfg


def entry_files(path: str | Path) -> dict[str, str]:
    """For each entry `<section>.<name>` of a config (`datasets.umsab`, `study.q1`), the file that
    defines it (the last of `files` to), relative to the config's folder: what DVC names as a
    stage's params file."""
    path = Path(path)
    out = {}
    for f in files(path):
        for section, entries in _read_yaml(f).items():
            for name in entries if isinstance(entries, dict) else ():
                out[f"{section}.{name}"] = f.relative_to(path.parent).as_posix()
    return out


def _read_yaml(path: Path) -> dict:
    if not path.exists():
        raise XlrobustError(f"{path}: config file not found")
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise XlrobustError(f"{path}:{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    except RecursionError:
        raise XlrobustError(f"{path}: nested too deeply to be a config") from None
    if cfg is not None and not isinstance(cfg, dict):
        raise XlrobustError(f"{path}: a config is a mapping of keys, not {type(cfg).__name__}")
    return cfg or {}


def load(path: str | Path) -> dict:
    """The config of `path` (merged as `read` says), validated."""
    return validate(read(path), source=str(path))


def load_schema(path: str | Path = SCHEMA) -> dict:
    """The config schema, with the settings fragments derived from xlrobust.settings."""
    schema = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    schema["$defs"].update(
        train=settings.schema(settings.TrainSettings),
        predict=settings.schema(settings.PredictSettings),
        attack=settings.schema(settings.AttackSettings),
        sample=settings.schema(settings.SampleSettings),
        report=settings.schema(settings.ReportSettings),
    )
    recipe = schema["properties"]["recipes"]["additionalProperties"]["properties"]
    recipe.update(settings.schema(settings.RecipeSettings, exclude=("mlm_ratio",))["properties"])
    return schema


def from_json(text: str, source: str = "--json") -> dict:
    """A config given as JSON (what Snakemake resolved), validated."""
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise XlrobustError(f"{source}: not valid JSON ({e.msg} at character {e.pos})") from None
    except RecursionError:
        raise XlrobustError(f"{source}: JSON nested too deeply to be a config") from None
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
    except RecursionError:
        raise XlrobustError("--spec: JSON nested too deeply to be a dataset entry") from None
    import jsonschema

    schema = load_schema()
    sub = {"$defs": schema["$defs"], **schema["properties"]["datasets"]["additionalProperties"]}
    err = next(
        iter(sorted(jsonschema.Draft202012Validator(sub).iter_errors(spec), key=lambda e: len(e.absolute_path))), None
    )
    if err is not None:
        where = ".".join(["datasets", name, *map(str, err.absolute_path)])
        raise XlrobustError(f"--spec: {where}: {err.message}")
    _check_dataset(name, spec, "--spec")
    return spec


def validate(cfg: dict, schema_path: str | Path = SCHEMA, source: str = "config") -> dict:
    """Check `cfg` against the JSON schema and cross-references; raise one clear line."""
    import jsonschema

    where = _non_finite(cfg)
    if where is not None:  # YAML's .nan / .inf pass every minimum and maximum of the schema
        raise XlrobustError(f"{source}: {where[0]}: {where[1]} is not a finite number")
    validator = jsonschema.Draft202012Validator(load_schema(schema_path))
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise XlrobustError(f"{source}: {where}: {e.message}")
    _cross_check(cfg, source)
    return cfg


def _non_finite(obj, path: str = "") -> tuple[str, float] | None:
    """The first NaN or infinite number in a config (its dotted path and value), or None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return path or "(top level)", obj
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        found = _non_finite(v, f"{path}.{k}" if path else str(k))
        if found is not None:
            return found
    return None


def _cross_check(cfg: dict, source: str) -> None:
    """Names that must exist elsewhere in the config or in the catalogues (datasets' tasks and
    readers, formats, perturbations, attack recipes), and what they name fitting together."""
    for name, ds in cfg["datasets"].items():
        _check_dataset(name, ds, source)
    for name in cfg["targets"]:
        _check_target(cfg, name, source)
    for name in cfg["recipes"]:
        _check_recipe(cfg, name, source)
    for name in cfg["study"]:
        _check_study(cfg, name, source)
    selected_studies(cfg, source)
    _check_conflicts(cfg, source)


def _need(source: str, kind: str, name: str, known, where: str) -> None:
    if name not in known:
        raise XlrobustError(f"{source}: {where}: unknown {kind} '{name}' (known: {', '.join(sorted(known))})")


def _check_target(cfg: dict, name: str, source: str) -> None:
    spec = cfg["targets"][name]
    _need(source, "dataset", spec["dataset"], cfg["datasets"], f"targets.{name}.dataset")
    if "train_dataset" in spec:
        _need(source, "dataset", spec["train_dataset"], cfg["datasets"], f"targets.{name}.train_dataset")
        trains = get_format(get_task(cfg["datasets"][spec["train_dataset"]]["task"]).format)
        if trains is not target_format(cfg, name):
            raise XlrobustError(
                f"{source}: targets.{name}.train_dataset: '{spec['train_dataset']}' is {trains.name} data but "
                f"'{spec['dataset']}' is {target_format(cfg, name).name}: train a target on its own format"
            )
    if not target_format(cfg, name).metric:
        raise XlrobustError(
            f"{source}: targets.{name}.dataset: '{spec['dataset']}' is "
            f"{target_format(cfg, name).name} text, which has no metric to score"
        )
    _check_target_splits(cfg, name, source)


def _check_recipe(cfg: dict, name: str, source: str) -> None:
    spec = cfg["recipes"][name]
    for ds in spec.get("datasets", []):
        _need(source, "dataset", ds, cfg["datasets"], f"recipes.{name}.datasets")
    if "mlm" in spec:
        _need(source, "dataset", spec["mlm"]["dataset"], cfg["datasets"], f"recipes.{name}.mlm.dataset")
        if not get_format(get_task(cfg["datasets"][spec["mlm"]["dataset"]]["task"]).format).masked_lm_text:
            raise XlrobustError(f"{source}: recipes.{name}.mlm.dataset: '{spec['mlm']['dataset']}' is not MLM text")
    if name != "none" and not spec.get("datasets"):
        raise XlrobustError(f"{source}: recipes.{name}: needs 'datasets' (only 'none' trains nothing)")


def _check_study(cfg: dict, name: str, source: str) -> None:
    st = cfg["study"][name]
    for m in st["models"]:
        _need(source, "model", m, cfg["models"], f"study.{name}.models")
    for r in st["recipes"]:
        _need(source, "recipe", r, cfg["recipes"], f"study.{name}.recipes")
    for t in st["targets"]:
        _need(source, "target", t, cfg["targets"], f"study.{name}.targets")
    for i in range(len(st.get("perturbations", []))):
        _check_perturbation(cfg, name, i, source)
    for a in st.get("attack", {}).get("recipes", []):
        _need(source, "attack recipe", a, ATTACKS, f"study.{name}.attack.recipes")
    for setting, formats in ATTACK_SETTING_FORMATS.items():
        if setting in st.get("attack", {}) and not any(target_format(cfg, t).name in formats for t in st["targets"]):
            raise XlrobustError(
                f"{source}: study.{name}.attack.{setting}: only {' and '.join(formats)} attacks read it, and "
                f"the study has no such target ({', '.join(st['targets'])})"
            )


def _check_perturbation(cfg: dict, name: str, i: int, source: str) -> None:
    """The i-th perturbation of study `name`: a known probe, on targets of the study whose
    format offers it (and the sides it names)."""
    st = cfg["study"][name]
    p = st["perturbations"][i]
    _need(source, "perturbation", p["name"], set(PERTURBATIONS) | named_perturbations(), f"study.{name}.perturbations")
    for t in p.get("targets", []):
        if t not in st["targets"]:
            raise XlrobustError(
                f"{source}: study.{name}.perturbations.{i}.targets: '{t}' is not a target of the study "
                f"({', '.join(st['targets'])})"
            )
    for t in probe_targets(st, p):
        fmt = target_format(cfg, t)
        if p["name"] not in fmt.perturbations:
            raise XlrobustError(
                f"{source}: study.{name}.perturbations.{i}: {p['name']} is not available for "
                f"target {t} ({fmt.name}: {', '.join(fmt.perturbations)})"
            )
        if "sides" in p and p["sides"] not in fmt.sides:
            raise XlrobustError(
                f"{source}: study.{name}.perturbations.{i}.sides: '{p['sides']}' is not a side "
                f"of target {t} ({fmt.name}: {', '.join(fmt.sides)})"
            )
        try:
            fmt.probe(p["name"], p.get("sides"), get_task(cfg["datasets"][cfg["targets"][t]["dataset"]]["task"]).labels)
        except XlrobustError as e:
            raise XlrobustError(f"{source}: study.{name}.perturbations.{i}: target {t}: {e}") from None


# attack settings only some formats' attack goals read (xlrobust.attack): given for others, an error
ATTACK_SETTING_FORMATS = {"any_change": ("tagging",), "threshold": ("span_qa", "tagging")}


def _check_target_splits(cfg: dict, name: str, source: str) -> None:
    """A target is scored on its dataset's test split and, when its format trains, fine-tuned
    on the train and selected on the validation split of its training dataset: those splits
    must be prepared, and train and validation must not share rows (dev leaking into train).
    A target that is not trained (retrieval) takes no training settings."""
    spec = cfg["targets"][name]
    fmt = target_format(cfg, name)
    ds = cfg["datasets"][spec["dataset"]]
    if "test" not in ds.get("splits", ["train", "validation", "test"]):
        raise XlrobustError(
            f"{source}: targets.{name}.dataset: '{spec['dataset']}' prepares no test split "
            f"(splits: {', '.join(ds['splits'])}); a target is scored on its test split"
        )
    if not fmt.trains:
        extra = [k for k in ("train", "train_dataset") if k in spec]
        if extra:
            raise XlrobustError(
                f"{source}: targets.{name}.{extra[0]}: a {fmt.name} target is not trained (the encoder is used "
                "as it is); remove it"
            )
        return
    train_name = train_dataset(cfg, name)
    tds = cfg["datasets"][train_name]
    missing = [s for s in ("train", "validation") if s not in tds.get("splits", ["train", "validation", "test"])]
    if missing:
        raise XlrobustError(
            f"{source}: datasets.{train_name}.splits: target {name} is fine-tuned on its train and selected on its "
            f"validation split, but it prepares no {' and no '.join(missing)}"
        )
    renames = tds.get("local_splits") or {}
    if tds.get("local"):
        try:
            (a, ra), (b, rb) = (split_rows(renames.get(s, s)) for s in ("train", "validation"))
        except XlrobustError as e:
            raise XlrobustError(f"{source}: datasets.{train_name}.local_splits: {e}") from None
        lo = lambda r: 0 if r is None or r.start is None else r.start  # noqa: E731
        hi = lambda r: math.inf if r is None or r.stop is None else r.stop  # noqa: E731
        if a == b and max(lo(ra), lo(rb)) < min(hi(ra), hi(rb)):
            raise XlrobustError(
                f"{source}: datasets.{train_name}.local_splits: train ({renames.get('train', 'train')}) and "
                f"validation ({renames.get('validation', 'validation')}) share rows of '{a}': the dev set would "
                "leak into training"
            )


def _check_conflicts(cfg: dict, source: str) -> None:
    """Settings that two selected studies give differently for the same job are an error,
    not silently the first study's: attack settings of one (run, attack recipe), and the
    sides of one (target, perturbation)."""
    seen: dict[tuple, tuple[str, dict]] = {}
    for name in selected_studies(cfg):
        st = cfg["study"][name]
        spec = {k: v for k, v in st.get("attack", {}).items() if k != "recipes"}
        for m, r, t, s in itertools.product(st["models"], st["recipes"], st["targets"], st["seeds"]):
            for a in st.get("attack", {}).get("recipes", []):
                key = (m, r, t, s, a)
                if key in seen and seen[key][1] != spec:
                    raise XlrobustError(
                        f"{source}: study.{name}.attack: studies {seen[key][0]} and {name} attack "
                        f"{m}/{r}/{t}/seed{s} with {a} under different settings "
                        f"({seen[key][1]} vs {spec}); give both studies the same"
                    )
                seen.setdefault(key, (name, spec))
    sides: dict[tuple, tuple[str, str]] = {}
    for name in selected_studies(cfg):
        st = cfg["study"][name]
        for p in st.get("perturbations", []):
            for t in probe_targets(st, p):
                side = target_format(cfg, t).probe(p["name"], p.get("sides"))[1]
                key = (t, p["name"])
                if key in sides and sides[key][1] != side:
                    raise XlrobustError(
                        f"{source}: study.{name}.perturbations: studies {sides[key][0]} and {name} "
                        f"perturb {t} with {p['name']} on different sides ({sides[key][1]} vs {side})"
                    )
                sides.setdefault(key, (name, side))


def _check_dataset(name: str, ds: dict, source: str) -> None:
    task = get_task(ds["task"])
    if ds.get("local_format") and ds["local_format"] not in READERS:
        raise XlrobustError(
            f"{source}: datasets.{name}.local_format: unknown reader '{ds['local_format']}' "
            f"(known: {', '.join(sorted(READERS))})"
        )
    trains = set(ds.get("splits", ["train", "validation", "test"])) - {
        "test"
    }  # a test-only dataset has no train language
    train_langs = ds.get("train_langs", []) + [ds.get("train_lang", "en")] if trains else []
    for lang in ds.get("langs", []) + train_langs:
        if lang not in task.configs:
            if not ds.get("local"):  # the registry's list is what the Hub source holds
                raise XlrobustError(
                    f"{source}: datasets.{name}.langs: unknown language '{lang}' for the {task.name} Hub source "
                    f"(known: {', '.join(sorted(task.configs))}); a dataset of local files may name any ISO 639 code"
                )
            check_code(lang, f"{source}: datasets.{name}.langs")
    for lang in ds.get("configs") or {}:
        if lang not in task.configs:
            if not ds.get("local"):
                raise XlrobustError(
                    f"{source}: datasets.{name}.configs: unknown language '{lang}' "
                    f"(known: {', '.join(sorted(task.configs))})"
                )
            check_code(lang, f"{source}: datasets.{name}.configs")
        try:
            config_list(task, ds, lang, name)
        except XlrobustError as e:
            raise XlrobustError(f"{source}: datasets.{name}.{str(e).split(': ', 1)[1]}") from None


def probe_targets(st: dict, p: dict) -> list[str]:
    """The targets of a study that one of its perturbations applies to (`targets`, default all)."""
    return [t for t in st["targets"] if t in p.get("targets", st["targets"])]


def named_perturbations() -> set[str]:
    """The probes formats name (tagging's entity_/context_ modes), next to perturb.PERTURBATIONS."""
    return {n for fmt in all_formats().values() for n in fmt.named_perturbations}


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
        names += [cfg["targets"][r.target]["dataset"], train_dataset(cfg, r.target), *recipe_datasets(cfg, r.recipe)]
    return sorted(set(names))


def train_dataset(cfg: dict, target: str) -> str:
    """The dataset a target is fine-tuned (train) and selected (validation) on: its own,
    or `train_dataset` (XTREME trains XQuAD and MLQA on SQuAD v1.1)."""
    spec = cfg["targets"][target]
    return spec.get("train_dataset") or spec["dataset"]


def used(cfg: dict) -> dict:
    """The part of a config the selected studies use (what a run's results record and its
    score and report read): the selected studies and the models, recipes, targets and
    datasets they name (cluster resources left out: they change no result). Still a valid config."""
    studies = selected_studies(cfg)
    rs = runs(cfg)
    pick = lambda section, names: {k: v for k, v in cfg[section].items() if k in set(names)}  # noqa: E731
    out = {
        "studies": studies,
        "models": pick("models", [r.model for r in rs]),
        "datasets": pick("datasets", used_datasets(cfg)),
        "recipes": pick("recipes", [r.recipe for r in rs]),
        "targets": pick("targets", [r.target for r in rs]),
    }
    out["study"] = {n: cfg["study"][n] for n in studies}
    return out


def target_format(cfg: dict, target: str):
    """The task format of a target (from its dataset's registry task)."""
    return get_format(get_task(cfg["datasets"][cfg["targets"][target]["dataset"]]["task"]).format)


def target_langs(cfg: dict, target: str) -> list[str]:
    ds = cfg["datasets"][cfg["targets"][target]["dataset"]]
    return ds.get("langs", [ds.get("train_lang", "en")])


def probes(cfg: dict, target: str) -> list[tuple[str, float, int]]:
    """(perturbation, rate, perturbation seed) triples of all selected studies with this target."""
    out = []
    for name in selected_studies(cfg):
        st = cfg["study"][name]
        if target not in st["targets"]:
            continue
        for p in st.get("perturbations", []):
            if target not in probe_targets(st, p):
                continue
            for rate in p["rates"]:
                for ps in st.get("perturbation_seeds", [1]):
                    if (p["name"], rate, ps) not in out:
                        out.append((p["name"], rate, ps))
    return out


def perturbation_sides(cfg: dict, target: str, perturbation: str) -> str:
    """Which part of the target's examples a perturbation touches (the studies agree:
    checked at validation); default: the format's own."""
    for name in selected_studies(cfg):
        st = cfg["study"][name]
        for p in st.get("perturbations", []):
            if target in probe_targets(st, p) and p["name"] == perturbation and "sides" in p:
                return p["sides"]
    return target_format(cfg, target).probe(perturbation)[1]


def attack_jobs(cfg: dict) -> list[tuple[Run, str, dict]]:
    """(run, attack recipe, settings) of every attack of the selected studies (settings:
    xlrobust.settings.AttackSettings fields the study gives)."""
    out, rs = {}, runs(cfg)
    for name in selected_studies(cfg):
        st = cfg["study"][name]
        spec = {k: v for k, v in st.get("attack", {}).items() if k != "recipes"}
        for r in rs:
            if (
                r.model in st["models"]
                and r.recipe in st["recipes"]
                and r.target in st["targets"]
                and r.seed in st["seeds"]
            ):
                for a in st.get("attack", {}).get("recipes", []):
                    out.setdefault((r, a), spec)
    return [(r, a, spec) for (r, a), spec in out.items()]


def attack_settings(cfg: dict, model: str, recipe: str, target: str, seed, attack: str) -> dict:
    """The settings of one attack job (as in attack_jobs: the first selected study that
    names it; studies that disagree are a config error). Looked up in the studies
    directly: called once per attack job while Snakemake plans, so no scan of all runs."""
    for name in selected_studies(cfg):
        st = cfg["study"][name]
        if (
            model in st["models"]
            and recipe in st["recipes"]
            and target in st["targets"]
            and str(seed) in map(str, st["seeds"])
            and attack in st.get("attack", {}).get("recipes", [])
        ):
            return {k: v for k, v in st["attack"].items() if k != "recipes"}
    raise XlrobustError(f"no selected study attacks {model}/{recipe}/{target}/seed{seed} with {attack}")


def prediction_model(cfg: dict, model: str, recipe: str, target: str, seed) -> str:
    """The model folder a run predicts with: its fine-tuned target model, or, for a format
    used without fine-tuning (retrieval), the (intermediate-trained) encoder."""
    if target_format(cfg, target).trains:
        return layout.target(model, recipe, target, seed)
    return layout.encoder(model, recipe, seed)


def recipe_datasets(cfg: dict, recipe: str) -> list[str]:
    """Datasets an intermediate recipe trains on (MLM text included)."""
    spec = cfg["recipes"][recipe]
    return spec.get("datasets", []) + ([spec["mlm"]["dataset"]] if "mlm" in spec else [])


def recipe_flags(cfg: dict, recipe: str) -> str:
    """Multi-task, MLM and training flags of `xlrobust intermediate` (values schema-checked)."""

    spec = cfg["recipes"][recipe]
    out = [f"--sampling {spec.get('sampling', RecipeSettings.sampling)}"]
    if "temperature" in spec:
        out.append(f"--temperature {spec['temperature']}")
    if "cap" in spec:
        out.append(f"--cap {spec['cap']}")
    if "mlm" in spec:
        out.append(f"--mlm-data {layout.data_dir(spec['mlm']['dataset'])} --mlm-ratio {spec['mlm']['ratio']}")
    return " ".join(out + [flags(spec.get("train", {}))])


def train_flags(cfg: dict, target: str) -> str:
    return flags(cfg["targets"][target].get("train", {}))


def predict_flags(cfg: dict, target: str) -> str:
    """The target's prediction settings as flags after a space (none: nothing, so the
    command has no double space: DVC compares commands as strings)."""
    given = flags(cfg["targets"][target].get("predict", {}))
    return f" {given}" if given else ""


def model_flags(cfg: dict, target: str) -> str:
    """The target's prediction settings that change what its model computes (max length,
    retrieval layer), as flags after a space (none: nothing): an attack runs the model as
    prediction does."""
    spec = cfg["targets"][target].get("predict", {})
    given = flags({k: v for k, v in spec.items() if k in ("max_length", "layer")})
    return f" {given}" if given else ""


def probe_files(cfg: dict, model: str, recipe: str, target: str, seed) -> list[tuple[str, str]]:
    """(perturbed input, prediction output) pairs of one run."""
    triples = probes(cfg, target)  # once, not once per language (the planning of 40-language targets)
    return [
        (
            layout.perturbed(target, lang, p, rate, ps),
            layout.perturbed_prediction(model, recipe, target, seed, lang, p, rate, ps),
        )
        for lang in target_langs(cfg, target)
        for p, rate, ps in triples
    ]


def perturbed_dirs(cfg: dict, target: str) -> list[str]:
    """The per-language probe folders a target's predictions read (none without probes)."""
    return [layout.perturbed_dir(target, lang) for lang in target_langs(cfg, target)] if probes(cfg, target) else []


def perturb_args(cfg: dict, target: str, lang: str) -> str:
    """--perturbation/--rate/--seed/--sides/--out lists of one language's perturb job."""
    ps = probes(cfg, target)
    cols = {
        "--perturbation": [p for p, _, _ in ps],
        "--rate": [str(r) for _, r, _ in ps],
        "--seed": [str(s) for _, _, s in ps],
        "--sides": [perturbation_sides(cfg, target, p) for p, _, _ in ps],
        "--out": [layout.perturbed(target, lang, p, r, s) for p, r, s in ps],
    }
    return " ".join(f"{flag} {' '.join(values)}" for flag, values in cols.items())


def all_predictions(cfg: dict) -> list[str]:
    return [layout.predictions(r.model, r.recipe, r.target, r.seed) for r in runs(cfg)]


def all_attacks(cfg: dict) -> list[str]:
    return [layout.attacks(r.model, r.recipe, r.target, r.seed, a) for r, a, _ in attack_jobs(cfg)]


def resources(cfg: dict, group: str, fmt: str | None = None) -> dict:
    """Cluster resources of a rule group (train, predict, attack); threads = the CPUs
    asked of SLURM (Snakemake lowers them to --cores locally). `fmt`: the target's format,
    whose own group `<group>_<format>` wins where the config has one (e.g. predict_retrieval:
    a retrieval job only embeds sentences and needs no GPU)."""
    groups = cfg.get("resources", {})
    r = groups.get(f"{group}_{fmt}", groups.get(group, {})) if fmt else groups.get(group, {})
    return dict(
        mem_mb=r.get("mem_mb", 4000),
        runtime=r.get("runtime", 60),
        gpu=r.get("gpu", 0),
        cpus_per_task=r.get("cpus_per_task", 1),
    )


def rule_resources(cfg: dict, group: str) -> dict:
    """`resources(cfg, group, format of the job's target)` per resource, as functions of a
    rule's wildcards (for the rules whose jobs are one target's: predict, attack)."""
    pick = lambda key: lambda w: resources(cfg, group, target_format(cfg, w.target).name)[key]  # noqa: E731
    return {key: pick(key) for key in resources(cfg, group)}


def threads(cfg: dict, group: str) -> int:
    return cfg.get("resources", {}).get(group, {}).get("cpus_per_task", 2)


def config_hash(cfg: dict) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:12]
