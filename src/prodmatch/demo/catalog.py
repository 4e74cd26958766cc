"""Synthetic product catalogue for the demo dataset (its titles: :mod:`prodmatch.demo.titles`).

A *family* is one brand's product line in one category (``Kirana Tumbler Slim Stainless``). Its members
are separate products -- separate label_groups -- that differ on one *axis* only: size (``500ml`` vs
``750ml``), colour or variant (flavour, scent, phone model). They are the hard negatives: near-identical
titles and the same drawn object with another colour or another size printed on the label.

Nothing here is copied from the competition data; brands are made up from syllables.
"""

from __future__ import annotations

import colorsys
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from prodmatch.demo.titles import format_size

# --------------------------------------------------------------------------------------------------
# vocabulary



def seeded_rng(seed: int, stream: int, *keys: int) -> np.random.Generator:
    """An independent generator per (seed, stream, keys): one product's or photo's draws do not shift another's."""
    return np.random.default_rng([int(seed), stream, *[int(k) for k in keys]])


@dataclass(frozen=True)
class Category:
    key: str
    shape: str  # drawing routine in prodmatch.demo.images
    names: tuple[str, ...]  # synonyms a seller may call it (Indonesian and English)
    unit: str | None  # size unit ("ml", "gr", "pcs", "mah", "w", "l") or None
    sizes: tuple[float, ...]  # size values a product line is sold in
    axes: tuple[str, ...]  # what siblings of a family may differ in: "size", "colour", "variant"
    variants: tuple[str, ...] = ()
    attrs: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()  # loose descriptive phrases sellers append


