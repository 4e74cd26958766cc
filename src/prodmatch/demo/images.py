"""Procedural product photos for the demo dataset (PIL + numpy only).

:func:`render_photo` makes one seller's "photo" of a product drawn by
:func:`prodmatch.demo.objects.render_object`: a background (plain, gradient, texture, tiles, wood, clutter, room
corner), the object scaled, rotated, flipped, shifted or cropped, sometimes several copies, a shadow, shop
watermark/badge/frame, lighting and colour cast, blur, noise. JPEG quality is chosen by the caller. Every random
choice comes from the ``rng`` passed in, so a photo depends only on its seed.

The variation is what makes perceptual hashes fail on photos of the same product (the low-frequency
layout changes) while the object itself -- shape, colours, label design -- stays recognisable.
"""

from __future__ import annotations

import colorsys
import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from prodmatch.demo.objects import draw_logo, font, mix, shade, text_centered


def _random_colour(rng: np.random.Generator, light: float | None = None) -> tuple[int, int, int]:
    h, s = rng.random(), rng.uniform(0.0, 0.45)
    v = rng.uniform(0.75, 1.0) if (light if light is not None else rng.random() < 0.65) else rng.uniform(0.15, 0.75)
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(h, s, v))


def background(rng: np.random.Generator, size: int) -> Image.Image:
    kind = int(rng.choice(8, p=[0.2, 0.16, 0.14, 0.1, 0.1, 0.12, 0.1, 0.08]))
    c1, c2 = _random_colour(rng), _random_colour(rng)
    if kind == 0:  # plain (studio)
        return Image.new("RGB", (size, size), c1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if kind == 1:  # linear gradient at an angle
        a = rng.uniform(0, 2 * math.pi)
        t = (xx * math.cos(a) + yy * math.sin(a))
        t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    elif kind == 2:  # mottled texture
        small = rng.random((int(rng.integers(3, 9)),) * 2).astype(np.float32)
        t = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)) / 255.0
    elif kind == 3:  # wood planks
        c1 = tuple(int(v) for v in rng.integers([120, 70, 30], [200, 140, 90]))
        c2 = shade(c1, 0.7)
        planks = rng.integers(3, 7)
        t = 0.5 + 0.5 * np.sin((yy * planks * 2 + 0.08 * np.sin(xx * rng.uniform(5, 15))) * math.pi * 3)
        t = t * 0.6 + (np.floor(yy * planks) % 2) * 0.4
    elif kind == 4:  # tiles / checker
        n = int(rng.integers(3, 10))
        t = ((np.floor(xx * n) + np.floor(yy * n)) % 2).astype(np.float32)
    elif kind == 5:  # room corner: wall above a table
        horizon = rng.uniform(0.35, 0.75)
        t = (yy > horizon + 0.05 * (xx - 0.5) * rng.uniform(-1, 1)).astype(np.float32)
        t = t * 0.85 + 0.15 * yy
    elif kind == 6:  # fabric stripes
        n = rng.uniform(6, 20)
        a = rng.uniform(0, math.pi)
        t = (np.sin((xx * math.cos(a) + yy * math.sin(a)) * n * 2 * math.pi) > 0).astype(np.float32)
        c2 = mix(c1, c2, 0.35)
    else:  # radial vignette
        cx, cy = rng.uniform(0.3, 0.7, size=2)
        t = np.clip(np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) * 1.6, 0, 1)
    t = t[..., None]
    arr = np.asarray(c1, np.float32)[None, None] * (1 - t) + np.asarray(c2, np.float32)[None, None] * t
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.25:  # clutter: other things on the table
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(2, 9))):
            x, y = rng.uniform(-0.1, 1.0, size=2) * size
            w, h = rng.uniform(0.05, 0.35, size=2) * size
            col = _random_colour(rng)
            if rng.random() < 0.5:
                d.ellipse((x, y, x + w, y + h), fill=col)
            else:
                d.rectangle((x, y, x + w, y + h), fill=col)
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.5) * size / 160))
    return img


def _place(canvas: Image.Image, obj: Image.Image, rng: np.random.Generator, scale: float, center, shadow: bool) -> None:
    size = canvas.size[0]
    ow, oh = obj.size
    factor = scale * size / max(ow, oh)
    obj = obj.resize((max(1, int(ow * factor)), max(1, int(oh * factor))), Image.BICUBIC)
    if rng.random() < 0.15:
        obj = obj.transpose(Image.FLIP_LEFT_RIGHT)
    angle = float(np.clip(rng.normal(0, 10), -30, 30))
    if rng.random() < 0.05:
        angle += 90 if rng.random() < 0.5 else -90
    obj = obj.rotate(angle, resample=Image.BICUBIC, expand=True)
    x = int(center[0] * size - obj.size[0] / 2)
    y = int(center[1] * size - obj.size[1] / 2)
    if shadow:
        alpha = obj.getchannel("A").filter(ImageFilter.GaussianBlur(max(1.0, 0.025 * size)))
        strength = rng.uniform(0.25, 0.5)
        alpha = alpha.point(lambda v: int(v * strength))
        dark = Image.new("RGB", obj.size, (0, 0, 0))
        off = (int(rng.uniform(-0.03, 0.04) * size), int(rng.uniform(0.01, 0.05) * size))
        canvas.paste(dark, (x + off[0], y + off[1]), alpha)
    canvas.paste(obj, (x, y), obj)


