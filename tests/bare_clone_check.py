"""Run inside a bare clone by tests/test_samples.py: one real-data check per task format on the
repository's slices (samples/), through the CLI the workflow calls (prepare, finetune, predict,
score), with a Python audit hook that records every file opened or listed under a forbidden
root (the original checkout's folder and the shared data: anything beside the clone).

    python tests/bare_clone_check.py ENCODER OUT_JSON

ENCODER is a small save_pretrained encoder (the suite's tiny BERT); the forbidden roots come
in XLROBUST_FORBIDDEN, the allowed exceptions (the linked .venv) in XLROBUST_ALLOWED, both
os.pathsep-separated. OUT_JSON gets {"metrics": {target: clean metric}, "outside": [paths]}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

FORBIDDEN = [Path(p).resolve() for p in os.environ["XLROBUST_FORBIDDEN"].split(os.pathsep) if p]
ALLOWED = [Path(p).resolve() for p in os.environ.get("XLROBUST_ALLOWED", "").split(os.pathsep) if p]
OUTSIDE: set[str] = set()


def watch(event: str, args: tuple) -> None:
    if event not in ("open", "os.listdir", "os.scandir") or not args or not isinstance(args[0], (str, bytes, Path)):
        return
    try:
        p = Path(os.fsdecode(args[0])).resolve()
    except (OSError, ValueError):
        return
    if outside(p):
        OUTSIDE.add(str(p))


def outside(p: Path) -> bool:
    return any(p.is_relative_to(f) for f in FORBIDDEN) and not any(p.is_relative_to(a) for a in ALLOWED)


# Each format's check: the datasets to prepare (config.yaml's entries, on samples/), the one to
# fine-tune on (None: retrieval, no training), the test table, the format and the trainer's args.
CAPS = {"train": 48, "validation": 16, "test": 16}  # a check, not a study: seconds on a shared CPU
CHECKS = {
    "span_qa": (
        ["tydiqa_en_shared", "mlqa_dev_shared"],
        "tydiqa_en_shared",
        "mlqa_dev_shared",
        ["--max-length", "256"],
    ),
    "tagging": (["panx_local", "udpos_local"], "panx_local", "panx_local", []),
    "choice": (["xcopa_real", "csqa_local"], "xcopa_real", "xcopa_real", []),
    "retrieval": (["tatoeba_real"], None, "tatoeba_real", []),
}


def main(encoder: str, out: str) -> int:
    # the clone's own package: the editable install's path (the original checkout) goes
    sys.path[:] = [p for p in sys.path if not outside(Path(p or ".").resolve())]
    sys.path_importer_cache.clear()
    sys.addaudithook(watch)

    from xlrobust.cli import main as xlrobust
    from xlrobust.config import read

    cfg = read("config.yaml")  # config.yaml and its parts in config/, merged as the workflow merges them
    preds = []
    for fmt, (datasets, train, test, more) in CHECKS.items():
        start = time.time()
        for d in datasets:
            spec = json.dumps({**cfg["datasets"][d], "max_examples": CAPS})
            assert xlrobust(["prepare", "--dataset", d, "--spec", spec, "--out-dir", f"data/{d}"]) == 0, d
        model = encoder
        if train:
            model = f"models/{train}"
            args = ["--init", encoder, "--data", f"data/{train}", "--seed", "1", "--out", model]
            args += [
                "--epochs",
                "1",
                "--batch-size",
                "16",
                "--max-length",
                "64",
                "--doc-stride",
                "32",
                "--lr",
                "1e-3",
                *more,
            ]
            assert xlrobust(["finetune", *args]) == 0, train
        run = ["model=tiny", "recipe=none", f"target={test}", "seed=1"]
        pred = f"predictions/{test}/clean.parquet"
        cmd = ["predict", "--model", model, "--format", fmt, "--run", *run]
        assert xlrobust([*cmd, "--data", f"data/{test}/test.parquet", "--out", pred]) == 0, test
        preds.append(str(Path(pred).parent))
        print(f"{fmt}: {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    assert (
        xlrobust(["score", "--predictions", *preds, "--out-scores", "scores.parquet", "--out-metrics", "m.json"]) == 0
    )
    import polars as pl

    scores = pl.read_parquet("scores.parquet").filter(pl.col("probe") == "clean")
    by = scores.group_by("target", "metric").agg(pl.col("value").mean(), pl.col("language").n_unique())
    metrics = {f"{t}/{m}": {"mean": v, "languages": n} for t, m, v, n in by.sort("target", "metric").iter_rows()}
    Path(out).write_text(json.dumps({"metrics": metrics, "outside": sorted(OUTSIDE)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