CATEGORIES: tuple[Category, ...] = (
    Category("tumbler", "bottle", ("Botol Minum", "Tumbler", "Water Bottle", "Botol Air", "Botol Tumbler"), "ml",
             (350, 500, 600, 750, 1000), ("colour", "size"), (),
             ("Stainless", "BPA Free", "Anti Bocor", "Leak Proof", "Termos", "Double Wall"),
             ("untuk sekolah", "anak & dewasa", "tahan panas dingin", "gym")),
    Category("shampoo", "bottle", ("Shampoo", "Sampo", "Shampo Rambut", "Hair Shampoo"), "ml",
             (70, 100, 170, 200, 340, 400), ("size", "variant"),
             ("Anti Ketombe", "Aloe Vera", "Ginseng", "Smooth & Shiny", "Hijab Clean", "Menthol", "Black Shine"),
             ("Herbal", "Natural", "Tanpa Silikon"), ("rambut rontok", "perawatan rambut", "BPOM")),
    Category("sabun", "bottle", ("Sabun Cair", "Body Wash", "Sabun Mandi Cair", "Shower Gel"), "ml",
             (250, 400, 450, 825), ("size", "variant"),
             ("Lavender", "Green Tea", "Sakura", "Milk & Honey", "Fresh Lime", "Charcoal"),
             ("Antiseptik", "Moisturizing", "pH Balance"), ("kulit lembut", "refill", "BPOM")),
    Category("parfum", "bottle", ("Parfum", "Perfume", "Eau de Parfum", "Minyak Wangi", "EDP"), "ml",
             (30, 35, 50, 100), ("size", "variant"),
             ("Vanilla", "Ocean Blue", "Rose Musk", "Oud Wood", "Citrus", "Sweet Candy", "Black Opium"),
             ("Tahan Lama", "Long Lasting", "Unisex"), ("wangi seharian", "pria wanita", "original thailand")),
    Category("minyak", "bottle", ("Minyak Goreng", "Cooking Oil", "Minyak Sayur"), "l",
             (1, 2, 5), ("size",), (), ("Kemasan Botol", "Premium", "Non Kolesterol"), ("sembako", "untuk menggoreng")),
    Category("skm", "can", ("Susu Kental Manis", "SKM", "Condensed Milk", "Susu Kaleng"), "gr",
             (370, 490), ("variant", "size"), ("Putih", "Coklat", "Gold", "Full Cream"),
             ("Kaleng",), ("sembako", "untuk minuman")),
    Category("kornet", "can", ("Kornet Sapi", "Corned Beef", "Daging Kaleng", "Kornet"), "gr",
             (198, 340, 397), ("size", "variant"), ("Original", "Cabe", "Black Pepper"),
             ("Halal", "Kaleng"), ("lauk praktis", "makanan kaleng")),
    Category("catfood", "can", ("Makanan Kucing", "Cat Food", "Wet Food Kucing", "Pakan Kucing"), "gr",
             (85, 400), ("variant", "size"), ("Tuna", "Salmon", "Chicken", "Mackerel", "Sardine", "Ocean Fish"),
             ("Kitten", "Adult", "Kaleng"), ("kucing anggora", "nutrisi lengkap")),
    Category("softdrink", "can", ("Minuman Kaleng", "Soft Drink", "Minuman Soda", "Sparkling Drink"), "ml",
             (250, 330), ("variant",), ("Cola", "Lemon", "Leci", "Jeruk", "Anggur", "Strawberry"),
             ("Kaleng", "Zero Sugar"), ("dingin segar", "isi 1 pcs")),
    Category("kopi", "pouch", ("Kopi Bubuk", "Kopi Arabika", "Ground Coffee", "Bubuk Kopi", "Kopi Robusta"), "gr",
             (100, 200, 250, 500, 1000), ("variant", "size"),
             ("Gayo", "Toraja", "Kintamani", "Flores", "Java Preanger"),
             ("Single Origin", "Medium Roast", "Dark Roast", "Fine Grind"), ("kopi asli", "untuk v60", "tubruk")),
    Category("keripik", "pouch", ("Keripik Singkong", "Snack Keripik", "Kripik Pedas", "Cemilan Keripik"), "gr",
             (100, 250, 500), ("variant", "size"), ("Balado", "Original", "Pedas Level 5", "Keju", "Rumput Laut"),
             ("Renyah", "Homemade"), ("oleh oleh", "cemilan murah", "snack kekinian")),
    Category("deterjen", "pouch", ("Deterjen", "Detergent Bubuk", "Sabun Cuci", "Deterjen Bubuk"), "gr",
             (800, 1800), ("size", "variant"), ("Matic", "Anti Noda", "Softener", "Rose Fresh"),
             ("Refill", "Mesin Cuci"), ("cucian wangi", "kebutuhan rumah")),
    Category("teh", "box", ("Teh Celup", "Tea Bag", "Teh Kotak", "Teh Hijau"), "sachet",
             (25, 30, 50, 100), ("variant", "size"), ("Melati", "Green Tea", "Lemon", "Chamomile", "Earl Grey"),
             ("Premium",), ("teh wangi", "minuman sehat")),
    Category("masker", "box", ("Masker Medis", "Masker 3 Ply", "Face Mask", "Masker Earloop"), "pcs",
             (50,), ("colour",), (), ("3 Ply", "Earloop", "Isi 50", "Kemenkes"), ("anti debu", "1 box")),
    Category("charger", "box", ("Charger", "Adaptor", "Kepala Charger", "Batok Charger", "Fast Charger"), "w",
             (10, 18, 20, 33, 65), ("size", "colour"), (), ("Fast Charging", "Type C", "USB", "Original"),
             ("garansi resmi", "support semua hp")),
    Category("krim", "jar", ("Krim Wajah", "Face Cream", "Cream Malam", "Night Cream", "Day Cream"), "gr",
             (10, 15, 30, 50), ("variant", "size"), ("Day", "Night", "Whitening", "Acne Care", "Glowing"),
             ("BPOM", "Brightening", "Anti Aging"), ("wajah glowing", "skincare")),
    Category("madu", "jar", ("Madu Murni", "Madu Hutan", "Raw Honey", "Madu Asli"), "gr",
             (250, 500, 1000), ("size", "variant"), ("Hutan", "Randu", "Kelengkeng", "Multiflora"),
             ("Murni", "100% Asli"), ("tanpa campuran", "madu sehat")),
    Category("odol", "tube", ("Pasta Gigi", "Odol", "Toothpaste"), "gr",
             (75, 120, 150, 190, 225), ("size", "variant"), ("Herbal", "Whitening", "Fresh Mint", "Sensitive", "Kids"),
             ("Fluoride",), ("gigi putih", "nafas segar")),
    Category("facialwash", "tube", ("Facial Wash", "Sabun Muka", "Face Wash", "Pembersih Wajah", "Facial Foam"), "ml",
             (50, 100, 150), ("variant", "size"), ("Acne", "Brightening", "Oil Control", "Hydrating", "Tea Tree"),
             ("BPOM", "Gentle"), ("kulit berminyak", "skincare")),
    Category("lipcream", "tube", ("Lip Cream", "Lip Matte", "Lipstik Cair", "Liquid Lipstick", "Lip Tint"), None,
             (), ("colour",), (), ("Matte", "Waterproof", "Transferproof", "Tahan Lama"), ("lipstik murah", "BPOM")),
    Category("tas", "bag", ("Tas Selempang", "Sling Bag", "Tas Wanita", "Shoulder Bag", "Tas Bahu"), None,
             (), ("colour",), (), ("Kulit", "Kanvas", "Import", "Korea", "Premium"), ("tas fashion", "tas kekinian")),
    Category("totebag", "bag", ("Totebag", "Tote Bag", "Tas Kanvas", "Tas Belanja"), None,
             (), ("colour",), (), ("Kanvas", "Resleting", "Polos", "Jumbo"), ("tas kuliah", "tas kampus")),
    Category("sneakers", "shoe", ("Sepatu Sneakers", "Sepatu Pria", "Sneakers", "Sepatu Sekolah", "Sepatu Kets"), None,
             (), ("colour",), (), ("Running", "Casual", "Import", "Sol Karet"), ("size 39-44", "sepatu olahraga")),
    Category("sandal", "shoe", ("Sandal Slop", "Sandal Pria", "Sandal Wanita", "Sandal Jepit", "Slide Sandal"), None,
             (), ("colour",), (), ("Karet", "Empuk", "Anti Slip"), ("size 36-40", "sandal santai")),
    Category("kaos", "tshirt", ("Kaos Polos", "T-Shirt", "Kaos Oblong", "Baju Kaos", "Tshirt"), None,
             (), ("colour",), (), ("Cotton Combed 30s", "Oversize", "Lengan Pendek", "Distro"),
             ("size S M L XL", "unisex")),
    Category("hoodie", "tshirt", ("Jaket Hoodie", "Sweater Hoodie", "Hoodie Pria", "Jaket Sweater"), None,
             (), ("colour",), (), ("Fleece", "Jumper", "Oversize"), ("all size fit to L", "unisex")),
    Category("case", "phone", ("Case HP", "Softcase", "Casing HP", "Silicone Case", "Hardcase"), None,
             (), ("variant", "colour"),
             ("iPhone 11", "iPhone 12", "Samsung A12", "Redmi Note 9", "Oppo A5s", "Vivo Y12", "Realme C11"),
             ("Anti Crack", "Macaron", "Slim", "Shockproof"), ("pelindung hp", "full cover")),
    Category("powerbank", "powerbank", ("Powerbank", "Power Bank", "PB", "Baterai Cadangan"), "mah",
             (5000, 10000, 20000, 30000), ("size", "colour"), (), ("Fast Charging", "Dual USB", "LED Display"),
             ("garansi resmi", "kapasitas asli")),
)


