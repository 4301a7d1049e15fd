"""What every bench needs from this shared machine: how busy it is (other processes'
CPU share), a wait until it is idle, and its matmul peak in fp32 and bf16. Imported by the benches
(run as `python bench/<name>.py`, so this folder is on the path)."""

from __future__ import annotations

import os
import statistics
import time


def cpu_snapshot() -> tuple[float, float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process, wall clock)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    t = os.times()
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK"), t.user + t.system, time.perf_counter()


def others_share(a, b) -> float:
    """Fraction of the machine's CPUs that other processes used between two snapshots."""
    return max(0.0, ((b[0] - a[0]) - (b[1] - a[1])) / ((b[2] - a[2]) * os.cpu_count()))


def wait_idle(timeout: float = 300, share: float = 0.1) -> None:
    """On a shared machine: wait (at most `timeout` s) until other processes use < `share` of the CPUs."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        a = cpu_snapshot()
        time.sleep(1)
        if others_share(a, cpu_snapshot()) < share:
            break
    if time.perf_counter() - t0 > 1.5:
        print(f"  (waited {time.perf_counter() - t0:.0f} s for other processes to leave the CPUs)", flush=True)


def matmul_peak(n: int, reps: int, precision: str = "fp32") -> float:
    """Median GFLOP/s of torch.matmul on two n x n matrices (after one warm-up), in fp32 or
    bf16 (bfloat16 tensors: what autocast multiplies; on a CPU with AMX or AVX512-BF16,
    oneDNN's bf16 kernels)."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.matmul(a, b)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


def shared_data():
    """The real data folder (../shared/data of the main checkout; a worktree under
    <root>/wt/<name> finds <root>/shared/data)."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    for root in (repo.parent, repo.parent.parent):
        if (root / "shared" / "data").is_dir():
            return root / "shared" / "data"
    return repo.parent / "shared" / "data"


def common_args(ap, work: str) -> None:
    """The arguments every bench takes: how long to wait for an idle machine, where to work."""
    import tempfile
    from pathlib import Path

    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each timed run, wait up to this long until other processes leave the CPUs",
    )
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / work))
