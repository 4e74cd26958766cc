"""Local CV that scores like the competition: out-of-fold candidates, tuning, nested estimate, size curve.

:func:`run_cv` does it all on a train frame; :func:`save_cv` writes the CV folder. Reading train data,
folds and trained runs from disk is the pipeline's job (:mod:`prodmatch.pipeline.inputs`).
"""

from prodmatch.cv.format import format_pair_model, format_policy, format_size_curve, format_table, format_thresholds
from prodmatch.cv.oof import oof_candidates
from prodmatch.cv.run import CVResult, oof_predictions, run_cv, save_cv
from prodmatch.cv.size_curve import tune_size_curve
from prodmatch.cv.tune import TunedPolicy, nested_score, tune_policy

__all__ = ["CVResult", "TunedPolicy", "format_pair_model", "format_policy", "format_size_curve", "format_table", "format_thresholds",
           "nested_score", "oof_candidates", "oof_predictions", "run_cv", "save_cv", "tune_policy",
           "tune_size_curve"]