@dataclass(frozen=True)
class Colour:
    id_name: str  # Indonesian
    en_name: str
    rgb: tuple[int, int, int]


COLOURS: tuple[Colour, ...] = (
    Colour("Hitam", "Black", (30, 30, 34)),
    Colour("Putih", "White", (238, 238, 232)),
    Colour("Merah", "Red", (200, 32, 38)),
    Colour("Biru", "Blue", (36, 92, 200)),
    Colour("Navy", "Navy", (24, 36, 92)),
    Colour("Hijau", "Green", (40, 150, 70)),
    Colour("Kuning", "Yellow", (240, 200, 40)),
    Colour("Pink", "Pink", (236, 120, 170)),
    Colour("Ungu", "Purple", (120, 60, 160)),
    Colour("Abu-abu", "Grey", (130, 132, 138)),
    Colour("Coklat", "Brown", (120, 74, 40)),
    Colour("Maroon", "Maroon", (120, 20, 36)),
    Colour("Tosca", "Teal", (20, 160, 160)),
    Colour("Cream", "Beige", (230, 210, 170)),
    Colour("Orange", "Orange", (240, 120, 30)),
    Colour("Mint", "Mint", (150, 220, 190)),
)

LINE_WORDS = (
    "Slim", "Pro", "Max", "Classic", "Premium", "Deluxe", "Mini", "Sport", "Fresh", "Natural", "Glow", "Ultra",
    "Lite", "Basic", "Travel", "Kids", "Men", "Soft", "Active", "Royal", "Gold", "Plus", "Air", "Nova", "Zen",
)
SYLLABLES = (
    "ka", "ri", "na", "lu", "mo", "ra", "ze", "va", "so", "ti", "be", "la", "do", "mi", "ko", "ta", "ne", "ya",
    "pu", "ga", "sha", "vi", "ro", "le", "an", "el", "sa", "ju", "wi", "ha", "ki", "no", "me", "de", "fa", "zu",
)
ACCENTS = {"e": "é", "a": "á", "o": "ö", "u": "ü", "i": "í", "n": "ñ"}


