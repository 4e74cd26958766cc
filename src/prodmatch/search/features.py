"""Per-posting inputs that candidate sources read: cleaned titles, phashes, named embeddings."""

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

    def __len__(self) -> int:
        return len(self.posting_ids)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, embeddings: dict[str, np.ndarray] | None = None) -> "Features":
        embeddings = embeddings or {}
        for name, matrix in embeddings.items():
            if len(matrix) != len(frame):
                raise ValueError(f"embedding {name!r} has {len(matrix)} rows for {len(frame)} postings")
        return cls(
            posting_ids=frame["posting_id"].to_numpy(dtype=object),
            titles=clean_titles(frame["title"]),
            phashes=frame["image_phash"].to_numpy(dtype=object),
            embeddings=dict(embeddings),
        )

    def subset(self, index: np.ndarray) -> "Features":
        return Features(
            posting_ids=self.posting_ids[index],
            titles=[self.titles[i] for i in index],
            phashes=self.phashes[index],
            embeddings={k: v[index] for k, v in self.embeddings.items()},
        )

    def embedding(self, name: str) -> np.ndarray:
        try:
            return self.embeddings[name]
        except KeyError:
            raise KeyError(f"no embedding {name!r}; available: {sorted(self.embeddings)}") from None
