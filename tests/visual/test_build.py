"""Visual-search flows: build (sharded, resumable, also after a kill), search, eval, category filtering."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from prodmatch.visual.folder import IndexFolder, IndexFolderError, read_results
from prodmatch.cli import main as cli_main
from prodmatch.visual.build import (
    BuildOptions,
    CategorySearch,
    EvalOptions,
    SearchOptions,
    build_index,
    evaluate_index,
    evaluate_results,
    search_index,
)
from prodmatch.visual.shards import assemble_shards
from tests.conftest import REPO_ROOT

TINY = dict(backbone="test_efficientnet", pretrained="none", image_size=32)


@pytest.fixture(scope="module")
def visual_dir(tmp_path_factory):
    from prodmatch.visual.demo import generate_visual_demo

    out = tmp_path_factory.mktemp("visual") / "demo"
    generate_visual_demo(out, n_products=16, seed=1, image_size=40, query_share=0.4)
    return out


@pytest.fixture(scope="module")
def run_with_heads(visual_dir, tmp_path_factory):
    """A run folder whose model.pt holds a random tiny encoder and DHC heads (no training needed here)."""
    from prodmatch.visual.layout import VisualSearchDir
    from prodmatch.models.build import encoder_payload
    from prodmatch.models.hierarchy import HierarchicalHeads, hierarchy_payload
    from prodmatch.models.image import ImageEncoder, ImageEncoderSpec

    tree = VisualSearchDir.of(visual_dir).read().tree
    torch.manual_seed(0)
    encoder = ImageEncoder.create(ImageEncoderSpec("test_efficientnet", embedding_dim=16, image_size=32), "none")
    heads = HierarchicalHeads(16, tree.sizes, tree.parents, hidden=8).eval()
    fold = tmp_path_factory.mktemp("weights") / "run" / "fold0"
    fold.mkdir(parents=True)
    payload = encoder_payload(encoder, fold=0, epoch=1, config={"model": "image"}, task="visual",
                              hierarchy=hierarchy_payload(heads, tree.levels, tree.classes))
    torch.save(payload, fold / "model.pt")
    (fold / "config.yaml").write_text("model: image\n")
    return fold.parent


def _build(visual_dir, out, **overrides):
    options = dict(index_dir=out, data_dir=visual_dir, shard_rows=16, kind="exact", progress=False, num_workers=0,
                   **TINY)
    options.update(overrides)
    return build_index(BuildOptions(**options))


def test_build_eval_and_search_agree(visual_dir, tmp_path):
    result = _build(visual_dir, tmp_path / "index")
    assert result.built and result.computed == list(range(result.n_shards)) and result.n_shards > 1
    manifest = IndexFolder.of(tmp_path / "index").read_complete_manifest()
    assert manifest["model"]["backbone"] == "test_efficientnet" and manifest["kind"] == "exact"

    report = evaluate_index(EvalOptions(tmp_path / "index", visual_dir, compare=("exact", "lsh"), progress=False,
                                        latency_queries=3, json_out=tmp_path / "eval.json", num_workers=0))
    assert [row.kind for row in report.rows] == ["exact", "lsh"]
    assert "MAR@10" in report.table() and (tmp_path / "eval.json").is_file()
    assert all(row.latency_ms_p50 > 0 and 0 <= row.score.mar_at_10 <= 1 for row in report.rows)

    search = search_index(SearchOptions(tmp_path / "index", visual_dir, progress=False, num_workers=0), tmp_path / "results.csv")
    assert search.n_queries == report.n_queries
    scored = evaluate_results(tmp_path / "results.csv", visual_dir)
    assert scored.mar_at_10 == pytest.approx(report.rows[0].score.mar_at_10)  # the file holds exact's top 10


def test_category_filter_needs_heads_and_uses_them(visual_dir, run_with_heads, tmp_path):
    _build(visual_dir, tmp_path / "plain")
    with pytest.raises(ValueError, match="hierarchical heads"):
        evaluate_index(EvalOptions(tmp_path / "plain", visual_dir, compare=(), category=CategorySearch("filter"),
                                   progress=False, num_workers=0))
    _build(visual_dir, tmp_path / "heads", run=run_with_heads, backbone=None, pretrained="auto", image_size=None)
    ids, categories = IndexFolder.of(tmp_path / "heads").read_rows()
    assert categories.shape == (len(ids), 3) and categories.dtype == np.int64
    report = evaluate_index(EvalOptions(tmp_path / "heads", visual_dir, compare=(), latency_queries=2,
                                        category=CategorySearch("filter"), progress=False, num_workers=0))
    assert [row.category for row in report.rows] == ["none", "filter"]


def test_another_model_in_the_folder_is_refused(visual_dir, tmp_path):
    _build(visual_dir, tmp_path / "index")
    with pytest.raises(IndexFolderError, match="another model"):
        _build(visual_dir, tmp_path / "index", image_size=40)
    assert _build(visual_dir, tmp_path / "index", image_size=40, overwrite=True).built


def test_ranks_by_hand_then_a_final_build(visual_dir, tmp_path, monkeypatch):
    """Two ranks started without torchrun's rendezvous embed their shards; rank 0 builds once all exist."""
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    first = _build(visual_dir, tmp_path / "index")
    assert not first.built and first.missing > 0 and "run index build again" in first.describe()  # rank 1's
    monkeypatch.setenv("RANK", "1")
    second = _build(visual_dir, tmp_path / "index")
    assert not second.built and not set(first.computed) & set(second.computed)
    monkeypatch.setenv("RANK", "0")
    final = _build(visual_dir, tmp_path / "index")
    assert final.built and final.computed == [] and final.skipped == first.computed  # its own shards, on disk


KILLER = textwrap.dedent("""
    import os, signal, sys
    from prodmatch.visual import build as visual_search

    embed = visual_search.EmbeddingModel.embed
    calls = []

    def embed_then_die(self, frame, images_dir, progress=False):
        calls.append(1)
        if len(calls) == 3:  # the third shard: two are on disk, no cleanup runs
            os.kill(os.getpid(), signal.SIGKILL)
        return embed(self, frame, images_dir, progress)

    visual_search.EmbeddingModel.embed = embed_then_die
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
    n_shards = -(-folder.read_manifest()["n_rows"] // 8)
    assert sorted(p.name for p in folder.shards.iterdir()) == [f"shard-0000{i}-of-0000{n_shards}.npz" for i in (0, 1)]
    assert folder.read_manifest()["status"] == "embedding"
    with pytest.raises(IndexFolderError, match="did not finish"):
        folder.read_complete_manifest()

    assert cli_main(args) == 0
    assert f"embedded {n_shards - 2} shard(s), 2 already on disk (of {n_shards})" in capsys.readouterr().out
    _build(visual_dir, tmp_path / "uninterrupted", shard_rows=8)
    ids, _ = folder.read_rows()
    resumed = assemble_shards(folder.shards, ids, 8)
    np.testing.assert_allclose(resumed, assemble_shards(tmp_path / "uninterrupted" / "shards", ids, 8), atol=1e-6)
    assert folder.read_complete_manifest()["n_rows"] == len(ids)
    search_index(SearchOptions(tmp_path / "index", visual_dir, progress=False, num_workers=0), tmp_path / "results.csv")
    query_ids, positions = read_results(tmp_path / "results.csv", ids, 10)
    assert positions.shape == (len(query_ids), 10) and (positions >= 0).all()
