"""The end-to-end flows, as functions the commands and the Kaggle kernel call once each.

- :func:`~prodmatch.pipeline.tune.tune` / :func:`~prodmatch.pipeline.tune.cross_validate`: CV a recipe on a
  train set (``prodmatch cv``), the tuning step of a submission and of a kernel build;
- :func:`~prodmatch.pipeline.thresholds.load_runnable_thresholds`: tuned rules checked against the recipe
  and the trained runs at hand; the rule to match a test set with;
- :func:`~prodmatch.pipeline.submit.submit`: ``make_submission.py`` from test.csv to a validated
  submission.csv, per-stage timings included;
- :mod:`~prodmatch.pipeline.runs` / :mod:`~prodmatch.pipeline.inputs`: which trained runs fill a recipe's
  embeddings, and what a CV reads from disk.
"""
