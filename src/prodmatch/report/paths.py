"""How the report names folders: relative to the working directory when inside it, else by name alone.

A report is shared (attached to an issue, put on a Kaggle discussion), so it must not carry the absolute
paths of the machine that made it.
"""

from __future__ import annotations

import os
from pathlib import Path


def display_path(path: str | Path, cwd: str | Path | None = None) -> str:
    """``runs/cv/demo-full`` for a folder under the working directory, ``shopee`` for ``/data/x/shopee``."""
    path = Path(path)
    base = Path(cwd) if cwd is not None else Path.cwd()
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(os.path.abspath(base))) or "."
    except ValueError:
        return absolute.name or str(absolute)
