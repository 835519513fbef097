"""Which bytes BigCommerce takes as a value image: a real GIF, JPEG or PNG of at most 8 MB.

The modifier image endpoint documents "a GIF, JPEG, or PNG image. Limit of 8MB per file", so
that is what validation, the apply (files and downloads alike) and the migration accept. A name
or a Content-Type proves nothing: the kind is read from the magic bytes and the header that
follows them, so an HTML error page, a truncated download or a renamed file is refused before
anything is sent to the store. The module is pure (bytes in, verdict out) so every stage can
share it without importing each other.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Final

from pipeline.modifier_types import IMAGE_MAX_BYTES

ACCEPTED: Final = "a GIF, JPEG or PNG image"


@dataclass(frozen=True)
class ImageKind:
    """One accepted kind: its name for messages, file extension and content type for the upload."""

    name: str
    extension: str
    content_type: str


PNG: Final = ImageKind("PNG", "png", "image/png")
JPEG: Final = ImageKind("JPEG", "jpg", "image/jpeg")
GIF: Final = ImageKind("GIF", "gif", "image/gif")
KINDS: Final = (GIF, JPEG, PNG)

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_IEND: Final = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the closing chunk, CRC included
# colour type -> allowed bit depths (PNG spec, table 11.1)
_PNG_DEPTHS: Final = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
# markers that may follow a JPEG's SOI: APPn, DQT, DHT, SOFn, DRI, COM (all carry a length)
_JPEG_FIRST_MARKERS: Final = frozenset({*range(0xE0, 0xF0), 0xDB, 0xC4, *range(0xC0, 0xD0), 0xDD, 0xFE}) - {0xC8, 0xCC}


def _png_header_ok(data: bytes) -> bool:
    # signature, then IHDR: length 13, type, 13 bytes of header, CRC
    if len(data) < 33 or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        return False
    width, height, depth, colour, compression, filter_method, interlace = struct.unpack(">IIBBBBB", data[16:29])
    return (0 < width < 2**31 and 0 < height < 2**31 and depth in _PNG_DEPTHS.get(colour, ())
            and compression == 0 and filter_method == 0 and interlace in (0, 1)
            and struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29]))


def _jpeg_header_ok(data: bytes) -> bool:
    # SOI, then a marker segment with a length of at least 2 (the length counts itself)
    return (len(data) >= 6 and data[:3] == b"\xff\xd8\xff" and data[3] in _JPEG_FIRST_MARKERS
            and struct.unpack(">H", data[4:6])[0] >= 2)


def _gif_header_ok(data: bytes) -> bool:
    # signature and logical screen descriptor (width, height, flags, background, aspect)
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        return False
    width, height = struct.unpack("<HH", data[6:10])
    return width > 0 and height > 0


def image_kind(data: bytes) -> ImageKind | None:
    """The kind of `data` when it starts as a real GIF, JPEG or PNG (magic bytes and a sound
    header), else None."""
    if data.startswith(_PNG_SIGNATURE):
        return PNG if _png_header_ok(data) else None
    if data.startswith(b"\xff\xd8"):
        return JPEG if _jpeg_header_ok(data) else None
    if data.startswith(b"GIF8"):
        return GIF if _gif_header_ok(data) else None
    return None


def image_problem(data: bytes) -> str | None:
    """Why `data` cannot be uploaded as a value image (one phrase, e.g. "is empty"), or None.

    A PNG must also hold its closing IEND chunk, which a download cut short (or a body whose
    Content-Length lied) lacks; JPEG and GIF files often carry bytes after their end marker, so
    only their header is judged."""
    if not data:
        return "is empty"
    if len(data) > IMAGE_MAX_BYTES:
        return f"is larger than 8 MB ({IMAGE_MAX_BYTES:,} bytes), BigCommerce's limit"
    kind = image_kind(data)
    if kind is None:
        started = next((k.name for k, magic in ((PNG, _PNG_SIGNATURE), (JPEG, b"\xff\xd8"), (GIF, b"GIF8"))
                        if data.startswith(magic)), None)
        if started:
            return f"starts like a {started} image but its header is damaged; it is not {ACCEPTED}"
        return f"is not {ACCEPTED} (checked by its content, not its name)"
    if kind is PNG and data.rfind(_PNG_IEND) < 0:
        return "is an incomplete PNG image (its end is missing: the file was cut short)"
    return None
