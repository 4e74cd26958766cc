"""``build_report``: a CV folder + its data dir -> one self-contained HTML file."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from prodmatch.artifacts.cv_folder import CV_FILES, read_cv_folder
from prodmatch.data import DataDir
from prodmatch.errors import ArgumentError, MissingInputError
from prodmatch.fileio import atomic_open, check_output_file
from prodmatch.report.analysis import (
    align_train,
    build_galleries,
    compute_outcome,
    error_counts,
    f1_by_group_size,
    lonely_summary,
)
from prodmatch.report.browser import make_readable
from prodmatch.report.images import DEFAULT_THUMB_SIZE, ImageCache
from prodmatch.report.plots import group_size_plot, pool_size_plot, threshold_curve
from prodmatch.report.render import ReportContext, render_html

DEFAULT_EXAMPLES = 10
DEFAULT_MAX_OTHERS = 4


@dataclass
class ReportResult:
    path: Path
    n_bytes: int
    seconds: float
    n_thumbnails: int  # thumbnails shown (image files found)
    n_phash_grids: int  # phash grids shown in place of a missing image
    f1: float


def build_context(cv_dir: str | Path, data_dir: str | Path | None = None, n_examples: int = DEFAULT_EXAMPLES,
                  max_others: int = DEFAULT_MAX_OTHERS, thumb_size: int = DEFAULT_THUMB_SIZE) -> ReportContext:
    cv = read_cv_folder(cv_dir)
    warnings = []
    if data_dir is None:
        data_dir = cv.meta.get("data_dir")
        if not data_dir:
            raise ArgumentError(f"{cv_dir}/cv.json does not name its data dir; pass --data-dir")
    data = DataDir.of(data_dir)
    train = align_train(data.read_train(), cv.posting_ids, data.train_csv)
    labels = train["label_group"].to_numpy()
    if not np.array_equal(labels, cv.labels):
        warnings.append(f"label_group in {data.train_csv} differs from the CV folder's for "
                        f"{int((labels != cv.labels).sum()):,} rows; the report uses the CV folder's labels.")
    # every rule's columns are in the CV table's rows, also those of rules that did not match (the table lacks them)
    columns = [*cv.table.sources, *(name for m in cv.summary.matchers for name in m.policy.thresholds)]
    scales = {source: cv.recipe.scale_of(source) for source in dict.fromkeys(columns)}
    outcome = compute_outcome(cv.table, cv.labels, cv.policy, scales)
    saved = cv.summary.score.f1
    if abs(outcome.score["f1"] - saved) > 1e-6:
        warnings.append(f"Re-applying the saved policy gives F1 {outcome.score['f1']:.6f}, cv.json says {saved:.6f}: "
                        "the CV folder may come from another prodmatch version.")
    table_rows = {row["source"]: row for row in cv.summary.table}
    curve_plots = {}
    for source, points in cv.curves.items():
        if not points:
            continue
        alone = table_rows.get(source, {}).get("threshold")
        curve_plots[source] = threshold_curve(source, points, scales[source],
                                              alone if isinstance(alone, (int, float)) else None,
                                              cv.policy.thresholds.get(source))
    by_size = f1_by_group_size(outcome)
    images = ImageCache(data.images_dir("train"), thumb_size)
    return ReportContext(
        cv=cv,
        train=train,
        outcome=outcome,
        errors=error_counts(outcome, cv.folds),
        by_size=by_size,
        lonely=lonely_summary(outcome),
        galleries=build_galleries(outcome, cv.folds, n_examples, max_others),
        curve_plots=curve_plots,
        size_plot=group_size_plot(by_size),
        pool_plot=_pool_plot(cv.summary),
        images=images,
        data_dir=data.root.resolve(),
        generated=datetime.now(),
        warnings=warnings,
    )


def _pool_plot(summary) -> str | None:
    """The rules' F1 against pool size with their forecasts, when the CV measured more than one size."""
    curves = []
    for matcher in summary.matchers:
        forecast = summary.forecast(matcher.kind)
        if forecast is not None and len(forecast.sizes) > 1:
            expected = None if summary.test_size is None else forecast.at(summary.test_size)
            curves.append((matcher.label, forecast.sizes, forecast.f1, expected))
    return pool_size_plot(curves, summary.test_size) if curves else None


def build_report(cv_dir: str | Path, out: str | Path, data_dir: str | Path | None = None,
                 n_examples: int = DEFAULT_EXAMPLES, max_others: int = DEFAULT_MAX_OTHERS,
                 thumb_size: int = DEFAULT_THUMB_SIZE) -> ReportResult:
    """Render the report of ``cv_dir`` (made by ``prodmatch cv``) to the HTML file ``out``.

    ``data_dir`` defaults to the one recorded in cv.json. ``n_examples`` per gallery, each with up to
    ``max_others`` wrong matches or misses; thumbnails fit in ``thumb_size`` pixels.
    """
    started = time.perf_counter()
    if not Path(cv_dir).is_dir():  # named as the missing input, not as an output folder that cannot be made
        raise MissingInputError(f"CV folder not found: {cv_dir}")
    out = check_output_file(out, [Path(cv_dir) / name for name in CV_FILES])
    ctx = build_context(cv_dir, data_dir, n_examples, max_others, thumb_size)
    text = render_html(ctx)
    with atomic_open(out, "w", encoding="utf-8") as handle:
        handle.write(text)
    make_readable(out)
    return ReportResult(out, out.stat().st_size, time.perf_counter() - started, ctx.images.n_thumbnails,
                        ctx.images.n_grids, ctx.outcome.score["f1"])

