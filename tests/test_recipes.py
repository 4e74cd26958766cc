"""Recipes: built-ins load, sources carry their kind and scale, bad specs are refused, optional embeddings drop."""

import dataclasses

import numpy as np
import pytest

from prodmatch.recipes import BUILTIN_RECIPES, load_recipe, recipe_from_dict
from prodmatch.search.scales import CosineScale, HammingScale


def test_builtin_recipes_and_their_sources():
    assert {"text-phash", "text-phash-char", "full"} <= set(BUILTIN_RECIPES)
    recipe = load_recipe("text-phash")
    assert recipe.source_names == ["tfidf", "phash"] and recipe.priority == ["tfidf", "phash"]
    assert recipe.min2 and recipe.cap == 50 and not recipe.needs_weights
    assert isinstance(recipe.scale_of("tfidf"), CosineScale) and isinstance(recipe.scale_of("phash"), HammingScale)
    assert recipe.drifting_sources == ["tfidf"]
    grids = recipe.grids()
    np.testing.assert_allclose(grids["phash"], 1 - np.arange(17) / 64, atol=1e-6)
    assert grids["tfidf"][0] == pytest.approx(0.10) and grids["tfidf"][-1] == pytest.approx(0.99)


def test_a_source_is_what_its_type_says_whatever_its_name():
    recipe = recipe_from_dict({"name": "r", "sources": [{"type": "phash", "name": "imghash", "max_distance": 12},
                                                         {"type": "tfidf", "name": "words"}]})
    assert recipe.source("imghash").kind == "phash" and recipe.scale_of("imghash").is_distance
    assert len(recipe.grids()["imghash"]) == 13  # Hamming 0..12, not a cosine grid
    assert recipe.scale_of("words").threshold_text(0.5) == "0.500"
    with pytest.raises(KeyError, match="no source 'phash'"):
        recipe.source("phash")


@pytest.mark.parametrize("spec, message", [
    ({"sources": []}, "missing 'name'"),
    ({"name": "r", "sources": [{"type": "audio"}]}, "unknown source type"),
    ({"name": "r", "sources": [{"type": "tfidf"}, {"type": "tfidf"}]}, "must be unique"),
    ({"name": "r", "sources": [{"type": "tfidf"}], "priority": ["tfidf", "phash"]}, "must list exactly"),
    ({"name": "r", "sources": [{"type": "embedding", "name": "e", "embeddings": ["img"]}]}, "not declared"),
    ({"name": "r", "embeddings": {"img": {"model": "image", "size": 3}},
      "sources": [{"type": "embedding", "name": "e", "embeddings": ["img"]}]}, "embeddings.img: unknown key 'size'"),
    # keys and types: prodmatch.recipes.schema (the fields of the classes a recipe builds)
    ({"name": "r", "sources": [{"type": "tfidf"}], "mni2": True}, r"unknown key 'mni2' \(did you mean 'min2'\?\)"),
    ({"name": "r", "sources": [{"type": "tfidf"}], "min2": "yes"}, "min2 must be true or false"),
    ({"name": "r", "sources": [{"type": "phash", "max_distance": "16"}]},
     r"sources\[0\]\.max_distance must be an integer"),
    ({"name": "r", "sources": [{"type": "phash", "max_distance": 65}]}, r"max_distance must be within \[0, 64\]"),
    ({"name": "r", "sources": [{"type": "tfidf", "configs": [{"ngram_range": [2, 1]}]}]}, "ngram_range must be"),
    ({"name": "r", "sources": [{"type": "tfidf", "configs": [{"ngram_range": [1]}]}]}, "a list of 2 values"),
    ({"name": "r", "sources": [{"type": "tfidf", "min_score": float("nan")}]}, "min_score must be a finite number"),
    ({"name": "r", "sources": [{"type": "tfidf", "weights": [1, "a"]}]}, r"weights\[1\] must be a finite number"),
    ({"name": "r", "sources": [{"type": "tfidf", "blend": {"top_m": 0}}]}, r"blend\.top_m must be >= 1"),
    ({"name": "r", "sources": [{"type": "tfidf", "blend": 2}]}, "blend must be a mapping of top_m, min_score, power"),
    ({"name": "r", "embeddings": {"i": {"model": "image"}},
      "sources": [{"type": "embedding", "name": "e", "embeddings": ["i"], "backend": "gpu"}]},
     "backend must be one of"),
    ({"name": "r", "sources": ["tfidf"]}, r"sources\[0\] must be a mapping with a 'type'"),
])
def test_bad_recipes_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        recipe_from_dict(spec)


