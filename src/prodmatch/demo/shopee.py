"""Synthetic demo dataset in the exact Kaggle layout of "Shopee - Price Match Guarantee".

:func:`generate_demo` writes ``train.csv``, ``test.csv``, ``sample_submission.csv``, ``train_images/`` and
``test_images/`` for made-up products (see :mod:`prodmatch.demo.catalog` for the products and titles,
:mod:`prodmatch.demo.images` for the drawings). What it contains:

- **label groups** of 2..12 postings, skewed like the real data (about half of them pairs);
- **hard negatives**: product families whose members -- separate label_groups -- differ only in size,
  colour or variant, with near-identical titles and the same drawn object in another colour or with
  another size printed on it. The label_group numbers are chosen so that, with the default
  ``assign_folds`` (5 folds, no salt), a whole family lands in one fold: the held-out fold keeps its hard
  negatives;
- **photos**: every posting is its own photo of the product (background, scale, rotation, crop, lighting,
  blur, JPEG quality all vary), so perceptual hashes rarely agree; some sellers re-upload a photo of the
  same product (exact or lightly edited copies) and a few reuse a photo of *another* product (stock
  photos: the same file under two label_groups -- confident phash false positives);
- ``image_phash`` is ``str(imagehash.phash(...))`` of the written JPEG, as in the competition;
- ``test.csv`` holds whole held-out families (no label_group), ``sample_submission.csv`` matches every
  test posting to itself.

The output is deterministic for a seed (byte-identical files on rerun with the same library versions)
and written atomically: everything is built in a hidden folder next to ``out_dir`` and renamed into place
at the end, so a failed run leaves no partial dataset. ``images=False`` skips drawing: image file names
and phashes are simulated (same-photo copies share a hash, re-uploads differ in a few bits) and the
image folders are left empty -- enough for text-only pipelines and fast tests.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.data.folds import DEFAULT_N_FOLDS, fold_of_group
from prodmatch.demo.catalog import Product, build_catalog, seeded_rng
from prodmatch.demo.titles import make_title
from prodmatch.errors import ArgumentError
from prodmatch.fileio import atomic_dir, check_output_dir, write_csv
from prodmatch.progress import progress_bar

DEFAULT_N_PRODUCTS = 600
DEFAULT_IMAGE_SIZE = 128
DEFAULT_TEST_FRACTION = 0.15

# Per-posting chances, for postings after a product's first: reuse one of the product's earlier photos
# byte for byte, or re-upload it lightly edited (near-duplicate phash).
P_EXACT_COPY = 0.10
P_NEAR_COPY = 0.05
# Share of postings whose photo is another product's (stock photo reuse), most often a family sibling's.
CROSS_PRODUCT_SHARE = 0.012
P_CROSS_SIBLING = 0.6

SHOP_NAMES = (
    "tokoku", "grosir88", "JKT store", "rumah_murah", "ORI shop", "berkah jaya", "sumber rejeki", "mall_ori",
    "toko66", "bdg outlet", "laris manis", "sinar abadi", "shopku", "gudang promo", "maju jaya", "ready_sby",
)

# RNG streams: each part of the generation draws from its own stream so that, for example, turning
# images off changes nothing but the image and image_phash columns.
_CATALOG, _SPLIT, _IDS, _PLAN, _TITLES, _PHOTO, _NEAR, _NOIMG, _ORDER = range(1, 10)


@dataclass(frozen=True)
class DemoSummary:
    out_dir: Path
    seed: int
    images: bool
    image_size: int
    n_products: int
    n_train: int
    n_test: int
    n_train_groups: int
    n_test_groups: int
    n_hard_negative_groups: int  # label_groups with at least one sibling (same family, other size/colour/variant)
    families: tuple[tuple[int, ...], ...]  # label_groups of each family of 2+ products (test families too)
    n_image_files: int  # distinct image files written (0 without images)
    n_exact_copies: int  # postings whose photo is byte-identical to another of the same product
    n_near_copies: int  # postings with a lightly edited re-upload of another posting's photo
    n_cross_product_copies: int  # postings whose image file belongs to another label_group
    seconds: float

    def as_dict(self) -> dict:
        out = asdict(self)
        out["out_dir"] = str(self.out_dir)
        out["families"] = [list(f) for f in self.families]
        return out

    def describe(self) -> str:
        return (
            f"{self.out_dir}: {self.n_train} train postings in {self.n_train_groups} groups, {self.n_test} test "
            f"postings in {self.n_test_groups} groups; {self.n_hard_negative_groups} groups have a hard-negative "
            f"sibling; {self.n_exact_copies} exact and {self.n_near_copies} near photo copies within a group, "
            f"{self.n_cross_product_copies} photos shared across groups; "
            + (f"{self.n_image_files} images at {self.image_size}px" if self.images else "no images (simulated phash)")
            + f"; {self.seconds:.1f}s"
        )


@dataclass
class _Posting:
    number: int  # global, stable across modes: seeds this posting's title and photo
    split: str
    product: int
    posting_id: str = ""
    photo: tuple = ("new",)  # ("new",) | ("copy", number) | ("near", number) | ("cross", number)
    title: str = ""
    image: str = ""
    phash: str = ""


# ------------------------------------------------------------------------------------------------ plan


def _split_families(products: list[Product], test_fraction: float, rng: np.random.Generator) -> None:
    families: dict[int, list[Product]] = {}
    for p in products:
        families.setdefault(p.family, []).append(p)
    target = int(round(test_fraction * len(products)))
    if test_fraction > 0:
        target = min(max(target, 1), len(products) - 1)
    n_test = 0
    for fam in rng.permutation(sorted(families)):
        members = families[int(fam)]
        if n_test >= target:
            break
        if n_test + len(members) > target and n_test > 0:
            continue
        if n_test + len(members) >= len(products):  # keep at least one train product
            continue
        for p in members:
            p.split = "test"
        n_test += len(members)
    if target > 0 and n_test == 0:  # only one family: hold out its last product alone
        products[-1].split = "test"


def _assign_label_groups(products: list[Product], rng: np.random.Generator) -> None:
    """Random 9-10 digit label_groups; each train family's groups share one default fold, folds balanced."""
    families: dict[int, list[Product]] = {}
    for p in products:
        if p.split == "train":
            families.setdefault(p.family, []).append(p)
    load = np.zeros(DEFAULT_N_FOLDS)
    fold_of_family = {}
    order = sorted(families, key=lambda f: (-sum(p.n_postings for p in families[f]), rng.random()))
    for fam in order:
        fold = int(np.argmin(load))
        fold_of_family[fam] = fold
        load[fold] += sum(p.n_postings for p in families[fam])
    used: set[int] = set()
    for p in products:
        while True:
            g = int(rng.integers(100_000_000, 4_294_967_295))
            if g in used:
                continue
            if p.split == "train" and fold_of_group(g, DEFAULT_N_FOLDS) != fold_of_family[p.family]:
                continue
            break
        used.add(g)
        p.label_group = g


