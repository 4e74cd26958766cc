"""Which model embeds the photos of an index: asked for (:class:`ModelChoice`) and as opened (the identity).

Build records the identity of the model it opened in the index's manifest; search and eval re-open the model
it names (:meth:`RunIdentity.choice`) and check that it is still the same one -- a run retrained since the
build would embed queries unlike the index's photos. Two kinds:

- :class:`RunIdentity`: a trained run (every fold model, averaged); the resolved run folder, its folds and
  their epochs, and whether its hierarchical heads predict categories;
- :class:`BackboneIdentity`: a bare pretrained timm backbone (GeM features, no neck -- the untrained
  baseline); its name, weights and input size.

``record()`` is the manifest's JSON object; :func:`identity_from_record` reads one back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prodmatch.errors import ArgumentError, InputError


class ModelRecordError(InputError, ValueError):
    """A manifest's model record that prodmatch did not write (edited, or of another version)."""


@dataclass(frozen=True)
class ModelChoice:
    """A trained run (``run``) or a bare pretrained backbone (``backbone``, with ``pretrained`` weights and an
    ``image_size``, default: the backbone's own): exactly one."""

    run: Path | None = None
    backbone: str | None = None
    pretrained: str = "auto"
    image_size: int | None = None

    def __post_init__(self) -> None:
        if (self.run is None) == (self.backbone is None):
            raise ArgumentError("give exactly one of a trained run (--run) or a pretrained backbone (--backbone)")


@dataclass(frozen=True)
class RunIdentity:
    run: str  # the run folder, resolved
    folds: tuple[int | None, ...]  # None: a fold folder of no numbered fold
    epochs: tuple[int | None, ...]  # each fold model's epoch
    categories: bool  # the run has hierarchical heads: the index stores predicted categories

    def choice(self) -> ModelChoice:
        return ModelChoice(run=Path(self.run))

    def describe(self) -> str:
        return f"run {self.run} (folds {list(self.folds)}, epochs {list(self.epochs)})"

    def record(self) -> dict:
        return {"run": self.run, "folds": list(self.folds), "epochs": list(self.epochs),
                "categories": self.categories}


@dataclass(frozen=True)
class BackboneIdentity:
    backbone: str
    pretrained: str
    image_size: int

    categories = False  # a bare backbone has no category heads

    def choice(self) -> ModelChoice:
        return ModelChoice(backbone=self.backbone, pretrained=self.pretrained, image_size=self.image_size)

    def describe(self) -> str:
        return f"backbone {self.backbone} (weights {self.pretrained}, {self.image_size} px)"

    def record(self) -> dict:
        return {"backbone": self.backbone, "pretrained": self.pretrained, "image_size": self.image_size,
                "categories": False}


ModelIdentity = RunIdentity | BackboneIdentity


def identity_from_record(record, source: str | Path) -> ModelIdentity:
    """The identity a manifest's ``model`` record names (``source``: the file, for the error message)."""
    problem = f"{source}: the model record {record!r} is not one prodmatch index build writes; rebuild the index"
    if not isinstance(record, dict):
        raise ModelRecordError(problem)
    try:
        if "run" in record:
            identity = RunIdentity(str(record["run"]), tuple(None if f is None else int(f) for f in record["folds"]),
                                   tuple(None if e is None else int(e) for e in record["epochs"]),
                                   bool(record["categories"]))
        else:
            identity = BackboneIdentity(str(record["backbone"]), str(record["pretrained"]),
                                        int(record["image_size"]))
    except (KeyError, TypeError, ValueError):
        raise ModelRecordError(problem) from None
    if identity.record() != record:  # the same record written back: nothing dropped or retyped
        raise ModelRecordError(problem)
    return identity
