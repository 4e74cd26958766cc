"""Telling unusable image files without decoding them."""

import io

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
