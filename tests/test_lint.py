"""The habits the next maintainer expects: ruff's lint and format pass on the code
(configured in pyproject.toml), and the package's imports point one way (issue 25): the
import-linter contracts of pyproject.toml hold, no module imports itself back through
others, and no function imports a module of the package (which would hide a loop)."""

import ast
import graphlib
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

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
    """pyproject.toml's import-linter contracts: the layers (cli > summaries > config > stages >
    formats > primitives) and the leaves xlrobust.stats and xlrobust.settings."""
    r = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0 and "0 broken" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]


def test_import_contract_breaks_when_a_leaf_imports_the_package(tmp_path):
    shutil.copytree(REPO / "src" / "xlrobust", tmp_path / "xlrobust")
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    with open(tmp_path / "xlrobust" / "stats.py", "a", encoding="utf-8") as fh:
        fh.write("from xlrobust.errors import XlrobustError  # noqa: E402, F401\n")
    r = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode != 0 and "xlrobust.stats -> xlrobust.errors" in r.stdout, r.stdout[-3000:]


def test_layers_contract_breaks_when_a_primitive_imports_a_stage(tmp_path):
    shutil.copytree(REPO / "src" / "xlrobust", tmp_path / "xlrobust")
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    with open(tmp_path / "xlrobust" / "io.py", "a", encoding="utf-8") as fh:
        fh.write("from xlrobust.score import SCORE_SCHEMA  # noqa: E402, F401\n")
    r = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode != 0 and "xlrobust.io -> xlrobust.score" in r.stdout, r.stdout[-3000:]


def import_cycle(package: str) -> list[str] | None:
    """A loop of imports among the package's modules (grimp's graph, ordered by graphlib), or None."""
    graph = grimp.build_graph(package, cache_dir=None)
    deps = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    try:
        tuple(graphlib.TopologicalSorter(deps).static_order())
    except graphlib.CycleError as e:
        return e.args[1]
    return None


def test_the_package_has_no_import_cycle():
    cycle = import_cycle("xlrobust")
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_import_cycle_finds_a_loop(tmp_path, monkeypatch):
    pkg = tmp_path / "loopy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from loopy import b\n")
    (pkg / "b.py").write_text("def f():\n    from loopy import a\n")  # a lazy import is still a loop
    (pkg / "c.py").write_text("from loopy import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert set(import_cycle("loopy")) == {"loopy.a", "loopy.b"}
    (pkg / "b.py").write_text("def f():\n    return 1\n")
    assert import_cycle("loopy") is None


def in_function_imports(root: Path, package: str) -> list[str]:
    """`file:line` of every import of the package's own modules inside a function body."""
    found = set()
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom):
                    own = node.level > 0 or (node.module or "").split(".")[0] == package
                elif isinstance(node, ast.Import):
                    own = any(a.name.split(".")[0] == package for a in node.names)
                else:
                    continue
                if own:
                    found.add((str(path.relative_to(root)), node.lineno))
    return [f"{p}:{n}" for p, n in sorted(found)]


def test_no_function_imports_a_module_of_the_package():
    """Lazy imports of heavy third-party packages (torch, transformers, textattack) are fine;
    one of xlrobust's own modules inside a function is a loop or a layer break kept out of sight."""
    found = in_function_imports(REPO / "src" / "xlrobust", "xlrobust")
    assert not found, f"{len(found)} in-function import(s) of xlrobust modules: " + ", ".join(found)


def test_in_function_imports_are_found(tmp_path):
    (tmp_path / "m.py").write_text(
        "import json\nfrom xlrobust import io\n\n"
        "def f():\n    import torch\n    from xlrobust.score import run\n\n"
        "class C:\n    async def g(self):\n        from . import x\n        import xlrobust.io\n"
    )
    assert in_function_imports(tmp_path, "xlrobust") == ["m.py:6", "m.py:10", "m.py:11"]