# --------------------------------------------------------------------------------------------------
# products


@dataclass
class Product:
    """One label_group."""

    index: int
    family: int
    category: Category
    brand: str
    line: str
    attrs: tuple[str, ...]
    size: float | None
    colour: Colour | None
    variant: str | None
    axis: str | None  # the axis this product differs from its family siblings on (None: no siblings)
    visual: dict  # ObjectSpec fields for prodmatch.demo.images
    n_postings: int = 0
    split: str = "train"
    label_group: int = 0
    siblings: list[int] = field(default_factory=list)  # product indices of the rest of the family


# Group sizes: skewed like the real train.csv (most groups 2-3 postings), capped at 12.
GROUP_SIZES = np.arange(2, 13)
GROUP_SIZE_P = np.array([0.52, 0.20, 0.10, 0.06, 0.04, 0.025, 0.02, 0.012, 0.01, 0.007, 0.006])
GROUP_SIZE_P = GROUP_SIZE_P / GROUP_SIZE_P.sum()
# Family sizes (products per family): a bit under half the products have a hard-negative sibling.
FAMILY_SIZES = np.array([1, 2, 3, 4])
FAMILY_SIZE_P = np.array([0.70, 0.20, 0.07, 0.03])


def make_brand(rng: np.random.Generator) -> str:
    n = int(rng.choice([2, 2, 3, 3, 4]))
    word = "".join(rng.choice(SYLLABLES) for _ in range(n))
    if rng.random() < 0.12:  # an accented letter: written out as escaped UTF-8 by some sellers
        positions = [i for i, ch in enumerate(word) if ch in ACCENTS]
        if positions:
            i = int(rng.choice(positions))
            word = word[:i] + ACCENTS[word[i]] + word[i + 1 :]
    style = rng.random()
    if style < 0.25:
        return word.upper()
    if style < 0.32:
        return f"{word.capitalize()} & {str(rng.choice(['Co', 'Sons', 'Bro', 'Mom']))}"
    return word.capitalize()


def make_line(rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.35:
        letters = "".join(chr(int(c)) for c in rng.integers(65, 91, size=int(rng.integers(1, 3))))
        code = f"{letters}-{int(rng.integers(10, 999))}"
        return code + (str(rng.choice(["A", "S", "X", "i"])) if rng.random() < 0.25 else "")
    if r < 0.75:
        return str(rng.choice(LINE_WORDS))
    return f"{rng.choice(LINE_WORDS)} {rng.choice(LINE_WORDS)}"


def _distinct_rgb(rng: np.random.Generator, avoid: list[tuple[int, int, int]], light: bool | None = None):
    best, best_d = None, -1.0
    for _ in range(12):
        h, s = rng.random(), rng.uniform(0.35, 0.95)
        v = rng.uniform(0.75, 0.98) if light else rng.uniform(0.2, 0.6) if light is False else rng.uniform(0.3, 0.95)
        rgb = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(h, s, v))
        d = min((sum((a - b) ** 2 for a, b in zip(rgb, o)) for o in avoid), default=1e9)
        if d > best_d:
            best, best_d = rgb, d
    return best


def _jitter(rng: np.random.Generator, rgb, amount: int = 14):
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)


PATTERNS = ("stripes", "dots", "band", "chevron", "plain", "grid", "diagonal", "waves")
LOGOS = ("circle", "star", "triangle", "diamond", "leaf", "hex", "ring", "cross")


