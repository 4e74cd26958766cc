"""The pair model out of fold: candidates with features, fold models, tuning, the size check."""
