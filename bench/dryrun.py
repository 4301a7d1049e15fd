"""How fast and how lean Snakemake plans the full study (issue: <= 20 s, <= 1 GiB).

    .venv/bin/python bench/dryrun.py --runs 3 [--studies all]

Runs `snakemake -n --quiet all` on a clean copy of the tracked files (no outputs, so
every job is planned), several times; prints the job count, median wall time and the
peak resident memory of the snakemake process. For scale it also times the same
command on the demo study, whose plan has ~35 jobs: the difference is what the
study's DAG costs on top of Snakemake's own start-up.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def clean_copy(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for f in filter(None, files.split("\0")):
        if (REPO / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dest / f)


def plan(workdir: Path, studies: str) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, jobs) of one dry run in a child process."""
    cmd = [
        str(SNAKEMAKE),
        "-n",
        "--quiet",
        "all",
        "--cores",
        "all",
        "results/report.html",
        "--config",
        f"studies={studies}",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB; the max over children so far
    if r.returncode != 0:
        sys.exit(f"dry run failed:\n{r.stderr[-2000:]}")
    m = re.search(r"^total\s+(\d+)", r.stdout + r.stderr, re.M)
    return dt, max(peak, before) / 1024, int(m.group(1)) if m else -1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--studies", default="all")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clean_copy(work)
        plan(work, "demo")  # warm the file cache and Python's bytecode cache once
        rows = {}
        for studies in ("demo", args.studies):
            rows[studies] = [plan(work, studies) for _ in range(args.runs)]
    for studies, runs in rows.items():
        times = [r[0] for r in runs]
        print(
            f"studies={studies:<6} jobs {runs[0][2]:>5}  wall median {statistics.median(times):6.1f} s "
            f"(runs: {', '.join(f'{t:.1f}' for t in times)})  peak RSS {max(r[1] for r in runs):6.0f} MiB"
        )
    big = statistics.median(r[0] for r in rows[args.studies])
    demo = statistics.median(r[0] for r in rows["demo"])
    print(
        f"summary: {rows[args.studies][0][2]} jobs planned in {big:.1f} s (goal <= 20 s; demo {demo:.1f} s, "
        f"ratio {big / demo:.1f}x), peak RSS {max(r[1] for r in rows[args.studies]):.0f} MiB (goal <= 1024)"
    )


if __name__ == "__main__":
    main()