def test_a_tfidf_source_can_draw_its_candidates_by_blocking():
    from prodmatch.errors import ConfigError
    from prodmatch.search.blocking import BlockingConfig

    assert load_recipe("text-phash").source("tfidf").blocking is None  # the built-ins stay exact
    recipe = recipe_from_dict({"name": "r", "sources": [{"type": "tfidf", "blocking": {"cap": 50, "pair_tokens": 0}}]})
    assert recipe.source("tfidf").blocking == BlockingConfig(cap=50, pair_tokens=0)
    assert recipe_from_dict({"name": "r", "sources": [{"type": "tfidf", "blocking": {}}]}).source(
        "tfidf").blocking == BlockingConfig()
    for bad, message in (({"caps": 50}, "unknown key 'caps' \\(did you mean 'cap'"), ([50], "blocking must be a mapping"),
                         ({"cap": 0}, "blocking.cap must be >= 1")):
        with pytest.raises(ConfigError, match=message):
            recipe_from_dict({"name": "r", "sources": [{"type": "tfidf", "blocking": bad}]})


def test_the_large_table_recipe_is_dedup_text_with_its_tfidf_candidates_by_blocking():
    from prodmatch.search.blocking import BlockingConfig

    assert {"dedup-text", "dedup-large"} <= set(BUILTIN_RECIPES)
    text, large = load_recipe("dedup-text"), load_recipe("dedup-large")
    assert [s.blocking for s in large.sources] == [BlockingConfig()] * 2
    assert [dataclasses.replace(s, blocking=None) for s in large.sources] == text.sources
    assert {k: v for k, v in large.spec.items() if k not in ("name", "sources")} == \
        {k: v for k, v in text.spec.items() if k not in ("name", "sources")}


def test_unknown_recipe_names_and_files():
    with pytest.raises(ValueError, match="unknown recipe 'nope'"):
        load_recipe("nope")
    with pytest.raises(FileNotFoundError):
        load_recipe("missing.yaml")


def test_optional_embeddings_without_runs_drop_their_sources():
    full = load_recipe("full")
    text_only, notes = full.restrict_to({"text"})
    assert text_only.source_names == ["text", "tfidf", "phash"] and text_only.priority[0] == "text"
    assert text_only.spec["dropped_sources"] == {"sources": ["comb", "image"], "missing_embeddings": ["image"]}
    assert "dropped source(s) ['comb', 'image']" in notes[0]
    required = recipe_from_dict({"name": "r", "embeddings": {"img": {"model": "image"}},
                                 "sources": [{"type": "embedding", "name": "e", "embeddings": ["img"]}]})
    with pytest.raises(ValueError, match="needs embedding"):
        required.restrict_to(set())


def test_the_pair_model_section():
    from prodmatch.search.scales import ProbabilityScale

    for name in ("text-phash", "full"):
        recipe = load_recipe(name)
        assert recipe.matcher_kinds == ["union", "pair-model"] and recipe.pair_model == {"use": "auto"}
        assert recipe.matcher_params("pair-model") == {} and recipe.matcher_params("union") == {}
        assert isinstance(recipe.scale_of("pair"), ProbabilityScale)
    assert load_recipe("text-phash-char").matcher_kinds == ["union"]
    never = load_recipe("text-phash", overrides={"pair_model": {"use": "never", "params": {"num_leaves": 15}}})
    assert never.matcher_kinds == ["union"] and never.matcher_params("pair-model") == {"num_leaves": 15}
    assert never.restrict_to(set())[0].pair_model == never.pair_model  # carried by the spec


@pytest.mark.parametrize("section, message", [
    ({"use": "sometimes"}, "pair_model.use must be one of"),
    ({"use": "auto", "rounds": 3}, "unknown key"),
    ({"params": [1, 2]}, "params must be a mapping"),
    ("yes", "must be a mapping"),
])
def test_bad_pair_model_sections_are_refused(section, message):
    with pytest.raises(ValueError, match=message):
        recipe_from_dict({"name": "r", "sources": [{"type": "tfidf"}], "pair_model": section})


def test_no_source_may_take_the_pair_models_column():
    with pytest.raises(ValueError, match="pair model's column"):
        recipe_from_dict({"name": "r", "sources": [{"type": "tfidf", "name": "pair"}]})


def test_a_recipe_file_error_names_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nsources:\n  - {type: tfidf, name: t, k: fifty}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^recipe .*mine\.yaml: sources\[0\]\.k must be an integer, got 'fifty'$"):
        load_recipe(path)
