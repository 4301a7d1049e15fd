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


LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_import_contracts_hold():
    """pyproject.toml's import-linter contracts (xlrobust.stats and xlrobust.settings are leaves)."""
    r = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0 and "0 broken" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]


def test_import_contract_breaks_when_a_leaf_imports_the_package(tmp_path):
    import shutil

    shutil.copytree(REPO / "src" / "xlrobust", tmp_path / "xlrobust")
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    with open(tmp_path / "xlrobust" / "stats.py", "a", encoding="utf-8") as fh:
        fh.write("from xlrobust.errors import XlrobustError  # noqa: E402, F401\n")
    r = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode != 0 and "xlrobust.stats -> xlrobust.errors" in r.stdout, r.stdout[-3000:]
