"""What the visual tests share: embeddings for the index tests; a tiny demo folder, a run with category
heads and a tiny backbone for the flows."""

import numpy as np
import pytest

from prodmatch.search.dense import l2_normalize
from prodmatch.visual.build import BuildSpec, build_index
from prodmatch.visual.exact import exact_neighbours
from prodmatch.visual.identity import ModelChoice
from prodmatch.visual.model import Runtime

TINY = ModelChoice(backbone="test_efficientnet", pretrained="none", image_size=32)  # random weights, 32 px
QUIET = Runtime(progress=False, num_workers=0)


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


@pytest.fixture(scope="session")
def visual_dir(tmp_path_factory):
    from prodmatch.visual.demo import generate_visual_demo

    out = tmp_path_factory.mktemp("visual") / "demo"
    generate_visual_demo(out, n_products=16, seed=1, image_size=40, query_share=0.4)
    return out


@pytest.fixture(scope="session")
def run_with_heads(visual_dir, tmp_path_factory):
    """A run folder whose model.pt holds a random tiny encoder and DHC heads (no training needed here)."""
    import torch

    from prodmatch.models.build import encoder_payload
    from prodmatch.models.hierarchy import HierarchicalHeads, hierarchy_payload
    from prodmatch.models.image import ImageEncoder, ImageEncoderSpec
    from prodmatch.visual.layout import VisualSearchDir

    tree = VisualSearchDir.of(visual_dir).read().tree
    torch.manual_seed(0)
    encoder = ImageEncoder.create(ImageEncoderSpec("test_efficientnet", embedding_dim=16, image_size=32), "none")
    heads = HierarchicalHeads(16, tree.sizes, tree.parents, hidden=8).eval()
    fold = tmp_path_factory.mktemp("weights") / "run" / "fold0"
    fold.mkdir(parents=True)
    payload = encoder_payload(encoder, fold=0, epoch=1, config={"model": "image"}, task="visual",
                              hierarchy=hierarchy_payload(heads, tree.levels, tree.classes))
    torch.save(payload, fold / "model.pt")
    (fold / "config.yaml").write_text("model: image\n")
    return fold.parent


def build_tiny(visual_dir, out, **overrides):
    """index build of ``visual_dir`` into ``out``: exact, shards of 16, the tiny backbone unless overridden."""
    spec = dict(index_dir=out, data_dir=visual_dir, model=TINY, shard_rows=16, kind="exact", runtime=QUIET)
    spec.update(overrides)
    return build_index(BuildSpec(**spec))
