"""The visual-search task in the shared loop: product ids + DHC heads, MAR@10 validation, outputs, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prodmatch.train.config import load_config
from prodmatch.train.evaluators import level_accuracy
from prodmatch.train.loop import train_fold
from prodmatch.train.tasks import TASKS, create_task
from prodmatch.train.visual_task import queried_products, split_visual
from tests.train.conftest import TINY_IMAGE


@pytest.fixture(scope="module")
def visual_dir(tmp_path_factory):
    from prodmatch.visual.demo import generate_visual_demo

    out = tmp_path_factory.mktemp("visual") / "demo"
    generate_visual_demo(out, n_products=16, seed=0, image_size=40, query_share=0.4)
    return out


def _config(visual_dir, out, **overrides):
    settings = dict(task="visual", data_dir=str(visual_dir), out=str(out), epochs=2, max_steps_per_epoch=3,
                    baselines=False, head_init="random")
    settings.update(overrides)
    return load_config(TINY_IMAGE, **settings)


@pytest.fixture(scope="module")
def heads_run(visual_dir, tmp_path_factory):
    config = _config(visual_dir, tmp_path_factory.mktemp("runs"), baselines=True, hierarchy_weights=[1.0, 0.5, 0.5])
    return config, train_fold(config)


def test_split_trains_on_index_products_and_holds_out_queries(visual_dir, tmp_path):
    data = split_visual(_config(visual_dir, tmp_path))
    assert len(data.train) == len(data.index) and data.n_classes == data.index["product_id"].nunique()
    assert data.train_labels().shape == (len(data.train), 4) and data.train_labels().dtype == np.int64
    assert (data.classes[data.train_class] == data.train["product_id"].to_numpy()).all()
    assert data.query_levels.shape == (len(data.val), 3) and data.tree.levels == ("level1", "level2", "level3")
    strict = split_visual(_config(visual_dir, tmp_path, train_products="unqueried", hierarchy=False))
    assert not set(strict.classes) & queried_products(data.index, data.truth)
    assert strict.tree is None and strict.train_labels().shape == (len(strict.train), 1)


def test_visual_run_outputs_and_metrics(heads_run):
    config, metrics = heads_run
    assert metrics["task"] == "visual" and metrics["epochs"] == 2
    for key in ("mar_at_10", "recall_at_1", "recall_at_5", "recall_at_10"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["mar_at_10"] == metrics["history"][-1]["val_mar_at_10"]
    assert len(metrics["level_accuracy"]) == 3 and metrics["headline"].startswith("MAR@10 ")
    assert set(metrics["baselines"]) == {"untrained", "backbone"}  # what training must beat, same queries
    payload = torch.load(config.fold_dir() / "model.pt", weights_only=False)
    assert payload["task"] == "visual" and payload["hierarchy"]["levels"] == ["level1", "level2", "level3"]
    assert payload["hierarchy"]["spec"]["level_weights"] == [1.0, 0.5, 0.5]
    with np.load(config.fold_dir() / "oof_embeddings.npz") as held_out:  # the queries' embeddings
        assert held_out["posting_id"][0].startswith("query_") and held_out["embeddings"].dtype == np.float32


def test_mar_recomputed_from_the_saved_model(heads_run, visual_dir):
    """The logged MAR@10 is what the saved encoder gives with exact search (an independent computation)."""
    from prodmatch.embed import embed_frame, load_run
    from prodmatch.visual.exact import exact_neighbours
    from prodmatch.visual.layout import VisualSearchDir
    from prodmatch.visual.metrics import mar_at_k

    config, metrics = heads_run
    (model,) = load_run(config.fold_dir().parent, device="cpu")
    folder = VisualSearchDir.of(visual_dir)
    data = folder.read()
    index = embed_frame(model, data.index, folder.index_images)
    queries = embed_frame(model, data.queries, folder.query_images)
    assert mar_at_k(exact_neighbours(queries, index, 10), data.truth()) == pytest.approx(metrics["mar_at_10"],
                                                                                         abs=1e-6)


def test_without_heads_and_a_task_object(visual_dir, tmp_path):
    task = create_task(_config(visual_dir, tmp_path, hierarchy=False))
    metrics = train_fold(_config(visual_dir, tmp_path, hierarchy=False, epochs=1), task=task)
    assert task.model.hierarchy is None and metrics["level_accuracy"] is None
    payload = torch.load(tmp_path / "test-image-tiny" / "fold0" / "model.pt", weights_only=False)
    assert "hierarchy" not in payload
    assert set(TASKS) == {"shopee", "visual"}


def test_resume_after_failure_matches_an_uninterrupted_run(heads_run, visual_dir, tmp_path):
    """Killed mid-epoch 2, resumed: the same history as the uninterrupted run (whose baselines, measured
    before training, change no training step: every epoch reseeds)."""
    _, reference = heads_run
    config = _config(visual_dir, tmp_path / "broken", hierarchy_weights=[1.0, 0.5, 0.5])

    def fail(epoch, step):
        if epoch == 1 and step == 1:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        train_fold(config, step_hook=fail)
    resumed = train_fold(config, resume=True)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]
    for key in ("train_loss", "val_mar_at_10", "val_level_accuracy"):
        assert [h[key] for h in resumed["history"]] == [h[key] for h in reference["history"]]


def test_cached_frozen_layers_embed_like_the_uncached_frozen_model(visual_dir, tmp_path):
    """The cache (index photos and queries plain + mirrored, train rows in 3 versions) gives the embeddings that
    the same frozen-layer encoder computes from the image files."""
    from prodmatch.models.build import build_encoder
    from prodmatch.train.image_inputs import ImageInputs

    config = _config(visual_dir, tmp_path, freeze_layers=3, cached_views=3, tta=True)
    data = split_visual(config)
    torch.manual_seed(0)
    encoder = build_encoder(config)
    cached = ImageInputs(config, data, encoder, torch.device("cpu"))
    uncached = ImageInputs(_config(visual_dir, tmp_path, freeze_layers=3, cache_frozen=False, tta=True), data,
                            encoder, torch.device("cpu"))
    assert cached.cache is not None and uncached.cache is None and cached.num_workers == 0
    for which, n in (("train", len(data.train)), ("index", len(data.index)), ("val", len(data.val))):
        positions = np.arange(n)[::-1].copy()  # any order
        np.testing.assert_allclose(cached.embed_rows(encoder, which, positions),
                                   uncached.embed_rows(encoder, which, positions), atol=1e-5)
    views = cached.train_set.views
    assert len(views) == 3 and all(v.dtype == torch.float16 and v.shape == views[0].shape for v in views)
    assert torch.equal(views[0], cached.cache["index"][0][data.train_rows].half())  # the plain version, reused
    assert not torch.equal(views[1], views[0]) and not torch.equal(views[2], views[1])  # augmented, own seeds
    batch = cached.collate([cached.train_set[i] for i in (0, 3)])
    assert torch.equal(batch["labels"], torch.from_numpy(data.train_labels()[[0, 3]]))  # product + category levels
    assert batch["inputs"]["features"].shape[1:] == views[0].shape[1:]


def test_cached_frozen_training_embeds_the_same_at_index_build_time(visual_dir, tmp_path):
    """Trained on the cache: frozen blocks unchanged, the rest trained; the logged MAR@10 and query embeddings
    are what index build / eval give with the whole saved encoder on the photos."""
    from prodmatch.embed import embed_frame, load_run
    from prodmatch.models.build import build_encoder
    from prodmatch.train.loop import seed_everything
    from prodmatch.visual.build import BuildSpec, build_index
    from prodmatch.visual.evaluate import EvalSpec, evaluate_index
    from prodmatch.visual.identity import ModelChoice
    from prodmatch.visual.model import Runtime

    config = _config(visual_dir, tmp_path / "w", freeze_layers=3, cached_views=2, tta=True, baselines=True,
                     head_init="class_mean", hierarchy_weights=[1.0, 0.5, 0.5])
    seed_everything(config.seed)  # as train_fold does before building the encoder
    start = build_encoder(config)
    metrics = train_fold(config)
    run = config.fold_dir().parent
    (model,) = load_run(run, device="cpu")
    for block in (2, -1):
        before, after = start.backbone.blocks[block].state_dict(), model.encoder.backbone.blocks[block].state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before) == (block == 2)
    data = split_visual(config)
    queries = embed_frame(model, data.val, data.query_images)
    with np.load(config.fold_dir() / "oof_embeddings.npz") as held_out:
        np.testing.assert_allclose(queries, held_out["embeddings"], atol=1e-5)
    quiet = Runtime(progress=False, num_workers=0)
    build_index(BuildSpec(index_dir=tmp_path / "index", data_dir=visual_dir, model=ModelChoice(run=run), kind="exact",
                          runtime=quiet))
    report = evaluate_index(EvalSpec(tmp_path / "index", visual_dir, compare=(), latency_queries=2, runtime=quiet))
    assert report.rows[0].score.mar_at_10 == pytest.approx(metrics["mar_at_10"], abs=1e-6)
    assert set(metrics["baselines"]) == {"untrained", "backbone"}


def test_level_accuracy_skips_unlabelled_rows():
    truth = np.array([[0, 1], [1, -1], [-1, -1]], dtype=np.int64)
    predicted = np.array([[0, 2], [0, 5], [1, 1]], dtype=np.int64)
    assert level_accuracy(predicted, truth) == [0.5, 0.0]
    assert level_accuracy(predicted[2:], truth[2:]) == [None, None]
    with pytest.raises(ValueError, match="int64"):
        level_accuracy(predicted.astype(np.int32), truth)


def test_config_checks_the_visual_fields():
    with pytest.raises(ValueError, match="task must be"):
        load_config(TINY_IMAGE, task="nope")
    with pytest.raises(ValueError, match="hierarchy_weights"):
        load_config(TINY_IMAGE, task="visual", hierarchy_weights=[-1.0])
    with pytest.raises(ValueError, match="image models"):
        load_config(TINY_IMAGE, task="visual", model="text")
