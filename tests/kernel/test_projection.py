"""The projected Kaggle time: TTA's second pass, fold models over two GPUs, a measured image rate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodmatch.artifacts.rehearsal import REHEARSAL_FORMAT, RehearsalReport, read_rehearsal_report
from prodmatch.artifacts.timings import StageTimings
from prodmatch.errors import InputError
from prodmatch.kernel.projection import embed_seconds, measured_image_rate, project_kaggle_seconds

IMAGE_RUN = {"model": "image", "folds": ["fold0", "fold1", "fold2", "fold3"], "tta": False}


def test_flip_tta_doubles_each_image_runs_passes():
    plain = embed_seconds({"image": IMAGE_RUN}, 70_000, images_per_s=100.0, titles_per_s=2000.0, gpus=1, load_s=0)
    tta = embed_seconds({"image": {**IMAGE_RUN, "tta": True}}, 70_000, 100.0, 2000.0, gpus=1, load_s=0)
    assert plain == pytest.approx(4 * 700.0) and tta == pytest.approx(2 * plain)


def test_fold_models_are_dealt_over_the_gpus_and_the_busiest_one_counts():
    runs = {"image": {**IMAGE_RUN, "tta": True}, "text": {"model": "text", "folds": ["fold0"]}}
    image_fold, text_fold = 10 + 2 * 1000 / 50, 10 + 1000 / 500
    one = embed_seconds(runs, 1000, images_per_s=50.0, titles_per_s=500.0, gpus=1)
    two = embed_seconds(runs, 1000, images_per_s=50.0, titles_per_s=500.0, gpus=2)
    assert one == pytest.approx(4 * image_fold + text_fold)
    assert two == pytest.approx(2 * image_fold + text_fold)  # cuda:0 holds image folds 0 and 2 and the text fold


def test_the_projection_uses_a_measured_rate_from_gpu_check(tmp_path: Path):
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps({"device": "cuda", "sizes": "full", "rows": [],
                                "embedding": {"images_per_s": 90.0, "tta": True, "forward_passes_per_s": 180.0,
                                              "image_px": 512, "gpu": "Tesla T4"}}))
    rate, source = measured_image_rate(path)
    assert rate == 180.0 and "Tesla T4" in source
    timings = StageTimings(seconds={"embed": 50.0, "match": 5.0}, n_test=1000)
    projection = project_kaggle_seconds(timings, {"seconds": {"total": 80.0, "submit": 70.0}},
                                        {"image": {**IMAGE_RUN, "tta": True}}, 1000, 2.0, "given", rate, source,
                                        2000.0, overhead_s=100.0)
    assert projection.embed_seconds_modelled == pytest.approx(4 * (10 + 2000 / 180.0), abs=0.01)
    assert projection.projected_s == pytest.approx(100 + 2.0 * 30.0 + 4 * (10 + 2000 / 180.0), abs=0.1)
    path.write_text(json.dumps({"device": "cpu", "sizes": "tiny",
                                "embedding": {"forward_passes_per_s": 3.0}}))
    with pytest.raises(InputError, match="--tiny or CPU run"):
        measured_image_rate(path)
    path.write_text(json.dumps({"rows": []}))
    with pytest.raises(InputError, match="no measured embedding rate"):
        measured_image_rate(path)


def test_a_file_that_is_not_a_rehearsal_report_is_refused(tmp_path: Path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"ok": True, "build_id": "x"}))  # the loose dict of before, no format
    with pytest.raises(InputError, match="not a prodmatch rehearsal report"):
        read_rehearsal_report(path)
    path.write_text(json.dumps({"format": REHEARSAL_FORMAT, "build_id": "x"}))
    with pytest.raises(InputError, match="incomplete rehearsal report"):
        read_rehearsal_report(path)
    with pytest.raises(InputError, match="not found"):
        read_rehearsal_report(tmp_path / "missing.json")
    assert RehearsalReport.__dataclass_fields__.keys() >= {"projection", "stages", "recipe_run"}
