"""Helpers of tests/test_reliability.py: a Snakemake run that can be SIGKILLed at a
chosen stage, checks that nothing truncated was accepted, one-line error checks, and
the figures the suite prints at the end (tests/conftest.py: pytest_terminal_summary)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import polars as pl

BIN = Path(sys.executable).parent
# No Hub access from a test: HF_HUB_OFFLINE, and no proxy that could reach it.
ENV = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
ENV.update(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", HF_HUB_OFFLINE="1")

# What the suite measured; printed by conftest.pytest_terminal_summary.
FIGURES: dict[str, str] = {}
COUNTS: Counter = Counter()

OUTPUT_DIRS = ("data", "models", "perturbed", "predictions", "attacks", "results")
# Snakemake's own banner lines on stderr (not ours to count as error lines).
SNAKEMAKE_BANNER = (
    "Using workflow specific profile",
    "Assuming unrestricted shared filesystem",
    "Config file config.yaml is extended",
)


# ------------------------------------------------------------------ the reduced demo
# The demo made smaller, as a study in its own config file (Snakemake's --configfile),
# for the SLURM run.
SMALL_STUDY = "tests/studies/demo_small.yaml"
SMALL = ["--configfile", SMALL_STUDY]


# ------------------------------------------------------------------ a killable Snakemake
def _pgid_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            out.append(int(d))
    return out


class Snakemake:
    """`snakemake --cores all results/report.html` (the shipped demo) in its own process group."""

    def __init__(self, root: Path, name: str):
        self.root, self.name = root, name
        self.proc = None
        self.attempt = 0
        self.started = 0.0

    def start(self, *extra: str) -> None:
        self.attempt += 1
        self.log = self.root.parent / f"{self.name}.snakemake.{self.attempt}.log"
        cmd = [str(BIN / "snakemake"), "--cores", "all", "results/report.html", *extra]
        self.started = time.time()
        with open(self.log, "w") as fh:
            self.proc = subprocess.Popen(
                cmd, cwd=self.root, env=ENV, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )

    def unlock(self) -> None:
        """What a user runs after a kill: SIGKILL leaves Snakemake's lock on the folder."""
        r = subprocess.run(
            [str(BIN / "snakemake"), "--unlock", "--cores", "1"],
            cwd=self.root,
            env=ENV,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float = 1800) -> int:
        return self.proc.wait(timeout=timeout)

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:]

    def kill(self) -> list[int]:
        """SIGKILL the whole process group (Snakemake and every job it started); return
        the pids that were in it. Fails if any survives."""
        pgid = self.proc.pid  # start_new_session: the group id is the leader's pid
        members = _pgid_members(pgid)
        os.killpg(pgid, signal.SIGKILL)
        self.proc.wait(timeout=60)
        deadline = time.time() + 60
        while _pgid_members(pgid):
            assert time.time() < deadline, f"processes survived SIGKILL of group {pgid}: {_pgid_members(pgid)}"
            time.sleep(0.1)
        return members


# ------------------------------------------------------------------ stage detectors
def _new(root: Path, pattern: str, since: float) -> list[Path]:
    out = []
    for p in root.glob(pattern):
        try:
            if p.stat().st_mtime >= since:
                out.append(p)
        except FileNotFoundError:
            pass
    return out


def _age(paths: list[Path]) -> float:
    try:
        return time.time() - min(p.stat().st_mtime for p in paths) if paths else -1.0
    except FileNotFoundError:
        return -1.0


def _listdir(p: Path) -> list[str]:
    try:
        return os.listdir(p)
    except FileNotFoundError:
        return []


def _lines(p: Path) -> int:
    try:
        return p.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


# Each stage: (description of the kill point, predicate(root, attempt start) -> kill now?).
# A rule's log file is (re)created when its job starts, so a log newer than the
# attempt's start means the job runs in this attempt.
STAGES = {
    "fetch_model": (
        "while the model folder is being written (or 4 s into the job)",
        lambda r, t0: (
            any(n.startswith(".tmp-") for n in _listdir(r / "models/pretrained"))
            or (_age(_new(r, "logs/fetch_model/*.log", t0)) > 4 and not any(r.glob("models/pretrained/*/config.json")))
        ),
    ),
    "perturb": ("as soon as a perturb job starts", lambda r, t0: bool(_new(r, "logs/perturb/**/*.log", t0))),
    "intermediate": (
        "mid-training, after the first epoch's checkpoint",
        lambda r, t0: (
            bool(_new(r, "logs/intermediate/**/*.log", t0))
            and bool(list(r.glob("models/intermediate/*/*/seed*.checkpoints/checkpoint-*/trainer_state.json")))
        ),
    ),
    "finetune": (
        "while the first checkpoint is being saved (or after it)",
        lambda r, t0: (
            bool(_new(r, "logs/finetune/**/*.log", t0))
            and bool(list(r.glob("models/target/*/*/*/seed*.checkpoints/checkpoint-*")))
        ),
    ),
    "predict": (
        "after some prediction files of a run are written, before the rest",
        lambda r, t0: bool(_new(r, "predictions/*/*/*/seed*/**/*.parquet", t0)),
    ),
    "attack": (
        "mid-attack, after at least one attacked example",
        lambda r, t0: any(_lines(p) >= 1 for p in _new(r, "attacks/**/*.partial/*.jsonl", t0)),
    ),
    "score": ("1 s into the scoring job", lambda r, t0: _age(_new(r, "logs/score.log", t0)) > 1.0),
    "report": ("0.5 s into the report job", lambda r, t0: _age(_new(r, "logs/report.log", t0)) > 0.5),
}


