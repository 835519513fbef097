"""Value images: files confined to the workbook's folder, URLs downloaded with a cap, real images only."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from pipeline.apply import ImageError, Journal, apply_plan, load_image
from pipeline.apply.images import load_local
from pipeline.client import BigCommerceClient
from pipeline.modifier_types import IMAGE_MAX_BYTES
from pipeline.plan.operations import OpKind, RowRef
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.settings import Settings
from sample_data.generator import png_bytes
from tests.pipeline.apply.support import first_of_type, make_op, plan_of, products_of
from tests.stores import TEST_TOKEN, sandbox_store

pytestmark = pytest.mark.anyio
ROW = RowRef("Choice values", 7)
PNG = png_bytes(b"\x01\x02\x03")
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
BMP = b"BM" + b"\x00" * 12 + (40).to_bytes(4, "little") + b"\x00" * 40


@pytest.fixture
def folder(folder: Path) -> Path:
    (folder / "images" / "red.png").write_bytes(PNG)
    return folder


@pytest.mark.parametrize("data, ext, content_type", [
    (PNG, "png", "image/png"), (JPEG, "jpg", "image/jpeg"), (GIF, "gif", "image/gif"),
    (WEBP, "webp", "image/webp"), (BMP, "bmp", "image/bmp"),
])
def test_a_real_image_inside_the_folder_is_accepted(folder: Path, data: bytes, ext: str, content_type: str) -> None:
    (folder / "images" / "pic.data").write_bytes(data)
    image = load_local("images/pic.data", folder, ROW)
    assert (image.data, image.content_type, image.filename) == (data, content_type, f"pic.{ext}")
    assert image.as_files() == {"image_file": (f"pic.{ext}", data, content_type)}


def test_backslashes_and_dot_segments_that_stay_inside_are_fine(folder: Path) -> None:
    assert load_local("images\\red.png", folder, ROW).data == PNG
    assert load_local("./images/../images/red.png", folder, ROW).data == PNG
    assert load_local(str(folder / "images" / "red.png"), folder, ROW).data == PNG  # absolute, but inside


@pytest.mark.parametrize("name, words", [
    ("../outside.png", "points outside the workbook's folder"),
    ("images/../../outside.png", "points outside the workbook's folder"),
    ("ABSOLUTE", "points outside the workbook's folder"),
    ("images/missing.png", "does not exist"),
    ("images", "does not exist"),
    ("", "no image given"),
])
async def test_paths_outside_the_folder_or_missing_are_refused(folder: Path, name: str, words: str) -> None:
    if name == "ABSOLUTE":
        name = str(folder.parent / "outside.png")
    with pytest.raises(ImageError) as caught:
        await load_image(name, folder, ROW)
    message = str(caught.value)
    assert message.startswith("Choice values row 7: ") and words in message


def test_a_symlink_leading_out_of_the_folder_is_refused(folder: Path) -> None:
    os.symlink(folder.parent / "outside.png", folder / "images" / "sneaky.png")
    os.symlink(folder.parent, folder / "up")
    for name in ("images/sneaky.png", "up/outside.png"):
        with pytest.raises(ImageError, match="points outside the workbook's folder"):
            load_local(name, folder, ROW)
    os.symlink(folder / "images" / "red.png", folder / "inside-link.png")
    assert load_local("inside-link.png", folder, ROW).data == PNG  # a link that stays inside is fine


def test_too_big_and_not_an_image_are_refused(folder: Path) -> None:
    big = folder / "images" / "big.png"
    with big.open("wb") as handle:
        handle.write(PNG)
        handle.truncate(IMAGE_MAX_BYTES + 1)
    with pytest.raises(ImageError, match=r"row 7: the image file 'images/big.png' is 8,388,609 bytes \(8.0 MB\)"):
        load_local("images/big.png", folder, ROW)
    exactly = folder / "images" / "max.png"
    with exactly.open("wb") as handle:
        handle.write(PNG)
        handle.truncate(IMAGE_MAX_BYTES)
    assert len(load_local("images/max.png", folder, ROW).data) == IMAGE_MAX_BYTES
    (folder / "images" / "fake.png").write_text("<html>not an image</html>")
    with pytest.raises(ImageError, match="is not a PNG, JPEG, GIF, WEBP or BMP image"):
        load_local("images/fake.png", folder, ROW)
    (folder / "images" / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match="is empty"):
        load_local("images/empty.png", folder, ROW)


@pytest.fixture
def served(tmp_path: Path):
    """A sandbox over HTTP on 127.0.0.1 that also serves a too-big file and a non-image."""
    config = SandboxConfig(data_dir=tmp_path / "served", products=12, token=TEST_TOKEN, quota=None)
    uploads = config.data_dir / "images" / "uploads"
    uploads.mkdir(parents=True)
    with (uploads / "huge.png").open("wb") as handle:
        handle.write(PNG)
        handle.truncate(IMAGE_MAX_BYTES + 5000)
    (uploads / "page.png").write_text("<html>hello</html>")
    with serve_in_thread(config) as url:
        yield url


async def test_urls_are_downloaded_checked_and_capped(served: str, folder: Path) -> None:
    image = await load_image(f"{served}/_sandbox/images/seed/value-11.png", folder, ROW)
    assert image.content_type == "image/png" and image.data.startswith(b"\x89PNG")
    assert image.filename == "value-11.png"
    with pytest.raises(ImageError, match=r"is 8,393,608 bytes; BigCommerce takes at most 8 MB"):
        await load_image(f"{served}/_sandbox/images/uploads/huge.png", folder, ROW)
    with pytest.raises(ImageError, match="is not a PNG, JPEG, GIF, WEBP or BMP image"):
        await load_image(f"{served}/_sandbox/images/uploads/page.png", folder, ROW)
    with pytest.raises(ImageError, match="answered HTTP 404"):
        await load_image(f"{served}/_sandbox/images/uploads/nothing.png", folder, ROW)
    with pytest.raises(ImageError, match="could not be downloaded"):
        await load_image("http://127.0.0.1:9/x.png", folder, ROW)  # nothing listens on the discard port


async def test_a_body_without_length_is_cut_off_at_the_cap(folder: Path) -> None:
    sent = 0

    async def endless():
        nonlocal sent
        yield PNG
        while True:
            sent += 65536
            yield b"\0" * 65536

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())  # streamed, no Content-Length

    with pytest.raises(ImageError, match="larger than 8 MB"):
        await load_image("http://127.0.0.1/endless.png", folder, ROW, transport=httpx.MockTransport(handler))
    assert sent <= IMAGE_MAX_BYTES + 2 * 65536  # stopped reading soon after the cap


async def test_upload_from_a_url_and_from_a_file_over_http(served: str, folder: Path, tmp_path: Path) -> None:
    settings = Settings.for_sandbox(served, TEST_TOKEN)
    async with BigCommerceClient(settings) as client:
        products = await client.get_all("/catalog/products", {"include": "modifiers"})
        pid, modifier = first_of_type(products, "dropdown")
        first, second = modifier["option_values"][:2]
        ops = [
            make_op(OpKind.UPLOAD_IMAGE, pid, modifier["display_name"], "dropdown", modifier_id=modifier["id"],
                    value_id=first["id"], label=first["label"], image=f"{served}/_sandbox/images/seed/value-22.png"),
            make_op(OpKind.UPLOAD_IMAGE, pid, modifier["display_name"], "dropdown", modifier_id=modifier["id"],
                    value_id=second["id"], label=second["label"], image="images/red.png"),
        ]
        result = await apply_plan(plan_of(ops), client, workbook_dir=folder,
                                  journal=Journal(tmp_path / "j.jsonl"), backup=False)
        assert result.ok, result.failed
        values = await client.get_all(f"/catalog/products/{pid}/modifiers/{modifier['id']}/values")
    urls = {v["id"]: v["adjusters"]["image_url"] for v in values}
    assert urls[first["id"]].startswith(f"{served}/_sandbox/images/uploads/")
    assert urls[second["id"]].startswith(f"{served}/_sandbox/images/uploads/")
    assert urls[first["id"]] != urls[second["id"]]
    assert result.writes == 2


async def test_a_refused_image_fails_its_row_and_sends_nothing(tmp_path: Path, folder: Path) -> None:
    store = sandbox_store(tmp_path / "store", products=12)
    pid, modifier = first_of_type(products_of(store), "dropdown")
    value = modifier["option_values"][0]
    op = make_op(OpKind.UPLOAD_IMAGE, pid, modifier["display_name"], "dropdown", modifier_id=modifier["id"],
                 value_id=value["id"], label=value["label"], image="../outside.png", source=ROW)
    from tests.pipeline.apply.support import client_for

    async with client_for(store) as client:
        result = await apply_plan(plan_of([op]), client, workbook_dir=folder, journal=None, backup=False)
    assert result.failed[0].message.startswith("Choice values row 7: the image path '../outside.png' points outside")
    assert result.requests == 0
