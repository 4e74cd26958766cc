"""Per-posting inputs that candidate sources read: cleaned titles, phashes, named embeddings, and which rows
of each embedding are usable.

An embedding row is unusable when what it was computed from could not be read -- an image model's row for a
posting whose image file is missing or broken holds the embedding of a grey placeholder, which would match
every other placeholder. Sources over that embedding leave such rows out (:class:`EmbeddingSource`). The
phash column is not affected: it comes from the CSV, computed by the data's publisher from the original image.

A table beyond the Kaggle layout (``prodmatch dedup``) may carry more per-posting fields than a title:
extra text fields (a description, a brand) and numbers (a price), in :class:`PostingFields`. The pair model
reads them as their own pair features (:mod:`prodmatch.match.pair.field_features`); the Kaggle layout has
none (``fields`` is None) and its pair features are exactly the title's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from prodmatch.data.titles import clean_titles


@dataclass
class PostingFields:
    """Per-posting fields beside the title: text fields (cleaned, "" = missing) and numbers (NaN = missing),
    each keyed by its name (the prefix of its pair features)."""

    texts: dict[str, list[str]] = field(default_factory=dict)
    numbers: dict[str, np.ndarray] = field(default_factory=dict)  # name -> float64 per posting

    def __post_init__(self) -> None:
        for name, values in self.numbers.items():
            if not isinstance(values, np.ndarray) or values.dtype != np.float64 or values.ndim != 1:
                raise TypeError(f"number field {name!r} must be a 1-D float64 array")
        if set(self.texts) & set(self.numbers):
            raise ValueError(f"field names used twice: {sorted(set(self.texts) & set(self.numbers))}")

    def check_length(self, n: int) -> None:
        lengths = {name: len(v) for name, v in {**self.texts, **self.numbers}.items()}
        wrong = {name: length for name, length in lengths.items() if length != n}
        if wrong:
            raise ValueError(f"fields {wrong} do not have one value per posting ({n})")

    def subset(self, index: np.ndarray) -> PostingFields:
        return PostingFields({k: [v[i] for i in index] for k, v in self.texts.items()},
                             {k: v[index] for k, v in self.numbers.items()})


@dataclass
class Features:
    posting_ids: np.ndarray
    titles: list[str]  # cleaned
    phashes: np.ndarray  # 16-hex strings
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (n, d) float32, L2-normalised
    usable: dict[str, np.ndarray] = field(default_factory=dict)  # name -> bool per row; absent = every row usable
    fields: PostingFields | None = None  # fields beside the title (None: the title alone, as in the Kaggle layout)

    def __post_init__(self) -> None:
        if self.fields is not None:
            self.fields.check_length(len(self.posting_ids))

    def __len__(self) -> int:
        return len(self.posting_ids)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, embeddings: dict[str, np.ndarray] | None = None,
                   usable: dict[str, np.ndarray] | None = None) -> Features:
        embeddings, usable = embeddings or {}, usable or {}
        for name, matrix in embeddings.items():
            if len(matrix) != len(frame):
                raise ValueError(f"embedding {name!r} has {len(matrix)} rows for {len(frame)} postings")
        for name, mask in usable.items():
            if name not in embeddings or len(mask) != len(frame):
                raise ValueError(f"usable rows given for {name!r}, which is not an embedding of these {len(frame)} "
                                 "postings")
        return cls(
            posting_ids=frame["posting_id"].to_numpy(dtype=object),
            titles=clean_titles(frame["title"]),
            phashes=frame["image_phash"].to_numpy(dtype=object),
            embeddings=dict(embeddings),
            usable={name: np.asarray(mask, dtype=bool) for name, mask in usable.items()},
        )

    def subset(self, index: np.ndarray) -> Features:
        return Features(
            posting_ids=self.posting_ids[index],
            titles=[self.titles[i] for i in index],
            phashes=self.phashes[index],
            embeddings={k: v[index] for k, v in self.embeddings.items()},
            usable={k: v[index] for k, v in self.usable.items()},
            fields=None if self.fields is None else self.fields.subset(index),
        )

    def embedding(self, name: str) -> np.ndarray:
        try:
            return self.embeddings[name]
        except KeyError:
            raise KeyError(f"no embedding {name!r}; available: {sorted(self.embeddings)}") from None

    def usable_rows(self, names: list[str]) -> np.ndarray | None:
        """Rows usable in every one of the named embeddings; None when all of them are."""
        masks = [self.usable[name] for name in names if name in self.usable and not self.usable[name].all()]
        if not masks:
            return None
        return np.logical_and.reduce(masks)
