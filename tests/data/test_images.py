"""Telling unusable image files without decoding them."""

import io

import pytest
from PIL import Image

from prodmatch.data.images import image_file_problem, unusable_images


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_each_kind_of_unusable_file_is_named(tmp_path):
    good = jpeg_bytes()
    (tmp_path / "ok.jpg").write_bytes(good)
    (tmp_path / "cut.jpg").write_bytes(good[: len(good) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("this is not a picture\n")
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, format="PNG")
    (tmp_path / "ok.png").write_bytes(png.getvalue())
    names = ["ok.jpg", "cut.jpg", "empty.jpg", "text.jpg", "missing.jpg", "", "ok.png"]
    assert unusable_images(tmp_path, names) == {1: "truncated JPEG", 2: "empty file", 3: "not an image file",
                                                4: "file not found", 5: "empty image name"}
    assert image_file_problem(tmp_path) == "not a file (empty image name?)"


def test_a_missing_folder_makes_every_image_unusable(tmp_path):
    assert unusable_images(tmp_path / "test_images", ["a.jpg", "b.jpg"]) == {0: "no test_images/ folder",
                                                                              1: "no test_images/ folder"}


def png_bomb(path, width: int = 12_000, height: int = 12_000) -> None:
    """A valid 1-bit black PNG of ``width`` x ``height`` pixels: a few kB on disk, width x height x 3 bytes once
    decoded (432 MB at 12,000 x 12,000)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def test_the_pixel_limit_is_told_from_the_header(tmp_path):
    from prodmatch.data.images import MAX_IMAGE_PIXELS, pixel_limit_problem

    png_bomb(tmp_path / "big.png")
    assert (tmp_path / "big.png").stat().st_size < 1_000_000
    with open(tmp_path / "big.png", "rb") as handle:
        assert pixel_limit_problem(handle) == (f"12000 x 12000 pixels, over the limit of {MAX_IMAGE_PIXELS:,} "
                                               "(a decompression bomb?)")
    png_bomb(tmp_path / "fine.png", 3000, 2000)
    with open(tmp_path / "fine.png", "rb") as handle:
        assert pixel_limit_problem(handle) == ""
    assert pixel_limit_problem(io.BytesIO(b"not an image")) == ""  # unknown size: the decoder decides


@pytest.mark.parametrize("name", ["../outside.jpg", "sub/../../outside.jpg", "{outside}"])
def test_a_name_that_leaves_the_images_folder_is_refused_not_read(tmp_path, name):
    from prodmatch.data.images import any_usable_image, image_path
    from prodmatch.errors import InputError

    folder = tmp_path / "train_images"
    folder.mkdir()
    (tmp_path / "outside.jpg").write_bytes(jpeg_bytes())  # a readable image, outside the folder
    name = name.format(outside=tmp_path / "outside.jpg")
    with pytest.raises(InputError, match=r"leaves the images folder"):
        image_path(folder, name)
    with pytest.raises(InputError, match=r"leaves the images folder"):
        unusable_images(folder, ["ok.jpg", name])
    with pytest.raises(InputError, match=r"leaves the images folder"):
        any_usable_image(folder, [name])
    assert image_path(folder, "sub/a.jpg") == folder / "sub" / "a.jpg"  # sub-folders inside are fine
