"""The visual-index folder, the results file: round trips and loud errors."""

import json

import numpy as np
import pytest

from prodmatch.visual.folder import (
    INDEX_FORMAT, IndexFolder, IndexFolderError, read_results, write_results,
)
from prodmatch.data.validation import DataValidationError

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


def test_folder_manifest_status_and_rows(tmp_path):
    folder = IndexFolder.of(tmp_path / "idx")
    with pytest.raises(IndexFolderError, match="not an index folder"):
        folder.read_manifest()
    folder.write_manifest({"status": "embedding", "n_rows": 4})
    with pytest.raises(IndexFolderError, match="did not finish"):
        folder.read_complete_manifest()
    folder.write_manifest({"status": "complete", "n_rows": 4})
    assert folder.read_complete_manifest()["format"] == INDEX_FORMAT
    folder.write_rows(INDEX_IDS, np.zeros((4, 2), dtype=np.int64))
    ids, categories = folder.read_rows()
    assert ids.tolist() == INDEX_IDS.tolist() and categories.shape == (4, 2)
    with pytest.raises(ValueError, match="int64"):
        folder.write_rows(INDEX_IDS, np.zeros((4, 2), dtype=np.int32))
    folder.manifest.write_text(json.dumps({"format": "other/1"}))
    with pytest.raises(IndexFolderError, match="expected prodmatch-visual-index/1"):
        folder.read_manifest()


def test_evaluation_round_trip_and_other_files_refused(tmp_path):
    from prodmatch.visual.folder import read_evaluation, write_evaluation
    from prodmatch.errors import MissingInputError

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
