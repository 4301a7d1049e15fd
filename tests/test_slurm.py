"""profiles/slurm on a real one-node SLURM: scripts/slurm_local.sh installs and starts
slurmctld, slurmd and munged on this machine, runs the demo study through the
profile, and stops the daemons. Needs root (and apt-get when SLURM is not
installed): CI runs as root; elsewhere the test fails, it never skips."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git_clone
from faults import SMALL

RULES = {
    "prepare_data",
    "fetch_model",
    "config_snapshot",
    "perturb",
    "intermediate",
    "finetune",
    "predict",
    "attack",
    "score",
    "report",
}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_demo_runs_through_a_real_slurm_and_the_daemons_stop(tmp_path):
    assert os.geteuid() == 0, (
        "test_slurm needs root: scripts/slurm_local.sh installs slurm-wlm/munge and starts "
        "slurmctld, slurmd and munged (CI runs as root)"
    )
    assert shutil.which("slurmctld") or shutil.which("apt-get"), (
        "test_slurm needs Debian's slurm-wlm and munge, or apt-get to install them"
    )
    root = git_clone(tmp_path / "repo")
    # The reduced demo (tests/studies/demo_small.yaml, --configfile): the same rules and
    # DAG shape (every rule runs, paired comparison included) at fewer jobs, so the run
    # stays within a few minutes on 2 cores despite SLURM's per-job overhead.

    # Jobs import this copy's package (consistent with its config and rules).
    env = {**os.environ, "XLROBUST_VENV": sys.prefix, "PYTHONPATH": str(root / "src"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        ["bash", str(root / "scripts/slurm_local.sh"), str(root), *SMALL],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=1500)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the script's trap cancels the jobs and stops the daemons
        stdout, stderr = proc.communicate(timeout=120)
        pytest.fail(f"slurm_local.sh timed out after 25 min:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    assert proc.returncode == 0, f"{stdout[-4000:]}\n{stderr[-4000:]}"
    assert (root / "results/report.html").stat().st_size > 1000
    assert "Study: demo_small<" in (root / "results/report.html").read_text()

    state = root / "logs/slurm_local"
    # squeue's records (kept by MinJobAge) of every job the profile submitted.
    jobs = {}
    for line in (state / "jobs.txt").read_text().splitlines():
        jobid, st, comment, _name = line.split("|")
        jobs[jobid] = (st, comment)
    assert jobs and all(st == "COMPLETED" for st, _ in jobs.values()), jobs
    rules_run = {re.sub(r"^rule_|_wildcards_.*$", "", c) for _, c in jobs.values()}
    assert rules_run == RULES, rules_run
    # slurmctld's own completion log agrees.
    comp = dict(re.findall(r"JobId=(\d+) .*?JobState=(\w+)", (state / "jobcomp.txt").read_text()))
    assert comp == {j: "COMPLETED" for j in jobs}, comp
    # The plugin's per-job sbatch logs: one per SLURM job, named by its job id, each
    # showing Snakemake finishing the job inside the allocation.
    logs = {p.stem: p for p in (root / "logs/slurm").rglob("*.log")}
    assert set(logs) == set(jobs), (sorted(logs), sorted(jobs))
    for p in logs.values():
        assert "Finished jobid" in p.read_text(), p
    # Every daemon the script started is gone, and its slurm.conf removed.
    pids = dict(line.split() for line in (state / "daemon_pids.txt").read_text().splitlines())
    assert set(pids) == {"munged", "slurmctld", "slurmd"}
    assert not [name for name, pid in pids.items() if alive(int(pid))], pids
    assert "slurm_local: stopped" in stdout
    conf = Path("/etc/slurm/slurm.conf")
    assert not conf.exists() or "slurm_local.sh" not in conf.read_text()
