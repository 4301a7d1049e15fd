"""Progress a killed job left behind (training checkpoints, attacked examples) is kept
only for a rerun of the same job: same settings, same input files.

A rule's declared output is deleted by Snakemake before a rerun, so progress lives
next to it (`<out>.checkpoints`, `<out>.partial`) and survives. It then also
survives a change of config or of an upstream model; a fingerprint of the settings
and of the inputs (every file's path, size and mtime) recorded with the progress
tells the two cases apart.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from xlrobust.io import refuse_foreign_folder

STAMP = "xlrobust_resume.json"


def fingerprint(inputs: list[str | os.PathLike], settings: dict) -> str:
    """A digest of the settings and of each input file's (path, size, mtime)."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for root in inputs:
        root = Path(root)
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for f in files:
            st = f.stat()
            h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def claim(state_dir: str | os.PathLike, **job) -> bool:
    """Make `state_dir` hold progress of this job only: keep what is there if it was
    made by the same job (`job` = fingerprint arguments), otherwise empty it. Returns
    whether earlier progress was kept."""
    state_dir = Path(state_dir)
    fp = fingerprint(**job)
    stamp = state_dir / STAMP
    kept = False
    if state_dir.is_dir() and any(state_dir.iterdir()):
        refuse_foreign_folder(state_dir, STAMP)  # never empty a folder this module did not make
        try:
            kept = json.loads(stamp.read_text())["fingerprint"] == fp
        except (OSError, ValueError, KeyError, TypeError):
            kept = False
        if not kept:
            print(f"{state_dir}: discarding progress of a different configuration or input", flush=True)
            shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"fingerprint": fp}) + "\n")
    return kept