def _plan_postings(products: list[Product], seed: int) -> list[_Posting]:
    rng_ids = seeded_rng(seed, _IDS)
    rng = seeded_rng(seed, _PLAN)
    postings: list[_Posting] = []
    used_ids: set[int] = set()
    for p in products:
        first = len(postings)
        for k in range(p.n_postings):
            while True:
                pid = int(rng_ids.integers(100_000_000, 4_294_967_295))
                if pid not in used_ids:
                    break
            used_ids.add(pid)
            post = _Posting(len(postings), p.split, p.index, posting_id=f"{p.split}_{pid}")
            if k > 0:
                r = rng.random()
                if r < P_EXACT_COPY + P_NEAR_COPY:
                    source = postings[first + int(rng.integers(0, k))]
                    while source.photo[0] != "new":  # copy the original, not a copy of it
                        source = postings[source.photo[1]]
                    post.photo = ("copy" if r < P_EXACT_COPY else "near", source.number)
            postings.append(post)
    # stock photos reused across products, within each split
    by_product: dict[int, list[_Posting]] = {}
    for post in postings:
        by_product.setdefault(post.product, []).append(post)
    referenced = {post.photo[1] for post in postings if post.photo[0] != "new"}
    for split in ("train", "test"):
        split_products = [p for p in products if p.split == split]
        n_split = sum(p.n_postings for p in split_products)
        n_cross = int(round(CROSS_PRODUCT_SHARE * n_split))
        if len(split_products) < 2:
            continue
        n_cross = max(n_cross, 1)
        # receivers: unreferenced original photos of products with at least two postings
        candidates = [post for post in postings if post.split == split and post.photo == ("new",)
                      and post.number not in referenced and products[post.product].n_postings >= 2]
        receivers = [candidates[int(i)] for i in rng.permutation(len(candidates))[:n_cross]]
        for post in receivers:
            product = products[post.product]
            siblings = [s for s in product.siblings if products[s].split == split]
            if siblings and rng.random() < P_CROSS_SIBLING:
                other = int(rng.choice(siblings))
            else:
                others = [p.index for p in split_products if p.index != product.index]
                other = int(rng.choice(others))
            sources = [s for s in by_product[other] if s.photo == ("new",) and s.number not in
                       {r.number for r in receivers}]
            if not sources:
                continue
            source = sources[int(rng.integers(len(sources)))]
            post.photo = ("cross", source.number)
            referenced.add(source.number)
    return postings


