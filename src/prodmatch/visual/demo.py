"""Synthetic visual-search dataset in the layout of :mod:`prodmatch.visual.layout` (eProduct style):
``prodmatch index demo``.

Products come from the Shopee demo catalogue (:func:`prodmatch.demo.catalog.build_catalog`): product
lines whose members differ only in colour, size or variant -- the hard near duplicates. Each product gets a
3-level category path (meta / level 2 / leaf, :data:`TAXONOMY`) and several **seller photos** in the index
(:func:`prodmatch.demo.images.render_photo`: studio or shop backgrounds, watermarks, badges). A share
of the products (``query_share``) also gets **customer snapshots** as queries (:func:`query_photo`): another
background, a tilted hand-held angle with perspective, a closer or looser crop, directional light and a
colour cast. The other products are distractors: in the index, matched by no query.

**Category looks** (``category_look=True``, the default): as in a real catalogue, products of one leaf
category look alike -- each leaf has its own drawing sub-style, proportions and label pattern
(:data:`LEAF_LOOKS`); brand, colours, logo and text stay the product's own. Without it (phase 1's demo) the
leaves that share a drawn shape (shampoo, perfume and cooking oil are all bottles) differ only by the
products' random colours, so a leaf category tells a model nothing a product id does not.

Ground truth: every index photo of the query's product (never its siblings). index.csv also names each
photo's product (``product_id``: the classes of metric-learning training); queries.csv does not. Deterministic for a seed;
the folder is written atomically.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.demo.catalog import seeded_rng
from prodmatch.errors import ArgumentError
from prodmatch.fileio import atomic_dir, write_csv
from prodmatch.progress import progress_bar
from prodmatch.visual.layout import GROUND_TRUTH_FILE, INDEX_FILE, INDEX_IMAGES, QUERIES_FILE, QUERY_IMAGES
from prodmatch.visual.registry import DEMO_IMAGE_SIZE, DEMO_N_PRODUCTS, DEMO_QUERY_SHARE

INDEX_PHOTOS = (2, 4)  # seller photos per product, inclusive range
QUERY_PHOTOS = (1, 2)  # customer snapshots per query product
LEVELS = ("level1", "level2", "level3")

# leaf (demo_catalog category key) -> (meta category, level-2 category)
TAXONOMY: dict[str, tuple[str, str]] = {
    "softdrink": ("Food and Drink", "Beverages"), "kopi": ("Food and Drink", "Beverages"),
    "teh": ("Food and Drink", "Beverages"), "skm": ("Food and Drink", "Beverages"),
    "minyak": ("Food and Drink", "Pantry"), "kornet": ("Food and Drink", "Pantry"),
    "keripik": ("Food and Drink", "Pantry"), "madu": ("Food and Drink", "Pantry"),
    "shampoo": ("Beauty and Care", "Hair and Body"), "sabun": ("Beauty and Care", "Hair and Body"),
    "parfum": ("Beauty and Care", "Hair and Body"), "odol": ("Beauty and Care", "Hair and Body"),
    "krim": ("Beauty and Care", "Skincare and Makeup"), "facialwash": ("Beauty and Care", "Skincare and Makeup"),
    "lipcream": ("Beauty and Care", "Skincare and Makeup"), "masker": ("Beauty and Care", "Health"),
    "tumbler": ("Home and Living", "Kitchen"), "deterjen": ("Home and Living", "Cleaning"),
    "catfood": ("Home and Living", "Pets"),
    "tas": ("Fashion", "Bags"), "totebag": ("Fashion", "Bags"), "sneakers": ("Fashion", "Footwear"),
    "sandal": ("Fashion", "Footwear"), "kaos": ("Fashion", "Clothing"), "hoodie": ("Fashion", "Clothing"),
    "case": ("Electronics", "Phone Accessories"), "charger": ("Electronics", "Phone Accessories"),
    "powerbank": ("Electronics", "Phone Accessories"),
}

# leaf -> (sub-style of its shape, width factor, height factor, label pattern): a look shared by the leaf's
# products; leaves drawn with the same shape get different looks
LEAF_LOOKS: dict[str, tuple[int, float, float, str]] = {
    "tumbler": (2, 0.95, 1.15, "band"), "shampoo": (0, 1.0, 1.0, "waves"), "sabun": (1, 1.2, 0.9, "dots"),
    "parfum": (0, 0.75, 0.8, "diagonal"), "minyak": (1, 0.85, 1.25, "plain"),
    "skm": (0, 1.0, 0.8, "stripes"), "kornet": (1, 1.2, 0.75, "band"), "catfood": (2, 1.15, 0.7, "dots"),
    "softdrink": (0, 0.8, 1.2, "chevron"),
    "kopi": (0, 0.9, 1.15, "grid"), "keripik": (1, 1.15, 0.9, "chevron"), "deterjen": (2, 1.25, 1.1, "stripes"),
    "teh": (0, 1.2, 0.75, "waves"), "masker": (1, 1.0, 1.0, "plain"), "charger": (2, 0.75, 0.85, "grid"),
    "krim": (0, 1.1, 0.8, "dots"), "madu": (2, 0.9, 1.2, "stripes"),
    "odol": (0, 1.2, 0.85, "stripes"), "facialwash": (1, 1.0, 1.0, "waves"), "lipcream": (2, 0.7, 0.75, "plain"),
    "tas": (0, 1.0, 1.0, "diagonal"), "totebag": (2, 0.85, 1.2, "plain"),
    "sneakers": (0, 1.0, 1.0, "stripes"), "sandal": (2, 1.1, 0.7, "plain"),
    "kaos": (0, 1.0, 0.9, "plain"), "hoodie": (2, 1.05, 1.1, "band"),
    "case": (0, 1.0, 1.0, "dots"), "powerbank": (1, 1.0, 1.0, "grid"),
}

# RNG streams: each part draws from its own, so e.g. the image size changes nothing but the images
_CATALOG, _ROLES, _INDEX_PHOTO, _QUERY_PHOTO, _TITLES, _ORDER = range(1, 7)


def apply_category_look(visual: dict, category_key: str) -> dict:
    """A product's drawing spec with its leaf's look: sub-style, label pattern, proportions (times the
    product's own width/height, so sizes and jitter survive)."""
    style, width, height, pattern = LEAF_LOOKS[category_key]
    return {**visual, "style": style, "pattern": pattern, "width": visual["width"] * width,
            "height": visual["height"] * height}


def product_id(product: int) -> str:
    """The ``product_id`` of index.csv: the classes metric-learning training learns (queries carry none)."""
    return f"product_{product:05d}"


def category_path(category_key: str) -> tuple[str, str, str]:
    """(meta, level 2, leaf) of a demo catalogue category."""
    if category_key not in TAXONOMY:
        raise KeyError(f"demo category {category_key!r} has no place in prodmatch.visual.demo.TAXONOMY")
    return (*TAXONOMY[category_key], category_key)


@dataclass(frozen=True)
class VisualDemoSummary:
    out_dir: Path
    seed: int
    image_size: int
    n_products: int
    n_query_products: int
    n_distractor_products: int  # in the index, matched by no query
    n_index: int
    n_queries: int
    n_ground_truth: int  # (query, index) pairs
    n_queries_with_sibling: int  # queries whose product has a same-line variant in the index (hard negative)
    n_categories: tuple[int, int, int]  # distinct meta / level-2 / leaf categories used
    seconds: float

    def as_dict(self) -> dict:
        out = asdict(self)
        out["out_dir"] = str(self.out_dir)
        return out

    def describe(self) -> str:
        return (
            f"{self.out_dir}: {self.n_index} index photos of {self.n_products} products "
            f"({self.n_distractor_products} distractors), {self.n_queries} queries of {self.n_query_products} "
            f"products, {self.n_ground_truth} true pairs; {self.n_queries_with_sibling} queries have a "
            f"same-line variant in the index; categories {'/'.join(map(str, self.n_categories))} "
            f"(meta/level2/leaf); {self.image_size}px; {self.seconds:.1f}s"
        )


# ------------------------------------------------------------------------------------------ query photos


def _perspective_coefficients(source, target) -> list[float]:
    """PIL PERSPECTIVE coefficients mapping output corners ``target`` back to input corners ``source``."""
    rows = []
    for (x, y), (u, v) in zip(target, source):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solution = np.linalg.solve(np.asarray(rows, np.float64), np.asarray(source, np.float64).reshape(8))
    return solution.tolist()


def _tilt(obj, rng: np.random.Generator):
    """The cut-out seen from a hand-held angle: one side foreshortened (a keystone perspective)."""
    from PIL import Image

    w, h = obj.size
    squeeze = rng.uniform(0.06, 0.22)
    side = int(rng.integers(4))  # which edge recedes
    corners = [(0, 0), (w, 0), (w, h), (0, h)]
    target = [list(c) for c in corners]
    if side == 0:  # top edge away
        target[0][0] += w * squeeze
        target[1][0] -= w * squeeze
    elif side == 1:  # bottom edge away
        target[3][0] += w * squeeze
        target[2][0] -= w * squeeze
    elif side == 2:  # left edge away
        target[0][1] += h * squeeze
        target[3][1] -= h * squeeze
    else:  # right edge away
        target[1][1] += h * squeeze
        target[2][1] -= h * squeeze
    coefficients = _perspective_coefficients(corners, [tuple(t) for t in target])
    return obj.transform((w, h), Image.PERSPECTIVE, coefficients, Image.BICUBIC)


def _directional_light(img, rng: np.random.Generator):
    """A window or lamp to one side: brightness ramps across the frame, plus a warm or cool cast."""
    from PIL import Image

    size = img.size[0]
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    ramp = (xx - 0.5) * math.cos(angle) + (yy - 0.5) * math.sin(angle)
    light = 1.0 + rng.uniform(0.25, 0.6) * ramp
    cast = np.array([1.0 + rng.uniform(-0.12, 0.12), 1.0, 1.0 + rng.uniform(-0.12, 0.12)], np.float32)
    arr = np.asarray(img).astype(np.float32) * light[..., None] * cast[None, None]
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")


def query_photo(obj, size: int, rng: np.random.Generator):
    """A customer's snapshot of the cut-out ``obj``: new background, tilt, crop, light; ``size`` px RGB."""
    from PIL import Image

    from prodmatch.demo.images import background, photometric

    canvas = background(rng, size)
    obj = _tilt(obj, rng)
    scale = rng.uniform(0.75, 1.3)  # above ~1 the product overflows the frame: a close crop
    factor = scale * size / max(obj.size)
    obj = obj.resize((max(1, int(obj.size[0] * factor)), max(1, int(obj.size[1] * factor))), Image.BICUBIC)
    obj = obj.rotate(float(rng.normal(0, 14)), resample=Image.BICUBIC, expand=True)
    centre = rng.uniform(0.3, 0.7, size=2) * size
    canvas.paste(obj, (int(centre[0] - obj.size[0] / 2), int(centre[1] - obj.size[1] / 2)), obj)
    canvas = _directional_light(canvas, rng)
    if rng.random() < 0.3:  # a low-resolution phone crop, upscaled
        small = int(size * rng.uniform(0.5, 0.75))
        canvas = canvas.resize((small, small), Image.BILINEAR).resize((size, size), Image.BICUBIC)
    return photometric(canvas, rng)


# ------------------------------------------------------------------------------------------ plan


@dataclass
class _Photo:
    product: int
    number: int  # per split, seeds the photo
    id: str = ""


def _choose_query_products(n_products: int, query_share: float, seed: int) -> np.ndarray:
    rng = seeded_rng(seed, _ROLES)
    n_query = min(max(1, int(round(query_share * n_products))), n_products - 1)
    return np.sort(rng.choice(n_products, size=n_query, replace=False))


def _plan_photos(n_products: int, query_products: np.ndarray, seed: int) -> tuple[list[_Photo], list[_Photo]]:
    rng = seeded_rng(seed, _ROLES, 1)
    index = [_Photo(p, 0) for p in range(n_products) for _ in range(int(rng.integers(INDEX_PHOTOS[0], INDEX_PHOTOS[1] + 1)))]
    queries = [_Photo(int(p), 0) for p in query_products
               for _ in range(int(rng.integers(QUERY_PHOTOS[0], QUERY_PHOTOS[1] + 1)))]
    order = seeded_rng(seed, _ORDER)
    index = [index[int(i)] for i in order.permutation(len(index))]  # rows must not reveal the product
    queries = [queries[int(i)] for i in order.permutation(len(queries))]
    for number, photo in enumerate(index):
        photo.number, photo.id = number, f"index_{number:06d}"
    for number, photo in enumerate(queries):
        photo.number, photo.id = number, f"query_{number:05d}"
    return index, queries


def _titles(products, index: list[_Photo], seed: int) -> list[str]:
    from prodmatch.demo.titles import make_title

    families: dict[int, list] = {}
    for p in products:
        families.setdefault(p.family, []).append(p)
    titles = []
    for photo in index:
        product = products[photo.product]
        axis = product.axis
        values = [getattr(m, axis) for m in families[product.family]] if axis else []
        titles.append(make_title(product, values, seeded_rng(seed, _TITLES, photo.number)))
    return titles


def _render(products, index: list[_Photo], queries: list[_Photo], seed: int, size: int, root: Path,
            progress: bool, category_look: bool) -> None:
    from prodmatch.demo.images import jpeg_bytes, render_photo
    from prodmatch.demo.objects import render_object

    cutouts: dict[int, object] = {}

    def cutout(product: int):
        if product not in cutouts:
            visual = products[product].visual
            if category_look:
                visual = apply_category_look(visual, products[product].category.key)
            cutouts[product] = render_object(visual)
        return cutouts[product]

    jobs = [("index", p) for p in index] + [("query", p) for p in queries]
    for split, photo in progress_bar(jobs, "draw photos", enabled=progress):
        if split == "index":
            rng = seeded_rng(seed, _INDEX_PHOTO, photo.number)
            img, quality, folder = render_photo(cutout(photo.product), size, rng), rng.integers(70, 96), INDEX_IMAGES
        else:
            rng = seeded_rng(seed, _QUERY_PHOTO, photo.number)
            img, quality, folder = query_photo(cutout(photo.product), size, rng), rng.integers(60, 92), QUERY_IMAGES
        (root / folder / f"{photo.id}.jpg").write_bytes(jpeg_bytes(img, int(quality)))


def _frames(products, index: list[_Photo], queries: list[_Photo], titles: list[str]):
    def levels(photos: list[_Photo]) -> dict[str, list[str]]:
        paths = [category_path(products[p.product].category.key) for p in photos]
        return {column: [path[i] for path in paths] for i, column in enumerate(LEVELS)}

    index_frame = pd.DataFrame({"id": [p.id for p in index], "image": [f"{p.id}.jpg" for p in index],
                                "title": titles, "product_id": [product_id(p.product) for p in index],
                                **levels(index)})
    query_frame = pd.DataFrame({"id": [p.id for p in queries], "image": [f"{p.id}.jpg" for p in queries],
                                **levels(queries)})
    rows_of_product: dict[int, list[str]] = {}
    for p in index:
        rows_of_product.setdefault(p.product, []).append(p.id)
    pairs = [(q.id, index_id) for q in queries for index_id in sorted(rows_of_product[q.product])]
    truth = pd.DataFrame(pairs, columns=["query_id", "index_id"])
    return index_frame, query_frame, truth


def generate_visual_demo(
    out_dir: str | os.PathLike,
    n_products: int = DEMO_N_PRODUCTS,
    seed: int = 0,
    image_size: int = DEMO_IMAGE_SIZE,
    query_share: float = DEMO_QUERY_SHARE,
    overwrite: bool = False,
    progress: bool = False,
    category_look: bool = True,
) -> VisualDemoSummary:
    """Write a visual-search demo folder of ``n_products`` products to ``out_dir`` (see the module doc).

    ``query_share`` of the products get 1-2 query photos; all get 2-4 index photos of ``image_size`` px.
    ``category_look=False`` draws phase 1's demo: leaves sharing a shape look alike.
    """
    start = time.perf_counter()
    if int(seed) < 0:
        raise ArgumentError(f"seed must be >= 0, got {seed}")
    if n_products < 2:
        raise ArgumentError(f"n_products must be >= 2 (a query product and a distractor), got {n_products}")
    if not 0.0 < query_share < 1.0:
        raise ArgumentError(f"query_share must be in (0, 1), got {query_share}")
    if image_size < 32:
        raise ArgumentError(f"image_size must be >= 32 pixels, got {image_size}")
    from prodmatch.demo.catalog import build_catalog

    products = build_catalog(n_products, seeded_rng(seed, _CATALOG))
    query_products = _choose_query_products(n_products, query_share, seed)
    index, queries = _plan_photos(n_products, query_products, seed)
    index_frame, query_frame, truth = _frames(products, index, queries, _titles(products, index, seed))
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        (tmp / INDEX_IMAGES).mkdir()
        (tmp / QUERY_IMAGES).mkdir()
        _render(products, index, queries, seed, image_size, tmp, progress, category_look)
        write_csv(tmp / INDEX_FILE, index_frame)
        write_csv(tmp / QUERIES_FILE, query_frame)
        write_csv(tmp / GROUND_TRUTH_FILE, truth)

    query_set = set(int(p) for p in query_products)
    with_sibling = sum(bool(products[q.product].siblings) for q in queries)
    used = [category_path(p.category.key) for p in products]
    return VisualDemoSummary(
        out_dir=Path(out_dir),
        seed=int(seed),
        image_size=int(image_size),
        n_products=len(products),
        n_query_products=len(query_set),
        n_distractor_products=len(products) - len(query_set),
        n_index=len(index_frame),
        n_queries=len(query_frame),
        n_ground_truth=len(truth),
        n_queries_with_sibling=int(with_sibling),
        n_categories=tuple(len({path[i] for path in used}) for i in range(3)),
        seconds=time.perf_counter() - start,
    )
