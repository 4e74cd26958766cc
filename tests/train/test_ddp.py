"""DistributedDataParallel on CPU: torchrun, 2 processes, gloo backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from prodmatch.data import DataDir, assign_folds
from tests.train.conftest import REPO, TINY_IMAGE


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(toy_dir, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(REPO / "train_fold.py"), "--config", str(TINY_IMAGE), "--data-dir", str(toy_dir),
           "--out", str(tmp_path), "--fold", "1", "--epochs", "2", "--device", "cpu", "--run-name", "ddp"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    fold_dir = tmp_path / "ddp" / "fold1"
    metrics = json.loads((fold_dir / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["epochs"] == 2 and metrics["fold"] == 1

    # every held-out row exactly once, in the held-out fold's order
    train = DataDir.of(toy_dir).read_train()
    held_out = train[assign_folds(train, 3)["fold"].to_numpy() == 1].reset_index(drop=True)
    with np.load(fold_dir / "oof_embeddings.npz") as oof:
        ids, emb = oof["posting_id"], oof["embeddings"]
    assert ids.tolist() == held_out["posting_id"].tolist()

    # the gathered embeddings are what the saved model gives for those rows (no row mixed up across ranks)
    from prodmatch.embed import embed_frame, load_run

    (model,) = load_run(tmp_path / "ddp", device="cpu")
    np.testing.assert_allclose(embed_frame(model, held_out, toy_dir / "train_images"), emb, atol=1e-5)

    # the training rows are split between the 2 ranks: ceil(n/2) rows each, batches of 8 per rank
    n_train = len(train) - len(held_out)
    steps_per_epoch = -(-n_train // 2) // 8
    state = torch.load(fold_dir / "last.ckpt", weights_only=False)
    assert metrics["n_train"] == n_train and steps_per_epoch >= 1
    assert state["epoch"] == 2 and state["scheduler"]["last_epoch"] == 2 * steps_per_epoch