def _write_titles(products: list[Product], postings: list[_Posting], seed: int) -> None:
    families: dict[int, list[Product]] = {}
    for p in products:
        families.setdefault(p.family, []).append(p)
    for post in postings:
        product = products[post.product]
        fam = families[product.family]
        axis = product.axis
        values = [getattr(m, axis) for m in fam] if axis else []  # axis is "size", "colour" or "variant"
        post.title = make_title(product, values, seeded_rng(seed, _TITLES, post.number))


# ------------------------------------------------------------------------------------------------ images


def _phash_of(data: bytes) -> str:
    import imagehash
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return str(imagehash.phash(img))


def _render_images(products: list[Product], postings: list[_Posting], seed: int, size: int,
                   root: Path, progress: bool = False) -> int:
    from PIL import Image

    from prodmatch.demo.images import jpeg_bytes, near_duplicate, render_photo
    from prodmatch.demo.objects import render_object

    cutouts: dict[int, Image.Image] = {}
    data: dict[int, bytes] = {}
    written: set[tuple[str, str]] = set()
    order = sorted(postings, key=lambda p: {"new": 0, "near": 1, "copy": 2, "cross": 2}[p.photo[0]])
    for post in progress_bar(order, "draw photos", enabled=progress):
        kind = post.photo[0]
        if kind == "new":
            if post.product not in cutouts:
                cutouts[post.product] = render_object(products[post.product].visual)
            rng = seeded_rng(seed, _PHOTO, post.number)
            shop = SHOP_NAMES[int(rng.integers(len(SHOP_NAMES)))]
            img = render_photo(cutouts[post.product], size, rng, shop)
            blob = jpeg_bytes(img, int(rng.integers(55, 96)))
        elif kind == "near":
            rng = seeded_rng(seed, _NEAR, post.number)
            with Image.open(io.BytesIO(data[post.photo[1]])) as src:
                img = near_duplicate(src.convert("RGB"), rng, SHOP_NAMES[int(rng.integers(len(SHOP_NAMES)))])
            blob = jpeg_bytes(img, int(rng.integers(55, 96)))
        else:
            blob = data[post.photo[1]]
        data[post.number] = blob
        post.image = hashlib.md5(blob).hexdigest() + ".jpg"
        post.phash = _phash_of(blob)
        key = (post.split, post.image)
        if key not in written:
            (root / f"{post.split}_images" / post.image).write_bytes(blob)
            written.add(key)
    return len(written)


def _simulate_images(products: list[Product], postings: list[_Posting], seed: int) -> None:
    """File names and phashes without drawing: each photo a random hash near its product's own.

    Photos of one product differ in ~25-30 of 64 bits (as separate photos do), re-uploads in 1-6 bits,
    byte copies and cross-product stock photos share the hash exactly.
    """
    base = {p.index: int.from_bytes(seeded_rng(seed, _NOIMG, 0, p.index).bytes(8), "big") for p in products}
    by_number = {post.number: post for post in postings}
    order = sorted(postings, key=lambda p: {"new": 0, "near": 1, "copy": 2, "cross": 2}[p.photo[0]])
    for post in order:
        rng = seeded_rng(seed, _NOIMG, 1, post.number)
        kind = post.photo[0]
        if kind == "new":
            flips = rng.random(64) < 0.4
            value = base[post.product] ^ sum(1 << int(i) for i in np.flatnonzero(flips))
            post.image = hashlib.md5(f"demo:{seed}:{post.number}".encode()).hexdigest() + ".jpg"
            post.phash = f"{value:016x}"
        elif kind == "near":
            source = by_number[post.photo[1]]
            bits = rng.choice(64, size=int(rng.integers(1, 7)), replace=False)
            post.phash = f"{int(source.phash, 16) ^ int(sum(1 << int(b) for b in bits)):016x}"
            post.image = hashlib.md5(f"demo:{seed}:{post.number}".encode()).hexdigest() + ".jpg"
        else:
            source = by_number[post.photo[1]]
            post.image, post.phash = source.image, source.phash


