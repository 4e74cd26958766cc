"""The HTML CV report: ``python -m prodmatch report --cv-dir DIR --out report.html``.

:func:`build_report` reads a CV folder (``prodmatch cv``) and its data dir and writes one self-contained
HTML file: summary, CV table, threshold curves, F1 by group size and galleries of the worst errors.
:mod:`prodmatch.report.browser` opens a page in headless Chromium to check it and take a screenshot.
"""

from prodmatch.report.build import ReportResult, build_context, build_report

__all__ = ["ReportResult", "build_context", "build_report"]
