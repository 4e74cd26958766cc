"""Sources that follow the data: the recipe's sources, less those the table cannot feed.

- No image column: no phash source (a note says the table is matched by its text alone).
- An image column (phashes, or image files whose phash is computed): a phash source is added to a recipe
  without one -- unless one phash covers so many records that it is a placeholder rather than a picture
  (:data:`NEAR_CONSTANT_SHARE`): then it is refused as a source, with a warning. A constant placeholder phash
  would make every record a candidate of every other.
- An embedding source reads the pretrained MiniLM title embedding (:data:`ENCODER_EMBEDDING`), computed only
  when the recipe has such a source (``--encoder minilm`` adds one).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field

import numpy as np

from prodmatch.data.validation import DataWarning
from prodmatch.dedup.table import DedupTable
from prodmatch.dedup.vocab import ENCODERS
from prodmatch.errors import ArgumentError
from prodmatch.recipes import Recipe, load_recipe, recipe_from_dict

DEDUP_RECIPE = "dedup-text"
NEAR_CONSTANT_SHARE = 0.5  # one phash on at least this share of the records is a placeholder, not a picture
PHASH_SOURCE = {"type": "phash", "name": "phash", "max_distance": 16, "k": 50}
ENCODER_EMBEDDING = "minilm"  # the one embedding a dedup recipe may read: the pretrained MiniLM over titles
ENCODER_SOURCE = {"type": "embedding", "name": "minilm", "embeddings": [ENCODER_EMBEDDING], "k": 50,
                  "min_score": 0.3}


@dataclass
class ChosenSources:
    recipe: Recipe
    phashes: np.ndarray | None  # per record, when the recipe has a phash source
    notes: list[str] = field(default_factory=list)

    @property
    def needs_encoder(self) -> bool:
        return ENCODER_EMBEDDING in self.recipe.embeddings


def phash_refusal(phashes: np.ndarray) -> str | None:
    """Why a phash column cannot be a source (one value on most records), or None."""
    values, counts = np.unique(np.asarray(phashes, dtype=str), return_counts=True)
    top = int(counts.argmax())
    share = counts[top] / len(phashes)
    if share >= NEAR_CONSTANT_SHARE:
        return (f"phash {values[top]} is on {share:.0%} of the records: a placeholder rather than a picture, so the "
                "image column is not used as a source")
    return None


def with_encoder(spec: dict) -> dict:
    spec = copy.deepcopy(spec)
    if not any(s.get("type") == "embedding" for s in spec["sources"]):
        spec["sources"].append(dict(ENCODER_SOURCE))
        spec["priority"] = [*spec.get("priority", []), ENCODER_SOURCE["name"]]
    spec.setdefault("embeddings", {})[ENCODER_EMBEDDING] = {"model": "pretrained"}
    return spec


def _without_kind(spec: dict, kind: str) -> tuple[dict, list[str]]:
    dropped = [s["name"] for s in spec["sources"] if s.get("type") == kind]
    spec = copy.deepcopy(spec)
    spec["sources"] = [s for s in spec["sources"] if s.get("type") != kind]
    spec["priority"] = [p for p in spec.get("priority", []) if p not in dropped]
    if not spec["sources"]:
        raise ArgumentError(f"recipe '{spec['name']}' has no source left without {kind} sources: it cannot match this "
                            "table")
    return spec, dropped


def check_embeddings(recipe: Recipe) -> None:
    unknown = sorted(set(recipe.embeddings) - {ENCODER_EMBEDDING})
    if unknown:
        raise ArgumentError(f"recipe '{recipe.name}' reads embedding(s) {unknown}; a dedup recipe can read only the "
                            f"pretrained text encoder, embedding {ENCODER_EMBEDDING!r}")


def choose_sources(table: DedupTable, recipe: str | dict | None = None, encoder: str = "none",
                   phashes: np.ndarray | None = None) -> ChosenSources:
    """The recipe (built-in :data:`DEDUP_RECIPE`, a name/path, or a saved spec) fitted to ``table``.
    ``phashes``: the image column's phashes (:func:`prodmatch.dedup.images.table_phashes`), if it has one."""
    if encoder not in ENCODERS:
        raise ArgumentError(f"unknown encoder {encoder!r}; choose from {ENCODERS}")
    spec = recipe if isinstance(recipe, dict) else load_recipe(recipe or DEDUP_RECIPE).spec
    spec = copy.deepcopy(spec)
    if encoder != "none":
        spec = with_encoder(spec)
    notes = []
    has_phash = any(s.get("type") == "phash" for s in spec["sources"])
    if phashes is None:
        if has_phash:
            spec, dropped = _without_kind(spec, "phash")
            notes.append(f"no image column: matching by text alone (source(s) {dropped} left out)")
        else:
            notes.append("no image column: matching by text alone")
    else:
        refusal = phash_refusal(phashes)
        if refusal:
            warnings.warn(f"{table.path}: column '{table.columns.image}': {refusal}", DataWarning, stacklevel=2)
            notes.append(refusal)
            if has_phash:
                spec, _ = _without_kind(spec, "phash")
            phashes = None
        elif not has_phash:
            spec["sources"].append(dict(PHASH_SOURCE))
            spec["priority"] = [*spec.get("priority", []), PHASH_SOURCE["name"]]
    chosen = recipe_from_dict(spec)
    check_embeddings(chosen)
    return ChosenSources(chosen, phashes, notes)
