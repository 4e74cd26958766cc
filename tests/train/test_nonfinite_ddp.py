"""A non-finite loss on ONE of 2 DDP ranks (gloo, CPU): every rank skips that step, and when it keeps
happening every rank stops together -- no rank is left waiting in a gradient all-reduce."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.train.conftest import REPO, TINY_IMAGE

DRIVER = textwrap.dedent("""
    import json, os, sys, types
    import torch.nn.functional as F
    from prodmatch.train import fold_task, loop
    from prodmatch.train.config import load_config

    rank = int(os.environ["RANK"])
    loop.MAX_NONFINITE_IN_A_ROW = 3
    calls = []

    def cross_entropy(*args, **kwargs):
        calls.append(1)
        loss = F.cross_entropy(*args, **kwargs)
        if rank == 1 and (len(calls) == 2 or len(calls) >= 5):  # one bad step, then bad for good
            return loss * float("nan")
        return loss

    fold_task.F = types.SimpleNamespace(cross_entropy=cross_entropy)  # the Shopee task's loss (FoldTask.loss)
    hooked = []
    config = load_config(sys.argv[1], data_dir=sys.argv[2], out=sys.argv[3], fold=1, epochs=8, device="cpu",
                         run_name="nan", baselines=False)
    try:
        loop.train_fold(config, step_hook=lambda epoch, step: hooked.append([epoch, step]))
        status = "finished"
    except FloatingPointError as exc:
        status = "stopped: " + str(exc)
    with open(os.path.join(sys.argv[3], f"rank{rank}.json"), "w") as handle:
        json.dump({"hooked": hooked, "status": status, "calls": len(calls)}, handle)
""")


@pytest.mark.slow
def test_nonfinite_loss_on_one_rank_is_skipped_then_stops_every_rank(toy_dir, tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(driver),
           str(TINY_IMAGE), str(toy_dir), str(tmp_path)]
    # before the fix rank 1 raised alone and rank 0 waited in the gradient all-reduce (gloo: 30 min)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    # one step per epoch per rank: step 2 skipped everywhere, steps 3-4 trained, steps 5-7 bad -> stop at 7
    assert ranks[0]["hooked"] == ranks[1]["hooked"] == [[0, 0], [2, 0], [3, 0]]
    assert all(r["status"].startswith("stopped: non-finite loss on some rank for 3 steps") for r in ranks)
    assert ranks[0]["calls"] == ranks[1]["calls"] == 7
    assert "step skipped on every rank" in proc.stdout + proc.stderr
