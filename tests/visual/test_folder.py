"""The visual-index folder (its typed manifest), the results file: round trips and loud errors."""

import json
from dataclasses import replace

import numpy as np
import pytest

from prodmatch.data.validation import DataValidationError
from prodmatch.errors import InputError
from prodmatch.visual.folder import (
    INDEX_FORMAT,
    BuiltIndex,
    IndexFolder,
    IndexFolderError,
    IndexManifest,
    read_results,
    write_results,
)
from prodmatch.visual.identity import BackboneIdentity, RunIdentity, identity_from_record

INDEX_IDS = np.array(["i0", "i1", "i2", "i3"])


def test_results_round_trip_with_short_rows(tmp_path):
    ids = np.array([["i2", "i0", "i1"], ["i3", "", ""]])
    scores = np.array([[0.9, 0.5, 0.1], [0.7, -np.inf, -np.inf]], dtype=np.float32)
    write_results(tmp_path / "r.csv", ["q0", "q1"], ids, scores)
    text = (tmp_path / "r.csv").read_text()
    assert "q1,i3,0.700000" in text  # empty slots are dropped, not written as -inf
    query_ids, positions = read_results(tmp_path / "r.csv", INDEX_IDS, k=3)
    assert query_ids.tolist() == ["q0", "q1"]
    assert positions.tolist() == [[2, 0, 1], [3, -1, -1]] and positions.dtype == np.int64


@pytest.mark.parametrize("body, message, row", [
    ("q0,i9,0.5\n", "'i9' is not in the index", 0),
    ("q0,i1 i1,0.5 0.4\n", "listed twice", 0),
    ("q0,i1,0.5\nq0,i2,0.5\n", "'q0' is listed twice", 1),
])
def test_bad_results_name_the_row(tmp_path, body, message, row):
    (tmp_path / "r.csv").write_text("query_id,index_ids,scores\n" + body)
    with pytest.raises(DataValidationError, match=message) as info:
        read_results(tmp_path / "r.csv", INDEX_IDS, k=10)
    assert info.value.row == row


# a manifest as index build wrote it before the manifest was typed (the visual demo's, paths shortened)
WRITTEN_BEFORE = {
    "format": "prodmatch-visual-index/1", "status": "complete",
    "model": {"run": "/runs/weights/heads", "folds": [0], "epochs": [2], "categories": True},
    "data_dir": "/runs/data", "n_rows": 373, "shard_rows": 4096, "kind": "exact", "index": "exact(backend=faiss)",
    "params": {"backend": "faiss"}, "dim": 256, "seconds": {"embed": 7.89, "build": 0.04},
    "categories": {"levels": ["level1", "level2", "level3"], "classes": [["a", "b"], ["c"], ["d", "e"]]},
}


def test_manifest_written_before_reads_and_writes_back_the_same(tmp_path):
    folder = IndexFolder.of(tmp_path / "idx")
    folder.path.mkdir()
    folder.manifest.write_text(json.dumps(WRITTEN_BEFORE))
    manifest = folder.read_complete_manifest()
    assert manifest.model == RunIdentity("/runs/weights/heads", (0,), (2,), True)
    assert manifest.built.kind == "exact" and manifest.built.dim == 256 and manifest.status == "complete"
    assert manifest.record() == WRITTEN_BEFORE and list(manifest.record()) == list(WRITTEN_BEFORE)  # key order too
    backbone = {"backbone": "tf_efficientnet_lite0", "pretrained": "efficientnet-lite0-pypi", "image_size": 96,
                "categories": False}
    assert identity_from_record(backbone, "m.json") == BackboneIdentity("tf_efficientnet_lite0",
                                                                        "efficientnet-lite0-pypi", 96)


def test_folder_manifest_status_and_rows(tmp_path):
    folder = IndexFolder.of(tmp_path / "idx")
    with pytest.raises(IndexFolderError, match="not an index folder"):
        folder.read_manifest()
    embedding = IndexManifest(BackboneIdentity("test_efficientnet", "none", 32), "/data", 4, 2)
    folder.write_manifest(embedding)
    assert folder.read_manifest() == embedding and embedding.status == "embedding"
    with pytest.raises(IndexFolderError, match="did not finish"):
        folder.read_complete_manifest()
    complete = replace(embedding, built=BuiltIndex("lsh", "lsh(nbits=64)", {"nbits": 64}, 32, {"build": 0.1}, None))
    folder.write_manifest(complete)
    assert folder.read_complete_manifest() == complete
    assert json.loads(folder.manifest.read_text())["format"] == INDEX_FORMAT
    assert complete.same_embeddings(embedding) and not complete.same_embeddings(replace(embedding, shard_rows=3))
    folder.write_rows(INDEX_IDS, np.zeros((4, 2), dtype=np.int64))
    ids, categories = folder.read_rows()
    assert ids.tolist() == INDEX_IDS.tolist() and categories.shape == (4, 2)
    with pytest.raises(ValueError, match="int64"):
        folder.write_rows(INDEX_IDS, np.zeros((4, 2), dtype=np.int32))


@pytest.mark.parametrize("change, message", [
    ({"format": "other/1"}, "expected prodmatch-visual-index/1"),
    ({"model": {"run": "/r", "folds": [0]}}, "model record .* is not one prodmatch index build writes"),
    ({"model": {"backbone": "b", "pretrained": "none", "image_size": "big", "categories": False}}, "model record"),
    ({"model": {**WRITTEN_BEFORE["model"], "extra": 1}}, "model record"),
    ({"n_rows": None}, "not a manifest prodmatch index build writes"),
    ({"dim": "wide"}, "not a manifest prodmatch index build writes"),
])
def test_a_manifest_prodmatch_did_not_write_is_one_error(tmp_path, change, message):
    folder = IndexFolder.of(tmp_path / "idx")
    folder.path.mkdir()
    folder.manifest.write_text(json.dumps({**WRITTEN_BEFORE, **change}))
    with pytest.raises(InputError, match=message):
        folder.read_manifest()
    folder.manifest.write_text("{")
    with pytest.raises(IndexFolderError, match="not a JSON manifest"):
        folder.read_manifest()


def test_evaluation_round_trip_and_other_files_refused(tmp_path):
    from prodmatch.errors import MissingInputError
    from prodmatch.visual.folder import read_evaluation, write_evaluation

    report = {"rows": [{"kind": "exact", "category": "none", "mar_at_10": 0.25}], "n_queries": 3}
    write_evaluation(tmp_path / "eval.json", report)
    assert read_evaluation(tmp_path / "eval.json") == {"format": "prodmatch-visual-eval/1", **report}
    (tmp_path / "other.json").write_text(json.dumps(report))  # no format: not written by index eval
    with pytest.raises(IndexFolderError, match="other.json: not an evaluation file"):
        read_evaluation(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(IndexFolderError, match="broken.json: not an evaluation file"):
        read_evaluation(tmp_path / "broken.json")
    with pytest.raises(MissingInputError, match="evaluation file not found"):
        read_evaluation(tmp_path / "none.json")
