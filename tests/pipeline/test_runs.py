"""Which trained run fills each embedding of a recipe; OOF coverage; thresholds checked against the runs."""

import numpy as np
import pandas as pd
import pytest

from prodmatch.artifacts.oof import write_oof_embeddings
from prodmatch.errors import MissingInputError
from prodmatch.match.policy import MatchPolicy
from prodmatch.pipeline.runs import (
    check_policy_runs,
    image_embeddings,
    oof_embeddings_for,
    recipe_for_weights,
    resolve_runs,
)
from prodmatch.recipes import load_recipe, recipe_from_dict
from prodmatch.search.dense import l2_normalize
from tests.artifacts.test_weights import make_fold


def test_runs_are_matched_by_model_type(tmp_path):
    make_fold(tmp_path, "my-image-run", 0, model="image")
    make_fold(tmp_path, "my-text-run", 0, model="text")
    assert resolve_runs(load_recipe("full"), tmp_path) == {"image": tmp_path / "my-image-run",
                                                           "text": tmp_path / "my-text-run"}
    make_fold(tmp_path, "another-image-run", 0, model="image")
    with pytest.raises(ValueError, match="several image runs"):
        resolve_runs(load_recipe("full"), tmp_path)


def test_optional_embeddings_without_a_run_drop_their_sources(tmp_path):
    make_fold(tmp_path, "txt", 0, model="text")
    recipe, runs, notes = recipe_for_weights(load_recipe("full"), tmp_path)
    assert runs == {"text": tmp_path / "txt"} and recipe.source_names == ["text", "tfidf", "phash"]
    assert "dropped" in notes[0]
    weightless, runs, notes = recipe_for_weights(load_recipe("text-phash"), tmp_path)
    assert weightless.name == "text-phash" and runs == {} and notes == []


def test_run_selectors_name_a_folder_or_a_run_under_weights(tmp_path):
    make_fold(tmp_path / "weights", "shipped", 0, model="image")
    spec = {"name": "r", "embeddings": {"img": {"run": "shipped"}},
            "sources": [{"type": "embedding", "name": "e", "embeddings": ["img"]}]}
    assert resolve_runs(recipe_from_dict(spec), tmp_path / "weights") == {"img": tmp_path / "weights" / "shipped"}
    spec["embeddings"]["img"]["run"] = str(tmp_path / "weights" / "shipped")
    assert resolve_runs(recipe_from_dict(spec), tmp_path / "elsewhere") == {"img": tmp_path / "weights" / "shipped"}
    spec["embeddings"]["img"]["run"] = "gone"
    with pytest.raises(FileNotFoundError, match="run folder gone not found"):
        resolve_runs(recipe_from_dict(spec), tmp_path / "weights")


def test_required_model_without_a_run_is_an_error(tmp_path):
    spec = {"name": "r", "embeddings": {"img": {"model": "image"}},
            "sources": [{"type": "embedding", "name": "e", "embeddings": ["img"]}]}
    with pytest.raises(FileNotFoundError, match="needs a trained image model"):
        resolve_runs(recipe_from_dict(spec), tmp_path)


def test_oof_coverage_keeps_the_rows_every_run_covers(tmp_path):
    for model, ids in (("image", ["a", "b", "c"]), ("text", ["b", "c", "d"])):
        folder = make_fold(tmp_path, model, 0, model=model)
        write_oof_embeddings(folder / "oof_embeddings.npz", ids, l2_normalize(np.ones((3, 4), np.float32)))
    train = pd.DataFrame({"posting_id": ["a", "b", "c", "d"]})
    embeddings, covered = oof_embeddings_for({"image": tmp_path / "image", "text": tmp_path / "text"}, train)
    assert covered.tolist() == [False, True, True, False] and embeddings["image"].shape == (2, 4)


def test_a_recipe_with_no_run_for_any_embedding_is_an_error_not_text_phash_named_full(tmp_path):
    # a mistyped --weights used to run TF-IDF + phash quietly, still labelled "full"
    with pytest.raises(MissingInputError, match=r"--weights .*wieghts: no such folder.*--recipe text-phash"):
        recipe_for_weights(load_recipe("full"), tmp_path / "wieghts")
    with pytest.raises(MissingInputError, match=r"recipe 'full' needs trained runs.*runs found: none"):
        recipe_for_weights(load_recipe("full"), tmp_path)


def test_image_embeddings_are_told_by_the_runs_model_type(tmp_path):
    make_fold(tmp_path, "photos", 0, model="image")
    make_fold(tmp_path, "titles", 0, model="text")
    assert image_embeddings({"a": tmp_path / "photos", "b": tmp_path / "titles"}) == ["a"]


def test_thresholds_for_sources_without_runs_are_an_error(tmp_path):
    make_fold(tmp_path, "txt", 0, model="text")
    recipe, _, _ = recipe_for_weights(load_recipe("full"), tmp_path)
    policy = MatchPolicy({"comb": 0.5, "tfidf": 0.5, "phash": 0.9})
    with pytest.raises(FileNotFoundError, match=r"tuned with source\(s\) \['comb'\]"):
        check_policy_runs(list(policy.thresholds), recipe, tmp_path, "t.json")
    check_policy_runs(["tfidf", "phash"], recipe, tmp_path, "t.json")


def test_thresholds_tuned_with_another_run_are_warned_about(tmp_path):
    from prodmatch.artifacts.weights import run_fingerprint
    from prodmatch.pipeline.thresholds import other_runs
    from tests.kernel.conftest import write_fake_run

    weights = tmp_path / "weights"
    run = write_fake_run(weights, "text-a", "text", n_folds=2)
    tuned_on = {"runs": {"text": {"run": str(run), "fingerprint": run_fingerprint(run)}}}
    assert other_runs(tuned_on, {"text": run}, "t.json") == []
    copy = tmp_path / "copy" / "text-a"
    import shutil

    shutil.copytree(run, copy)
    assert other_runs(tuned_on, {"text": copy}, "t.json") == []  # a copy (e.g. a Kaggle dataset) is the same run
    model = copy / "fold1" / "model.pt"
    model.write_bytes(model.read_bytes() + b"retrained")
    warnings = other_runs(tuned_on, {"text": copy}, "t.json")
    assert len(warnings) == 1 and "t.json was tuned with another text run" in warnings[0]
