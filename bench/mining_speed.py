"""Mining speed: xlrobust's BUCC mining (xlrobust.formats.mining.mine: exact kNN in blocks,
torch.topk per block, vectorised margins) against the plain reference implementation of
the same procedure (bench/mining_reference.py: XTREME's utils_retrieve.py written out with
the whole similarity matrix, a full sort per row and per-candidate Python loops), on the
same vectors. Asserted: the same mined pairs with the same margins. Printed: medians of
--runs runs and the ratio.

The vectors are unit vectors of --dim dimensions; --pairs of the xx sentences are noisy
copies of English ones (the gold pairs), the rest random, as a BUCC corpus whose few
translations hide among unrelated sentences.

    .venv/bin/python bench/mining_speed.py [--xx 4000] [--en 4000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from machine import common_args, cpu_snapshot, others_share, wait_idle
from mining_reference import mine as reference_mine


def corpus(n_xx: int, n_en: int, pairs: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    en = rng.normal(size=(n_en, dim))
    xx = rng.normal(size=(n_xx, dim))
    xx[:pairs] = en[:pairs] + rng.normal(scale=0.5, size=(pairs, dim))
    unit = lambda a: (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    return unit(xx), unit(en)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xx", type=int, default=4000, help="non-English sentences")
    ap.add_argument("--en", type=int, default=4000, help="English sentences")
    ap.add_argument("--pairs", type=int, default=400, help="gold pairs among them")
    ap.add_argument("--dim", type=int, default=384, help="vector size (me5: 384; base encoders 768)")
    ap.add_argument("--runs", type=int, default=3)
    common_args(ap, "xlrobust-bench-mining")
    a = ap.parse_args()

    import torch

    from xlrobust.formats.mining import mine

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs", flush=True)
    x, y = corpus(a.xx, a.en, a.pairs, a.dim)
    setups = {
        "xlrobust": lambda: list(zip(*(v.tolist() for v in mine(x, y)))),
        "reference": lambda: reference_mine(x, y),
    }
    results = {k: f() for k, f in setups.items()}  # warm-up, untimed
    times = {k: [] for k in setups}
    for run in range(a.runs):
        parts = []
        for name, f in setups.items():
            wait_idle(a.wait_idle)
            s0 = cpu_snapshot()
            t = time.perf_counter()
            results[name] = f()
            times[name].append(time.perf_counter() - t)
            parts.append(f"{name} {times[name][-1]:.2f} s (others used {others_share(s0, cpu_snapshot()):.0%} CPU)")
        print(f"run {run + 1}: " + "; ".join(parts), flush=True)
    ours, ref = results["xlrobust"], results["reference"]
    assert ours == ref, "mined pairs differ from the reference"
    found = sum(1 for i, j, _ in ours if i == j and i < a.pairs)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nsame mined pairs and margins: {len(ours)} pairs ({found} of the {a.pairs} planted ones)")
    print(f"medians of {a.runs} runs, {a.xx} x {a.en} sentences, dim {a.dim}:")
    for name in setups:
        print(f"  {name:10s} {med[name]:.2f} s")
    print(f"ratio reference / xlrobust: {med['reference'] / med['xlrobust']:.1f}x")


if __name__ == "__main__":
    main()
