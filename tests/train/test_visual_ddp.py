"""The visual task under DistributedDataParallel on CPU (torchrun, 2 processes, gloo): product + DHC losses
across ranks, index and query embeddings gathered from both ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.train.conftest import REPO, TINY_IMAGE


@pytest.mark.slow
def test_torchrun_two_processes_visual_task_with_heads(tmp_path):
    from prodmatch.embed import embed_frame, load_run
    from prodmatch.visual.demo import generate_visual_demo
    from prodmatch.visual.exact import exact_neighbours
    from prodmatch.visual.layout import VisualSearchDir
    from prodmatch.visual.metrics import mar_at_k

    data_dir = generate_visual_demo(tmp_path / "demo", n_products=16, seed=2, image_size=40).out_dir
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(REPO / "train_fold.py"), "--config", str(TINY_IMAGE), "--task", "visual", "--data-dir", str(data_dir),
           "--out", str(tmp_path / "w"), "--epochs", "1", "--device", "cpu", "--run-name", "ddp", "--no-baselines"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "w" / "ddp" / "fold0" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["task"] == "visual" and len(metrics["level_accuracy"]) == 3

    (model,) = load_run(tmp_path / "w" / "ddp", device="cpu")  # the gathered rows are the saved model's
    folder = VisualSearchDir.of(data_dir)
    data = folder.read()
    retrieved = exact_neighbours(embed_frame(model, data.queries, folder.query_images),
                                 embed_frame(model, data.index, folder.index_images), 10)
    assert mar_at_k(retrieved, data.truth()) == pytest.approx(metrics["mar_at_10"], abs=1e-6)
