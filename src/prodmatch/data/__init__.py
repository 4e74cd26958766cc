"""Reading and validating the real competition files, cleaning titles, folds.

The synthetic demo generator lives apart, in :mod:`prodmatch.demo`.
"""

from prodmatch.data.folds import assign_folds, fold_of_group, read_folds, write_folds
from prodmatch.data.reading import DataDir, read_sample_submission, read_test, read_train
from prodmatch.data.titles import clean_title, clean_titles
from prodmatch.data.validation import DataValidationError, DataWarning

__all__ = [
    "DataDir", "DataValidationError", "DataWarning", "assign_folds", "clean_title", "clean_titles", "fold_of_group",
    "read_folds", "read_sample_submission", "read_test", "read_train", "write_folds",
]
