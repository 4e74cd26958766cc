"""Sources follow the data: no image column, no phash source; a placeholder phash refused with a warning."""

import numpy as np
import pandas as pd
import pytest

from prodmatch.data.validation import DataWarning
from prodmatch.dedup.sources import choose_sources, phash_refusal
from prodmatch.dedup.table import Columns, validate_table


def table(image=None, n=10):
    frame = pd.DataFrame({"id": [str(i) for i in range(n)], "name": [f"item {i}" for i in range(n)]})
    if image is not None:
        frame["img"] = image
    return validate_table(frame, Columns("id", "name", image=None if image is None else "img"), "t.csv")


def test_no_image_column_means_text_sources_only_with_a_note():
    chosen = choose_sources(table())
    assert chosen.recipe.source_names == ["tfidf", "char"] and chosen.phashes is None
    assert "no image column" in chosen.notes[0]
    assert "phash" not in choose_sources(table(), "text-phash").recipe.source_names


def test_distinct_phashes_add_a_phash_source():
    hashes = [f"{i:016x}" for i in range(10)]
    chosen = choose_sources(table(hashes), phashes=np.array(hashes, dtype=object))
    assert chosen.recipe.source_names == ["tfidf", "char", "phash"]


def test_a_near_constant_phash_is_refused_with_a_warning():
    hashes = ["0" * 16] * 7 + [f"{i:016x}" for i in range(1, 4)]
    assert phash_refusal(np.array(hashes)) is not None
    with pytest.warns(DataWarning, match="placeholder"):
        chosen = choose_sources(table(hashes), phashes=np.array(hashes, dtype=object))
    assert "phash" not in chosen.recipe.source_names and chosen.phashes is None


def test_the_encoder_adds_an_embedding_source():
    chosen = choose_sources(table(), encoder="minilm")
    assert chosen.needs_encoder and "minilm" in chosen.recipe.source_names
