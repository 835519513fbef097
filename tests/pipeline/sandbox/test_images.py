"""Value image upload: a real GIF, JPEG or PNG only (by content, `pipeline.image_kinds`), at most 8 MB,
served back without a token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pipeline.image_kinds import image_kind, image_problem
from pipeline.modifier_types import IMAGE_MAX_BYTES
from pipeline.sandbox.images import check_upload

from .support import API, SPEC_CHECK, assert_error, client_for, modifier_body, png_bytes

pytestmark = pytest.mark.anyio
MODS = f"{API}/catalog/products/1/modifiers"


async def _value_url(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    modifier = (await client.post(MODS, json=modifier_body("radio_buttons"))).json()["data"]
    value = modifier["option_values"][0]
    return f"{MODS}/{modifier['id']}/values/{value['id']}", value


async def test_png_upload_sets_image_url_and_is_served(client: httpx.AsyncClient) -> None:
    url, _ = await _value_url(client)
    image = png_bytes()
    r = await client.post(f"{url}/image", files={"image_file": ("swatch.png", image, "image/png")})
    assert r.status_code == 200, r.text
    image_url = r.json()["data"]["image_url"]
    assert r.json()["meta"] == {}
    assert image_url.startswith("http://sandbox.test/_sandbox/images/uploads/") and image_url.endswith(".png")
    assert (await client.get(url)).json()["data"]["adjusters"]["image_url"] == image_url
    async with httpx.AsyncClient(transport=client._transport, base_url="http://sandbox.test") as anonymous:
        served = await anonymous.get(image_url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.content == image


async def test_image_named_by_content_so_reuploads_are_idempotent(client: httpx.AsyncClient) -> None:
    url, _ = await _value_url(client)
    first = (await client.post(f"{url}/image", files={"image_file": ("a.png", png_bytes())})).json()
    second = (await client.post(f"{url}/image", files={"image_file": ("b.png", png_bytes())})).json()
    assert first == second


@pytest.mark.parametrize(("name", "content"), [
    ("fake.png", b"this is not an image at all"),
    ("script.png", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>"),
    ("empty.png", b""),
])
async def test_non_images_are_refused(client: httpx.AsyncClient, name: str, content: bytes) -> None:
    url, value = await _value_url(client)
    r = await client.post(f"{url}/image", files={"image_file": (name, content, "image/png")})
    assert_error(r, 422, "image_file")
    assert (await client.get(url)).json()["data"]["adjusters"]["image_url"] == value["adjusters"]["image_url"]


async def test_over_8mb_is_refused(client: httpx.AsyncClient) -> None:
    url, _ = await _value_url(client)
    big = png_bytes() + b"\x00" * (IMAGE_MAX_BYTES + 1 - len(png_bytes()))
    body = assert_error(await client.post(f"{url}/image", files={"image_file": ("big.png", big)}), 422, "image_file")
    assert "8 MB" in body["errors"]["image_file"]


async def test_missing_field_or_not_multipart(client: httpx.AsyncClient) -> None:
    """Strict: the spec wants multipart/form-data with an `image_file` part (errata: image-file-required)."""
    url, _ = await _value_url(client)
    not_multipart = "header.Content-Type" if SPEC_CHECK else "image_file"
    assert_error(await client.post(f"{url}/image", files={"picture": ("a.png", png_bytes())}), 422, "image_file")
    assert_error(await client.post(f"{url}/image", data={"image_file": "https://x/y.png"}), 422, not_multipart)
    assert_error(await client.post(f"{url}/image", json={"image_file": "a.png"}), 422, not_multipart)


async def test_missing_field_or_not_multipart_by_own_rules(make_app: Callable[..., Starlette]) -> None:
    """Non-strict, the sandbox's own rule: anything but a file part named image_file is refused on that name."""
    async with client_for(make_app(strict=False)) as client:
        url, _ = await _value_url(client)
        assert_error(await client.post(f"{url}/image", files={"picture": ("a.png", png_bytes())}), 422, "image_file")
        assert_error(await client.post(f"{url}/image", data={"image_file": "https://x/y.png"}), 422, "image_file")
        assert_error(await client.post(f"{url}/image", json={"image_file": "a.png"}), 422, "image_file")
        texts = {"image_file": (None, "not a file")}  # a text part of that name: the spec allows it, the sandbox not
        assert_error(await client.post(f"{url}/image", files=texts), 422, "image_file")


async def test_upload_to_unknown_value_is_404(client: httpx.AsyncClient) -> None:
    assert_error(await client.post(f"{MODS}/1/values/2/image", files={"image_file": ("a.png", png_bytes())}), 404)


async def test_seed_images_are_drawn_when_not_on_disk(client: httpx.AsyncClient) -> None:
    r = await client.get("/_sandbox/images/seed/pattern.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert image_kind(r.content).content_type == "image/png"


@pytest.mark.parametrize("path", ["/_sandbox/images/uploads/missing.png", "/_sandbox/images/../store.sqlite3",
                                  "/_sandbox/images/%2e%2e/store.sqlite3", "/_sandbox/images/"])
async def test_missing_or_escaping_image_paths_are_404(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 404


BMP = b"BM" + (70).to_bytes(4, "little") + b"\x00" * 4 + (54).to_bytes(4, "little") + (40).to_bytes(4, "little") \
    + b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x18\x00" + b"\x00" * 40  # a sound 2x2 24-bit bitmap
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


@pytest.mark.parametrize(("data", "kind"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 20, "image/jpeg"),
    (b"GIF89a\x01\x00\x01\x00" + b"\x00" * 20, "image/gif"),
    (WEBP, None),
    (BMP, None),
    (b"BM not really a bitmap header at all....", None),
])
def test_the_sandbox_takes_the_kinds_validation_and_apply_take(data: bytes, kind: str | None) -> None:
    """One image check for validate, apply and the sandbox: the sandbox's verdict is image_kinds'."""
    found = image_kind(data)
    assert (found.content_type if found else None) == kind
    assert (check_upload(data) is None) == (kind is not None) == (image_problem(data) is None)


@pytest.mark.parametrize(("name", "content"), [("swatch.bmp", BMP), ("swatch.webp", WEBP)])
async def test_a_bmp_or_webp_upload_is_refused_as_bigcommerce_does(client: httpx.AsyncClient, name: str,
                                                                   content: bytes) -> None:
    """The spec's value image endpoint takes "a GIF, JPEG, or PNG image": anything else is a 422 in
    BigCommerce's error shape naming `image_file`, and the value keeps its image."""
    url, value = await _value_url(client)
    r = await client.post(f"{url}/image", files={"image_file": (name, content, "image/bmp")})
    body = assert_error(r, 422, "image_file")
    assert "GIF, JPEG or PNG" in body["errors"]["image_file"]
    assert (await client.get(url)).json()["data"]["adjusters"]["image_url"] == value["adjusters"]["image_url"]
