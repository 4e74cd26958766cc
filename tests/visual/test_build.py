"""index build: sharded, resumable (also after a kill), split across ranks; the model recorded and checked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from prodmatch.cli import main as cli_main
from prodmatch.errors import ArgumentError
from prodmatch.visual.build import BuildSpec
from prodmatch.visual.folder import IndexFolder, IndexFolderError, read_results
from prodmatch.visual.identity import ModelChoice
from prodmatch.visual.search import SearchSpec, search_index
from prodmatch.visual.shards import assemble_shards
from tests.conftest import REPO_ROOT
from tests.visual.conftest import QUIET, TINY, build_tiny


def test_another_model_in_the_folder_is_refused(visual_dir, tmp_path):
    build_tiny(visual_dir, tmp_path / "index")
    at_40_px = ModelChoice(backbone="test_efficientnet", pretrained="none", image_size=40)
    with pytest.raises(IndexFolderError, match="another model"):
        build_tiny(visual_dir, tmp_path / "index", model=at_40_px)
    assert build_tiny(visual_dir, tmp_path / "index", model=at_40_px, overwrite=True).built
    assert IndexFolder.of(tmp_path / "index").read_complete_manifest().model.image_size == 40


def test_a_model_choice_is_a_run_or_a_backbone():
    with pytest.raises(ArgumentError, match="exactly one"):
        ModelChoice()
    with pytest.raises(ArgumentError, match="exactly one"):
        ModelChoice(run=Path("weights/run"), backbone="resnet18")
    with pytest.raises(ArgumentError, match="unknown index kind 'flat'"):
        BuildSpec(Path("i"), Path("d"), TINY, kind="flat")


def test_ranks_by_hand_then_a_final_build(visual_dir, tmp_path, monkeypatch):
    """Two ranks started without torchrun's rendezvous embed their shards; rank 0 builds once all exist."""
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    first = build_tiny(visual_dir, tmp_path / "index")
    assert not first.built and first.missing > 0 and "run index build again" in first.describe()  # rank 1's
    monkeypatch.setenv("RANK", "1")
    second = build_tiny(visual_dir, tmp_path / "index")
    assert not second.built and not set(first.computed) & set(second.computed)
    monkeypatch.setenv("RANK", "0")
    final = build_tiny(visual_dir, tmp_path / "index")
    assert final.built and final.computed == [] and final.skipped == first.computed  # its own shards, on disk


KILLER = textwrap.dedent("""
    import os, signal, sys
    from prodmatch.visual import model

    embed = model.EmbeddingModel.embed
    calls = []

    def embed_then_die(self, frame, images_dir, progress=False):
        calls.append(1)
        if len(calls) == 3:  # the third shard: two are on disk, no cleanup runs
            os.kill(os.getpid(), signal.SIGKILL)
        return embed(self, frame, images_dir, progress)

    model.EmbeddingModel.embed = embed_then_die
    from prodmatch.cli import main
    main(sys.argv[1:])
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_index_build_resumes_after_a_kill(visual_dir, tmp_path, capsys):
    args = ["index", "build", "--data-dir", str(visual_dir), "--out", str(tmp_path / "index"), "--backbone",
            "test_efficientnet", "--pretrained", "none", "--image-size", "32", "--shard-rows", "8", "--kind", "exact",
            "--no-progress", "--num-workers", "0"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "OMP_NUM_THREADS": "1"}
    killed = subprocess.run([sys.executable, "-c", KILLER, *args], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    folder = IndexFolder.of(tmp_path / "index")
    n_shards = -(-folder.read_manifest().n_rows // 8)
    assert sorted(p.name for p in folder.shards.iterdir()) == [f"shard-0000{i}-of-0000{n_shards}.npz" for i in (0, 1)]
    assert folder.read_manifest().status == "embedding"
    with pytest.raises(IndexFolderError, match="did not finish"):
        folder.read_complete_manifest()

    assert cli_main(args) == 0
    assert f"embedded {n_shards - 2} shard(s), 2 already on disk (of {n_shards})" in capsys.readouterr().out
    build_tiny(visual_dir, tmp_path / "uninterrupted", shard_rows=8)
    ids, _ = folder.read_rows()
    resumed = assemble_shards(folder.shards, ids, 8)
    np.testing.assert_allclose(resumed, assemble_shards(tmp_path / "uninterrupted" / "shards", ids, 8), atol=1e-6)
    assert folder.read_complete_manifest().n_rows == len(ids)
    search_index(SearchSpec(tmp_path / "index", visual_dir, runtime=QUIET), tmp_path / "results.csv")
    query_ids, positions = read_results(tmp_path / "results.csv", ids, 10)
    assert positions.shape == (len(query_ids), 10) and (positions >= 0).all()
