"""Label files: pairs -> connected components, clusters, answers; ids the table lacks are errors."""

import numpy as np
import pandas as pd
import pytest

from prodmatch.data.validation import DataValidationError, DataWarning
from prodmatch.dedup.labels import read_labels

IDS = np.array(["a", "b", "c", "d", "e"], dtype=object)


def write(tmp_path, frame):
    path = tmp_path / "labels.csv"
    frame.to_csv(path, index=False)
    return path


def test_pairs_become_connected_components(tmp_path):
    labels = read_labels(write(tmp_path, pd.DataFrame({"id_a": ["a", "b", "e"], "id_b": ["b", "c", "d"]})), IDS)
    assert labels.kind == "pairs" and labels.complete
    c = labels.clusters
    assert c[0] == c[1] == c[2] and c[3] == c[4] and c[0] != c[3]
    assert labels.n_matching_pairs == 3 + 1


def test_clusters_file_needs_every_record(tmp_path):
    frame = pd.DataFrame({"id": list("abcde"), "cluster_id": ["x", "x", "y", "z", "z"]})
    labels = read_labels(write(tmp_path, frame), IDS)
    assert labels.kind == "clusters" and labels.clusters.tolist() == [0, 0, 1, 2, 2]
    with pytest.raises(DataValidationError, match="no cluster_id"):
        read_labels(write(tmp_path, frame.iloc[:4]), IDS)


def test_answers_keep_the_latest_answer_per_pair(tmp_path):
    frame = pd.DataFrame({"id_a": ["a", "b", "c"], "id_b": ["b", "a", "d"], "match": ["y", "0", "1"]})
    labels = read_labels(write(tmp_path, frame), IDS)
    assert labels.kind == "answers" and not labels.complete
    assert labels.answered.to_dict("list") == {"a": [0, 2], "b": [1, 3], "match": [False, True]}


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"id_a": ["a"], "id_b": ["zz"]}), "id 'zz', which the table does not hold"),
    (pd.DataFrame({"left": ["a"], "right": ["b"]}), "needs the columns"),
    (pd.DataFrame({"id_a": ["a"], "id_b": ["b"], "match": ["maybe"]}), "match must be"),
])
def test_bad_labels_are_data_errors(tmp_path, frame, message):
    with pytest.raises(DataValidationError, match=message):
        read_labels(write(tmp_path, frame), IDS)


def test_a_pair_of_one_record_is_ignored_with_a_warning(tmp_path):
    with pytest.warns(DataWarning, match="same record"):
        labels = read_labels(write(tmp_path, pd.DataFrame({"id_a": ["a", "a"], "id_b": ["a", "b"]})), IDS)
    assert labels.n_matching_pairs == 1
