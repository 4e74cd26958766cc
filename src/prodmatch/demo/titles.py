"""Seller-style titles for the demo dataset's products (:mod:`prodmatch.demo.catalog`): every posting's title is a
fresh seller's rewrite of its product -- synonyms and word order, abbreviations, casing, promo words, emojis
(sometimes as literal ``\\xNN`` UTF-8 escapes, as Shopee exported them), HTML entities and unit spellings
(``500 ml`` / ``500ml`` / ``0,5 L``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from prodmatch.demo.catalog import Product

PROMO_PREFIX = (
    "READY", "READY STOCK", "READYSTOCK", "COD", "BISA COD", "PROMO", "PROMO!!!", "ORI", "ORIGINAL",
    "100% ORI", "MURAH", "TERMURAH", "GROSIR", "HARGA GROSIR", "BEST SELLER", "FREE ONGKIR", "SALE",
    "NEW", "HOT ITEM", "11.11 SALE", "Flash Sale", "Diskon", "PROMO MURAH", "[COD]", "(READY)",
)
PROMO_SUFFIX = (
    "murah", "termurah", "bisa cod", "grosir", "ori", "original", "promo", "ready stock", "best seller",
    "harga grosir", "murah meriah", "terlaris", "kualitas import", "100% original", "COD", "free bubble wrap",
)
SHOP_TAGS = ("[DZ]", "(KOMA)", "[OFFICIAL]", "JKT -", "[TOKO66]", "SBY|", "[GROSIR88]", "(BDG)", "[MALL]")
EMOJIS = (
    "\U0001f525", "\u2728", "\u2764\ufe0f", "\u2b50", "\U0001f4af", "\u2705", "\U0001f381", "\u26a1",
    "\U0001f4a5", "\U0001f31f", "\U0001f44d", "\U0001f60d", "\u2605", "\u2022", "\U0001f6d2", "\U0001f1ee\U0001f1e9",
)  # fire, sparkles, heart, star, 100, check, gift, zap, boom, glow, thumbs up, heart eyes, star, bullet, cart, flag
QUOTES = (("“", "”"), ('"', '"'), ("'", "'"))
ABBREVIATIONS = {
    "botol": "btl", "sepatu": "spt", "wanita": "wnt", "original": "ori", "pria": "cowok", "minuman": "minum",
    "kaleng": "klg", "premium": "prem", "sabun": "sbn", "masker": "msk", "charger": "cas", "jaket": "jkt",
    "murni": "mrni", "import": "imp", "kualitas": "kw", "tas": "tass", "kopi": "kopii", "wajah": "muka",
}


def _number(value: float, decimal_comma: bool = False) -> str:
    text = f"{value:g}"
    return text.replace(".", ",") if decimal_comma else text


def format_size(
    value: float, unit: str | None, style: int | None = None, rng: np.random.Generator | None = None
) -> str:
    """A size the way sellers write it; ``style=0`` is the canonical label text (``500ML``)."""
    if unit is None:
        return ""
    if style is None:
        style = int(rng.integers(0, 6)) if rng is not None else 0
    v = value
    if unit == "ml":
        if v >= 1000 and style in (3, 4):
            return ["1 liter", "1L", "1 Ltr"][style - 3] if v == 1000 else f"{_number(v / 1000, True)} L"
        return [f"{_number(v)}ML", f"{_number(v)}ml", f"{_number(v)} ml", f"{_number(v)} ML", f"{_number(v)}mL",
                f"{_number(v)} mL"][style % 6]
    if unit == "gr":
        if v >= 1000 and style in (3, 4):
            return [f"{_number(v / 1000)}kg", f"{_number(v / 1000)} Kg"][style - 3]
        return [f"{_number(v)}GR", f"{_number(v)}gr", f"{_number(v)} gr", f"{_number(v)}g", f"{_number(v)} gram",
                f"{_number(v)} GR"][style % 6]
    if unit == "l":
        if style == 3:
            return f"{_number(v * 1000)}ml"
        return [f"{_number(v)}L", f"{_number(v)} Liter", f"{_number(v)} liter", f"{_number(v)}Ltr", f"{_number(v)} L",
                f"{_number(v)} LITER"][style % 6]
    if unit == "pcs":
        return [f"ISI {_number(v)}", f"isi {_number(v)}", f"{_number(v)} pcs", f"{_number(v)}pcs",
                f"isi {_number(v)} pcs", f"{_number(v)} Pcs"][style % 6]
    if unit == "sachet":
        return [f"{_number(v)} SACHET", f"isi {_number(v)}", f"{_number(v)} sachet", f"{_number(v)}s",
                f"{_number(v)} Sachet", f"isi {_number(v)} sachet"][style % 6]
    if unit == "mah":
        thousands = f"{int(v) // 1000}.{int(v) % 1000:03d}"
        return [f"{_number(v)}MAH", f"{_number(v)}mAh", f"{_number(v)} mAh", f"{thousands} mAh", f"{thousands}mAh",
                f"{_number(v)} MAH"][style % 6]
    if unit == "w":
        return [f"{_number(v)}W", f"{_number(v)}W", f"{_number(v)} Watt", f"{_number(v)} watt", f"{_number(v)}w",
                f"{_number(v)} W"][style % 6]
    return f"{_number(v)} {unit}"


def escape_utf8(text: str) -> str:
    r"""Non-ASCII characters as literal ``\xNN`` UTF-8 escapes, as they appear in some Shopee titles."""
    return "".join(ch if ord(ch) < 128 else "".join(f"\\x{b:02x}" for b in ch.encode("utf-8")) for ch in text)


def html_escape(text: str, rng: np.random.Generator) -> str:
    text = text.replace("&", "&amp;")
    if rng.random() < 0.5:
        text = text.replace('"', "&quot;")
    if rng.random() < 0.5:
        text = text.replace("'", "&#39;")
    return text


def _case(word: str, mode: int) -> str:
    return [word, word.upper(), word.lower(), word.title()][mode]


def make_title(product: Product, family_values: list, rng: np.random.Generator) -> str:
    """One seller's title for ``product``. ``family_values`` lists the family's values on its axis."""
    cat = product.category
    core: list[str] = []
    brand = product.brand if rng.random() < 0.85 else ""
    # most sellers use the common name, some a synonym
    type_name = cat.names[0] if rng.random() < 0.45 else str(rng.choice(cat.names))
    line = product.line if rng.random() < 0.68 else ""
    attrs = [a for a in product.attrs if rng.random() < 0.45]
    size = ""
    if product.size is not None and rng.random() < (0.85 if product.axis == "size" else 0.6):
        size = format_size(product.size, cat.unit, rng=rng)
    colour = ""
    if product.colour is not None and rng.random() < (0.75 if product.axis == "colour" else 0.45):
        colour = product.colour.id_name if rng.random() < 0.65 else product.colour.en_name
    variant = ""
    if product.variant is not None and rng.random() < (0.85 if product.axis == "variant" else 0.6):
        variant = product.variant
        if cat.key in ("catfood", "keripik", "softdrink", "skm") and rng.random() < 0.4:
            variant = "Rasa " + variant
        if cat.key == "case" and rng.random() < 0.3:
            variant = "for " + variant

    order = rng.random()
    head = [w for w in (brand, line) if w]
    if order < 0.45:
        core = head + [type_name]
    elif order < 0.8:
        core = [type_name] + head
    else:
        core = [brand, type_name, line] if brand else [type_name, line]
        core = [w for w in core if w]
    tail = [w for w in (variant, colour, size) if w]
    rng.shuffle(tail)
    tail = attrs + tail if rng.random() < 0.5 else tail + attrs
    if line and rng.random() < 0.15:
        q = QUOTES[int(rng.integers(len(QUOTES)))]
        core = [f"{q[0]}{w}{q[1]}" if w == line else w for w in core]
    words = core + tail
    if rng.random() < 0.12 and len(words) > 2:  # a seller who shuffles everything
        rng.shuffle(words)

    # a second description after a separator: another synonym / an extra phrase
    if rng.random() < 0.35:
        if rng.random() < 0.5:
            extra = str(rng.choice(cat.names))
        else:
            extra = str(rng.choice(cat.extras)) if cat.extras else ""
        if extra and extra != type_name:
            words += [str(rng.choice(["/", "|", "-", "", "/"])), extra]
    # a listing for several family members at once ("100ml 200ml", "warna hitam putih"): hard negatives
    if len(family_values) > 1 and rng.random() < 0.12:
        others = [v for v in family_values if v is not None]
        if product.axis == "size":
            words += [format_size(v, cat.unit, rng=rng) for v in others]
        elif product.axis == "colour":
            words += ["warna"] + [c.id_name for c in others]
        elif product.axis == "variant":
            words += ["varian"] + list(others)
    if rng.random() < 0.35:
        words = [str(rng.choice(PROMO_PREFIX))] + words
    if rng.random() < 0.3:
        words = words + [str(rng.choice(PROMO_SUFFIX))]
    if rng.random() < 0.08:
        words = [str(rng.choice(SHOP_TAGS))] + words
    words = [w for w in words if w]

    # abbreviations
    if rng.random() < 0.25:
        words = [" ".join(ABBREVIATIONS.get(t.lower(), t) if rng.random() < 0.6 else t for t in w.split(" "))
                 for w in words]
    title = " ".join(words)
    mode = int(rng.choice(4, p=[0.5, 0.32, 0.1, 0.08]))
    title = _case(title, mode)
    # emojis
    if rng.random() < 0.22:
        emoji = str(rng.choice(EMOJIS))
        title = f"{emoji} {title}" if rng.random() < 0.5 else f"{title} {emoji}{emoji if rng.random() < 0.3 else ''}"
    if rng.random() < 0.1:
        title = title.replace(" ", "  ", 1)
    # encodings: HTML entities and literal escaped UTF-8, as the real export has them
    if ("&" in title or '"' in title or "'" in title) and rng.random() < 0.5:
        title = html_escape(title, rng)
    if any(ord(ch) > 127 for ch in title) and rng.random() < 0.45:
        title = escape_utf8(title)
    return title.strip() or type_name
