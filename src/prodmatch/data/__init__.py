"""Reading and validating the real competition files, cleaning titles, folds.

The synthetic demo generator lives apart, in :mod:`prodmatch.demo`. The names below are imported from their
module on first use (``from prodmatch.data import DataDir``), so importing one module of the package does not
import the others.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "assign_folds": "folds", "fold_of_group": "folds", "read_folds": "folds", "write_folds": "folds",
    "DataDir": "reading", "read_sample_submission": "reading", "read_test": "reading", "read_train": "reading",
    "clean_title": "titles", "clean_titles": "titles",
    "DataValidationError": "validation", "DataWarning": "validation",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
