import pandas as pd
import pytest

from prodmatch.artifacts.submission import SubmissionError, validate_submission, write_submission


@pytest.fixture
def test_frame():
    return pd.DataFrame({"posting_id": ["t1", "t2", "t3"]})


def write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "body, message",
    [
        ("id,matches\nt1,t1\n", "header must be posting_id,matches"),
        ("posting_id,matches\nt1,t1\nt1,t1\nt3,t3\n", "row 1.*appears more than once"),
        ("posting_id,matches\nt1,t1\nt2,t3\nt3,t3\n", "row 1.*'matches'.*does not list itself"),
        ("posting_id,matches\nt1,t1 t9\nt2,t2\nt3,t3\n", "row 0.*unknown posting id 't9'"),
        ("posting_id,matches\nt1,t1\nt2,t2\n", "1 test posting.*missing.*'t3'"),
        ("posting_id,matches\nt1,t1\nt2,t2\nt4,t4\n", "row 2.*'t4' is not in test.csv"),
        ("posting_id,matches\nt1,t1 t1\nt2,t2\nt3,t3\n", "row 0.*listed twice"),
    ],
)
def test_validator_rejects_bad_files(tmp_path, test_frame, body, message):
    with pytest.raises(SubmissionError, match=message):
        validate_submission(write(tmp_path / "s.csv", body), test_frame)


def test_more_than_50_matches_is_rejected(tmp_path):
    ids = [f"t{i}" for i in range(60)]
    body = "posting_id,matches\n" + "\n".join(f"{i},{' '.join(ids if i == 't0' else [i])}" for i in ids) + "\n"
    with pytest.raises(SubmissionError, match="row 0.*60 matches, more than 50"):
        validate_submission(write(tmp_path / "s.csv", body), pd.DataFrame({"posting_id": ids}))


def test_invalid_submission_is_never_left_in_place(tmp_path, test_frame):
    target = write(tmp_path / "submission.csv", "posting_id,matches\nold,old\n")
    with pytest.raises(SubmissionError):
        write_submission(target, ["t1", "t2", "t3"], [["t1"], ["t2"], ["t1"]], test_frame)
    assert target.read_text() == "posting_id,matches\nold,old\n"
    assert list(tmp_path.iterdir()) == [target]  # no temp file left behind
    write_submission(target, ["t1", "t2", "t3"], [["t1", "t2"], ["t2", "t1"], ["t3"]], test_frame)
    assert target.read_text().splitlines() == ["posting_id,matches", "t1,t1 t2", "t2,t2 t1", "t3,t3"]
