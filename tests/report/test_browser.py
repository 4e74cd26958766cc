"""The demo report in headless Chromium: no console errors, every image decodes, nothing loaded from outside.

Needs a chromium binary (Debian: ``apt-get install -y chromium``; or set PRODMATCH_CHROMIUM); skips only
when none is found. Set PRODMATCH_REPORT_ARTIFACTS=DIR to keep the screenshot and the HTML.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from prodmatch.report.browser import check_page, find_chromium

from .htmlcheck import parse

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary found (apt-get install -y chromium, or set PRODMATCH_CHROMIUM)")


def _keep(*paths: Path) -> None:
    folder = os.environ.get("PRODMATCH_REPORT_ARTIFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copy(path, Path(folder) / path.name)


@needs_chromium
def test_demo_report_in_chromium(demo_report, tmp_path):
    screenshot = tmp_path / "demo-report.png"
    page = check_page(demo_report, screenshot=screenshot, width=1280, height=1400)
    _keep(demo_report, screenshot)
    assert page.ok, page.describe()
    assert page.title.startswith("CV report: text-phash")
    n_img = len(parse(demo_report.read_text(encoding="utf-8")).images)
    assert len(page.images) == n_img > 20
    assert all(img["width"] > 0 and img["height"] > 0 for img in page.images)
    assert page.page_height > 3000  # summary, table, plots and galleries laid out
    with Image.open(screenshot) as image:
        assert image.format == "PNG" and image.size == (1280, 1400)
        # not a blank page: the header is dark, the body light
        assert image.getpixel((5, 5))[0] < 80 and image.getpixel((640, 700))[0] > 200


@needs_chromium
def test_text_only_report_in_chromium(demo_text_cv, demo_text_dir, tmp_path):
    from prodmatch.report import build_report

    result = build_report(demo_text_cv, tmp_path / "text-only.html", demo_text_dir)
    page = check_page(result.path)
    assert page.ok, page.describe()
    assert sum(img["width"] == 48 for img in page.images) == result.n_phash_grids > 0


@needs_chromium
def test_checker_catches_broken_pages(tmp_path):
    """The check is not vacuous: a missing file, an undecodable data URI, a console error are all caught."""
    page_file = tmp_path / "broken.html"
    page_file.write_text(
        "<!DOCTYPE html><html><head><title>broken</title></head><body>"
        '<img src="missing.png" alt="x"><img src="data:image/png;base64,AAAA" alt="y">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7" alt="ok">'
        "<script>console.error('boom')</script></body></html>", encoding="utf-8")
    page = check_page(page_file)
    assert not page.ok
    assert len(page.broken_images) == 2 and len(page.images) == 3
    assert any("boom" in e for e in page.console_errors)
    assert any("missing.png" in r for r in page.external_requests)


@needs_chromium
def test_report_command_check_and_screenshot(demo_cv, demo_dir, tmp_path, capsys):
    from prodmatch.cli import main

    shot = tmp_path / "shot.png"
    assert main(["report", "--cv-dir", str(demo_cv), "--data-dir", str(demo_dir), "--out", str(tmp_path / "r.html"),
                 "--screenshot", str(shot), "--screenshot-size", "1000x700"]) == 0
    assert "0 broken, 0 console errors" in capsys.readouterr().out
    with Image.open(shot) as image:
        assert image.size == (1000, 700)


@pytest.mark.realdata
@pytest.mark.slow
def test_real_cv_folder_report(shopee_dir, tmp_path):
    """The real Shopee text-phash CV folder renders with its plots and galleries (and in Chromium if present)."""
    from prodmatch.cli import main
    from prodmatch.report import build_report

    cv_dir = tmp_path / "cv"
    assert main(["cv", "--data-dir", str(shopee_dir), "--out", str(cv_dir), "--no-nested", "--no-size-curve"]) == 0
    result = build_report(cv_dir, tmp_path / "shopee.html", shopee_dir)
    html = result.path.read_text(encoding="utf-8")
    assert result.n_bytes < 5_000_000
    assert html.count("<svg") + html.count("data:image/png") >= 3  # threshold curves and group-size plot
    assert "False positives" in html or "false positives" in html
    if CHROMIUM is not None:
        page = check_page(result.path)
        assert page.ok, page.describe()
