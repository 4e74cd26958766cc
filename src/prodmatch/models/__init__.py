"""Encoders (image: timm + GeM, text: Hugging Face + mean pooling), margin heads and pretrained loaders.

Importing this package does not import timm or transformers; they load when an encoder is created.
"""

from prodmatch.models.build import (
    MetricModel,
    build_encoder,
    encoder_from_payload,
    encoder_payload,
    load_encoder,
)
from prodmatch.models.heads import HEADS, ArcFaceHead, CurricularFaceHead, MarginHead, create_head
from prodmatch.models.image import ImageEncoder, ImageEncoderSpec
from prodmatch.models.layers import GeM, Neck, masked_mean
from prodmatch.models.pretrained import PretrainedError
from prodmatch.models.text import TextEncoder, TextEncoderSpec

__all__ = [
    "HEADS", "ArcFaceHead", "CurricularFaceHead", "GeM", "ImageEncoder", "ImageEncoderSpec", "MarginHead",
    "MetricModel", "Neck", "PretrainedError", "TextEncoder", "TextEncoderSpec", "build_encoder", "create_head",
    "encoder_from_payload", "encoder_payload", "load_encoder", "masked_mean",
]
