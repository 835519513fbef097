"""Value images: accept only real images (by magic bytes, not by name) and store them on disk.

Uploads are named by content hash, so re-uploading the same file after a dropped connection
stores it once, and two sandboxes given the same file name it alike. Seed images are named by
the generator and drawn from their name, so two sandboxes seeded alike hold the same image under
the same name. URLs are kept relative (`/_sandbox/images/...`) and made absolute per response on
the sandbox's image origin (`render.py`), so a database works under any host and port.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.modifier_types import IMAGE_MAX_BYTES

URL_PREFIX = "/_sandbox/images/"
SEED_DIR = "seed"
UPLOAD_DIR = "uploads"
_BMP_DIB_HEADER_SIZES = frozenset((12, 40, 52, 56, 64, 108, 124))


def sniff_image(data: bytes) -> tuple[str, str] | None:
    """(extension, content type) of a PNG/JPEG/GIF/WEBP/BMP image, or None if it is not one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg", "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif", "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", "image/webp"
    if len(data) >= 26 and data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in _BMP_DIB_HEADER_SIZES:
        return "bmp", "image/bmp"
    return None


def check_upload(data: bytes) -> str | None:
    """Why an upload is refused (a message for `errors.image_file`), or None if it is fine."""
    if not data:
        return "The image file is empty."
    if len(data) > IMAGE_MAX_BYTES:
        return f"The image file is {len(data)} bytes; the limit is {IMAGE_MAX_BYTES} bytes (8 MB)."
    if sniff_image(data) is None:
        return "The file is not a PNG, JPEG, GIF, WEBP or BMP image."
    return None


def save_upload(images_dir: Path, data: bytes) -> str:
    """Store a checked image and return its relative URL."""
    kind = sniff_image(data)
    if kind is None:
        raise ValueError("not an image; call check_upload first")
    name = f"{hashlib.sha256(data).hexdigest()[:24]}.{kind[0]}"
    target = images_dir / UPLOAD_DIR / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return f"{URL_PREFIX}{UPLOAD_DIR}/{name}"


def load_image(images_dir: Path, relative: str) -> tuple[bytes, str] | None:
    """Bytes and content type of a stored image, or None (also for paths escaping the folder).

    Seed images that are not on disk are drawn by `sample_data.generator.seed_image_bytes`, so a
    generated catalog needs no image files.
    """
    root = images_dir.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or target == root:
        return None
    if target.is_file():
        data = target.read_bytes()
    elif target.parent == root / SEED_DIR:
        data = _seed_image(target.name)
        if data is None:
            return None
    else:
        return None
    kind = sniff_image(data)
    return (data, kind[1]) if kind else (data, "application/octet-stream")


def _seed_image(name: str) -> bytes | None:
    try:
        from sample_data.generator import seed_image_bytes
    except ImportError:
        return None
    return seed_image_bytes(name)
