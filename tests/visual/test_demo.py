"""Visual-search demo generator: valid layout, deterministic, queries unlike index photos, distractors."""

import hashlib
import warnings

import numpy as np
import pytest
from PIL import Image

from prodmatch.cli import main as cli_main
from prodmatch.demo.catalog import CATEGORIES
from prodmatch.visual.demo import TAXONOMY, category_path, generate_visual_demo
from prodmatch.visual.layout import VisualSearchDir


def digest(root):
    return {p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("visual") / "demo"
    summary = generate_visual_demo(out, n_products=40, seed=0, image_size=48)
    return out, summary


def test_layout_reads_cleanly(demo):
    out, summary = demo
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no query without ground truth, nothing odd
        data = VisualSearchDir.of(out).read(require_ground_truth=True)
    assert len(data.index) == summary.n_index and len(data.queries) == summary.n_queries
    assert data.tree.levels == ("level1", "level2", "level3")
    assert data.tree.sizes == summary.n_categories
    folder = VisualSearchDir.of(out)
    assert folder.missing_images(data.index, "index") == [] and folder.missing_images(data.queries, "queries") == []
    assert len(list(folder.index_images.iterdir())) == summary.n_index
    assert data.index["title"].str.len().min() > 0


def test_ground_truth_and_distractors(demo):
    out, summary = demo
    data = VisualSearchDir.of(out).read(require_ground_truth=True)
    truth = data.truth()
    assert (truth.counts >= 2).all() and (truth.counts <= 4).all()  # every index photo of the product: 2-4
    assert len(data.ground_truth) == summary.n_ground_truth
    matched = np.zeros(len(data.index), bool)
    matched[truth.positions] = True
    assert (~matched).mean() > 0.5  # most index photos are distractors
    assert summary.n_distractor_products > summary.n_query_products
    # a query and its true matches share the whole category path
    codes_q, codes_i = data.tree.encode(data.queries), data.tree.encode(data.index)
    owners = np.repeat(np.arange(truth.n_queries), truth.counts)
    assert (codes_i[truth.positions] == codes_q[owners]).all()
    assert summary.n_queries_with_sibling > 0  # same-line variants (hard negatives) sit in the index


def test_queries_are_photographed_differently(demo):
    out, _ = demo
    data = VisualSearchDir.of(out).read(require_ground_truth=True)
    truth = data.truth()
    folder = VisualSearchDir.of(out)

    def pixels(folder_path, name):
        with Image.open(folder_path / name) as img:
            return np.asarray(img.convert("RGB"), np.float32)

    closest = []
    for q in range(truth.n_queries):
        query = pixels(folder.query_images, data.queries["image"].iloc[q])
        matches = truth.positions[truth.offsets[q]:truth.offsets[q + 1]]
        closest.append(min(np.abs(query - pixels(folder.index_images, data.index["image"].iloc[m])).mean()
                           for m in matches))
    assert min(closest) > 15.0  # far from every true index photo: not a copy or a light re-edit


def test_deterministic_for_a_seed(tmp_path, demo):
    out, _ = demo
    again = tmp_path / "again"
    generate_visual_demo(again, n_products=40, seed=0, image_size=48)
    assert digest(again) == digest(out)
    other = tmp_path / "other"
    generate_visual_demo(other, n_products=40, seed=1, image_size=48)
    assert digest(other)["index.csv"] != digest(out)["index.csv"]


def test_taxonomy_is_a_tree_over_every_catalogue_category():
    assert set(TAXONOMY) == {c.key for c in CATEGORIES}
    parent_of_level2 = {}
    for meta, level2 in TAXONOMY.values():
        assert parent_of_level2.setdefault(level2, meta) == meta
    assert category_path("kopi") == ("Food and Drink", "Beverages", "kopi")


def test_arguments_and_overwrite(tmp_path):
    with pytest.raises(ValueError, match="query_share"):
        generate_visual_demo(tmp_path / "a", n_products=10, query_share=1.0)
    with pytest.raises(ValueError, match="image_size"):
        generate_visual_demo(tmp_path / "a", n_products=10, image_size=16)
    out = tmp_path / "cli"
    assert cli_main(["index", "demo", "--out", str(out), "--n-products", "6", "--image-size", "32"]) == 0
    with pytest.raises(FileExistsError):
        generate_visual_demo(out, n_products=6, image_size=32)
    assert generate_visual_demo(out, n_products=6, image_size=32, overwrite=True).n_products == 6


def test_product_ids_name_every_index_photo_and_agree_with_ground_truth(demo):
    out, summary = demo
    data = VisualSearchDir.of(out).read(require_ground_truth=True)
    assert "product_id" in data.index.columns and "product_id" not in data.queries.columns
    assert data.index["product_id"].nunique() == summary.n_products
    products = data.index["product_id"].to_numpy()
    truth = data.truth()
    for query in range(truth.n_queries):  # a query's true matches are all the photos of one product
        mine = truth.positions[truth.offsets[query]:truth.offsets[query + 1]]
        assert len(set(products[mine])) == 1
        assert (products == products[mine[0]]).sum() == len(mine)


def test_category_looks_change_only_the_drawing(tmp_path, demo):
    from prodmatch.visual.demo import LEAF_LOOKS, apply_category_look

    out, _ = demo
    plain = generate_visual_demo(tmp_path / "plain", n_products=40, seed=0, image_size=48, category_look=False)
    assert plain.n_index > 0 and set(LEAF_LOOKS) == set(TAXONOMY)
    before, after = digest(out), digest(tmp_path / "plain")
    assert before["index.csv"] == after["index.csv"] and before["ground_truth.csv"] == after["ground_truth.csv"]
    assert before["index_images/index_000000.jpg"] != after["index_images/index_000000.jpg"]
    look = apply_category_look({"style": 0, "pattern": "dots", "width": 1.0, "height": 1.1}, "parfum")
    assert look["style"] == LEAF_LOOKS["parfum"][0] and look["height"] == pytest.approx(1.1 * LEAF_LOOKS["parfum"][2])