def run_with_kills(root: Path) -> dict:
    """Run the workflow in `root`, SIGKILL its process group once in every stage of
    STAGES (whichever comes next), each time unlock and rerun with --rerun-incomplete,
    finally let it finish. After every kill, everything at a final path must be whole."""
    smk = Snakemake(root, "killed")
    killed, checked, mid_write, t_start = [], 0, 0, time.time()
    while True:
        if smk.attempt:
            smk.unlock()  # a SIGKILLed Snakemake leaves its lock, as after a power loss
        smk.start(*(["--rerun-incomplete"] if smk.attempt else []))
        hit = None
        while hit is None and smk.running():
            hit = next((s for s in STAGES if s not in killed and STAGES[s][1](root, smk.started)), None)
            time.sleep(0.005)  # a model folder's temporary copy exists for ~0.2 s
        if hit is None or not smk.running():
            break
        in_flight = [p for d in OUTPUT_DIRS if (root / d).exists() for p in (root / d).rglob(".tmp-*")]
        members = smk.kill()
        assert len(members) >= 2, f"{hit}: only snakemake itself was in the group, the job was not: {members}"
        killed.append(hit)
        mid_write += bool(in_flight)
        checked += check_accepted(root)  # nothing truncated sits at a final path
        assert smk.attempt <= len(STAGES) + 1
    rc = smk.wait()
    assert rc == 0, f"the last rerun failed after kills in {killed}:\n{smk.tail()}"
    return {
        "root": root,
        "killed": killed,
        "attempts": smk.attempt,
        "checked": checked,
        "mid_write": mid_write,
        "seconds": time.time() - t_start,
    }


def is_temporary(p: Path, root: Path) -> bool:
    return any(part.startswith(".tmp-") for part in p.relative_to(root).parts)


def leftovers(root: Path) -> list[str]:
    """Temporary files, training checkpoints and attack partials left in the outputs."""
    out = []
    for d in OUTPUT_DIRS:
        for p in (root / d).rglob("*") if (root / d).exists() else []:
            if p.name.startswith(".tmp-") or p.name.endswith((".checkpoints", ".partial")):
                out.append(str(p.relative_to(root)))
    return sorted(out)


def check_accepted(root: Path) -> int:
    """Every output at a final (non-temporary) path is whole: parquet and safetensors read
    back, json parses, the report is a complete page. Returns how many were checked."""
    from safetensors import safe_open

    n = 0
    for d in OUTPUT_DIRS:
        base = root / d
        if not base.exists():
            continue
        for p in base.rglob("*"):
            if not p.is_file() or is_temporary(p, root) or any(part.endswith(".checkpoints") for part in p.parts):
                continue
            rel = p.relative_to(root)
            if p.suffix == ".parquet":
                try:
                    pl.read_parquet(p)
                except Exception as e:
                    raise AssertionError(f"{rel}: a truncated parquet at a final path ({type(e).__name__}: {e})") from e
            elif p.suffix == ".safetensors":
                with safe_open(str(p), framework="pt") as f:
                    for k in f.keys():
                        f.get_tensor(k)
            elif p.suffix == ".json":
                json.loads(p.read_text(encoding="utf-8"))
            elif p.suffix == ".html":
                assert p.read_text(encoding="utf-8").rstrip().endswith("</html>"), f"{rel}: truncated html"
            else:
                continue
            n += 1
    return n


def digests(root: Path, pattern: str) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.glob(pattern))
        if not is_temporary(p, root)
    }


# ------------------------------------------------------------------ one-line errors
def error_lines(stderr: str, snakemake: bool = False) -> list[str]:
    lines = [x for x in stderr.strip().splitlines() if x.strip()]
    if snakemake:
        lines = [x for x in lines if not x.startswith(SNAKEMAKE_BANNER)]
    return lines
