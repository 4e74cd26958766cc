"""Local CV that scores like the competition: out-of-fold candidates, every decision rule tuned on them,
nested estimates, the size curve, and the rule that wins.

:func:`run_cv` does it all on a train frame; :func:`save_cv` writes the CV folder. Reading train data,
folds and trained runs from disk is the pipeline's job (:mod:`prodmatch.pipeline.inputs`).
"""

from prodmatch.cv.run import CVResult, oof_predictions, run_cv, save_cv

__all__ = ["CVResult", "oof_predictions", "run_cv", "save_cv"]
