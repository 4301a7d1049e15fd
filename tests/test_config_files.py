"""The project's config is config.yaml with the files of config/ merged over it
(xlrobust.config.PARTS): Snakemake and every command that reads config.yaml must see the
same merged config, each entry must live in one file, and config.yaml alone runs the demo."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from xlrobust import config
from xlrobust.dvcgen import WORKFLOW_FILES, stages
from xlrobust.errors import XlrobustError

from conftest import REPO

BIN = Path(sys.executable).parent


def entries(path: Path) -> set[str]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        f"{s}.{n}" if isinstance(v, dict) else s for s, v in doc.items() for n in (v if isinstance(v, dict) else [s])
    }


def test_the_project_config_is_config_yaml_and_its_parts_in_order():
    assert config.files(REPO / "config.yaml") == [REPO / "config.yaml", *(REPO / p for p in config.PARTS)]
    assert all((REPO / p).is_file() for p in config.PARTS)
    # a run's resolved config and a study file are read alone
    assert config.files(REPO / "results" / "config.yaml") == [REPO / "results" / "config.yaml"]
    assert config.files(REPO / "tests/studies/demo_small.yaml") == [REPO / "tests/studies/demo_small.yaml"]


def test_each_entry_is_defined_in_one_file():
    seen: dict[str, str] = {}
    for f in config.files(REPO / "config.yaml"):
        for e in entries(f):
            assert e not in seen, f"{e} is defined in {seen[e]} and {f.relative_to(REPO)}"
            seen[e] = str(f.relative_to(REPO))
    cfg = config.load(REPO / "config.yaml")
    for section in ("models", "datasets", "recipes", "targets", "study", "resources"):
        assert {f"{section}.{n}" for n in cfg[section]} <= set(seen), section
    assert config.entry_files(REPO / "config.yaml") == {e: f for e, f in seen.items() if "." in e}
    assert seen["study.demo"] == seen["datasets.demo_sentiment"] == "config.yaml"
    assert seen["study.q1"] == "config/studies.yaml" and seen["datasets.xnli"] == "config/catalogue.yaml"
    assert seen["study.cpu_qa"] == seen["datasets.umsab"] == "config/cpu.yaml"
    assert seen["resources.train"] == "config/cluster.yaml"


def test_config_yaml_alone_runs_the_demo_as_the_merged_config_does():
    alone = config.validate(yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8")), source="config.yaml")
    merged = config.load(REPO / "config.yaml")
    assert alone["studies"] == merged["studies"] == "demo"
    assert config.runs(alone) == config.runs(merged)
    assert config.used(alone) == config.used(merged)


def test_a_missing_part_is_named(tmp_path):
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    with pytest.raises(XlrobustError, match=r"config/catalogue\.yaml: config file not found"):
        config.read(tmp_path / "config.yaml")
    for p in config.PARTS:
        shutil.copy(REPO / p, tmp_path / p)
    (tmp_path / config.PARTS[1]).write_text("- a list\n")
    with pytest.raises(XlrobustError, match=r"config/studies\.yaml: a config is a mapping of keys, not list"):
        config.read(tmp_path / "config.yaml")


@pytest.mark.parametrize(
    "args",
    [["--config", "studies=all"], ["--configfile", "tests/studies/demo_small.yaml"]],
    ids=["studies=all", "configfile-overlay"],
)
def test_snakemake_resolves_the_config_python_reads(tmp_path, args):
    """The workflow's own snapshot of what Snakemake resolved (results/config.yaml) equals
    xlrobust.config's merge of the same files, with an overlay or a --config value on top."""
    for name in [*WORKFLOW_FILES, "tests/studies"]:
        src, dst = REPO / name, tmp_path / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    r = subprocess.run(
        [str(BIN / "snakemake"), "--cores", "1", "results/config.yaml", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    cfg = config.read(tmp_path / "config.yaml")
    if args[0] == "--configfile":
        from snakemake.utils import update_config

        update_config(cfg, config.read(tmp_path / args[1]))
    else:
        cfg["studies"] = "all"
    want = config.used(config.validate(cfg))
    assert yaml.safe_load((tmp_path / "results/config.yaml").read_text()) == want
    if args[0] == "--configfile":
        assert want["studies"] == ["demo_small"] and want["datasets"]["demo_sentiment"]["langs"] == ["en", "de", "ar"]
    else:  # every study of every file, with what each uses from the catalogue
        assert {"demo", "q1", "q5", "cpu", "cpu_dual"} <= set(want["study"]) and "xnli" in want["datasets"]


def test_dvc_params_name_the_file_that_defines_the_entry():
    rows = [
        {"rule": r, "shellcmd": f"xlrobust {r} {n}", "output": [f"out/{r}/{n}"], "input": [], "log": "", "wildcards": w}
        for r, n, w in [
            ("prepare_data", "demo", {"dataset": "demo_nli"}),
            ("prepare_data", "umsab", {"dataset": "umsab"}),
            ("finetune", "xnli", {"model": "mbert", "recipe": "none", "target": "xnli", "seed": "1"}),
        ]
    ]
    cfg = config.load(REPO / "config.yaml")
    got = stages(rows, cfg, config.entry_files(REPO / "config.yaml"))["stages"]
    assert got["prepare_data__demo_nli"]["params"] == [{"config.yaml": ["datasets.demo_nli"]}]
    assert got["prepare_data__umsab"]["params"] == [{"config/cpu.yaml": ["datasets.umsab"]}]
    assert got["finetune__mbert__none__xnli__1"]["params"] == [{"config/catalogue.yaml": ["targets.xnli"]}]
