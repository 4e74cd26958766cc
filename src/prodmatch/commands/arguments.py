"""argparse ``type=`` functions for options whose nonsense values (``--batch-size -4``) must be refused at
parse time, as ``error: argument --batch-size: must be >= 1, got -4`` (exit 2), not deep inside the run."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable


def int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*[+-]?\d+\s*", text):
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def width_x_height(text: str) -> tuple[int, int]:
    """``1280x1500`` -> (1280, 1500)."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels (e.g. 1280x1500), got {text!r}")
    return int(parts[0]), int(parts[1])