BADGE_TEXTS = ("ORI", "COD", "READY", "SALE", "50%", "PROMO", "NEW", "HOT", "BEST")


def _overlays(img: Image.Image, rng: np.random.Generator, shop: str) -> Image.Image:
    size = img.size[0]
    d = ImageDraw.Draw(img, "RGBA")
    if rng.random() < 0.22:  # shop watermark
        if rng.random() < 0.6:
            col = (255, 255, 255, int(rng.integers(90, 200)))
        else:
            col = (0, 0, 0, int(rng.integers(60, 150)))
        fs = int(size * rng.uniform(0.07, 0.14))
        x, y = rng.uniform(0.05, 0.55) * size, rng.uniform(0.05, 0.9) * size
        d.text((x, y), shop, font=font(fs), fill=col)
    if rng.random() < 0.18:  # badge
        r = size * rng.uniform(0.09, 0.16)
        cx = rng.choice([r * 1.1, size - r * 1.1])
        cy = rng.choice([r * 1.1, size - r * 1.1])
        col = tuple(int(v) for v in rng.choice([(220, 30, 40), (250, 200, 30), (30, 160, 70), (240, 110, 20)]))
        draw_logo(d, "star" if rng.random() < 0.4 else "circle", cx, cy, r, col)
        text_centered(d, (cx, cy), str(rng.choice(BADGE_TEXTS)), int(r * 0.7), (255, 255, 255))
    if rng.random() < 0.1:  # frame
        width = int(size * rng.uniform(0.02, 0.07))
        d.rectangle((0, 0, size - 1, size - 1), outline=_random_colour(rng), width=width)
    if rng.random() < 0.08:  # banner strip with text
        bh = size * rng.uniform(0.1, 0.18)
        col = _random_colour(rng, light=False)
        d.rectangle((0, size - bh, size, size), fill=col)
        text_centered(d, (size / 2, size - bh / 2), str(rng.choice(["READY STOCK", "FREE ONGKIR", "BISA COD", shop])),
                       int(bh * 0.55), (255, 255, 255))
    return img


def photometric(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.78, 1.22))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.75, 1.25))
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.8, 1.2))
    arr = np.asarray(img).astype(np.float32)
    cast = rng.uniform(0.93, 1.07, size=3).astype(np.float32)
    arr = arr * cast[None, None]
    if rng.random() < 0.3:
        arr = arr + rng.normal(0, rng.uniform(2, 7), size=arr.shape).astype(np.float32)
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.1) * img.size[0] / 160))
    return img


def render_photo(obj: Image.Image, size: int, rng: np.random.Generator, shop: str = "") -> Image.Image:
    """One seller's photo of the object cut-out ``obj``: a ``size`` x ``size`` RGB image."""
    canvas = background(rng, size)
    shadow = bool(rng.random() < 0.55)
    r = rng.random()
    if r < 0.06:  # a bundle: two or three of the product side by side
        n = int(rng.integers(2, 4))
        scale = rng.uniform(0.38, 0.6) * (1.0 if n == 2 else 0.85)
        xs = np.linspace(0.3, 0.7, n) + rng.uniform(-0.05, 0.05, size=n)
        for i in range(n):
            _place(canvas, obj, rng, scale * rng.uniform(0.9, 1.05), (xs[i], rng.uniform(0.4, 0.6)), shadow)
    elif r < 0.14:  # close-up crop: the object overflows the frame
        _place(canvas, obj, rng, rng.uniform(1.0, 1.2), rng.uniform(0.35, 0.65, size=2), shadow)
    else:
        scale = rng.uniform(0.6, 1.0)
        margin = min(0.5, scale / 2 * 0.8)
        center = rng.uniform(max(0.25, margin), min(0.75, 1 - margin + 0.1), size=2)
        _place(canvas, obj, rng, scale, center, shadow)
    canvas = _overlays(canvas, rng, shop)
    return photometric(canvas, rng)


def near_duplicate(img: Image.Image, rng: np.random.Generator, shop: str = "") -> Image.Image:
    """A re-upload of the same photo: slightly cropped, relit or watermarked (phash stays close)."""
    size = img.size[0]
    kind = int(rng.integers(0, 4))
    if kind == 0:
        c = int(size * rng.uniform(0.02, 0.06))
        ox, oy = (int(v) for v in rng.integers(0, c + 1, size=2))
        img = img.crop((ox, oy, size - c + ox, size - c + oy)).resize((size, size), Image.BICUBIC)
    elif kind == 1:
        img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.88, 1.12))
    elif kind == 2:
        img = img.copy()
        d = ImageDraw.Draw(img, "RGBA")
        d.text((rng.uniform(0.05, 0.6) * size, rng.uniform(0.05, 0.85) * size), shop or "shop",
               font=font(int(size * 0.08)), fill=(255, 255, 255, 150))
    else:
        small = int(size * rng.uniform(0.55, 0.8))
        img = img.resize((small, small), Image.BILINEAR).resize((size, size), Image.BICUBIC)
    return img


def jpeg_bytes(img: Image.Image, quality: int) -> bytes:
    """The image as a baseline JPEG at ``quality`` (the same bytes for the same image and quality)."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(quality), optimize=False, progressive=False)
    return buf.getvalue()
