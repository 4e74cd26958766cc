"""Procedural products for the demo dataset (PIL + numpy only): :func:`render_object` draws a product once -- a
bottle, can, box, pouch, jar, tube, bag, shoe, T-shirt, phone case or power bank in its colours, with a printed
label (brand, variant, size, logo, pattern) -- as an RGBA cut-out. :mod:`prodmatch.demo.images` photographs it.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CANVAS = 384  # objects are drawn at this size and downsampled 2x (anti-aliasing)


@functools.lru_cache(maxsize=64)
def font(size: int) -> ImageFont.ImageFont:
    size = max(6, int(size))
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: bitmap font only
        return ImageFont.load_default()


def shade(rgb, factor: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(c * factor, 0, 255)) for c in rgb)


def mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(round(x * (1 - t) + y * t)) for x, y in zip(a, b))


def text_centered(draw: ImageDraw.ImageDraw, xy, text: str, size: int, fill) -> None:
    if not text:
        return
    f = font(size)
    box = draw.textbbox((0, 0), text, font=f)
    w, h = box[2] - box[0], box[3] - box[1]
    draw.text((xy[0] - w / 2 - box[0], xy[1] - h / 2 - box[1]), text, font=f, fill=fill)


def _fit_text_size(text: str, width: float, height: float) -> int:
    if not text:
        return 8
    f = font(100)
    box = f.getbbox(text)
    w, h = max(box[2] - box[0], 1), max(box[3] - box[1], 1)
    return int(max(6, min(100 * width / w, 100 * height / h)))


def draw_logo(draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float, fill) -> None:
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif kind == "ring":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=max(2, int(r * 0.35)))
    elif kind == "star":
        pts = []
        for i in range(10):
            a = -math.pi / 2 + i * math.pi / 5
            rr = r if i % 2 == 0 else r * 0.45
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        draw.polygon(pts, fill=fill)
    elif kind == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)], fill=fill)
    elif kind == "diamond":
        draw.polygon([(cx, cy - r), (cx + r * 0.75, cy), (cx, cy + r), (cx - r * 0.75, cy)], fill=fill)
    elif kind == "leaf":
        draw.chord((cx - r, cy - r * 1.2, cx + r * 1.4, cy + r * 1.2), 100, 260, fill=fill)
        draw.chord((cx - r * 1.4, cy - r * 1.2, cx + r, cy + r * 1.2), -80, 80, fill=fill)
    elif kind == "hex":
        draw.polygon([(cx + r * math.cos(a), cy + r * math.sin(a)) for a in np.arange(6) * math.pi / 3], fill=fill)
    else:  # cross
        t = r * 0.38
        draw.rectangle((cx - t, cy - r, cx + t, cy + r), fill=fill)
        draw.rectangle((cx - r, cy - t, cx + r, cy + t), fill=fill)


def _pattern(draw: ImageDraw.ImageDraw, kind: str, w: int, h: int, fill) -> None:
    """A print pattern over a (w, h) area starting at (0, 0)."""
    if kind == "stripes":
        step = max(6, h // 7)
        for y in range(0, h, step * 2):
            draw.rectangle((0, y, w, y + step * 0.6), fill=fill)
    elif kind == "dots":
        step = max(8, min(w, h) // 5)
        r = step * 0.22
        for y in range(step // 2, h, step):
            for x in range(step // 2 + (step // 2 if (y // step) % 2 else 0), w, step):
                draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    elif kind == "band":
        draw.rectangle((0, h * 0.08, w, h * 0.3), fill=fill)
    elif kind == "chevron":
        step = max(10, w // 6)
        pts = [(x, h * 0.85 - (step * 0.5 if (x // step) % 2 else 0)) for x in range(0, w + step, step)]
        draw.line(pts, fill=fill, width=max(3, h // 14))
        draw.line([(x, y - h * 0.14) for x, y in pts], fill=fill, width=max(2, h // 20))
    elif kind == "grid":
        step = max(8, min(w, h) // 4)
        for x in range(0, w, step):
            draw.line((x, 0, x, h), fill=fill, width=2)
        for y in range(0, h, step):
            draw.line((0, y, w, y), fill=fill, width=2)
    elif kind == "diagonal":
        step = max(10, w // 5)
        for x in range(-h, w + h, step):
            draw.line((x, h, x + h, 0), fill=fill, width=max(3, step // 3))
    elif kind == "waves":
        for base in (0.18, 0.82):
            pts = [(x, h * base + math.sin(x / max(w, 1) * 4 * math.pi) * h * 0.07) for x in range(0, w + 4, 4)]
            draw.line(pts, fill=fill, width=max(3, h // 12))
    # "plain": nothing


def _label(spec: dict, w: int, h: int, with_text: bool = True) -> Image.Image:
    """The printed label of a product: colour, pattern, logo, brand, variant and size."""
    w, h = max(int(w), 4), max(int(h), 4)
    img = Image.new("RGB", (w, h), spec["label"])
    d = ImageDraw.Draw(img)
    _pattern(d, spec["pattern"], w, h, spec["pattern_colour"])
    style = spec["style"]
    r = min(w, h) * 0.16
    if style == 0:
        draw_logo(d, spec["logo"], w / 2, h * 0.2, r, spec["logo_colour"])
    elif style == 1:
        draw_logo(d, spec["logo"], w * 0.18, h * 0.22, r, spec["logo_colour"])
    else:
        draw_logo(d, spec["logo"], w * 0.8, h * 0.78, r, spec["logo_colour"])
    if with_text:
        brand = spec["brand_text"]
        text_centered(d, (w / 2, h * 0.45), brand, _fit_text_size(brand, w * 0.85, h * 0.22), spec["ink"])
        if spec["variant_text"]:
            t = spec["variant_text"]
            text_centered(d, (w / 2, h * 0.65), t, _fit_text_size(t, w * 0.75, h * 0.12), spec["ink"])
        if spec["size_text"]:
            t = spec["size_text"]
            text_centered(d, (w / 2 if style != 2 else w * 0.38, h * 0.84), t,
                           _fit_text_size(t, w * 0.55, h * 0.14), spec["ink"])
    return img


def _paste_label(canvas: Image.Image, spec: dict, box, radius: float = 0.0, with_text: bool = True) -> None:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    label = _label(spec, x1 - x0, y1 - y0, with_text)
    mask = Image.new("L", label.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, label.size[0] - 1, label.size[1] - 1), radius=radius, fill=255)
    canvas.paste(label, (x0, y0), mask)


def _cylinder_shading(img: Image.Image, strength: float = 1.0, vertical: bool = False) -> Image.Image:
    """Light the object as a rounded surface: a highlight left of centre, darker edges."""
    a = np.asarray(img).astype(np.float32)
    alpha = a[..., 3]
    cols = np.flatnonzero(alpha.max(axis=0 if not vertical else 1) > 0)
    if len(cols) < 2:
        return img
    lo, hi = cols[0], cols[-1]
    x = (np.arange(a.shape[1] if not vertical else a.shape[0]) - lo) / max(hi - lo, 1)
    f = 1.0 + strength * (0.28 * np.exp(-((x - 0.3) / 0.13) ** 2) - 0.3 * (x - 0.5) ** 2 * 4 * 0.6)
    f = f[None, :, None] if not vertical else f[:, None, None]
    a[..., :3] = np.clip(a[..., :3] * f, 0, 255)
    return Image.fromarray(a.astype(np.uint8), "RGBA")


# ---------------------------------------------------------------------------------------------- shapes


def _blank_canvas() -> tuple[int, Image.Image, ImageDraw.ImageDraw]:
    """(size, transparent RGBA canvas, its drawing context): where every object is drawn."""
    img = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    return CANVAS, img, ImageDraw.Draw(img)


def _centred_box(width: float, height: float):
    """Top-left corner of a width x height box centred on the canvas, and a function that maps points given
    as fractions of the box to canvas coordinates."""
    x0, y0 = (CANVAS - width) / 2, (CANVAS - height) / 2

    def in_box(points):
        return [(x0 + px * width, y0 + py * height) for px, py in points]

    return x0, y0, in_box


def _bottle(spec: dict) -> Image.Image:
    C, img, d = _blank_canvas()
    cx = C / 2
    bw, bh = 0.34 * C * spec["width"], 0.5 * C * spec["height"]
    bottom = 0.96 * C
    top = bottom - bh
    style = spec["style"]
    if style == 2:  # straight tumbler with a wide lid
        d.rounded_rectangle((cx - bw / 2, top, cx + bw / 2, bottom), radius=bw * 0.12, fill=spec["body"])
        lid_h = 0.1 * C
        d.rounded_rectangle((cx - bw * 0.52, top - lid_h, cx + bw * 0.52, top + 4), radius=lid_h * 0.3,
                            fill=spec["cap"])
        d.rounded_rectangle((cx - bw * 0.15, top - lid_h * 1.5, cx + bw * 0.15, top - lid_h + 2), radius=4,
                            fill=shade(spec["cap"], 0.8))
    else:
        nw, sh, nh, ch = 0.36 * bw, 0.1 * C, 0.06 * C, 0.07 * C
        d.rounded_rectangle((cx - bw / 2, top, cx + bw / 2, bottom), radius=bw * 0.16, fill=spec["body"])
        if style == 0:
            d.polygon([(cx - bw / 2, top + 6), (cx - nw / 2, top - sh), (cx + nw / 2, top - sh),
                       (cx + bw / 2, top + 6)], fill=spec["body"])
        else:
            d.ellipse((cx - bw / 2, top - sh, cx + bw / 2, top + sh), fill=spec["body"])
            d.rectangle((cx - nw / 2, top - sh * 1.1, cx + nw / 2, top), fill=spec["body"])
        d.rectangle((cx - nw / 2, top - sh - nh, cx + nw / 2, top - sh + 2), fill=spec["body"])
        d.rounded_rectangle((cx - nw * 0.62, top - sh - nh - ch, cx + nw * 0.62, top - sh - nh + 3), radius=4,
                            fill=spec["cap"])
    _paste_label(img, spec, (cx - bw / 2, top + bh * 0.14, cx + bw / 2, bottom - bh * 0.1))
    return _cylinder_shading(img)


def _can(spec: dict) -> Image.Image:
    C, img, d = _blank_canvas()
    cx = C / 2
    w, h = 0.5 * C * spec["width"], 0.52 * C * spec["height"] * (0.75 if spec["style"] == 1 else 1.0)
    eh = 0.16 * w
    bottom = 0.94 * C
    top = bottom - h
    silver = (188, 190, 196)
    d.ellipse((cx - w / 2, bottom - eh, cx + w / 2, bottom), fill=shade(silver, 0.8))
    d.rectangle((cx - w / 2, top, cx + w / 2, bottom - eh / 2), fill=spec["body"])
    _paste_label(img, spec, (cx - w / 2, top + eh * 0.6, cx + w / 2, bottom - eh * 0.9))
    d.ellipse((cx - w / 2, top - eh / 2, cx + w / 2, top + eh / 2), fill=silver)
    d.ellipse((cx - w * 0.44, top - eh * 0.4, cx + w * 0.44, top + eh * 0.4), fill=shade(silver, 1.12))
    if spec["style"] == 2:  # pull tab
        d.ellipse((cx - w * 0.1, top - eh * 0.25, cx + w * 0.16, top + eh * 0.2), outline=shade(silver, 0.7), width=3)
    return _cylinder_shading(img)


def _box(spec: dict) -> Image.Image:
    C, img, d = _blank_canvas()
    w, h = 0.48 * C * spec["width"], 0.5 * C * spec["height"]
    dx, dy = 0.16 * C, 0.1 * C
    x0 = (C - w - dx) / 2
    y1 = 0.95 * C
    y0 = y1 - h
    x1 = x0 + w
    d.polygon([(x0, y0), (x0 + dx, y0 - dy), (x1 + dx, y0 - dy), (x1, y0)], fill=shade(spec["body"], 1.25))
    d.polygon([(x1, y0), (x1 + dx, y0 - dy), (x1 + dx, y1 - dy), (x1, y1)], fill=shade(spec["body"], 0.7))
    d.rectangle((x0, y0, x1, y1), fill=spec["body"])
    if spec["style"] == 0:
        _paste_label(img, spec, (x0 + w * 0.08, y0 + h * 0.08, x1 - w * 0.08, y1 - h * 0.08), radius=6)
    else:
        _paste_label(img, spec, (x0, y0 + h * 0.22, x1, y1 - h * 0.05))
        # side print: the logo again
        draw_logo(d, spec["logo"], x1 + dx / 2, (y0 + y1) / 2 - dy / 2, dx * 0.3, spec["logo_colour"])
    return img


def _pouch(spec: dict) -> Image.Image:
    C, img, d = _blank_canvas()
    cx = C / 2
    w, h = 0.52 * C * spec["width"], 0.64 * C * spec["height"]
    bottom = 0.95 * C
    top = bottom - h
    pts = [(cx - w * 0.46, top), (cx + w * 0.46, top)]
    for t in np.linspace(0, 1, 9)[1:]:
        pts.append((cx + w / 2 * (0.92 + 0.08 * math.sin(t * math.pi)), top + h * t * 0.9))
    pts += [(cx + w * 0.42, bottom), (cx - w * 0.42, bottom)]
    for t in np.linspace(1, 0, 9)[:-1]:
        pts.append((cx - w / 2 * (0.92 + 0.08 * math.sin(t * math.pi)), top + h * t * 0.9))
    d.polygon(pts, fill=spec["body"])
    seal = h * 0.07
    d.rectangle((cx - w * 0.46, top, cx + w * 0.46, top + seal), fill=shade(spec["accent"], 0.9))
    for x in np.arange(cx - w * 0.46, cx + w * 0.46, 6):
        d.line((x, top, x + 3, top + 4), fill=shade(spec["accent"], 0.6), width=1)
    d.line((cx - w * 0.44, top + seal * 1.8, cx + w * 0.44, top + seal * 1.8), fill=shade(spec["body"], 0.75), width=3)
    if spec["style"] == 1:  # clear window
        d.ellipse((cx - w * 0.2, bottom - h * 0.3, cx + w * 0.2, bottom - h * 0.08), fill=(150, 100, 60))
    label_bottom = top + h * (0.66 if spec["style"] == 1 else 0.82)
    _paste_label(img, spec, (cx - w * 0.36, top + h * 0.2, cx + w * 0.36, label_bottom), radius=w * 0.05)
    return _cylinder_shading(img, 0.6)


def _jar(spec: dict) -> Image.Image:
    C, img, d = _blank_canvas()
    cx = C / 2
    w, h = 0.54 * C * spec["width"], 0.4 * C * spec["height"]
    bottom = 0.92 * C
    top = bottom - h
    lid_h = 0.13 * C * (1.3 if spec["style"] == 2 else 1.0)
    d.rounded_rectangle((cx - w / 2, top, cx + w / 2, bottom), radius=w * 0.14, fill=spec["body"])
    d.rounded_rectangle((cx - w * 0.48, top - lid_h, cx + w * 0.48, top + 6), radius=8, fill=spec["cap"])
    for x in np.arange(cx - w * 0.44, cx + w * 0.44, 9):
        d.line((x, top - lid_h + 4, x, top), fill=shade(spec["cap"], 0.8), width=2)
    _paste_label(img, spec, (cx - w / 2, top + h * 0.15, cx + w / 2, bottom - h * 0.12))
    return _cylinder_shading(img)


def _tube(spec: dict) -> Image.Image:
    C, img, d = _blank_canvas()
    cx = C / 2
    wt, wb, h = 0.44 * C * spec["width"], 0.26 * C * spec["width"], 0.64 * C * spec["height"]
    top = 0.04 * C
    bottom = top + h
    d.polygon([(cx - wt / 2, top), (cx + wt / 2, top), (cx + wb / 2, bottom), (cx - wb / 2, bottom)], fill=spec["body"])
    crimp = 0.06 * C
    d.rectangle((cx - wt / 2, top, cx + wt / 2, top + crimp), fill=shade(spec["body"], 0.85))
    for x in np.arange(cx - wt / 2, cx + wt / 2, 5):
        d.line((x, top, x, top + crimp), fill=shade(spec["body"], 0.7), width=1)
    cap_h = 0.12 * C
    d.rounded_rectangle((cx - wb * 0.55, bottom - 2, cx + wb * 0.55, bottom + cap_h), radius=6, fill=spec["cap"])
    lw = (wt + wb) / 2 * 0.82
    _paste_label(img, spec, (cx - lw / 2, top + h * 0.2, cx + lw / 2, top + h * 0.78), radius=6)
    return _cylinder_shading(img, 0.8)


def _bag(spec: dict) -> Image.Image:
    C, img, d = _blank_canvas()
    cx = C / 2
    wb, wt, h = 0.7 * C * spec["width"], 0.56 * C * spec["width"], 0.44 * C * spec["height"]
    bottom = 0.95 * C
    top = bottom - h
    strap = spec["accent"] if spec["style"] == 1 else shade(spec["body"], 0.75)
    if spec["style"] == 2:  # long shoulder strap
        d.line([(cx - wt * 0.45, top), (cx - wt * 0.2, 0.05 * C), (cx + wt * 0.2, 0.05 * C), (cx + wt * 0.45, top)],
               fill=strap, width=int(0.025 * C), joint="curve")
    else:
        d.arc((cx - wt * 0.35, top - h * 0.7, cx + wt * 0.35, top + h * 0.5), 180, 360, fill=strap,
              width=int(0.04 * C))
    d.polygon([(cx - wt / 2, top), (cx + wt / 2, top), (cx + wb / 2, bottom), (cx - wb / 2, bottom)], fill=spec["body"])
    # print on the body
    pat = Image.new("RGBA", (int(wb), int(h)), (0, 0, 0, 0))
    _pattern(ImageDraw.Draw(pat), spec["pattern"], pat.size[0], pat.size[1], spec["pattern_colour"] + (110,))
    body_mask = Image.new("L", (C, C), 0)
    outline = [(cx - wt / 2, top), (cx + wt / 2, top), (cx + wb / 2, bottom), (cx - wb / 2, bottom)]
    ImageDraw.Draw(body_mask).polygon(outline, fill=255)
    layer = Image.new("RGBA", (C, C), (0, 0, 0, 0))
    layer.paste(pat, (int(cx - wb / 2), int(top)))
    layer.putalpha(Image.fromarray(np.minimum(np.asarray(layer.getchannel("A")), np.asarray(body_mask))))
    img.alpha_composite(layer)
    d = ImageDraw.Draw(img)
    flap = [(cx - wt / 2, top), (cx + wt / 2, top), (cx + wt * 0.46, top + h * 0.42), (cx, top + h * 0.52),
            (cx - wt * 0.46, top + h * 0.42)]
    d.polygon(flap, fill=shade(spec["body"], 0.85))
    d.rounded_rectangle((cx - 0.05 * C, top + h * 0.44, cx + 0.05 * C, top + h * 0.58), radius=4, fill=(200, 170, 80))
    draw_logo(d, spec["logo"], cx, bottom - h * 0.22, 0.045 * C, spec["logo_colour"])
    return _cylinder_shading(img, 0.5)


def _shoe(spec: dict) -> Image.Image:
    C, img, d = _blank_canvas()
    w, h = 0.9 * C * spec["width"], 0.46 * C * spec["height"]
    x0, y0, in_box = _centred_box(w, h)

    sandal = spec["style"] == 2
    sole = (240, 240, 235) if spec["style"] != 1 else spec["accent"]
    d.rounded_rectangle((x0 + 0.02 * w, y0 + 0.74 * h, x0 + 0.99 * w, y0 + 0.93 * h), radius=0.08 * h, fill=sole)
    d.line(in_box([(0.04, 0.84), (0.97, 0.84)]), fill=shade(sole, 0.8), width=3)
    if sandal:
        d.polygon(in_box([(0.1, 0.75), (0.3, 0.3), (0.6, 0.3), (0.75, 0.75)]), fill=spec["body"])
        d.rectangle(in_box([(0.3, 0.42), (0.6, 0.52)]), fill=spec["accent"])
    else:
        d.polygon(in_box([(0.04, 0.76), (0.05, 0.3), (0.16, 0.2), (0.28, 0.28), (0.45, 0.36), (0.62, 0.42), (0.8, 0.5),
                     (0.95, 0.6), (0.98, 0.76)]), fill=spec["body"])
        d.polygon(in_box([(0.78, 0.5), (0.95, 0.6), (0.98, 0.76), (0.8, 0.76)]), fill=shade(spec["body"], 0.8))
        d.polygon(in_box([(0.2, 0.62), (0.5, 0.48), (0.78, 0.62), (0.5, 0.58)]), fill=spec["logo_colour"])
        for i in range(5):
            t = 0.3 + i * 0.07
            d.line(in_box([(t, 0.3 + i * 0.02), (t + 0.07, 0.45 + i * 0.02)]), fill=(245, 245, 245), width=4)
        d.rectangle(in_box([(0.04, 0.32), (0.12, 0.7)]), fill=spec["pattern_colour"])
    text_centered(d, (x0 + 0.22 * w, y0 + 0.67 * h), spec["brand_text"][:6], int(0.06 * h + 8), spec["ink"])
    return img


def _tshirt(spec: dict) -> Image.Image:
    C, img, d = _blank_canvas()
    w, h = 0.86 * C * spec["width"], 0.84 * C * spec["height"]
    x0, y0, in_box = _centred_box(w, h)

    outline = [(0.32, 0.04), (0.42, 0.08), (0.58, 0.08), (0.68, 0.04), (0.96, 0.2), (0.86, 0.4), (0.75, 0.34),
               (0.75, 0.97), (0.25, 0.97), (0.25, 0.34), (0.14, 0.4), (0.04, 0.2)]
    d.polygon(in_box(outline), fill=spec["body"])
    if spec["style"] == 1:  # horizontal stripes
        mask = Image.new("L", (C, C), 0)
        ImageDraw.Draw(mask).polygon(in_box(outline), fill=255)
        stripes = Image.new("RGBA", (C, C), (0, 0, 0, 0))
        sd = ImageDraw.Draw(stripes)
        for y in np.arange(y0 + 0.2 * h, y0 + h, 0.1 * h):
            sd.rectangle((0, y, C, y + 0.04 * h), fill=spec["pattern_colour"] + (255,))
        stripes.putalpha(Image.fromarray(np.minimum(np.asarray(stripes.getchannel("A")), np.asarray(mask))))
        img.alpha_composite(stripes)
        d = ImageDraw.Draw(img)
    d.chord(in_box([(0.4, -0.04), (0.6, 0.16)])[0] + in_box([(0.4, -0.04), (0.6, 0.16)])[1], 0, 180,
            fill=shade(spec["body"], 0.7))
    # chest print
    cx, cy = x0 + 0.5 * w, y0 + 0.38 * h
    if spec["style"] == 2:
        d.rectangle((x0 + 0.58 * w, y0 + 0.28 * h, x0 + 0.7 * w, y0 + 0.4 * h), fill=shade(spec["body"], 0.85))
        draw_logo(d, spec["logo"], x0 + 0.38 * w, y0 + 0.33 * h, 0.05 * w, spec["logo_colour"])
    else:
        draw_logo(d, spec["logo"], cx, cy, 0.1 * w, spec["logo_colour"])
        ink = (245, 245, 240) if sum(spec["body"]) < 380 else (25, 25, 28)
        text_size = _fit_text_size(spec["brand_text"], 0.36 * w, 0.07 * h)
        text_centered(d, (cx, cy + 0.16 * h), spec["brand_text"], text_size, ink)
    return _cylinder_shading(img, 0.35)


def _phone(spec: dict) -> Image.Image:
    C, img, d = _blank_canvas()
    w, h = 0.4 * C * spec["width"], 0.74 * C * spec["height"]
    x0, y0 = (C - w) / 2, (C - h) / 2
    body_mask = Image.new("L", (C, C), 0)
    ImageDraw.Draw(body_mask).rounded_rectangle((x0, y0, x0 + w, y0 + h), radius=w * 0.16, fill=255)
    d.rounded_rectangle((x0, y0, x0 + w, y0 + h), radius=w * 0.16, fill=spec["body"])
    pat = Image.new("RGBA", (C, C), (0, 0, 0, 0))
    pd = ImageDraw.Draw(pat)
    pd_img = Image.new("RGBA", (int(w), int(h)), (0, 0, 0, 0))
    _pattern(ImageDraw.Draw(pd_img), spec["pattern"], pd_img.size[0], pd_img.size[1], spec["pattern_colour"] + (255,))
    pat.paste(pd_img, (int(x0), int(y0)))
    pat.putalpha(Image.fromarray(np.minimum(np.asarray(pat.getchannel("A")), np.asarray(body_mask))))
    img.alpha_composite(pat)
    d = ImageDraw.Draw(img)
    del pd
    bump = w * 0.38
    d.rounded_rectangle((x0 + w * 0.08, y0 + w * 0.08, x0 + w * 0.08 + bump, y0 + w * 0.08 + bump), radius=bump * 0.2,
                        fill=(35, 35, 40))
    for fx, fy in ((0.3, 0.3), (0.7, 0.3), (0.3, 0.7))[: 2 + spec["style"] % 2]:
        cx, cy, r = x0 + w * 0.08 + bump * fx, y0 + w * 0.08 + bump * fy, bump * 0.16
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(90, 95, 110), outline=(10, 10, 10), width=2)
    draw_logo(d, spec["logo"], x0 + w / 2, y0 + h * 0.52, w * 0.16, spec["logo_colour"])
    text_centered(d, (x0 + w / 2, y0 + h * 0.8), spec["variant_text"] or spec["brand_text"],
                   _fit_text_size(spec["variant_text"] or spec["brand_text"], w * 0.7, h * 0.06), spec["ink"])
    return img


def _powerbank(spec: dict) -> Image.Image:
    C, img, d = _blank_canvas()
    w, h = 0.5 * C * spec["width"], 0.7 * C * spec["height"]
    x0, y0 = (C - w) / 2, (C - h) / 2
    d.rounded_rectangle((x0, y0, x0 + w, y0 + h), radius=w * 0.12, fill=spec["body"])
    d.rounded_rectangle((x0 + w * 0.08, y0 + h * 0.08, x0 + w * 0.92, y0 + h * 0.3), radius=6, fill=(25, 25, 30))
    text_centered(d, (x0 + w / 2, y0 + h * 0.19), "88%", int(h * 0.08), (80, 220, 255))
    for i in range(4):
        cx = x0 + w * (0.3 + 0.13 * i)
        lit = (90, 200, 255) if i < 3 else (60, 60, 60)
        d.ellipse((cx - 4, y0 + h * 0.36 - 4, cx + 4, y0 + h * 0.36 + 4), fill=lit)
    _paste_label(img, spec, (x0 + w * 0.1, y0 + h * 0.44, x0 + w * 0.9, y0 + h * 0.92), radius=6)
    return _cylinder_shading(img, 0.4)


SHAPES = {
    "bottle": _bottle, "can": _can, "box": _box, "pouch": _pouch, "jar": _jar, "tube": _tube, "bag": _bag,
    "shoe": _shoe, "tshirt": _tshirt, "phone": _phone, "powerbank": _powerbank,
}


def render_object(spec: dict) -> Image.Image:
    """The product as an RGBA cut-out (transparent background), cropped to its bounding box, ~190 px."""
    img = SHAPES[spec["shape"]](spec)
    box = img.getchannel("A").getbbox() or (0, 0, img.size[0], img.size[1])
    img = img.crop(box)
    return img.resize((max(1, img.size[0] // 2), max(1, img.size[1] // 2)), Image.LANCZOS)


# ---------------------------------------------------------------------------------------------- photos
