"""Value images: accept only what BigCommerce takes (a real GIF, JPEG or PNG of at most 8 MB, by
content, not by name) and store them on disk.

The check is `pipeline.image_kinds`, the one validation and the apply use, so the sandbox never
takes a file (a WEBP, a BMP) that the store would refuse, nor refuses one bcmod would send.

Uploads are named by content hash, so re-uploading the same file after a dropped connection
stores it once, and two sandboxes given the same file name it alike. Seed images are named by
the generator and drawn from their name, so two sandboxes seeded alike hold the same image under
the same name. URLs are kept relative (`/_sandbox/images/...`) and made absolute per response on
the sandbox's image origin (`render.py`), so a database works under any host and port.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.image_kinds import image_kind, image_problem

URL_PREFIX = "/_sandbox/images/"
SEED_DIR = "seed"
UPLOAD_DIR = "uploads"


def check_upload(data: bytes) -> str | None:
    """Why an upload is refused (a message for `errors.image_file`), or None if it is fine."""
    problem = image_problem(data)
    return f"The image file {problem}." if problem else None


def save_upload(images_dir: Path, data: bytes) -> str:
    """Store a checked image and return its relative URL."""
    kind = image_kind(data)
    if kind is None:
        raise ValueError("not an image; call check_upload first")
    name = f"{hashlib.sha256(data).hexdigest()[:24]}.{kind.extension}"
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
    kind = image_kind(data)
    return data, kind.content_type if kind else "application/octet-stream"


def _seed_image(name: str) -> bytes | None:
    try:
        from sample_data.generator import seed_image_bytes
    except ImportError:
        return None
    return seed_image_bytes(name)
