"""A training process killed by SIGKILL mid-epoch resumes from its last finished epoch (command line)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from tests.train.conftest import REPO, TINY_IMAGE

KILLER = textwrap.dedent("""
    import os, signal, sys
    from prodmatch.train.config import load_config
    from prodmatch.train.loop import train_fold

    config = load_config(sys.argv[1], data_dir=sys.argv[2], out=sys.argv[3], epochs=3)

    def hook(epoch, step):
        if epoch == 1 and step == 1:  # second epoch, mid-way: no cleanup, no finally blocks
            os.kill(os.getpid(), signal.SIGKILL)

    train_fold(config, step_hook=hook)
""")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sigkill_mid_epoch_then_resume(toy_dir, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    killed = subprocess.run([sys.executable, "-c", KILLER, str(TINY_IMAGE), str(toy_dir), str(tmp_path)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    fold_dir = tmp_path / "test-image-tiny" / "fold0"
    state = torch.load(fold_dir / "last.ckpt", weights_only=False)
    assert state["epoch"] == 1 and not (fold_dir / "metrics.json").exists()
    assert not [p.name for p in fold_dir.iterdir() if p.name.endswith(".tmp")]  # no torn files left visible
    epoch1 = state["history"][0]

    resumed = subprocess.run([sys.executable, "train_fold.py", "--config", str(TINY_IMAGE), "--data-dir",
                              str(toy_dir), "--out", str(tmp_path), "--epochs", "3", "--resume"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed" in resumed.stdout + resumed.stderr
    metrics = json.loads((fold_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and [h["epoch"] for h in metrics["history"]] == [1, 2, 3]
    assert metrics["history"][0] == epoch1  # the finished epoch was kept, not redone
    sessions = [h["session"] for h in metrics["history"]]
    assert sessions[0] != sessions[1] == sessions[2]
