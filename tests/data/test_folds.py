import hashlib

import numpy as np
import pandas as pd
import pytest

from prodmatch.data import DataValidationError, assign_folds, fold_of_group, read_folds, write_folds

GOLDEN_FOLDS = [4, 1, 0, 3, 0]


def frame(groups):
    return pd.DataFrame({"posting_id": [f"p{i}" for i in range(len(groups))], "label_group": groups})


def test_fold_is_a_fixed_function_of_the_group():
    # the documented rule, computed here independently: md5 of str(group), first 8 bytes big-endian, mod k
    def spec(group, k):
        return int.from_bytes(hashlib.md5(str(group).encode()).digest()[:8], "big") % k

    groups = [101, 4242, 987654321, 0, np.int64(31337)]
    assert [fold_of_group(g, 5) for g in groups] == [spec(g, 5) for g in groups]
    assert [fold_of_group(g, 7) for g in groups] == [spec(g, 7) for g in groups]
    # golden literals: a change of rule (and so of everyone's saved folds) must be deliberate
    assert [fold_of_group(g, 5) for g in groups] == GOLDEN_FOLDS


def test_group_stays_in_its_fold_whatever_other_rows_exist():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 500, 3000)
    full = assign_folds(frame(groups), 5)
    sub_index = rng.choice(3000, 700, replace=False)
    sub = assign_folds(frame(groups[sub_index]), 5)
    assert (sub["fold"].to_numpy() == full["fold"].to_numpy()[sub_index]).all()
    assert full.groupby(groups)["fold"].nunique().max() == 1


def test_folds_are_roughly_balanced():
    groups = np.repeat(np.arange(2000), 3)
    counts = np.bincount(assign_folds(frame(groups), 5)["fold"], minlength=5)
    assert counts.min() > 0.8 * counts.mean()


def test_salt_changes_the_split():
    groups = np.arange(200)
    assert not (assign_folds(frame(groups), 5)["fold"] == assign_folds(frame(groups), 5, salt="x")["fold"]).all()


def test_round_trip_and_errors(tmp_path):
    train = frame([1, 1, 2, 3])
    path = write_folds(assign_folds(train, 3), tmp_path / "folds" / "f.csv")
    assert (read_folds(path, train) == assign_folds(train, 3)["fold"].to_numpy()).all()
    extra = pd.concat([train, frame([9]).assign(posting_id="new")], ignore_index=True)
    with pytest.raises(DataValidationError, match="1 train posting.*no fold.*'new'"):
        read_folds(path, extra)
    (tmp_path / "split.csv").write_text("posting_id,fold\np0,0\np1,1\np2,0\np3,1\n")
    with pytest.raises(DataValidationError, match="split across folds"):
        read_folds(tmp_path / "split.csv", train)
    (tmp_path / "bad.csv").write_text("posting_id,fold\np0,x\n")
    with pytest.raises(DataValidationError, match=r"row 0.*'fold'"):
        read_folds(tmp_path / "bad.csv", train)


def test_cli_writes_folds_for_real_data(shopee_dir, tmp_path):
    from prodmatch.cli import main

    out = tmp_path / "folds.csv"
    assert main(["folds", "--data-dir", str(shopee_dir), "--out", str(out)]) == 0
    folds = pd.read_csv(out)
    assert len(folds) == 27060 and set(folds["fold"]) == {0, 1, 2, 3, 4}
