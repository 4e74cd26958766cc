"""Out-of-fold embedding files: written atomically, read back in any order, missing folds named."""

import numpy as np
import pytest

from prodmatch.artifacts.oof import oof_posting_ids, read_oof_embeddings, write_oof_embeddings
from prodmatch.search.dense import l2_normalize
from tests.artifacts.test_weights import make_fold


@pytest.fixture
def run_dir(tmp_path):
    """Folds 0 and 1 of a 3-fold run (fold 2 never trained), 4 held-out rows each."""
    rng = np.random.default_rng(0)
    for fold in (0, 1):
        folder = make_fold(tmp_path, "run", fold)
        write_oof_embeddings(folder / "oof_embeddings.npz", [f"p{fold}{i}" for i in range(4)],
                             l2_normalize(rng.normal(size=(4, 8))))
    return tmp_path / "run"


def test_rows_come_back_in_the_asked_order(run_dir):
    stored = {}
    for fold in (0, 1):
        with np.load(run_dir / f"fold{fold}" / "oof_embeddings.npz") as data:
            stored.update(zip(data["posting_id"].tolist(), data["embeddings"]))
    wanted = ["p12", "p00", "p10"]
    np.testing.assert_allclose(read_oof_embeddings(run_dir, wanted), np.stack([stored[w] for w in wanted]), atol=1e-6)
    assert sorted(oof_posting_ids(run_dir).tolist()) == sorted(stored)


def test_missing_postings_name_the_untrained_folds(run_dir, tmp_path):
    with pytest.raises(KeyError, match=r"folds found: \[0, 1\]; missing folds \[2\]"):
        read_oof_embeddings(run_dir, ["p00", "p29"])
    with pytest.raises(FileNotFoundError, match="train the folds"):
        read_oof_embeddings(tmp_path / "empty", ["p00"])


def test_a_posting_in_two_folds_is_an_error(run_dir):
    write_oof_embeddings(run_dir / "fold1" / "oof_embeddings.npz", ["p00"], l2_normalize(np.ones((1, 8))))
    with pytest.raises(ValueError, match="several folds"):
        read_oof_embeddings(run_dir, ["p00"])


def test_a_cut_off_or_foreign_oof_file_is_named_with_what_to_do(run_dir):
    from prodmatch.errors import CorruptFileError

    path = run_dir / "fold1" / "oof_embeddings.npz"
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CorruptFileError, match=r"fold1/oof_embeddings\.npz is truncated or corrupted .*--fold 1"):
        read_oof_embeddings(run_dir, ["p00"])
    np.savez(path, posting_id=np.array(["a", "b"]), embeddings=np.ones((3, 8), np.float32))
    with pytest.raises(CorruptFileError, match="is not an out-of-fold embedding file"):
        oof_posting_ids(run_dir)
    np.savez(path, posting_id=np.array(["a"]), vectors=np.ones((1, 8), np.float32))
    with pytest.raises(CorruptFileError, match="truncated or corrupted"):  # another file's arrays
        oof_posting_ids(run_dir)