# ------------------------------------------------------------------------------------------------ writing


def _frames(products: list[Product], postings: list[_Posting], seed: int):
    rng = seeded_rng(seed, _ORDER)
    rows = {split: [p for p in postings if p.split == split] for split in ("train", "test")}
    out = {}
    for split, posts in rows.items():
        posts = [posts[int(i)] for i in rng.permutation(len(posts))]
        frame = pd.DataFrame({
            "posting_id": [p.posting_id for p in posts],
            "image": [p.image for p in posts],
            "image_phash": [p.phash for p in posts],
            "title": [p.title for p in posts],
        })
        if split == "train":
            frame["label_group"] = np.array([products[p.product].label_group for p in posts], dtype=np.int64)
        out[split] = frame
    return out["train"], out["test"]


MAX_IMAGE_SIZE = 4096  # a side beyond this draws photos of hundreds of MB each: a typo, not a demo


def generate_demo(
    out_dir: str | os.PathLike,
    n_products: int = DEFAULT_N_PRODUCTS,
    seed: int = 0,
    image_size: int = DEFAULT_IMAGE_SIZE,
    images: bool = True,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    overwrite: bool = False,
    progress: bool = False,
) -> DemoSummary:
    """Write a synthetic Kaggle-layout dataset of ``n_products`` products (train + test) to ``out_dir``.

    ``image_size`` is the side of the square JPEGs; ``images=False`` writes no images (simulated phashes).
    ``test_fraction`` of the products (whole families) go to test.csv. Deterministic for ``seed``.
    ``progress`` shows a bar while the photos are drawn.
    """
    start = time.perf_counter()
    if int(seed) < 0:
        raise ArgumentError(f"seed must be >= 0, got {seed}")
    if n_products < 2:
        raise ArgumentError(f"n_products must be >= 2 (train and test each need a product), got {n_products}")
    if not 0.0 < test_fraction < 1.0:
        raise ArgumentError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if images and not 32 <= image_size <= MAX_IMAGE_SIZE:
        raise ArgumentError(f"image_size must be 32 to {MAX_IMAGE_SIZE} pixels, got {image_size}")
    check_output_dir(out_dir, overwrite=overwrite)
    products = build_catalog(n_products, seeded_rng(seed, _CATALOG))
    _split_families(products, test_fraction, seeded_rng(seed, _SPLIT))
    _assign_label_groups(products, seeded_rng(seed, _IDS, 1))
    postings = _plan_postings(products, seed)
    _write_titles(products, postings, seed)

    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        (tmp / "train_images").mkdir()
        (tmp / "test_images").mkdir()
        if images:
            n_files = _render_images(products, postings, seed, image_size, tmp, progress)
        else:
            _simulate_images(products, postings, seed)
            n_files = 0
        train, test = _frames(products, postings, seed)
        write_csv(tmp / "train.csv", train)
        write_csv(tmp / "test.csv", test)
        write_csv(tmp / "sample_submission.csv",
                  pd.DataFrame({"posting_id": test["posting_id"], "matches": test["posting_id"]}))

    families: dict[int, list[int]] = {}
    for p in products:
        families.setdefault(p.family, []).append(p.label_group)
    multi = tuple(tuple(g) for g in families.values() if len(g) > 1)
    kinds = [p.photo[0] for p in postings]
    return DemoSummary(
        out_dir=Path(out_dir),
        seed=int(seed),
        images=bool(images),
        image_size=int(image_size),
        n_products=len(products),
        n_train=len(train),
        n_test=len(test),
        n_train_groups=int(train["label_group"].nunique()),
        n_test_groups=sum(p.split == "test" for p in products),
        n_hard_negative_groups=sum(len(f) for f in multi),
        families=multi,
        n_image_files=n_files,
        n_exact_copies=kinds.count("copy"),
        n_near_copies=kinds.count("near"),
        n_cross_product_copies=kinds.count("cross"),
        seconds=time.perf_counter() - start,
    )
