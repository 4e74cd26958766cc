"""Every bad input gets an error naming the file, the row and the column (or a documented warning)."""

import warnings

import pytest

from prodmatch.data import DataDir, DataValidationError, DataWarning, read_test, read_train

HEADER = "posting_id,image,image_phash,title,label_group\n"
GOOD = [
    "train_1,a.jpg,0123456789abcdef,Kertas Kado,111",
    "train_2,b.jpg,fedcba9876543210,Lakban Bening,111",
    "train_3,c.jpg,00ff00ff00ff00ff,Kornet Sapi,222",
]


def write(tmp_path, lines, header=HEADER, name="train.csv"):
    path = tmp_path / name
    path.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_valid_train(tmp_path):
    frame = read_train(write(tmp_path, GOOD))
    assert list(frame.columns) == ["posting_id", "image", "image_phash", "title", "label_group"]
    assert frame["label_group"].dtype == "int64"
    assert frame["posting_id"].tolist() == ["train_1", "train_2", "train_3"]


def test_missing_column_names_file_and_column(tmp_path):
    path = write(tmp_path, ["train_1,a.jpg,Kertas Kado,1"], header="posting_id,image,title,label_group\n")
    with pytest.raises(DataValidationError, match=r"train\.csv.*column 'image_phash'.*missing required"):
        read_train(path)


def test_duplicate_posting_id_names_row_and_first_occurrence(tmp_path):
    lines = GOOD + ["train_2,d.jpg,0123456789abcdef,Dup,1"]
    with pytest.raises(DataValidationError) as info:
        read_train(write(tmp_path, lines))
    assert info.value.row == 3 and info.value.column == "posting_id"
    assert "row 3 (line 5)" in str(info.value) and "first seen at row 1" in str(info.value)


def test_bad_phash(tmp_path):
    lines = GOOD[:2] + ["train_3,c.jpg,xyz123,Maling,5"]
    with pytest.raises(DataValidationError, match=r"row 2 \(line 4\).*'image_phash'.*16 hex"):
        read_train(write(tmp_path, lines))


@pytest.mark.parametrize("value, message", [("", "missing"), ("abc", "integer"), ("1.5", "integer")])
def test_bad_label_group(tmp_path, value, message):
    lines = GOOD[:1] + [f"train_9,z.jpg,0123456789abcdef,Title,{value}"]
    with pytest.raises(DataValidationError, match=rf"row 1 \(line 3\).*'label_group'.*{message}"):
        read_train(write(tmp_path, lines))


def test_empty_and_missing_titles_fall_back_with_a_warning(tmp_path):
    lines = GOOD[:1] + ["train_8,z.jpg,0123456789abcdef,,1", 'train_9,y.jpg,0123456789abcdef,"   ",1']
    with pytest.warns(DataWarning, match=r"train\.csv.*'title'.*2 empty.*row\(s\) 1, 2"):
        frame = read_train(write(tmp_path, lines))
    assert frame["title"].tolist()[1] == ""


