"""xlrobust estimate: FLOP counting on hand-computed cases, scaling, clear errors."""

import copy
import subprocess
import sys

import pytest

from xlrobust import config, estimate
from xlrobust.errors import XlrobustError

from conftest import REPO


def cfg(**over):
    c = config.read(REPO / "config.yaml")
    c.update(over)
    return config.validate(c)


def test_intermediate_flops_match_hand_count():
    c = cfg(studies="q4")
    lines = {ln.stage: ln for ln in estimate.estimate(c)}
    p = 278e6  # XLM-R base
    mnli = 392_702 * 40 + 9_815 * 40 / 3  # train tokens + a third for dev evaluation
    # recipes mnli and mnli_mlm (MLM at 0.2 adds 1/0.8), 2 epochs, 3 seeds each
    want = 3 * (6 * p * mnli * 2 + 6 * p * mnli / 0.8 * 2)
    assert lines["intermediate"].jobs == 6
    assert lines["intermediate"].flops == pytest.approx(want)


def test_estimate_scales_with_seeds_and_studies():
    one = cfg(studies="q2")
    two = copy.deepcopy(one)
    two["study"]["q2"]["seeds"] = [1, 2, 3, 4, 5, 6]
    a = {ln.stage: ln for ln in estimate.estimate(one)}
    b = {ln.stage: ln for ln in estimate.estimate(two)}
    for stage in ("intermediate", "finetune", "predict", "attack"):
        assert b[stage].jobs == 2 * a[stage].jobs
        assert b[stage].flops == pytest.approx(2 * a[stage].flops)
    total = lambda c: sum(ln.flops for ln in estimate.estimate(c))  # noqa: E731
    assert total(cfg(studies="all")) > total(cfg(studies="q2")) > total(cfg(studies="demo"))


def test_unknown_model_size_names_the_fix():
    c = cfg(studies="demo")
    (m,) = c["study"]["demo"]["models"]
    c["models"][m]["source"] = "/somewhere/else"
    with pytest.raises(XlrobustError, match=f"set models.{m}.params_m"):
        estimate.estimate(c)
    c["models"][m]["params_m"] = 117.7
    assert estimate.estimate(c)[0].flops > 0


def test_cli_prints_table_with_total():
    r = subprocess.run(
        [sys.executable, "-m", "xlrobust", "estimate", "--studies", "all"], cwd=REPO, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    total = [ln for ln in r.stdout.splitlines() if ln.startswith("total")]
    assert len(total) == 1 and float(total[0].split()[3]) > 10  # GPU-hours of all studies
    r = subprocess.run(
        [sys.executable, "-m", "xlrobust", "estimate", "--studies", "q9"], cwd=REPO, capture_output=True, text=True
    )
    assert r.returncode == 2 and "unknown study 'q9'" in r.stderr
