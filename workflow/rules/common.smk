# Path building and config lookups only; all logic lives in the xlrobust package.
import json
import sys

from xlrobust import config as xcfg
from xlrobust import layout
from xlrobust.errors import XlrobustError
from xlrobust.tasks import get_task

try:
    xcfg.validate(config, workflow.source_path("../schemas/config.schema.yaml"), source="config")
    RUNS = xcfg.runs(config)
except XlrobustError as e:
    sys.exit(f"xlrobust: config error: {e}")


wildcard_constraints:
    recipe=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    model=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    target=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    dataset=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    attack=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    seed=r"\d+",
    pseed=r"\d+",
    rate=r"[0-9.]+",


def rule_threads(name):
    """A job's threads = the CPUs it asks SLURM for (Snakemake lowers it to --cores locally)."""
    return config.get("resources", {}).get(name, {}).get("cpus_per_task", 2)


def rule_resources(name):
    r = config.get("resources", {}).get(name, {})
    return dict(
        mem_mb=r.get("mem_mb", 4000),
        runtime=r.get("runtime", 60),
        gpu=r.get("gpu", 0),
        cpus_per_task=r.get("cpus_per_task", 1),
    )


def hp_flags(spec):
    """Hyperparameter flags for xlrobust intermediate/finetune (numbers only: schema-checked)."""
    return " ".join(f"--{k.replace('_', '-')} {v}" for k, v in sorted(spec.get("train", {}).items()))


def recipe_data(recipe):
    """Dataset folders an intermediate recipe trains on (MLM text included)."""
    spec = config["recipes"][recipe]
    return [dataset_dir(d) for d in spec["datasets"]] + ([dataset_dir(spec["mlm"]["dataset"])] if "mlm" in spec else [])


def recipe_flags(recipe):
    """Multi-task and MLM flags for xlrobust intermediate (values schema-checked)."""
    spec = config["recipes"][recipe]
    flags = [f"--sampling {spec.get('sampling', 'proportional')}"]
    if "temperature" in spec:
        flags.append(f"--temperature {spec['temperature']}")
    if "cap" in spec:
        flags.append(f"--cap {spec['cap']}")
    if "mlm" in spec:
        flags.append(f"--mlm-data {dataset_dir(spec['mlm']['dataset'])} --mlm-ratio {spec['mlm']['ratio']}")
    return " ".join(flags + [hp_flags(spec)])


def dataset_dir(name):
    return f"data/{name}"


def target_dataset(target):
    return config["targets"][target]["dataset"]


def num_labels(dataset):
    return len(get_task(config["datasets"][dataset]["task"]).labels)


def probe_files(w):
    """(perturbed input, prediction output) pairs of one run."""
    pairs = []
    for lang in xcfg.target_langs(config, w.target):
        for pert, rate, pseed in xcfg.probes(config, w.target):
            pairs.append((
                layout.perturbed(w.target, lang, pert, rate, pseed),
                layout.perturbed_prediction(w.model, w.recipe, w.target, w.seed, lang, pert, rate, pseed),
            ))
    return pairs


def perturbed_dirs(target):
    """The per-language probe folders a target's predictions read (none without probes)."""
    if not xcfg.probes(config, target):
        return []
    return [layout.perturbed_dir(target, lang) for lang in xcfg.target_langs(config, target)]


def perturb_args(target, lang):
    """--perturbation/--rate/--seed/--sides/--out lists of one language's perturb job."""
    probes = xcfg.probes(config, target)
    cols = {
        "--perturbation": [p for p, _, _ in probes],
        "--rate": [str(r) for _, r, _ in probes],
        "--seed": [str(s) for _, _, s in probes],
        "--sides": [perturbation_sides(target, p) for p, _, _ in probes],
        "--out": [layout.perturbed(target, lang, p, r, s) for p, r, s in probes],
    }
    return " ".join(f"{flag} {' '.join(values)}" for flag, values in cols.items())


def run_dir(kind, run):
    return f"{kind}/{run.model}/{run.recipe}/{run.target}/seed{run.seed}"


def run_attack_spec(w):
    run = next(r for r in RUNS if (r.model, r.recipe, r.target, str(r.seed)) == (w.model, w.recipe, w.target, w.seed))
    return xcfg.attacks(config, run)


def all_predictions():
    return [run_dir("predictions", r) for r in RUNS]


def all_attacks():
    return [f"{run_dir('attacks', r)}/{a}" for r in RUNS for a in xcfg.attacks(config, r).get("recipes", [])]


def perturbation_sides(target, perturbation):
    """Which side(s) of a pair a perturbation touches (from the first study that sets it)."""
    for name in xcfg.selected_studies(config):
        st = config["study"][name]
        for p in st.get("perturbations", []):
            if target in st["targets"] and p["name"] == perturbation and "sides" in p:
                return p["sides"]
    return "both"
