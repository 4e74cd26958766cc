"""The models' vocabularies (prodmatch.models.registry) against the classes behind each name."""

import pytest
import torch

from prodmatch.models.heads import HEADS, ArcFaceHead, CurricularFaceHead, create_head
from prodmatch.models.layers import Neck
from prodmatch.models.registry import HEAD_NAMES, MODEL_KINDS, NECKS


def test_every_head_name_makes_its_head():
    assert tuple(HEADS) == HEAD_NAMES
    assert HEADS["arcface"] is ArcFaceHead and HEADS["curricularface"] is CurricularFaceHead
    for name in HEAD_NAMES:
        assert isinstance(create_head(name, 8, 3), HEADS[name])


@pytest.mark.parametrize("kind", NECKS)
def test_every_neck_name_builds(kind):
    width = None if kind in ("bn", "none") else 4
    neck = Neck(8, width, kind).eval()
    assert neck(torch.ones(2, 8)).shape == (2, width or 8)
    with pytest.raises(ValueError, match="unknown neck"):
        Neck(8, 4, "wide")


def test_model_kinds_are_the_encoders_kinds():
    from prodmatch.models.image import ImageEncoder
    from prodmatch.models.text import TextEncoder

    assert {ImageEncoder.kind, TextEncoder.kind} == set(MODEL_KINDS)