def test_test_csv_needs_no_label_group(tmp_path):
    path = write(tmp_path, [",".join(GOOD[0].split(",")[:4])], header="posting_id,image,image_phash,title\n",
                 name="test.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = read_test(path)
    assert "label_group" not in frame.columns and len(frame) == 1


def test_malformed_csv_is_reported_with_the_file_name(tmp_path):
    lines = GOOD[:1] + ['train_2,b.jpg,fedcba9876543210,Kado,1,extra']
    with pytest.raises(DataValidationError, match=r"train\.csv: malformed CSV"):
        read_train(write(tmp_path, lines))


def test_non_utf8_file(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes((HEADER + "train_1,a.jpg,0123456789abcdef,caf\xe9,1\n").encode("latin-1"))
    with pytest.raises(DataValidationError, match="not UTF-8"):
        read_train(path)


def test_empty_file_and_header_only(tmp_path):
    (tmp_path / "train.csv").write_text("")
    with pytest.raises(DataValidationError, match="empty"):
        read_train(tmp_path / "train.csv")
    with pytest.raises(DataValidationError, match="no data rows"):
        read_train(write(tmp_path, [], name="train2.csv"))


def test_missing_file_and_dir(tmp_path):
    with pytest.raises(DataValidationError, match="file not found"):
        read_train(tmp_path / "nope.csv")
    with pytest.raises(DataValidationError, match="data directory not found"):
        DataDir.of(tmp_path / "missing")


def test_reads_the_real_competition_files(shopee_dir):
    data = DataDir.of(shopee_dir)
    train, test = data.read_train(), data.read_test()
    assert len(train) == 27060 and train["label_group"].nunique() == 8711
    assert len(test) == 3 and train["image_phash"].str.len().eq(16).all()


def test_an_opening_quote_never_closed_is_an_error_not_silently_fewer_rows(tmp_path):
    # it used to swallow the rows after it: a 293-row test.csv read as 210 rows and gave a "validated" submission
    rows = [f"test_{i},{i}.jpg,0123456789abcdef,Title number {i}" for i in range(30)]
    rows[7] = 'test_7,7.jpg,0123456789abcdef,"Title number 7'
    rows[20] = 'test_20,20.jpg,0123456789abcdef,"TV 32"" LED"'  # a later quote closes the cell opened at row 7
    path = write(tmp_path, rows, header="posting_id,image,image_phash,title\n", name="test.csv")
    with pytest.raises(DataValidationError, match=r"test\.csv, row 7 \(line 9\), column 'title'.*30 data lines read as "
                                                  r"17 rows.*never closed") as info:
        read_test(path)
    assert info.value.row == 7 and info.value.column == "title"
    del rows[20]  # no quote after it: the parser stops at the end of the file, and the error says where it began
    with pytest.raises(DataValidationError, match=r"row 7 \(line 9\), column 'title'.*rows after it are lost"):
        read_test(write(tmp_path, rows, header="posting_id,image,image_phash,title\n", name="test.csv"))


def test_blank_lines_and_windows_line_ends_are_still_one_posting_per_line(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes((HEADER + "\r\n".join(GOOD) + "\r\n\r\n").encode())
    assert len(read_train(path)) == 3


def test_a_byte_that_is_not_utf8_is_located_by_offset_row_and_column(tmp_path):
    # deep in the file (beyond the parser's first chunk), where the offset used to be relative to a chunk
    rows = [f"train_{i},{i}.jpg,0123456789abcdef,Kertas Kado nomor {i},{i // 2}" for i in range(20_000)]
    text = (HEADER + "\n".join(rows) + "\n").encode("utf-8")
    line_start = text.index(b"train_15000,")
    offset = text.index(b"Kertas", line_start) + 3
    path = tmp_path / "train.csv"
    path.write_bytes(text[:offset] + b"\xe9" + text[offset + 1:])
    with pytest.raises(DataValidationError) as info:
        read_train(path)
    assert info.value.row == 15000 and info.value.column == "title"
    assert f"byte 0xe9 at offset {offset}" in str(info.value) and "row 15000 (line 15002)" in str(info.value)


def test_label_groups_are_compared_exactly(tmp_path):
    # above 2**53 a float cannot tell these apart; "1.0" in the column used to make pandas parse every label as one
    big = 2**60
    lines = [f"train_1,a.jpg,0123456789abcdef,A,{big}", f"train_2,b.jpg,0123456789abcdef,B,{big + 1}",
             "train_3,c.jpg,0123456789abcdef,C,1.0"]
    frame = read_train(write(tmp_path, lines))
    assert frame["label_group"].tolist() == [big, big + 1, 1] and frame["label_group"].dtype == "int64"


def test_a_label_group_beyond_int64_is_refused_not_merged(tmp_path):
    # every such label used to wrap to the same value: separate groups merged into one
    lines = GOOD[:2] + [f"train_3,c.jpg,0123456789abcdef,C,{2**63}", f"train_4,d.jpg,0123456789abcdef,D,{2**64}"]
    with pytest.raises(DataValidationError, match=r"row 2 \(line 4\), column 'label_group'.*64-bit"):
        read_train(write(tmp_path, lines))


@pytest.mark.parametrize("posting_id", ["train 9", " train_9", "train_9 ", "train\t9"])
def test_a_posting_id_with_whitespace_is_refused_on_read(tmp_path, posting_id):
    # it used to be accepted and fail only after matching, with an error blaming the output file
    lines = GOOD + [f'"{posting_id}",z.jpg,0123456789abcdef,Title,5']
    with pytest.raises(DataValidationError, match=r"row 3 \(line 5\), column 'posting_id'.*whitespace"):
        read_train(write(tmp_path, lines))


@pytest.mark.parametrize("image", ["../../etc/passwd", "/etc/passwd", "a/../../b.jpg"])
def test_an_image_name_outside_the_images_folder_is_refused_on_read(tmp_path, image):
    rows = list(GOOD)
    rows[1] = rows[1].replace("b.jpg", image)
    with pytest.raises(DataValidationError, match=r"row 1 \(line 3\), column 'image': .* leaves the images folder"):
        read_train(write(tmp_path, rows))
