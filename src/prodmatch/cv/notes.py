"""What a CV score on too little data cannot tell, said next to the score instead of left to be guessed."""

from __future__ import annotations

import numpy as np

MIN_MATCHING_GROUPS = 20  # label_groups with 2+ postings below which tuned thresholds are guesswork


def small_train_notes(labels: np.ndarray, min_groups: int = MIN_MATCHING_GROUPS) -> list[str]:
    """Notes when the rows hold no, or few, label_groups with 2+ postings (the pairs that tuning learns from)."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    matching = int((counts >= 2).sum())
    if matching == 0:
        return [f"no label_group among the {len(labels)} CV rows has 2 or more postings: matching every posting only "
                "to itself already scores F1 1.0, so this score and these thresholds say nothing; tune on rows "
                "that include matching postings"]
    if matching < min_groups:
        return [f"only {matching} label_group(s) among the {len(labels)} CV rows have 2 or more postings: too few "
                "to tune thresholds reliably; take the score as a rough guide"]
    return []
