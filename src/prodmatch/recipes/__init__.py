"""Recipes: which candidate sources run, in which priority, with min2 and the cap.

A recipe is a YAML file; the built-in ones live beside this module (``text-phash``, ``full``).
``load_recipe("text-phash")`` or ``load_recipe("my-recipe.yaml")``.

The decision rules CV tunes (:mod:`prodmatch.match.kinds`) are the union of the sources' thresholds, always,
and those the recipe adds. An optional ``pair_model`` section puts a pair model
(:mod:`prodmatch.match.pair.model`) over the candidates: ``use: auto`` tunes it too, and it matches when
LightGBM is installed and it beats the union in CV; ``use: never`` keeps the union; ``params`` overrides
LightGBM parameters.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prodmatch.errors import ArgumentError
from prodmatch.match.kinds import PAIR_MODEL, UNION
from prodmatch.match.pair.model import PAIR_COLUMN
from prodmatch.match.policy import KAGGLE_MAX_MATCHES
from prodmatch.recipes.schema import SOURCE_TYPES, check_recipe, read_yaml_file
from prodmatch.search.blending import BlendConfig
from prodmatch.search.blocking import BlockingConfig
from prodmatch.search.scales import PROBABILITY
from prodmatch.search.sources import EmbeddingSource, PhashSource, TfidfSource
from prodmatch.search.tfidf import TfidfConfig

RECIPE_DIR = Path(__file__).resolve().parent
BUILTIN_RECIPES = tuple(sorted(p.stem for p in RECIPE_DIR.glob("*.yaml")))
PAIR_MODEL_USES = ("auto", "never")


@dataclass
class Recipe:
    name: str
    sources: list
    priority: list[str]
    min2: bool = True
    cap: int = KAGGLE_MAX_MATCHES
    embeddings: dict[str, dict] = field(default_factory=dict)  # embedding name -> run selector
    spec: dict = field(default_factory=dict)  # the resolved YAML, saved with every output
    pair_model: dict = field(default_factory=dict)  # {use: auto|never, params: {...}}; empty: no pair model

    @property
    def matcher_kinds(self) -> list[str]:
        """The decision rules CV tunes for this recipe, in order: the union, then the pair model when the recipe
        has one (each matches only where it can run and wins in CV)."""
        wants_pair_model = bool(self.pair_model) and self.pair_model.get("use", "auto") != "never"
        return [UNION] + ([PAIR_MODEL] if wants_pair_model else [])

    def matcher_params(self, kind: str) -> dict:
        """The recipe's parameters for one rule (LightGBM's for the pair model)."""
        return dict(self.pair_model.get("params") or {}) if kind == PAIR_MODEL else {}

    @property
    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]

    @property
    def needs_weights(self) -> bool:
        return bool(self.embeddings)

    def source(self, name: str):
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(f"recipe '{self.name}' has no source {name!r}; it has {self.source_names}")

    def scale_of(self, name: str):
        """What source ``name``'s scores mean (:mod:`prodmatch.search.scales`); the pair model's column is a
        probability."""
        if name == PAIR_COLUMN and name not in self.source_names:
            return PROBABILITY
        return self.source(name).scale

    def grids(self) -> dict[str, np.ndarray]:
        """The thresholds tuning tries, per source."""
        return {source.name: source.scale.grid() for source in self.sources}

    @property
    def drifting_sources(self) -> list[str]:
        """Sources whose best threshold rises with the number of postings searched (size-aware thresholds)."""
        return [source.name for source in self.sources if source.size_drift]

    def restrict_to(self, available: set[str] | list[str]) -> tuple[Recipe, list[str]]:
        """This recipe without the sources that need an optional embedding not in ``available``.

        Returns the new recipe (its spec says what was dropped) and one note per dropped source. A missing
        required embedding is an error.
        """
        available = set(available)
        missing = [n for n in self.embeddings if n not in available]
        required = [n for n in missing if not (self.embeddings[n] or {}).get("optional", False)]
        if required:
            raise ArgumentError(f"recipe '{self.name}' needs embedding(s) {required} and no trained run provides "
                                "them")
        if not missing:
            return self, []
        spec = copy.deepcopy(self.spec)
        dropped = [s["name"] for s in spec["sources"] if set(s.get("embeddings", [])) & set(missing)]
        if len(dropped) == len(spec["sources"]):
            raise ArgumentError(f"recipe '{self.name}': no source left without embeddings {missing}")
        spec["sources"] = [s for s in spec["sources"] if s["name"] not in dropped]
        spec["priority"] = [p for p in spec.get("priority", []) if p not in dropped]
        spec["embeddings"] = {k: v for k, v in spec["embeddings"].items() if k not in missing}
        spec["dropped_sources"] = {"sources": dropped, "missing_embeddings": missing}
        notes = [f"recipe '{self.name}': no trained run for {missing}; dropped source(s) {dropped}"]
        return recipe_from_dict(spec), notes


def load_recipe(name_or_path: str | Path, overrides: dict | None = None) -> Recipe:
    path = Path(name_or_path)
    if not path.suffix and not path.is_dir():  # a folder is named as one by read_yaml_file
        if str(name_or_path) not in BUILTIN_RECIPES:
            raise ArgumentError(f"unknown recipe {name_or_path!r}; built-in: {BUILTIN_RECIPES}, or pass a .yaml path")
        path = RECIPE_DIR / f"{name_or_path}.yaml"
    spec = read_yaml_file(path, "recipe")
    if overrides and isinstance(spec, dict):
        spec = {**spec, **overrides}
    return recipe_from_dict(spec, origin=f"recipe {path}")


def recipe_from_dict(spec: dict, origin: str = "recipe") -> Recipe:
    """The recipe a spec describes; ``origin`` (e.g. ``recipe my.yaml``) starts every error about it."""
    check_recipe(spec, origin)  # keys and types (prodmatch.recipes.schema)
    spec = copy.deepcopy(spec)
    sources = [_build_source(s) for s in spec["sources"]]
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ArgumentError(f"{origin}: source names must be unique, got {names}")
    priority = spec.get("priority") or names
    unknown = set(priority) - set(names)
    if unknown or set(priority) != set(names):
        raise ArgumentError(f"{origin}: priority {priority} must list exactly the sources {names}")
    embeddings = spec.get("embeddings") or {}
    for source in sources:
        for needed in getattr(source, "embeddings", []):
            if needed not in embeddings:
                raise ArgumentError(f"{origin}: source {source.name!r} uses embedding {needed!r} not declared under "
                                    "'embeddings'")
    if PAIR_COLUMN in names:
        raise ArgumentError(f"{origin}: a source may not be called {PAIR_COLUMN!r}: that is the pair model's column")
    pair_model = _pair_model_spec(spec.get("pair_model"))
    return Recipe(
        name=spec["name"],
        sources=sources,
        priority=list(priority),
        min2=bool(spec.get("min2", True)),
        cap=int(spec.get("cap", KAGGLE_MAX_MATCHES)),
        embeddings=embeddings,
        spec=spec,
        pair_model=pair_model,
    )


def _pair_model_spec(spec: dict | None) -> dict:
    if not spec:
        return {}
    if not isinstance(spec, dict):
        raise ArgumentError(f"pair_model must be a mapping (use, params), got {spec!r}")
    unknown = set(spec) - {"use", "params"}
    if unknown:
        raise ArgumentError(f"pair_model: unknown key(s) {sorted(unknown)}; known: use, params")
    if spec.get("use", "auto") not in PAIR_MODEL_USES:
        raise ArgumentError(f"pair_model.use must be one of {PAIR_MODEL_USES}, got {spec.get('use')!r}")
    if not isinstance(spec.get("params") or {}, dict):
        raise ArgumentError("pair_model.params must be a mapping of LightGBM parameters")
    return dict(spec)


def _blend(spec: dict | None) -> BlendConfig | None:
    return None if not spec else BlendConfig(**spec)


def _blocking(spec: dict | None) -> BlockingConfig | None:
    """A tfidf source's ``blocking:`` section (sub-quadratic candidates, :mod:`prodmatch.search.blocked`); its keys
    and values are checked by the recipe schema."""
    return None if spec is None else BlockingConfig(**spec)


def _build_source(spec: dict):
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind == "tfidf":
        configs = [TfidfConfig(**{**c, "ngram_range": tuple(c.get("ngram_range", (1, 1)))}) for c in spec.pop("configs", [{}])]
        return TfidfSource(configs=configs, blend=_blend(spec.pop("blend", None)),
                           blocking=_blocking(spec.pop("blocking", None)), **spec)
    if kind == "phash":
        return PhashSource(**spec)
    if kind == "embedding":
        return EmbeddingSource(blend=_blend(spec.pop("blend", None)), **spec)
    raise ArgumentError(f"unknown source type {kind!r}; use one of {', '.join(SOURCE_TYPES)}")
