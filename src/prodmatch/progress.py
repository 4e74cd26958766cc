"""Progress bars for long loops (tqdm), off with ``enabled=False``."""

from __future__ import annotations


def progress_bar(iterable, desc: str, enabled: bool = True, total: int | None = None, leave: bool = False):
    """``iterable`` wrapped in a tqdm bar when ``enabled``, else unchanged."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=leave, mininterval=1.0, dynamic_ncols=True)
