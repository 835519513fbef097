"""Value images for an apply: a file inside the workbook's folder, or an http(s) URL.

A local path must stay inside the folder that holds the workbook (no `..`, no absolute path
elsewhere, no symlink leading out), exist, weigh at most 8 MB and be a real GIF, JPEG or PNG by
its content (`pipeline.image_kinds`), whatever its name says. A URL is downloaded by
`pipeline.image_fetch` under an `ImagePolicy`: http(s) only, public hosts only (loopback too when
the store is a local sandbox), redirects checked hop by hop, at most 8 MB counted as read. Every
refusal is an `ImageError` whose message is one sentence naming the file, sheet, row and column.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx

from pipeline.image_fetch import FetchRefused, ImagePolicy, fetch_image, url_scheme
from pipeline.image_kinds import image_kind, image_problem
from pipeline.modifier_types import IMAGE_MAX_BYTES
from pipeline.plan.operations import RowRef

COLUMN = "image_url"


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


def where(source: RowRef | None, workbook: str | Path | None = None) -> str:
    """`edit.xlsx, sheet 'Choice values', row 7, column 'image_url'`: the cell that names the image, said
    as validation says where an issue is."""
    place = f"sheet {source.sheet!r}, row {source.row}, column {COLUMN!r}" if source else "this operation"
    return f"{Path(workbook).name}, {place}" if workbook else place


def is_url(text: str) -> bool:
    """Whether `text` is an address (any scheme: `ftp:` or `file:` is refused, never read as a path)."""
    return url_scheme(text) is not None


def _image_file(data: bytes, name: str) -> ImageFile:
    kind = image_kind(data)
    assert kind is not None  # checked by image_problem
    stem = PurePosixPath(name).stem or "image"
    return ImageFile(f"{stem}.{kind.extension}", data, kind.content_type)


def resolve_local(text: str, workbook_dir: Path, source: RowRef | None = None,
                  workbook: str | Path | None = None) -> Path:
    """The file `text` names, resolved inside `workbook_dir`; `ImageError` if it escapes or is missing."""
    row = where(source, workbook)
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


def load_local(text: str, workbook_dir: Path, source: RowRef | None = None,
               workbook: str | Path | None = None) -> ImageFile:
    """Read and check an image file named relative to `workbook_dir`."""
    path = resolve_local(text, workbook_dir, source, workbook)
    row = where(source, workbook)
    try:
        size = path.stat().st_size
        if size > IMAGE_MAX_BYTES:
            raise ImageError(f"{row}: the image file {text!r} is {size:,} bytes ({size / 2**20:.1f} MB); "
                             f"BigCommerce takes at most 8 MB ({IMAGE_MAX_BYTES:,} bytes), make it smaller.")
        with path.open("rb") as handle:
            data = handle.read(IMAGE_MAX_BYTES + 1)
    except OSError as exc:
        raise ImageError(f"{row}: the image file {text!r} cannot be read ({exc.strerror or exc}).") from None
    if problem := image_problem(data):
        raise ImageError(f"{row}: the image file {text!r} {problem}.")
    return _image_file(data, path.name)


async def download(url: str, source: RowRef | None = None, *, policy: ImagePolicy | None = None,
                   transport: httpx.AsyncBaseTransport | None = None,
                   workbook: str | Path | None = None) -> ImageFile:
    """Download and check an http(s) image under `policy` (public hosts only by default); see
    `pipeline.image_fetch.fetch_image` for `transport`."""
    try:
        fetched = await fetch_image(url, policy=policy, transport=transport)
    except FetchRefused as exc:
        raise ImageError(f"{where(source, workbook)}: {exc}.") from None
    return _image_file(fetched.data, fetched.name)


async def load_image(image: str, workbook_dir: Path, source: RowRef | None = None, *,
                     transport: httpx.AsyncBaseTransport | None = None, policy: ImagePolicy | None = None,
                     workbook: str | Path | None = None) -> ImageFile:
    """The checked image an upload operation names: a URL (downloaded under `policy`) or a file in
    `workbook_dir`. `workbook` (the edited file) only names the row in messages.

    An apply passes `ImagePolicy.for_stores(client.base_url)`, so a local sandbox's own image
    URLs work; without a policy only public hosts are allowed."""
    if not image or not image.strip():
        raise ImageError(f"{where(source, workbook)}: no image given.")
    if is_url(image):
        return await download(image, source, policy=policy, transport=transport, workbook=workbook)
    return await asyncio.to_thread(load_local, image, workbook_dir, source, workbook)
