"""Sharded, resumable index embedding: kill, resume, several ranks, assembly in table order."""

import numpy as np
import pandas as pd
import pytest

from prodmatch.visual.shards import (
    ShardPlan,
    assemble_shards,
    embed_shards,
    missing_shards,
    rank_from_env,
    read_shard,
    shards_of_rank,
)


@pytest.fixture
def table():
    return pd.DataFrame({"id": [f"row{i:02d}" for i in range(23)], "image": [f"{i}.jpg" for i in range(23)]})


class FakeEmbedder:
    """A deterministic 'model': each row's vector depends only on its id; records what it was asked for."""

    def __init__(self, fail_on_shard_starting_at: int | None = None):
        self.fail_at = fail_on_shard_starting_at
        self.seen: list[str] = []

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        first = int(frame["id"].iloc[0][3:])
        if first == self.fail_at:
            raise RuntimeError("killed")
        self.seen.extend(frame["id"])
        return np.stack([np.random.default_rng(int(i[3:])).normal(size=6) for i in frame["id"]]) * 3.0


def test_plan_rows_and_names():
    plan = ShardPlan(23, 5)
    assert plan.n_shards == 5 and plan.rows(4) == slice(20, 23)
    assert plan.file_name(2) == "shard-00002-of-00005.npz"
    with pytest.raises(IndexError):
        plan.rows(5)
    with pytest.raises(ValueError):
        ShardPlan(0, 5)


def test_ranks_split_shards_disjointly():
    parts = [shards_of_rank(11, rank, 3) for rank in range(3)]
    assert parts == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]
    assert sorted(s for p in parts for s in p) == list(range(11))


def test_rank_from_torchrun_env(monkeypatch):
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert rank_from_env() == (2, 4)
    assert rank_from_env(rank=0, world_size=1) == (0, 1)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="rank < world_size"):
        rank_from_env()


def test_kill_after_shard_2_of_5_then_resume(tmp_path, table):
    out = tmp_path / "shards"
    # shard 3 of 5 (rows 10-14) dies
    with pytest.raises(RuntimeError, match="killed"):
        embed_shards(table, FakeEmbedder(fail_on_shard_starting_at=10), out, shard_rows=5, rank=0, world_size=1,
                     progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["shard-00000-of-00005.npz", "shard-00001-of-00005.npz"]
    assert missing_shards(out, 23, 5) == [2, 3, 4]
    with pytest.raises(FileNotFoundError, match=r"3 of 5 shards missing \(shard 2, 3, 4\)"):
        assemble_shards(out, table["id"], 5)

    resumed = FakeEmbedder()
    run = embed_shards(table, resumed, out, shard_rows=5, rank=0, world_size=1, progress=False)
    assert run.skipped == [0, 1] and run.computed == [2, 3, 4]
    assert resumed.seen == table["id"].tolist()[10:]  # only shards 3-5 were embedded again

    one_shot = tmp_path / "one_shot"
    embed_shards(table, FakeEmbedder(), one_shot, shard_rows=5, rank=0, world_size=1, progress=False)
    resumed_matrix = assemble_shards(out, table["id"], 5)
    assert np.array_equal(resumed_matrix, assemble_shards(one_shot, table["id"], 5))
    assert resumed_matrix.dtype == np.float32 and np.allclose(np.linalg.norm(resumed_matrix, axis=1), 1, atol=1e-5)
    expected = np.random.default_rng(7).normal(size=6)
    assert np.allclose(resumed_matrix[7], expected / np.linalg.norm(expected), atol=1e-6)  # row order kept


def test_ranks_share_a_folder(tmp_path, table, monkeypatch):
    out = tmp_path / "shards"
    runs = []
    for rank in range(3):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "3")
        runs.append(embed_shards(table, FakeEmbedder(), out, shard_rows=4, progress=False))
    assert [r.computed for r in runs] == [[0, 3], [1, 4], [2, 5]]
    single = tmp_path / "single"
    embed_shards(table, FakeEmbedder(), single, shard_rows=4, rank=0, world_size=1, progress=False)
    assert np.array_equal(assemble_shards(out, table["id"], 4), assemble_shards(single, table["id"], 4))


def test_a_shard_of_another_table_is_not_silently_reused(tmp_path, table):
    out = tmp_path / "shards"
    embed_shards(table, FakeEmbedder(), out, shard_rows=5, rank=0, world_size=1, progress=False)
    other = table.assign(id=[f"row{i + 1:02d}" for i in range(23)])
    with pytest.raises(ValueError, match="holds other rows"):
        embed_shards(other, FakeEmbedder(), out, shard_rows=5, rank=0, world_size=1, progress=False)
    ids, embeddings = read_shard(out / "shard-00004-of-00005.npz")
    assert ids.tolist() == ["row20", "row21", "row22"] and embeddings.shape == (3, 6)


@pytest.mark.parametrize("bad, error, message", [
    (lambda frame: np.zeros((len(frame) + 1, 4)), ValueError, "returned shape"),
    (lambda frame: np.ones((len(frame), 4), dtype=np.int64), TypeError, "floats"),
    (lambda frame: np.zeros((len(frame), 4)), ValueError, "L2-normalised"),
    (lambda frame: [[1.0]] * len(frame), TypeError, "numpy array"),
])
def test_bad_embedder_output_fails_loudly(tmp_path, table, bad, error, message):
    with pytest.raises(error, match=message):
        embed_shards(table, bad, tmp_path / "s", shard_rows=10, rank=0, world_size=1, progress=False)
    assert not any((tmp_path / "s").glob("*.npz")) if (tmp_path / "s").exists() else True
