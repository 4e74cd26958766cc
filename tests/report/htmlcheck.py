"""Static checks of a rendered report: structure, embedded images, nothing loaded from outside."""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser

from PIL import Image


@dataclass
class Parsed:
    ids: list[str] = field(default_factory=list)
    tags: dict[str, int] = field(default_factory=dict)
    images: list[dict] = field(default_factory=list)  # attributes of every <img>
    links: list[str] = field(default_factory=list)  # every href / src outside <img>
    text: list[str] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = Parsed()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.out.tags[tag] = self.out.tags.get(tag, 0) + 1
        if "id" in attrs:
            self.out.ids.append(attrs["id"])
        if tag == "img":
            self.out.images.append(attrs)
        else:
            self.out.links += [attrs[k] for k in ("href", "src") if attrs.get(k)]

    def handle_data(self, data):
        if data.strip():
            self.out.text.append(data.strip())


def parse(html: str) -> Parsed:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.out


def decode_data_uri(uri: str) -> tuple[str, bytes]:
    assert uri.startswith("data:"), f"not a data URI: {uri[:60]}"
    header, _, payload = uri.partition(",")
    assert header.endswith(";base64"), f"not base64: {header}"
    return header[5:-7], base64.b64decode(payload, validate=True)


def check_image(uri: str) -> tuple[str, tuple[int, int] | None]:
    """Decode an <img> data URI fully; returns (mime, raster size or None for SVG)."""
    mime, payload = decode_data_uri(uri)
    if mime == "image/svg+xml":
        root = ET.fromstring(payload)
        assert root.tag.endswith("svg"), root.tag
        return mime, None
    assert mime in ("image/jpeg", "image/png"), mime
    with Image.open(io.BytesIO(payload)) as image:
        image.load()
        assert image.format == mime.split("/")[1].upper().replace("JPG", "JPEG")
        return mime, image.size
