"""A training job killed mid-run resumes from its last checkpoint and, on CPU, ends
with the same weights as an uninterrupted run."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from conftest import SENTIMENT, make_examples

ARGS = ["--num-labels", "3", "--seed", "5", "--lr", "2e-3", "--epochs", "4", "--batch-size", "4", "--max-length", "32"]


def finetune(init, data, out, *extra, **kw):
    cmd = [
        sys.executable,
        "-m",
        "xlrobust",
        "finetune",
        "--init",
        init,
        "--train",
        data,
        "--dev",
        data,
        "--out",
        out,
        *ARGS,
        *extra,
    ]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        **kw,
    )


@pytest.mark.slow
def test_killed_training_resumes_to_identical_weights(tiny_encoder, tmp_path):
    data = tmp_path / "train.parquet"
    make_examples([(t, None, y) for t, y in SENTIMENT * 8]).write_parquet(data)
    full = tmp_path / "full"
    p = finetune(tiny_encoder, str(data), str(full))
    assert p.wait(timeout=600) == 0

    cut = tmp_path / "cut"
    p = finetune(tiny_encoder, str(data), str(cut))
    ckpts = Path(f"{cut}.checkpoints")
    deadline = time.time() + 300
    while not list(ckpts.glob("checkpoint-*/trainer_state.json")):  # the first epoch's checkpoint is complete
        assert p.poll() is None and time.time() < deadline, "training ended before it could be killed"
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not cut.exists()  # nothing that looks complete
    # The same checkpoints under a job with another learning rate (a config edit after
    # the kill): they are discarded, not resumed with the old settings.
    shutil.copytree(ckpts, f"{tmp_path / 'other'}.checkpoints")
    p = finetune(tiny_encoder, str(data), str(tmp_path / "other"), "--lr", "1e-3")
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0 and "discarding progress" in out and "resuming from" not in out, out[-2000:]
    p = finetune(tiny_encoder, str(data), str(cut))
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0 and "resuming from" in out  # it did resume, not restart
    assert not ckpts.exists()  # checkpoints removed once the model is saved
    a, b = load_file(full / "model.safetensors"), load_file(cut / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert np.allclose(a[k].numpy(), b[k].numpy(), atol=1e-6), k
