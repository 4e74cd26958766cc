"""Reading and validating a table: CSV and Parquet, column roles, every mistake named with file, row, column."""

import numpy as np
import pandas as pd
import pytest

from prodmatch.data.validation import DataValidationError, DataWarning
from prodmatch.dedup.table import Columns, parse_numbers, read_strings, read_table
from prodmatch.errors import ArgumentError, MissingInputError

COLUMNS = Columns("id", "name", ("description",), "maker", ("price",))


def write(tmp_path, frame, name="t.csv"):
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


FRAME = pd.DataFrame({"id": ["1", "2", "3"], "name": ["Sony A - X1", "Sony X-1", "Bose Y"],
                      "description": ["d1", "", "d3"], "price": ["$1,299.00", "", "12"], "maker": ["", "SONY", ""]})


def test_csv_and_parquet_read_alike(tmp_path):
    from_csv = read_table(write(tmp_path, FRAME), COLUMNS)
    with_gaps = FRAME.assign(id=[1, 2, 3], price=[1299.0, None, 12.0])
    from_parquet = read_table(write(tmp_path, with_gaps, "t.parquet"), COLUMNS)
    assert from_csv.ids.tolist() == from_parquet.ids.tolist() == ["1", "2", "3"]
    assert np.allclose(from_csv.numbers["price"], [1299.0, np.nan, 12.0], equal_nan=True)
    assert np.allclose(from_parquet.numbers["price"], [1299.0, np.nan, 12.0], equal_nan=True)
    features = from_csv.features()
    assert features.titles[0] == "sony a - x1"
    assert list(features.fields.texts) == ["description", "maker"] and list(features.fields.numbers) == ["price"]


@pytest.mark.parametrize("change, message", [
    (lambda f: f.drop(columns="description"), "missing required column"),
    (lambda f: f.assign(id=["1", "1", "3"]), "duplicate id '1'"),
    (lambda f: f.iloc[:0], "no data rows"),
    (lambda f: f.assign(id=["1", "", "3"]), "empty id"),
    (lambda f: f.assign(price=["a", "b", "1"]), "are not numbers"),
])
def test_mistakes_are_data_errors_naming_the_file(tmp_path, change, message):
    path = write(tmp_path, change(FRAME))
    with pytest.raises(DataValidationError, match=message) as caught:
        read_table(path, COLUMNS)
    assert str(path) in str(caught.value)


def test_a_few_bad_numbers_are_missing_with_a_warning(tmp_path):
    frame = pd.DataFrame({"p": ["1", "2", "call us", "4"]})
    with pytest.warns(DataWarning, match="not numbers"):
        values = parse_numbers(frame["p"], tmp_path / "t.csv", "p")
    assert np.isnan(values[2]) and values[3] == 4.0


def test_files_and_roles(tmp_path):
    with pytest.raises(MissingInputError):
        read_strings(tmp_path / "none.csv")
    with pytest.raises(ArgumentError, match="CSV or Parquet"):
        read_strings(tmp_path / "t.xlsx")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataValidationError, match="Parquet"):
        read_strings(tmp_path / "bad.parquet")
    with pytest.raises(ArgumentError, match="more than one role"):
        Columns("id", "name", ("name",))


def test_field_names_avoid_the_pair_models_own():
    names = Columns("id", "name", ("Title", "Long Text!"), "codes", ("price",)).field_names()
    assert names == {"Title": "field_title", "Long Text!": "long_text", "codes": "field_codes", "price": "price"}