def _ascii(text: str) -> str:
    """Label text drawn with PIL's default font: accents dropped (``Lumiére`` -> ``Lumiere``)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def make_visual(rng: np.random.Generator, category: Category, brand: str) -> dict:
    """Base look of a family: shape, colours, label design (siblings then change one thing)."""
    body = _jitter(rng, COLOURS[int(rng.integers(len(COLOURS)))].rgb, 20)
    label = _distinct_rgb(rng, [body], light=bool(rng.random() < 0.7))
    accent = _distinct_rgb(rng, [body, label])
    ink = (20, 20, 24) if sum(label) > 380 else (245, 245, 240)
    return {
        "shape": category.shape,
        "body": body,
        "accent": accent,
        "label": label,
        "ink": ink,
        "pattern": str(rng.choice(PATTERNS)),
        "pattern_colour": _distinct_rgb(rng, [label, body]),
        "logo": str(rng.choice(LOGOS)),
        "logo_colour": _distinct_rgb(rng, [label]),
        "cap": _jitter(rng, COLOURS[int(rng.integers(len(COLOURS)))].rgb, 10),
        "brand_text": _ascii(brand).upper().replace(" & ", "&")[:10],
        "size_text": "",
        "variant_text": "",
        "width": float(rng.uniform(0.85, 1.15)),
        "height": float(rng.uniform(0.88, 1.12)),
        "style": int(rng.integers(0, 3)),  # sub-style of the shape (e.g. bottle with/without shoulder)
    }


def build_catalog(n_products: int, rng: np.random.Generator) -> list[Product]:
    """``n_products`` products in families; group sizes drawn from the skewed distribution."""
    if n_products < 1:
        raise ValueError(f"n_products must be >= 1, got {n_products}")
    n_brands = max(3, int(round(n_products * 0.45)))
    brands: list[str] = []
    seen: set[str] = set()
    while len(brands) < n_brands:
        b = make_brand(rng)
        if b.lower() not in seen:
            seen.add(b.lower())
            brands.append(b)
    products: list[Product] = []
    family = 0
    while len(products) < n_products:
        size = int(min(rng.choice(FAMILY_SIZES, p=FAMILY_SIZE_P), n_products - len(products)))
        category = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
        brand = brands[int(rng.integers(len(brands)))]
        line = make_line(rng)
        attrs = tuple(str(a) for a in rng.choice(category.attrs, size=min(len(category.attrs), int(rng.integers(1, 3))),
                                                  replace=False)) if category.attrs else ()
        visual = make_visual(rng, category, brand)
        axis = str(rng.choice(category.axes)) if size > 1 else None
        # base values, then the axis is varied across members
        base_size = float(rng.choice(category.sizes)) if category.sizes else None
        base_colour = COLOURS[int(rng.integers(len(COLOURS)))] if "colour" in category.axes else None
        base_variant = str(rng.choice(category.variants)) if category.variants else None
        if axis == "size" and len(category.sizes) < 2:
            axis = "colour" if "colour" in category.axes else None
        if axis == "variant" and len(category.variants) < 2:
            axis = None
        if axis is None:
            size = 1
        values: list = [None]
        if axis == "size":
            values = sorted(rng.choice(category.sizes, size=min(size, len(category.sizes)), replace=False).tolist())
        elif axis == "colour":
            values = [COLOURS[int(i)] for i in rng.choice(len(COLOURS), size=min(size, len(COLOURS)), replace=False)]
        elif axis == "variant":
            picked = rng.choice(category.variants, size=min(size, len(category.variants)), replace=False)
            values = [str(v) for v in picked]
        members = []
        for rank, value in enumerate(values):
            vis = dict(visual)
            p_size, p_colour, p_variant = base_size, base_colour, base_variant
            if axis == "size":
                p_size = float(value)
                # a bigger pack is drawn a little taller/wider
                grow = 1.0 + 0.09 * (rank - (len(values) - 1) / 2)
                vis["height"] = visual["height"] * grow
                vis["width"] = visual["width"] * (1.0 + 0.03 * (rank - (len(values) - 1) / 2))
            elif axis == "colour":
                p_colour = value
                if category.shape in ("bottle", "can", "jar"):  # the cap/lid comes in the colour too
                    vis["cap"] = _jitter(rng, value.rgb, 8)
            elif axis == "variant":
                p_variant = value
                if rank > 0:  # flavour/scent/model: the label design changes colour
                    vis["label"] = _distinct_rgb(rng, [visual["label"], visual["body"]], light=True)
                    vis["pattern_colour"] = _distinct_rgb(rng, [vis["label"]])
            if p_size is not None:
                vis["size_text"] = format_size(p_size, category.unit, style=0)
            if p_variant is not None:
                vis["variant_text"] = p_variant.upper()[:12]
            if p_colour is not None:  # the object is drawn in the colour its titles name
                vis["body"] = _jitter(rng, p_colour.rgb, 8)
            members.append(
                Product(len(products) + len(members), family, category, brand, line, attrs, p_size, p_colour,
                        p_variant, axis, vis)
            )
        for m in members:
            m.siblings = [o.index for o in members if o.index != m.index]
            m.n_postings = int(rng.choice(GROUP_SIZES, p=GROUP_SIZE_P))
        products.extend(members)
        family += 1
    return products[:n_products]
