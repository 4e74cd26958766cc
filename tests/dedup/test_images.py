"""The image column: phashes as they are, or image files hashed; a record without one is an error."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from prodmatch.data.validation import DataValidationError
from prodmatch.dedup.images import table_phashes
from prodmatch.dedup.table import Columns, validate_table


def table(tmp_path, images):
    frame = pd.DataFrame({"id": [str(i) for i in range(len(images))], "name": ["x"] * len(images), "img": images})
    return validate_table(frame, Columns("id", "name", image="img"), tmp_path / "t.csv")


def test_phashes_are_read_and_files_are_hashed(tmp_path):
    import imagehash

    assert table_phashes(table(tmp_path, ["00000000000000FF", "ffffffffffffffff"])).tolist() == \
        ["00000000000000ff", "ffffffffffffffff"]
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    found = table_phashes(table(tmp_path, ["0.png", "1.png"]))
    assert found[0] == str(imagehash.phash(Image.open(tmp_path / "0.png").convert("RGB"))) and found[0] != found[1]


@pytest.mark.parametrize("images, message", [(["0.png", ""], "have no image"), (["none.png", "none.png"],
                                                                                  "cannot read image")])
def test_a_record_without_a_usable_image_is_an_error(tmp_path, images, message):
    Image.new("RGB", (8, 8)).save(tmp_path / "0.png")
    with pytest.raises(DataValidationError, match=message):
        table_phashes(table(tmp_path, images))
    with pytest.raises(DataValidationError, match="mixes phashes"):
        validate_table(pd.DataFrame({"id": ["1", "2"], "name": ["a", "b"], "img": ["0" * 16, "a.png"]}),
                       Columns("id", "name", image="img"), tmp_path / "t.csv")
