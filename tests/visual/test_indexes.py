"""Vector indexes: approximate ones reach their recall against exact search, files round-trip, errors are loud."""

import numpy as np
import pytest

from prodmatch.search.dense import l2_normalize
from prodmatch.visual.approximate import IVFIndex, default_nlist
from prodmatch.visual.indexes import INDEX_CLASSES, choose_kind, create_index, load_index, make_index
from prodmatch.visual.metrics import neighbour_recall
from prodmatch.visual.registry import EXACT_MAX_ROWS, INDEX_KINDS
from prodmatch.visual.vector_index import import_faiss


@pytest.mark.parametrize("kind, bound", [("ivf", 0.9), ("hnsw", 0.9)])
def test_approximate_indexes_tune_themselves_to_high_recall(data, kind, bound):
    index = create_index(kind, progress=False).build(data["vectors"])
    _, positions = index.search(data["queries"], 10)
    assert neighbour_recall(positions, data["exact"], 10) >= bound
    assert index.tuning["target_recall"] == 0.95 and max(index.tuning["recall"].values()) >= 0.95


def test_lsh_is_a_weaker_baseline_that_improves_with_bits(data):
    recalls = {}
    for nbits in (32, 256):
        index = create_index("lsh", nbits=nbits, progress=False).build(data["vectors"])
        _, positions = index.search(data["queries"], 10)
        recalls[nbits] = neighbour_recall(positions, data["exact"], 10)
    assert create_index("lsh").build(data["vectors"]).params["nbits"] == 64  # 2 x dim by default
    assert recalls[256] > recalls[32] > 0.1  # chance would be ~10 / 4000
    assert recalls[256] >= 0.6


def test_tune_picks_the_smallest_nprobe_reaching_the_target(data):
    index = create_index("ivf", nprobe=1, progress=False).build(data["vectors"])
    assert index.params["nprobe"] == 1 and index.tuning is None  # given: not tuned
    queries, reference = data["queries"][:150], data["exact"][:150]
    chosen = index.tune(queries, reference=reference)
    assert index.params["nprobe"] == chosen
    _, positions = index.search(queries, 10)
    assert neighbour_recall(positions, reference, 10) >= 0.95
    ladder = index._ladder()
    previous = ladder[ladder.index(chosen) - 1]
    index.set_effort(previous)
    _, positions = index.search(queries, 10)
    assert neighbour_recall(positions, reference, 10) < 0.95


def test_parameters_by_size_and_overrides(data):
    assert default_nlist(1_100_000) == round(4 * 1_100_000**0.5) == 4195
    assert default_nlist(4000) == 4000 // 39  # capped so each cell trains on 39+ points
    index = create_index("ivf", nlist=20, nprobe=3, progress=False).build(data["vectors"])
    assert index.params["nlist"] == 20 and index.params["nprobe"] == 3 and index._index.nprobe == 3
    assert index.name == "ivf(nlist=20,nprobe=3)"
    hnsw = create_index("hnsw", m=8, ef_construction=20, ef_search=50, progress=False).build(data["vectors"])
    assert (hnsw._index.hnsw.efSearch, hnsw._index.hnsw.efConstruction) == (50, 20)


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_save_load_round_trip_and_memory(tmp_path, data, kind):
    index = create_index(kind, progress=False).build(data["vectors"])
    scores, positions = index.search(data["queries"], 5)
    path = index.save(tmp_path / f"{kind}.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{kind}.npz"]  # one file, no temp left
    loaded = load_index(path, progress=False)
    assert type(loaded) is type(index) and loaded.name == index.name
    loaded_scores, loaded_positions = loaded.search(data["queries"], 5)
    assert np.array_equal(loaded_positions, positions) and np.allclose(loaded_scores, scores)
    serialised = len(import_faiss().serialize_index(index._index))
    assert abs(index.memory_bytes - serialised) / serialised < 0.05


def test_k_larger_than_index_and_empty_slots(data):
    small = data["vectors"][:7]
    exact = create_index("exact", progress=False).build(small)
    assert exact.search(data["queries"][:2], 50)[1].shape == (2, 7)
    ivf = IVFIndex(nlist=7, nprobe=1, progress=False).build(data["vectors"][:300])
    scores, positions = ivf.search(data["queries"][:20], 200)
    assert (positions == -1).any() and np.isneginf(scores[positions == -1]).all()


def test_errors_are_loud(data, tmp_path):
    with pytest.raises(ValueError, match="unknown index kind 'annoy'"):
        create_index("annoy")
    with pytest.raises(TypeError):
        create_index("exact", nlist=3)
    index = create_index("exact", progress=False)
    with pytest.raises(RuntimeError, match="not built"):
        index.search(data["queries"], 3)
    index.build(data["vectors"])
    with pytest.raises(TypeError, match="float32"):
        index.search(data["queries"].astype(np.float64), 3)
    with pytest.raises(ValueError, match="dimension mismatch"):
        index.search(l2_normalize(np.ones((2, 8))), 3)
    with pytest.raises(ValueError, match="L2-normalised"):
        create_index("hnsw").build(data["vectors"] * 2)
    with pytest.raises(FileNotFoundError):
        load_index(tmp_path / "missing.npz")


def test_every_kind_of_the_registry_has_its_class_and_size_picks_one():
    assert tuple(INDEX_CLASSES) == INDEX_KINDS and all(INDEX_CLASSES[kind].kind == kind for kind in INDEX_KINDS)
    assert choose_kind(1000) == "exact" and choose_kind(EXACT_MAX_ROWS) == "exact"
    assert choose_kind(EXACT_MAX_ROWS + 1) == "ivf"
    assert make_index("auto", 1000).kind == "exact" and make_index("auto", EXACT_MAX_ROWS + 1).kind == "ivf"
    assert make_index("exact", 10, exact_backend="torch").params == {"backend": "torch"}
