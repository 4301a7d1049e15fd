# Validation and the selected runs; every path comes from xlrobust.layout and every
# config lookup from xlrobust.config (unit-tested there). Rules only wire paths to CLI calls.
import json
import sys

from xlrobust import config as xcfg
from xlrobust import layout
from xlrobust import settings as S
from xlrobust.errors import XlrobustError

try:
    xcfg.validate(config, workflow.source_path("../schemas/config.schema.yaml"), source="config")
    RUNS = xcfg.runs(config)
except XlrobustError as e:
    sys.exit(f"xlrobust: config error: {e}")

NAME = r"[A-Za-z0-9][A-Za-z0-9_-]*"


wildcard_constraints:
    model=NAME,
    recipe=NAME,
    target=NAME,
    dataset=NAME,
    attack=NAME,
    seed=r"\d+",
    lang=r"[a-z]{2,3}",
