"""Title cleaning. Each step is its own function; :func:`clean_title` chains them.

Shopee titles carry UTF-8 bytes written out literally (``Nescafe \\xc3\\x89clair``), HTML entities,
full-width and compatibility characters, random casing and units written both as ``100 ml`` and ``100ml``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

_ESCAPED_RUN = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")
_SPACES = re.compile(r"\s+")

# Units seen in Indonesian/English product titles; longer spellings first so the regex prefers them.
UNITS = (
    "liter", "litre", "ltr", "ml", "l", "kilogram", "kg", "gram", "gr", "g", "mg", "mcg",
    "cm", "mm", "meter", "m", "inch", "in", "oz", "lbs", "lb",
    "pcs", "pc", "pack", "pak", "box", "sachet", "lembar", "lbr", "biji", "btl", "botol", "roll", "set",
    "mah", "watt", "w", "volt", "v", "gb", "tb", "mb", "hz", "ghz", "yard", "yd",
)
_NUMBER_UNIT = re.compile(
    r"(?<![\w.,])(\d+(?:[.,]\d+)?)\s+(" + "|".join(UNITS) + r")(?![\w])",
    flags=re.IGNORECASE,
)
_DECIMAL_COMMA = re.compile(r"^(\d+),(\d+)$")


def decode_escaped_bytes(text: str) -> str:
    r"""Decode runs of literal ``\xNN`` escapes as UTF-8 (``\xc3\x89`` -> ``É``).

    A run that is not valid UTF-8 is decoded as Latin-1 so no text is lost.
    """

    def _decode(match: re.Match) -> str:
        raw = bytes(int(h, 16) for h in match.group(0).split("\\x")[1:])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    return _ESCAPED_RUN.sub(_decode, text)


def unescape_html(text: str) -> str:
    """``&amp;`` -> ``&``, ``&#39;`` -> ``'``; applied twice for double-escaped titles."""
    return html.unescape(html.unescape(text))


def normalize_unicode(text: str) -> str:
    """NFKC: full-width letters, ligatures and compatibility forms become their plain equivalents."""
    return unicodedata.normalize("NFKC", text)


def normalize_units(text: str) -> str:
    """Glue numbers to their unit and use a decimal point: ``4,5 m`` -> ``4.5m``, ``100 ml`` -> ``100ml``."""

    def _join(match: re.Match) -> str:
        number = _DECIMAL_COMMA.sub(r"\1.\2", match.group(1))
        return number + match.group(2)

    return _NUMBER_UNIT.sub(_join, text)


def normalize_spacing(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def clean_title(text: str | None) -> str:
    """Decode escaped bytes and HTML entities, NFKC, lower-case, glue units, collapse whitespace."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    text = decode_escaped_bytes(str(text))
    text = unescape_html(text)
    text = normalize_unicode(text)
    text = text.casefold()
    text = normalize_units(text)
    return normalize_spacing(text)


def clean_titles(texts: Iterable[str | None]) -> list[str]:
    return [clean_title(t) for t in texts]
