"""The habits the next maintainer expects: ruff's lint and format pass on the code
(configured in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

from conftest import REPO

RUFF = Path(sys.executable).parent / "ruff"


def test_ruff_lint_is_clean():
    r = subprocess.run([str(RUFF), "check", "src", "tests", "bench"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]


def test_ruff_format_is_clean():
    r = subprocess.run(
        [str(RUFF), "format", "--check", "src", "tests", "bench"], cwd=REPO, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
