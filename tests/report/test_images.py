"""Report thumbnails: an image over the pixel limit is not decoded (a warning, no thumbnail); names stay inside
the images folder."""

import pytest
from PIL import Image

from prodmatch.data.validation import DataWarning
from prodmatch.errors import InputError
from prodmatch.report.images import ImageCache, thumbnail_uri
from tests.data.test_images import png_bomb


def test_an_image_over_the_pixel_limit_gets_no_thumbnail_and_a_warning(tmp_path, monkeypatch):
    png_bomb(tmp_path / "big.png")
    Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / "ok.png")
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    with pytest.warns(DataWarning, match=r"big\.png: 12000 x 12000 pixels, over the limit"):
        assert thumbnail_uri(tmp_path / "big.png") is None
    assert len(opened) == 1  # the header only, never opened again to decode
    assert thumbnail_uri(tmp_path / "ok.png").startswith("data:image/jpeg;base64,")


def test_a_thumbnail_name_may_not_leave_the_images_folder(tmp_path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "secret.png")
    with pytest.raises(InputError, match="leaves the images folder"):
        ImageCache(tmp_path / "images").thumbnail("../secret.png")
