"""Every file prodmatch writes and reads back, one module per format. Nothing else builds these paths.

- :mod:`~prodmatch.artifacts.weights`     ``weights/<run>/fold<k>/``: model.pt, config.yaml (model type),
  metrics.json, oof_embeddings.npz, last.ckpt -- the layout of trained runs;
- :mod:`~prodmatch.artifacts.oof`         out-of-fold embedding files;
- :mod:`~prodmatch.artifacts.thresholds`  ``thresholds.json``: tuned policy, its recipe, the size curve;
- :mod:`~prodmatch.artifacts.cv_folder`   the CV folder (cv.json, thresholds.json, curves.json,
  candidates.npz, oof_predictions.csv);
- :mod:`~prodmatch.artifacts.submission`  ``submission.csv``: written atomically, validated before it lands;
- :mod:`~prodmatch.artifacts.timings`     the per-stage timings JSON of a submission run (kernel rehearsals
  read it).
"""
