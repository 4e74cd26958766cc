"""Visual-search folder reading: every bad input names the file, row (and CSV line) and column."""

import warnings

import numpy as np
import pytest

from prodmatch.data.validation import DataValidationError, DataWarning
from prodmatch.visual.layout import VisualSearchDir, read_index, read_queries

INDEX = """id,image,title,level1,level2,level3
i0,i0.jpg,Kopi Gayo 250gr,Food,Drinks,kopi
i1,i1.jpg,Kopi Gayo 500gr,Food,Drinks,kopi
i2,i2.jpg,Teh Melati,Food,Drinks,teh
i3,i3.jpg,Sepatu Putih,Fashion,Footwear,sneakers
i4,i4.jpg,,,,
"""
QUERIES = """id,image,level1,level2,level3
q0,q0.jpg,Food,Drinks,kopi
q1,q1.jpg,Fashion,Footwear,sneakers
"""
TRUTH = """query_id,index_id
q0,i0
q1,i3
"""


def write_dir(tmp_path, index=INDEX, queries=QUERIES, truth=TRUTH):
    root = tmp_path / "vs"
    root.mkdir(exist_ok=True)
    (root / "index.csv").write_text(index, encoding="utf-8")
    (root / "queries.csv").write_text(queries, encoding="utf-8")
    if truth is not None:
        (root / "ground_truth.csv").write_text(truth, encoding="utf-8")
    return VisualSearchDir.of(root)


def test_reads_a_valid_folder(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = write_dir(tmp_path).read(require_ground_truth=True)
    assert data.index["id"].tolist() == ["i0", "i1", "i2", "i3", "i4"]
    assert list(data.queries.columns) == ["id", "image", "level1", "level2", "level3"]
    assert data.tree.levels == ("level1", "level2", "level3")
    assert data.tree.sizes == (2, 2, 3)
    # classes sorted by name: level1 Fashion=0, Food=1; level2 Drinks=0, Footwear=1; leaf kopi=0, sneakers=1, teh=2
    assert data.tree.parents[0].tolist() == [1, 0] and data.tree.parents[1].tolist() == [0, 1, 0]
    assert data.tree.encode(data.index).tolist() == [[1, 0, 0], [1, 0, 0], [1, 0, 2], [0, 1, 1], [-1, -1, -1]]
    truth = data.truth()
    assert truth.counts.tolist() == [1, 1] and truth.positions.tolist() == [0, 3]


def test_ground_truth_is_optional_unless_required(tmp_path):
    folder = write_dir(tmp_path, truth=None)
    assert folder.read().ground_truth is None
    with pytest.raises(DataValidationError, match=r"ground_truth\.csv: file not found"):
        folder.read(require_ground_truth=True)


def test_missing_required_column(tmp_path):
    path = tmp_path / "index.csv"
    path.write_text("id,title\ni0,x\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"index\.csv, column 'image': missing required"):
        read_index(path)


@pytest.mark.parametrize("bad_id, message", [("", "empty id"), ("q 1", "id 'q 1' contains whitespace"),
                                             ("q0", r"duplicate id 'q0' \(first seen at row 0\)")])
def test_bad_ids_name_row_line_and_column(tmp_path, bad_id, message):
    path = tmp_path / "queries.csv"
    path.write_text(f"id,image\nq0,a.jpg\n{bad_id},b.jpg\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=rf"queries\.csv, row 1 \(line 3\), column 'id': {message}") as info:
        read_queries(path)
    assert info.value.row == 1 and info.value.column == "id"


def test_empty_image_name(tmp_path):
    path = tmp_path / "index.csv"
    path.write_text("id,image\ni0,a.jpg\ni1,\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"row 1 \(line 3\), column 'image': empty image"):
        read_index(path)


def test_level_columns_without_gaps(tmp_path):
    path = tmp_path / "index.csv"
    path.write_text("id,image,level1,level3\ni0,a.jpg,A,c\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"column 'level3': category levels must be level1\.\.levelK"):
        read_index(path)


def test_partly_labelled_row(tmp_path):
    path = tmp_path / "index.csv"
    path.write_text("id,image,level1,level2\ni0,a.jpg,A,a\ni1,b.jpg,B,\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"row 1 \(line 3\), column 'level2': .*partly empty"):
        read_index(path)


def test_category_with_two_parents_is_an_error_naming_both_rows(tmp_path):
    queries = QUERIES.replace("q1,q1.jpg,Fashion,Footwear,sneakers", "q1,q1.jpg,Fashion,Footwear,kopi")
    with pytest.raises(DataValidationError) as info:
        write_dir(tmp_path, queries=queries).read()
    message = str(info.value)
    assert "queries.csv, row 1 (line 3), column 'level3'" in message
    assert "'kopi' has level2 'Footwear' here but 'Drinks' at row 0 of" in message and "index.csv" in message


@pytest.mark.parametrize("truth, column, message", [
    ("query_id,index_id\nq0,i0\nq9,i1\n", "query_id", "query_id 'q9' is not an id of"),
    ("query_id,index_id\nq0,i0\nq1,i9\n", "index_id", "index_id 'i9' is not an id of"),
    ("query_id,index_id\nq0,i0\nq0,i0\n", "index_id", r"duplicate pair \('q0', 'i0'\)"),
    ("query_id,index_id\nq0,i0\n,i1\n", "query_id", "empty query_id"),
])
def test_bad_ground_truth_rows(tmp_path, truth, column, message):
    with pytest.raises(DataValidationError, match=rf"ground_truth\.csv, row 1 \(line 3\), column '{column}': {message}"):
        write_dir(tmp_path, truth=truth).read()


def test_queries_without_ground_truth_warn_and_are_kept(tmp_path):
    with pytest.warns(DataWarning, match=r"1 of 2 queries have no true match \('q1'\)"):
        data = write_dir(tmp_path, truth="query_id,index_id\nq0,i0\nq0,i1\n").read()
    assert len(data.queries) == 2
    assert data.truth().counts.tolist() == [2, 0]


def test_levels_must_match_across_files(tmp_path):
    queries = "id,image,level1,level2\nq0,q0.jpg,Food,Drinks\nq1,q1.jpg,Fashion,Footwear\n"
    with pytest.raises(DataValidationError, match=r"queries\.csv, column 'level3': category levels"):
        write_dir(tmp_path, queries=queries).read()


def test_missing_folder_and_images(tmp_path):
    with pytest.raises(DataValidationError, match="directory not found"):
        VisualSearchDir.of(tmp_path / "nope")
    folder = write_dir(tmp_path)
    folder.index_images.mkdir()
    (folder.index_images / "i0.jpg").write_bytes(b"x")
    assert folder.missing_images(folder.read_index(), "index") == ["i1.jpg", "i2.jpg", "i3.jpg", "i4.jpg"]
    with pytest.raises(ValueError, match="split"):
        folder.images_dir("train")


def test_unknown_category_name_on_encode(tmp_path):
    data = write_dir(tmp_path).read()
    other = data.queries.copy()
    other.loc[0, "level3"] = "madu"
    with pytest.raises(DataValidationError, match=r"other.csv, row 0 \(line 2\), column 'level3': level3 value 'madu' "
                                                  "is not in the category tree"):
        data.tree.encode(other, "other.csv")
    assert np.array_equal(data.tree.encode(data.queries), [[1, 0, 0], [0, 1, 1]])
