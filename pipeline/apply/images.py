"""Value images for an apply: a file inside the workbook's folder, or an http(s) URL.

A local path must stay inside the folder that holds the workbook (no `..`, no absolute path
elsewhere, no symlink leading out), exist, weigh at most 8 MB and be a real image by its magic
bytes (PNG, JPEG, GIF, WEBP, BMP), whatever its name says. A URL is downloaded with httpx,
streamed with a cap so a huge or endless body is cut off at 8 MB + 1 byte, and checked the same
way. Every refusal is an `ImageError` whose message is one sentence naming the row.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import httpx

from pipeline.modifier_types import IMAGE_MAX_BYTES
from pipeline.plan.operations import RowRef
from pipeline.sandbox.images import sniff_image

DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
KINDS = "a PNG, JPEG, GIF, WEBP or BMP image"


class ImageError(ValueError):
    """An image that cannot be uploaded; the message says which row and why."""


@dataclass(frozen=True)
class ImageFile:
    """Checked image bytes, ready for the multipart `image_file` field."""

    filename: str
    data: bytes
    content_type: str

    def as_files(self) -> dict[str, tuple[str, bytes, str]]:
        return {"image_file": (self.filename, self.data, self.content_type)}


def where(source: RowRef | None) -> str:
    return f"{source.sheet} row {source.row}" if source else "this operation"


def is_url(text: str) -> bool:
    return text.strip().lower().startswith(("http://", "https://"))


def _checked(data: bytes, name: str, origin: str, row: str) -> ImageFile:
    if not data:
        raise ImageError(f"{row}: the image {origin} is empty.")
    if len(data) > IMAGE_MAX_BYTES:
        raise ImageError(f"{row}: the image {origin} is larger than 8 MB ({IMAGE_MAX_BYTES:,} bytes), "
                         "BigCommerce's limit; make it smaller.")
    kind = sniff_image(data)
    if kind is None:
        raise ImageError(f"{row}: {origin} is not {KINDS} (checked by its content, not its name).")
    ext, content_type = kind
    stem = PurePosixPath(name).stem or "image"
    return ImageFile(f"{stem}.{ext}", data, content_type)


def resolve_local(text: str, workbook_dir: Path, source: RowRef | None = None) -> Path:
    """The file `text` names, resolved inside `workbook_dir`; `ImageError` if it escapes or is missing."""
    row = where(source)
    root = workbook_dir.resolve()
    relative = PurePosixPath(text.strip().replace("\\", "/"))
    if Path(text.strip()).is_absolute() or relative.is_absolute() or (relative.parts and ":" in relative.parts[0]):
        candidate = Path(text.strip())
    else:
        candidate = root / relative
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise ImageError(f"{row}: the image path {text!r} cannot be followed ({exc}).") from None
    if not resolved.is_relative_to(root) or resolved == root:
        raise ImageError(f"{row}: the image path {text!r} points outside the workbook's folder ({root}); "
                         "copy the image into that folder and write its name relative to it, e.g. images/red.png.")
    if not resolved.is_file():
        raise ImageError(f"{row}: the image file {text!r} does not exist (looked for {resolved}).")
    return resolved


def load_local(text: str, workbook_dir: Path, source: RowRef | None = None) -> ImageFile:
    """Read and check an image file named relative to `workbook_dir`."""
    path = resolve_local(text, workbook_dir, source)
    row = where(source)
    try:
        size = path.stat().st_size
        if size > IMAGE_MAX_BYTES:
            raise ImageError(f"{row}: the image file {text!r} is {size:,} bytes ({size / 2**20:.1f} MB); "
                             f"BigCommerce takes at most 8 MB ({IMAGE_MAX_BYTES:,} bytes), make it smaller.")
        with path.open("rb") as handle:
            data = handle.read(IMAGE_MAX_BYTES + 1)
    except OSError as exc:
        raise ImageError(f"{row}: the image file {text!r} cannot be read ({exc.strerror or exc}).") from None
    return _checked(data, path.name, f"file {text!r}", row)


async def download(url: str, source: RowRef | None = None, *,
                   transport: httpx.AsyncBaseTransport | None = None) -> ImageFile:
    """Download an http(s) image, reading at most 8 MB + 1 byte of it."""
    row = where(source)
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageError(f"{row}: {url!r} is not a complete http(s) web address.")
    chunks: list[bytes] = []
    received = 0
    try:
        async with httpx.AsyncClient(transport=transport, timeout=DOWNLOAD_TIMEOUT, follow_redirects=True,
                                     max_redirects=5) as http:
            async with http.stream("GET", url.strip()) as response:
                if response.status_code != 200:
                    raise ImageError(f"{row}: downloading the image {url!r} answered HTTP {response.status_code}.")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > IMAGE_MAX_BYTES:
                    raise ImageError(f"{row}: the image at {url!r} is {int(declared):,} bytes; BigCommerce takes "
                                     f"at most 8 MB ({IMAGE_MAX_BYTES:,} bytes).")
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    received += len(chunk)
                    if received > IMAGE_MAX_BYTES:
                        break
    except httpx.HTTPError as exc:
        raise ImageError(f"{row}: the image {url!r} could not be downloaded ({type(exc).__name__}: {exc}).") from None
    return _checked(b"".join(chunks), PurePosixPath(parts.path).name, f"at {url!r}", row)


async def load_image(image: str, workbook_dir: Path, source: RowRef | None = None, *,
                     transport: httpx.AsyncBaseTransport | None = None) -> ImageFile:
    """The checked image an upload operation names: a URL (downloaded) or a file in `workbook_dir`."""
    if not image or not image.strip():
        raise ImageError(f"{where(source)}: no image given.")
    if is_url(image):
        return await download(image, source, transport=transport)
    return await asyncio.to_thread(load_local, image, workbook_dir, source)
