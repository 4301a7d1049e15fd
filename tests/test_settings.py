"""Each setting once: a settings group's defaults agree across the command line, the
config schema and the Python API (the multi-task `temperature` was 2.0 on the command line
and 1.0 in train.py/multitask.py; this test fails on such a pair)."""

from __future__ import annotations

import argparse
import inspect
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
import yaml

from xlrobust import attack, cli, config, multitask, predict, train
from xlrobust import settings as S
from xlrobust.report import narrative

# The functions that take a group's settings as parameters (a parameter named as a field,
# or as in ALIASES); None as a default means "the group's default".
API = {
    S.TrainSettings: [train.train, train.finetune, train.train_tasks],
    S.RecipeSettings: [train.train_tasks, multitask.TaskBatchSampler],
    S.PredictSettings: [predict.predict],
    S.AttackSettings: [attack.attack],
    S.SampleSettings: [],  # xlrobust.sampling takes the seed it is given (no default of its own)
    S.ReportSettings: [narrative.study_section],
}
ALIASES = {"caps": "cap"}  # train_tasks' per-task caps: the recipe's one cap for every task
# where config.load_schema puts each group's schema fragment
SCHEMA = {
    S.TrainSettings: lambda s: s["$defs"]["train"],
    S.RecipeSettings: lambda s: s["properties"]["recipes"]["additionalProperties"],
    S.PredictSettings: lambda s: s["$defs"]["predict"],
    S.AttackSettings: lambda s: s["$defs"]["attack"],
    S.SampleSettings: lambda s: s["$defs"]["sample"],
    S.ReportSettings: lambda s: s["$defs"]["report"],
}
CONFIG_ONLY = {S.SampleSettings, S.ReportSettings}  # read from config (a dataset's sample:, report:): no flags


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    ap = cli.parser()
    return next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_group_is_checked_here_and_has_a_cli_command():
    assert set(API) == set(SCHEMA) == set(S.GROUPS)
    assert set(S.GROUPS) - CONFIG_ONLY == {cls for classes in cli.SETTINGS.values() for cls in classes}


@pytest.mark.parametrize("cls", S.GROUPS, ids=lambda c: c.__name__)
def test_cli_defaults_agree_with_the_dataclass(cls):
    subs = _subparsers()
    commands = [c for c, classes in cli.SETTINGS.items() if cls in classes]
    for command in commands:
        actions = {a.dest: a for a in subs[command]._actions}
        for f in fields(cls):
            if f.name not in actions:
                assert cls is not cli.SETTINGS[command][0] or f.name == "recipes", f"{command}: no --{f.name}"
                continue  # attack takes only --max-length and --layer of the prediction settings
            a = actions[f.name]
            # a flag left out passes nothing on (the dataclass default applies) or the same value
            assert a.default is None or a.default == f.default, (
                f"xlrobust {command} --{f.name} defaults to {a.default!r}, {cls.__name__} to {f.default!r}"
            )
            if f.default is not None:  # a None default is described in words
                assert a.help.endswith(f"(default: {f.default})"), f"{command} --{f.name}: {a.help}"


@pytest.mark.parametrize("cls", S.GROUPS, ids=lambda c: c.__name__)
def test_schema_is_generated_and_states_the_dataclass_defaults(cls):
    fragment = SCHEMA[cls](config.load_schema())["properties"]
    try:  # the schema file itself does not define them a second time
        raw = SCHEMA[cls](yaml.safe_load(Path(config.SCHEMA).read_text(encoding="utf-8"))).get("properties", {})
    except KeyError:
        raw = {}  # the whole fragment is generated
    for f in fields(cls):
        if cls is S.RecipeSettings and f.name == "mlm_ratio":  # config.yaml: mlm: {dataset, ratio}
            assert "ratio" in fragment["mlm"]["properties"]
            continue
        prop = fragment[f.name]
        assert prop["description"] == f.metadata["help"], f"{cls.__name__}.{f.name} not from the dataclass"
        assert "default" not in prop or prop["default"] == f.default
        assert f.name not in raw, f"{f.name} defined in {config.SCHEMA} as well"


@pytest.mark.parametrize("cls", S.GROUPS, ids=lambda c: c.__name__)
def test_api_signature_defaults_agree_with_the_dataclass(cls):
    by_name = {f.name: f for f in fields(cls)}
    checked = 0
    for fn in API[cls]:
        for name, param in inspect.signature(fn).parameters.items():
            f = by_name.get(ALIASES.get(name, name))
            if f is None or param.default is inspect.Parameter.empty:
                continue
            checked += 1
            assert f.default is not MISSING
            assert param.default is None or param.default == f.default, (
                f"{fn.__qualname__}({name}={param.default!r}) but {cls.__name__}.{f.name} = {f.default!r}"
            )
    if cls is S.RecipeSettings:
        assert checked >= 6  # sampling, temperature, caps, mlm_ratio of train_tasks and the sampler


def test_the_recipe_temperature_is_what_the_command_line_and_the_api_use():
    assert S.RecipeSettings.temperature == 2.0
    assert inspect.signature(train.train_tasks).parameters["temperature"].default == 2.0
    assert inspect.signature(multitask.TaskBatchSampler).parameters["temperature"].default == 2.0


@pytest.mark.parametrize("flag", [["--temperature", "0"], ["--cap", "0"], ["--mlm-ratio", "1"]])
def test_recipe_flags_out_of_their_bounds_are_one_line(flag, tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["intermediate", "--init", str(tmp_path), "--data", str(tmp_path), "--seed", "1", "--out", str(out)]
    assert cli.main(argv + flag) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag[0] in err and not out.exists()
