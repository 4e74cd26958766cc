"""index search and index eval on a built index: they agree, category filtering needs and uses category heads,
and a model changed since the build is refused."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from prodmatch.visual.categories import CategorySearch
from prodmatch.visual.evaluate import EvalSpec, evaluate_index, evaluate_results
from prodmatch.visual.folder import IndexFolder, IndexFolderError
from prodmatch.visual.identity import BackboneIdentity, ModelChoice, RunIdentity
from prodmatch.visual.search import SearchSpec, search_index
from tests.visual.conftest import QUIET, build_tiny


def test_build_eval_and_search_agree(visual_dir, tmp_path):
    result = build_tiny(visual_dir, tmp_path / "index")
    assert result.built and result.computed == list(range(result.n_shards)) and result.n_shards > 1
    manifest = IndexFolder.of(tmp_path / "index").read_complete_manifest()
    assert manifest.model == BackboneIdentity("test_efficientnet", "none", 32) and manifest.built.kind == "exact"

    report = evaluate_index(EvalSpec(tmp_path / "index", visual_dir, compare=("exact", "lsh"), latency_queries=3,
                                     json_out=tmp_path / "eval.json", runtime=QUIET))
    assert [row.kind for row in report.rows] == ["exact", "lsh"]
    assert "MAR@10" in report.table() and (tmp_path / "eval.json").is_file()
    assert all(row.latency_ms_p50 > 0 and 0 <= row.score.mar_at_10 <= 1 for row in report.rows)

    search = search_index(SearchSpec(tmp_path / "index", visual_dir, runtime=QUIET), tmp_path / "results.csv")
    assert search.n_queries == report.n_queries
    scored = evaluate_results(tmp_path / "results.csv", visual_dir)
    assert scored.mar_at_10 == pytest.approx(report.rows[0].score.mar_at_10)  # the file holds exact's top 10


def test_category_filter_needs_heads_and_uses_them(visual_dir, run_with_heads, tmp_path):
    build_tiny(visual_dir, tmp_path / "plain")
    with pytest.raises(ValueError, match="hierarchical heads"):
        evaluate_index(EvalSpec(tmp_path / "plain", visual_dir, compare=(), category=CategorySearch("filter"),
                                runtime=QUIET))
    build_tiny(visual_dir, tmp_path / "heads", model=ModelChoice(run=run_with_heads))
    ids, categories = IndexFolder.of(tmp_path / "heads").read_rows()
    assert categories.shape == (len(ids), 3) and categories.dtype == np.int64
    report = evaluate_index(EvalSpec(tmp_path / "heads", visual_dir, compare=(), latency_queries=2,
                                     category=CategorySearch("filter"), runtime=QUIET))
    assert [row.category for row in report.rows] == ["none", "filter"]
    assert report.model == {"run": str(run_with_heads.resolve()), "folds": [0], "epochs": [1], "categories": True}


def test_search_refuses_a_run_retrained_since_the_build(visual_dir, run_with_heads, tmp_path):
    """The manifest records the run's folds and epochs; a run whose model.pt changed since is refused, not
    searched with embeddings unlike the index's."""
    run = tmp_path / "run"
    shutil.copytree(run_with_heads, run)
    build_tiny(visual_dir, tmp_path / "index", model=ModelChoice(run=run))
    recorded = IndexFolder.of(tmp_path / "index").read_complete_manifest().model
    assert recorded == RunIdentity(str(run.resolve()), (0,), (1,), True)
    payload = torch.load(run / "fold0" / "model.pt", weights_only=False)
    torch.save({**payload, "epoch": 2}, run / "fold0" / "model.pt")  # trained one epoch more
    with pytest.raises(IndexFolderError, match=r"epochs \[1\]\), which is now run .* epochs \[2\]"):
        search_index(SearchSpec(tmp_path / "index", visual_dir, runtime=QUIET), tmp_path / "results.csv")
