"""The saved dedup model, ``DIR/model.json``: what ``prodmatch dedup --labels`` trained and ``--model DIR``
applies -- the column roles, the recipe (its sources), the LightGBM pair model (its model text), the decision,
and what it was tuned on (rows, clusters, the out-of-fold scores). Written atomically; checked on load (a file
that is not one, another format, a decision out of range) with the file's name.

    {"format": 1, "kind": "prodmatch-dedup-model", "columns": {...}, "recipe": {...},
     "pair_model": {...}, "decision": {"threshold": 0.4, "clustering": "one-to-one", "fallback": null},
     "clean_clean": false, "tuned_on": {"table": ..., "n_rows": ..., ...}, "cv": {...}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from prodmatch.dedup.decision import Decision
from prodmatch.dedup.table import Columns
from prodmatch.errors import ArgumentError, MissingInputError
from prodmatch.fileio import write_json
from prodmatch.match.pair.model import PairModel
from prodmatch.recipes import recipe_from_dict

MODEL_FILE = "model.json"
MODEL_FORMAT = 1
MODEL_KIND = "prodmatch-dedup-model"


@dataclass
class SavedModel:
    columns: Columns
    recipe_spec: dict
    model: PairModel
    decision: Decision
    clean_clean: bool = False  # trained to match only across sources (--source)
    tuned_on: dict = field(default_factory=dict)
    cv: dict = field(default_factory=dict)

    @property
    def recipe(self):
        return recipe_from_dict(self.recipe_spec)

    @property
    def tuned_size(self) -> int:
        return int(self.tuned_on.get("n_rows", 0))


def model_path(folder: str | Path) -> Path:
    return Path(folder) / MODEL_FILE


def write_model(folder: str | Path, saved: SavedModel) -> Path:
    path = model_path(folder)
    write_json(path, {"format": MODEL_FORMAT, "kind": MODEL_KIND, "columns": saved.columns.as_dict(),
                      "recipe": saved.recipe_spec, "pair_model": saved.model.as_dict(),
                      "decision": saved.decision.as_dict(), "clean_clean": saved.clean_clean,
                      "tuned_on": saved.tuned_on, "cv": saved.cv})
    return path


def read_model(folder: str | Path) -> SavedModel:
    """The model saved in ``folder`` (a folder a ``prodmatch dedup --labels`` run wrote)."""
    path = model_path(folder)
    if not Path(folder).is_dir():
        raise MissingInputError(f"--model {folder}: not a folder; give the --out folder of a `prodmatch dedup "
                                "--labels` run")
    if not path.is_file():
        raise MissingInputError(f"{path} not found: --model must be the --out folder of a run that trained "
                                "(`prodmatch dedup TABLE --labels FILE --out DIR`)")
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArgumentError(f"{path}: cannot read the saved model ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != MODEL_KIND:
        raise ArgumentError(f"{path}: not a prodmatch dedup model")
    if data.get("format") != MODEL_FORMAT:
        raise ArgumentError(f"{path}: model format {data.get('format')!r} is not one this prodmatch reads "
                            f"({MODEL_FORMAT}); train again or update prodmatch")
    try:
        saved = SavedModel(Columns.from_dict(data["columns"]), dict(data["recipe"]),
                           PairModel.from_dict(data["pair_model"]), Decision.from_dict(data["decision"]),
                           bool(data.get("clean_clean", False)), dict(data.get("tuned_on") or {}),
                           dict(data.get("cv") or {}))
        saved.recipe  # noqa: B018 - the recipe must load
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ArgumentError(f"{path}: not a valid prodmatch dedup model ({exc}); train again") from None
    return saved
