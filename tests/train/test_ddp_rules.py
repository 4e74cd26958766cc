"""DDP under torchrun (issue 20 item 7): no rank embeds alone while the others wait, an explicit process-group
timeout, and threads / loader workers from the cores each local rank has (torchrun sets OMP_NUM_THREADS=1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
import torch

from prodmatch.errors import ArgumentError
from prodmatch.train import distributed as dist_utils
from prodmatch.train.config import load_config
from prodmatch.train.inputs import loader_workers
from tests.train.conftest import REPO, TINY_IMAGE


def _ctx(local_world_size: int, world_size: int | None = None, device: str = "cpu") -> dist_utils.DistContext:
    return dist_utils.DistContext(world_size=world_size or local_world_size, device=torch.device(device),
                                  local_world_size=local_world_size)


def test_cores_per_local_rank():
    assert dist_utils.cores_per_local_rank(_ctx(4), cores=16) == 4
    assert dist_utils.cores_per_local_rank(_ctx(4, world_size=8), cores=16) == 4  # 2 nodes of 4: per node
    assert dist_utils.cores_per_local_rank(_ctx(3), cores=2) == 1  # never 0
    assert dist_utils.cores_per_local_rank(_ctx(1), cores=6) == 6


def test_loader_workers_come_from_the_cores_per_local_rank(monkeypatch):
    # 8 GPUs on a 16-core node: every rank used to start min(16 - 1, 8) = 8 workers, 64 decoders on 16 cores
    monkeypatch.setattr(dist_utils, "available_cores", lambda: 16)
    config = load_config(TINY_IMAGE, num_workers=None)
    assert loader_workers(config, _ctx(8, device="cuda")) == 1
    assert loader_workers(config, _ctx(2, device="cuda")) == 7
    assert loader_workers(config, _ctx(1, device="cuda")) == 8
    assert loader_workers(config, _ctx(1)) == 4 and loader_workers(config, _ctx(4)) == 0  # CPU: see default_num_workers
    assert loader_workers(load_config(TINY_IMAGE, num_workers=3), _ctx(8, device="cuda")) == 3  # asked for


def test_process_group_gets_an_explicit_timeout(monkeypatch):
    calls = []
    monkeypatch.setattr(dist_utils.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist_utils.dist, "init_process_group", lambda **kwargs: calls.append(kwargs))
    for key, value in {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(dist_utils.TIMEOUT_ENV, raising=False)
    ctx = dist_utils.init_distributed("cpu")
    assert calls == [{"backend": "gloo", "timeout": timedelta(minutes=60)}]  # NCCL's default: 10 minutes
    assert (ctx.rank, ctx.world_size, ctx.local_world_size) == (1, 2, 2)
    monkeypatch.setenv(dist_utils.TIMEOUT_ENV, "90")
    assert dist_utils.process_group_timeout() == timedelta(minutes=90)
    monkeypatch.setenv(dist_utils.TIMEOUT_ENV, "soon")
    with pytest.raises(ArgumentError, match="PRODMATCH_DDP_TIMEOUT_MIN='soon'"):
        dist_utils.process_group_timeout()


def test_main_rank_threads_under_ddp_only():
    faiss = pytest.importorskip("faiss")
    torch_before, faiss_before = torch.get_num_threads(), faiss.omp_get_max_threads()
    with dist_utils.main_rank_threads(_ctx(2), cores=6):
        assert torch.get_num_threads() == faiss.omp_get_max_threads() == 3
    assert (torch.get_num_threads(), faiss.omp_get_max_threads()) == (torch_before, faiss_before)
    with dist_utils.main_rank_threads(_ctx(1), cores=6):  # a single process keeps its threads
        assert (torch.get_num_threads(), faiss.omp_get_max_threads()) == (torch_before, faiss_before)


DRIVER = textwrap.dedent("""
    import json, os, sys
    import faiss, torch
    import prodmatch.embed as embed
    from prodmatch.train import distributed, loop
    from prodmatch.train.config import load_config

    distributed.available_cores = lambda: 8  # a node of 8 cores for the 2 local ranks: 4 each
    calls, searches = [], []
    encode_images, knn = embed.encode_images, faiss.knn

    def counted_encode(encoder, paths, *args, **kwargs):  # every image embedding goes through it
        calls.append([paths[0].parent.name if paths else "", len(paths)])
        return encode_images(encoder, paths, *args, **kwargs)

    def counted_knn(*args, **kwargs):  # the exact search of each evaluation (rank 0)
        searches.append([torch.get_num_threads(), faiss.omp_get_max_threads()])
        return knn(*args, **kwargs)

    embed.encode_images, faiss.knn = counted_encode, counted_knn
    config = load_config(sys.argv[1], task="visual", data_dir=sys.argv[2], out=sys.argv[3], epochs=1,
                         max_steps_per_epoch=1, device="cpu", run_name="ddp", baselines=True)
    loop.train_fold(config)
    with open(os.path.join(sys.argv[3], f"rank{os.environ['RANK']}.json"), "w") as handle:
        json.dump({"calls": calls, "searches": searches, "threads_after": torch.get_num_threads()}, handle)
""")


@pytest.mark.slow
def test_every_rank_embeds_the_baselines_and_rank_0_searches_with_its_cores(tmp_path):
    """Before: rank 0 alone embedded the whole index for the backbone baseline (rank 1 waited in a broadcast
    with NCCL's 10-minute timeout) and searched with torchrun's one thread."""
    pytest.importorskip("faiss")
    from prodmatch.visual.demo import generate_visual_demo

    data_dir = generate_visual_demo(tmp_path / "demo", n_products=16, seed=2, image_size=40).out_dir
    n_index = sum(1 for _ in open(data_dir / "index.csv", encoding="utf-8")) - 1
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(driver),
           str(TINY_IMAGE), str(data_dir), str(tmp_path)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    index_rows = [[n for folder, n in rank["calls"] if folder == "index_images"] for rank in ranks]
    # untrained encoder, backbone alone, epoch 1: each time every rank embeds its half of the index
    assert index_rows == [[(n_index + 1) // 2] * 3, [n_index // 2] * 3]
    assert ranks[0]["searches"] == [[4, 4]] * 3 and ranks[1]["searches"] == []
    assert ranks[0]["threads_after"] == ranks[1]["threads_after"] == 1  # training keeps torchrun's setting
    metrics = json.loads((tmp_path / "ddp" / "fold0" / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {"untrained", "backbone"} and metrics["world_size"] == 2
