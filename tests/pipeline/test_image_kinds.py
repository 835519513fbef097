"""What counts as an uploadable value image: a real GIF, JPEG or PNG by content, at most 8 MB."""

from __future__ import annotations

import struct
import zlib

import pytest

from pipeline.image_kinds import GIF, JPEG, PNG, image_kind, image_problem
from pipeline.modifier_types import IMAGE_MAX_BYTES
from tests.pipeline.image_server import GIF as GIF_BYTES
from tests.pipeline.image_server import JPEG as JPEG_BYTES
from tests.pipeline.image_server import PNG as PNG_BYTES

WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
BMP = b"BM" + b"\x00" * 12 + (40).to_bytes(4, "little") + b"\x00" * 40


def _png_with_header(header: bytes) -> bytes:
    chunk = struct.pack(">I", len(header)) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    return b"\x89PNG\r\n\x1a\n" + chunk + PNG_BYTES[33:]


@pytest.mark.parametrize("data, kind", [(PNG_BYTES, PNG), (JPEG_BYTES, JPEG), (GIF_BYTES, GIF)])
def test_real_gif_jpeg_and_png_are_recognised(data: bytes, kind) -> None:
    assert image_kind(data) is kind and image_problem(data) is None
    assert image_kind(data + b"\0" * 100) is kind  # bytes after the image do not change what it is


@pytest.mark.parametrize("data, words", [
    (b"", "is empty"),
    (b"<!doctype html><html>Not found</html>", "is not a GIF, JPEG or PNG image"),
    (WEBP, "is not a GIF, JPEG or PNG image"),  # the endpoint takes GIF, JPEG and PNG only
    (BMP, "is not a GIF, JPEG or PNG image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "starts like a PNG image but its header is damaged"),
    (PNG_BYTES[:30] + b"\xff" * 3 + PNG_BYTES[33:], "header is damaged"),  # IHDR's CRC does not match
    (_png_with_header(struct.pack(">IIBBBBB", 0, 4, 8, 2, 0, 0, 0)), "header is damaged"),  # zero width
    (_png_with_header(struct.pack(">IIBBBBB", 4, 4, 3, 2, 0, 0, 0)), "header is damaged"),  # RGB at 3 bits
    (PNG_BYTES[:-12], "is an incomplete PNG image"),  # cut before IEND
    (b"\xff\xd8\xff\x00\x00\x10", "starts like a JPEG image but its header is damaged"),
    (b"\xff\xd8", "starts like a JPEG image but its header is damaged"),
    (b"GIF89a\x00\x00\x01\x00" + b"\0" * 8, "starts like a GIF image but its header is damaged"),  # width 0
    (b"GIF8", "header is damaged"),
])
def test_other_bytes_are_refused_with_a_reason(data: bytes, words: str) -> None:
    problem = image_problem(data)
    assert problem is not None and words in problem


def test_the_limit_is_8_mb_exactly() -> None:
    at_limit = PNG_BYTES + b"\0" * (IMAGE_MAX_BYTES - len(PNG_BYTES))
    assert image_problem(at_limit) is None
    problem = image_problem(at_limit + b"\0")
    assert problem is not None and "larger than 8 MB (8,388,608 bytes)" in problem
