"""Rendering the report (no browser needed): structure, embedded images that decode, text-only data."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from prodmatch.report import build_report
from prodmatch.report.images import phash_bits, phash_grid_uri, thumbnail_uri

from .htmlcheck import check_image, decode_data_uri, parse

SECTIONS = ["summary", "cv-table", "curves", "group-size", "errors", "fp-tfidf", "fp-phash", "fp-min2", "fn-tfidf",
            "fn-phash", "fn-unproposed", "lowest-f1"]


def assert_self_contained(parsed) -> dict[str, int]:
    """Every <img> a data URI that decodes; no scripts, stylesheets or links leaving the page."""
    assert parsed.images, "no images at all"
    kinds: dict[str, int] = {}
    for attrs in parsed.images:
        assert attrs.get("alt") is not None, attrs.get("src", "")[:40]
        mime, _ = check_image(attrs["src"])
        kinds[mime] = kinds.get(mime, 0) + 1
    assert "script" not in parsed.tags and "link" not in parsed.tags and "iframe" not in parsed.tags
    assert all(link.startswith("#") for link in parsed.links), [lk for lk in parsed.links if not lk.startswith("#")]
    return kinds


def test_text_only_report(demo_text_cv, demo_text_dir, tmp_path):
    out = tmp_path / "report.html"
    result = build_report(demo_text_cv, out, demo_text_dir)
    assert result.path == out and result.n_bytes == out.stat().st_size and result.n_bytes < 2_000_000
    html = out.read_text(encoding="utf-8")
    parsed = parse(html)
    for section in SECTIONS:
        assert section in parsed.ids, section
    assert parsed.tags.get("table", 0) >= 4  # CV table, group sizes, false positives, false negatives
    kinds = assert_self_contained(parsed)
    # no image files: phash grids stand in for thumbnails; plots are SVG
    assert "image/jpeg" not in kinds and result.n_thumbnails == 0
    assert kinds["image/png"] == result.n_phash_grids > 0
    assert kinds["image/svg+xml"] == 3  # tfidf curve, phash curve, F1 by group size
    assert 'class="phash"' in html and "no image" in html
    cv = json.loads((demo_text_cv / "cv.json").read_text())
    text = " ".join(parsed.text)
    assert f"{cv['score']['f1']:.4f}" in text and f"{cv['nested']['f1']:.4f}" in text
    assert "text-phash" in text and "union+min2" in text
    assert "d ≤" in text  # phash thresholds shown as Hamming distances
    assert result.f1 == pytest.approx(cv["score"]["f1"])
    assert "warn" not in html.split("<main>")[1].split("</section>")[0]  # the policy re-applies exactly


def test_demo_report_has_thumbnails(demo_report, demo_dir):
    html = demo_report.read_text(encoding="utf-8")
    parsed = parse(html)
    for section in SECTIONS:
        assert section in parsed.ids, section
    kinds = assert_self_contained(parsed)
    assert kinds.get("image/jpeg", 0) > 20
    for attrs in parsed.images:
        mime, size = check_image(attrs["src"])
        if mime == "image/jpeg":
            assert max(size) <= 112
    # galleries show wrong matches and misses next to their query, with per-source scores
    assert html.count('class="card query"') >= 10
    assert 'class="card fp"' in html and 'class="card fn"' in html
    assert "to drop it:" in html and "would match at:" in html
    assert demo_report.stat().st_size < 3_000_000


def test_pair_model_report_shows_its_importances_and_galleries(demo_pair_cv, demo_dir, tmp_path):
    result = build_report(demo_pair_cv, tmp_path / "pair.html", demo_dir)
    html = result.path.read_text(encoding="utf-8")
    parsed = parse(html)
    cv = json.loads((demo_pair_cv / "cv.json").read_text())
    pair = cv["matchers"][1]
    assert pair["kind"] == "pair-model" and "rules" in parsed.ids and "Share of gain" in html
    top = next(iter(pair["importances"]))
    assert top in " ".join(parsed.text)
    assert result.f1 == pytest.approx(cv["score"]["f1"])
    assert "warn" not in html.split("<main>")[1].split("</section>")[0]  # the saved policy re-applies exactly
    assert "nested, union+min2" in html and "nested, pair model" in html
    if cv["chosen"] == "pair-model":  # the galleries are the pair model's: its wrong matches and misses, with its probability
        assert {"fp-pair", "fn-pair"} <= set(parsed.ids) and "fp-tfidf" not in parsed.ids
        assert "pair p = " in html or "pair 0." in html
    assert_self_contained(parsed)


def test_perfect_score_renders_empty_galleries(tiny_cv, tiny_dir, tmp_path):
    result = build_report(tiny_cv, tmp_path / "r.html", tiny_dir)
    html = result.path.read_text()
    parsed = parse(html)
    assert result.f1 == 1.0 and all(section in parsed.ids for section in SECTIONS)
    assert html.count(">None.<") == 7 and 'class="card' not in html
    assert_self_contained(parse(html))  # the plots are still there


def test_default_data_dir_comes_from_cv_json_and_report_is_deterministic(tiny_cv, tmp_path):
    first = build_report(tiny_cv, tmp_path / "a.html")
    second = build_report(tiny_cv, tmp_path / "b.html")

    def strip_dates(text):
        return "\n".join(line for line in text.splitlines() if "Report</dt>" not in line and "Generated by" not in line)

    assert strip_dates(first.path.read_text()) == strip_dates(second.path.read_text())


def test_command_writes_report(tiny_cv, tiny_dir, tmp_path, capsys):
    from prodmatch.cli import main

    out = tmp_path / "sub" / "r.html"
    assert main(["report", "--cv-dir", str(tiny_cv), "--data-dir", str(tiny_dir), "--out", str(out),
                 "--examples", "2", "--max-others", "1", "--thumb-size", "64"]) == 0
    assert out.is_file() and "wrote" in capsys.readouterr().out
    html = out.read_text()
    assert html.count('class="card query"') <= 2 * 7  # at most 2 examples in each of the 7 galleries
    assert main(["report", "--cv-dir", str(tiny_cv)]) == 0
    assert (tiny_cv / "report.html").is_file()


def test_errors_are_clear(tiny_cv, tiny_dir, tmp_path, demo_dir):
    with pytest.raises(FileNotFoundError, match="not a CV folder"):
        build_report(tmp_path, tmp_path / "r.html", tiny_dir)
    with pytest.raises(ValueError, match="another data dir"):
        build_report(tiny_cv, tmp_path / "r.html", demo_dir)


def test_missing_and_broken_image_files_fall_back_to_phash(demo_cv, demo_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data, ignore=shutil.ignore_patterns("test_images"))
    images = sorted((data / "train_images").iterdir())
    for path in images[: len(images) // 2]:
        path.unlink()
    images[-1].write_bytes(b"not a jpeg")
    result = build_report(demo_cv, tmp_path / "r.html", data)
    assert result.n_thumbnails > 0 and result.n_phash_grids > 0
    assert_self_contained(parse(result.path.read_text()))


def test_phash_grid_and_thumbnails(tmp_path):
    bits = phash_bits("8000000000000001")
    assert bits.shape == (8, 8) and bits[0, 0] and bits[7, 7] and bits.sum() == 2
    assert phash_bits("not-a-hash") is None and phash_grid_uri("123") is None
    mime, payload = decode_data_uri(phash_grid_uri("f0f0f0f0f0f0f0f0"))
    import io

    from PIL import Image

    with Image.open(io.BytesIO(payload)) as image:
        assert mime == "image/png" and image.size == (48, 48)
        pixels = np.asarray(image.convert("L"))
    assert pixels[0, 0] < pixels[0, 47]  # first bit set (dark), last bit of the row clear

    Image.new("RGB", (640, 320), (200, 10, 10)).save(tmp_path / "big.jpg")
    uri = thumbnail_uri(tmp_path / "big.jpg", size=100)
    assert check_image(uri) == ("image/jpeg", (100, 50))
    assert thumbnail_uri(tmp_path / "missing.jpg") is None
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8garbage")
    assert thumbnail_uri(tmp_path / "bad.jpg") is None


def test_the_report_names_folders_without_this_machines_absolute_paths(tiny_cv, tiny_dir, tmp_path, monkeypatch):
    from prodmatch.report.paths import display_path

    out = tmp_path / "report.html"
    build_report(tiny_cv, out, tiny_dir)  # cv.json records the data dir as an absolute path
    html = out.read_text(encoding="utf-8")
    assert str(tiny_dir.resolve()) not in html and str(tiny_cv.resolve()) not in html
    assert f">{tiny_dir.name} &middot;" in html
    monkeypatch.chdir(tiny_dir.parent)
    build_report(tiny_cv, out, tiny_dir)
    assert f"{tiny_dir.name} &middot;" in out.read_text(encoding="utf-8")
    assert display_path(tmp_path / "runs" / "cv", cwd=tmp_path) == "runs/cv"
    assert display_path("/somewhere/else/shopee", cwd=tmp_path) == "shopee"
