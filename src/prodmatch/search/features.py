"""Per-posting inputs that candidate sources read: cleaned titles, phashes, named embeddings, and which rows
of each embedding are usable.

An embedding row is unusable when what it was computed from could not be read -- an image model's row for a
posting whose image file is missing or broken holds the embedding of a grey placeholder, which would match
every other placeholder. Sources over that embedding leave such rows out (:class:`EmbeddingSource`). The
phash column is not affected: it comes from the CSV, computed by the data's publisher from the original image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from prodmatch.data.titles import clean_titles


@dataclass
class Features:
    posting_ids: np.ndarray
    titles: list[str]  # cleaned
    phashes: np.ndarray  # 16-hex strings
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (n, d) float32, L2-normalised
    usable: dict[str, np.ndarray] = field(default_factory=dict)  # name -> bool per row; absent = every row usable

    def __len__(self) -> int:
        return len(self.posting_ids)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, embeddings: dict[str, np.ndarray] | None = None,
                   usable: dict[str, np.ndarray] | None = None) -> "Features":
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

    def subset(self, index: np.ndarray) -> "Features":
        return Features(
            posting_ids=self.posting_ids[index],
            titles=[self.titles[i] for i in index],
            phashes=self.phashes[index],
            embeddings={k: v[index] for k, v in self.embeddings.items()},
            usable={k: v[index] for k, v in self.usable.items()},
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
