"""Vector indexes: exact is exact, approximate ones reach their recall against it, files round-trip."""

import numpy as np
import pytest

from prodmatch.visual.categories import filter_by_category, rerank_by_category, search_with_categories
from prodmatch.search.dense import NumpyBackend, l2_normalize
from prodmatch.visual.index import (
    INDEX_KINDS, IVFIndex, create_index, default_nlist, exact_neighbours, import_faiss, load_index,
)
from prodmatch.visual.metrics import neighbour_recall


@pytest.fixture(scope="module")
def data():
    """4,000 photos of 1,000 products in 100 categories (32-d); 300 queries: noisier views of products."""
    rng = np.random.default_rng(0)
    centres = l2_normalize(rng.normal(size=(100, 32)))
    products = l2_normalize(np.repeat(centres, 10, axis=0) + 0.25 * rng.normal(size=(1000, 32)))
    vectors = l2_normalize(np.repeat(products, 4, axis=0) + 0.08 * rng.normal(size=(4000, 32)))
    query_products = rng.choice(1000, 300, replace=False)
    queries = l2_normalize(products[query_products] + 0.12 * rng.normal(size=(300, 32)))
    categories = np.repeat(np.arange(100), 40).astype(np.int64)
    return {"vectors": vectors, "queries": queries, "exact": exact_neighbours(queries, vectors, 10),
            "categories": categories, "query_categories": categories[query_products * 4]}


def test_exact_matches_brute_force(data):
    index = create_index("exact", block_rows=64, progress=False).build(data["vectors"])
    scores, positions = index.search(data["queries"], 10)
    ref_scores, ref_positions = NumpyBackend().search(data["queries"], data["vectors"], 10)
    assert np.allclose(scores, ref_scores, atol=1e-5)
    assert (positions == ref_positions).mean() > 0.999  # ties aside
    assert scores.dtype == np.float32 and positions.dtype == np.int64
    assert (np.diff(scores, axis=1) <= 1e-6).all()


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


@pytest.mark.parametrize("kind", sorted(INDEX_KINDS))
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


def test_category_filter_and_bonus_by_hand():
    scores = np.array([[0.9, 0.8, 0.7, 0.6], [0.9, 0.5, 0.4, -np.inf]], np.float32)
    positions = np.array([[0, 1, 2, 3], [3, 2, 1, -1]])
    index_categories = np.array([5, 6, 5, -1])
    query_categories = np.array([5, -1])
    f_scores, f_positions = filter_by_category(scores, positions, index_categories, query_categories, k=3)
    assert f_positions.tolist() == [[0, 2, -1], [3, 2, 1]]  # query 1 has no category: unchanged
    assert f_scores[0].tolist()[:2] == pytest.approx([0.9, 0.7]) and np.isneginf(f_scores[0, 2])
    b_scores, b_positions = rerank_by_category(scores, positions, index_categories, np.array([6, 5]), k=3, bonus=0.15)
    # query 0: 0.9, 0.8 + 0.15 = 0.95 (category 6), 0.7, 0.6 -> 1, 0, 2; query 1: pos 2 (cat 5) 0.5 + 0.15 = 0.65
    assert b_positions.tolist() == [[1, 0, 2], [3, 2, 1]]
    assert b_scores.tolist() == [pytest.approx([0.95, 0.9, 0.7]), pytest.approx([0.9, 0.65, 0.4])]


def test_search_with_categories_keeps_only_the_query_category(data):
    index = create_index("exact", progress=False).build(data["vectors"])
    _, positions = search_with_categories(index, data["queries"], 10, data["categories"], data["query_categories"])
    _, top40 = NumpyBackend().search(data["queries"], data["vectors"], 40)  # overfetch 4 x k, by brute force
    for query in range(len(top40)):
        in_category = [p for p in top40[query] if data["categories"][p] == data["query_categories"][query]][:10]
        assert positions[query].tolist() == in_category + [-1] * (10 - len(in_category))
    assert (positions >= 0).mean() > 0.5
    with pytest.raises(ValueError, match="unknown category mode"):
        search_with_categories(index, data["queries"], 10, data["categories"], data["query_categories"], mode="x")


def test_exact_backends_agree_and_size_picks_the_kind(data, tmp_path):
    from prodmatch.visual.index import EXACT_MAX_ROWS, choose_kind

    faiss_index = create_index("exact", progress=False).build(data["vectors"])
    torch_index = create_index("exact", backend="torch", progress=False).build(data["vectors"])
    _, expected = faiss_index.search(data["queries"], 10)
    scores, found = torch_index.search(data["queries"], 10)
    assert (found == expected).mean() > 0.999 and scores.dtype == np.float32  # ties aside
    torch_index.save(tmp_path / "torch.npz")
    assert load_index(tmp_path / "torch.npz", progress=False).params["backend"] == "torch"
    assert choose_kind(1000) == "exact" and choose_kind(EXACT_MAX_ROWS) == "exact"
    assert choose_kind(EXACT_MAX_ROWS + 1) == "ivf"
    with pytest.raises(ValueError, match="backend"):
        create_index("exact", backend="gpu")
