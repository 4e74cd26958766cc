"""Encoders (image: timm + GeM, text: Hugging Face + mean pooling), margin heads and pretrained loaders.

Importing this package imports nothing heavy: each name below loads its module (and torch) on first use, so
:mod:`prodmatch.models.registry` (the vocabularies) stays cheap to import. timm and transformers load only
when an encoder is created.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "MetricModel": "build", "build_encoder": "build", "encoder_from_payload": "build", "encoder_payload": "build",
    "load_encoder": "build",
    "HEADS": "heads", "ArcFaceHead": "heads", "CurricularFaceHead": "heads", "MarginHead": "heads",
    "create_head": "heads",
    "ImageEncoder": "image", "ImageEncoderSpec": "image",
    "GeM": "layers", "Neck": "layers", "masked_mean": "layers",
    "PretrainedError": "pretrained",
    "TextEncoder": "text", "TextEncoderSpec": "text",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
