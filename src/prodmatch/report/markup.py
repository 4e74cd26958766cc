"""HTML escaping shared by the report pages (the CV report and the dedup report)."""

from __future__ import annotations

import html


def esc(value) -> str:
    """``value`` as text safe inside HTML and inside a quoted attribute."""
    return html.escape(str(value), quote=True)
