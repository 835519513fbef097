"""Value images: files confined to the workbook's folder, URLs downloaded through the guarded fetch
(tried against a real server on 127.0.0.1), real GIF/JPEG/PNG only, messages naming the row."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from pipeline.apply import ImageError, Journal, apply_plan, load_image
from pipeline.apply.images import load_local
from pipeline.client import BigCommerceClient
from pipeline.image_fetch import GuardedTransport, ImagePolicy
from pipeline.modifier_types import IMAGE_MAX_BYTES
from pipeline.plan.operations import OpKind, RowRef
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.settings import Settings
from sample_data.generator import png_bytes
from tests.pipeline.apply.support import first_of_type, make_op, plan_of, products_of
from tests.pipeline.image_server import GIF, JPEG, Seen, image_host, undercounting_host
from tests.stores import TEST_TOKEN, sandbox_store

pytestmark = pytest.mark.anyio
ROW = RowRef("Choice values", 7)
AT = "sheet 'Choice values', row 7, column 'image_url': "
PNG = png_bytes(b"\x01\x02\x03")
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
BMP = b"BM" + b"\x00" * 12 + (40).to_bytes(4, "little") + b"\x00" * 40
LOCAL_SANDBOX = ImagePolicy.for_stores("http://127.0.0.1:8765/stores/sandbox/v3")


@pytest.fixture
def folder(folder: Path) -> Path:
    (folder / "images" / "red.png").write_bytes(PNG)
    return folder


@pytest.mark.parametrize("data, ext, content_type", [
    (PNG, "png", "image/png"), (JPEG, "jpg", "image/jpeg"), (GIF, "gif", "image/gif"),
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
    assert message.startswith(AT) and words in message


async def test_the_message_names_the_workbook_when_given(folder: Path) -> None:
    with pytest.raises(ImageError) as caught:
        await load_image("images/missing.png", folder, ROW, workbook=folder / "edit.xlsx")
    assert str(caught.value).startswith("edit.xlsx, " + AT + "the image file 'images/missing.png' does not exist")


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
    with pytest.raises(ImageError, match=r"row 7, column 'image_url': the image file 'images/big.png' is 8,388,609 "
                                         r"bytes \(8.0 MB\)"):
        load_local("images/big.png", folder, ROW)
    exactly = folder / "images" / "max.png"
    with exactly.open("wb") as handle:
        handle.write(PNG)
        handle.truncate(IMAGE_MAX_BYTES)
    assert len(load_local("images/max.png", folder, ROW).data) == IMAGE_MAX_BYTES
    (folder / "images" / "fake.png").write_text("<html>not an image</html>")
    (folder / "images" / "cut.png").write_bytes(PNG[:-12])
    (folder / "images" / "empty.png").write_bytes(b"")
    (folder / "images" / "pic.webp").write_bytes(WEBP)
    (folder / "images" / "pic.bmp").write_bytes(BMP)
    for name, words in (("fake.png", "is not a GIF, JPEG or PNG image"), ("cut.png", "is an incomplete PNG image"),
                        ("empty.png", "is empty"), ("pic.webp", "is not a GIF, JPEG or PNG image"),
                        ("pic.bmp", "is not a GIF, JPEG or PNG image")):
        with pytest.raises(ImageError, match=f"the image file 'images/{name}' {words}"):
            load_local(f"images/{name}", folder, ROW)


# -- downloads from a real server on 127.0.0.1 ------------------------------------------------------


@pytest.fixture
def host():
    with image_host() as served:
        yield served


async def refused(url: str, folder: Path, *words: str, policy: ImagePolicy = LOCAL_SANDBOX) -> str:
    with pytest.raises(ImageError) as caught:
        await load_image(url, folder, ROW, policy=policy)
    message = str(caught.value)
    assert message.startswith(AT) and all(w in message for w in words), message
    assert "Traceback" not in message and message.endswith(".")
    return message


async def test_a_real_image_comes_down_when_the_store_is_a_local_sandbox(host: tuple[str, Seen], folder: Path
                                                                         ) -> None:
    base, seen = host
    for path, data, filename in (("/red.png", None, "red.png"), ("/pic.gif", GIF, "pic.gif"),
                                 ("/pic.jpg", JPEG, "pic.jpg")):
        image = await load_image(f"{base}{path}", folder, ROW, policy=LOCAL_SANDBOX)
        assert image.filename == filename and (data is None or image.data == data)
    assert image.content_type == "image/jpeg"
    port = base.rsplit(":", 1)[1]
    localhost = await load_image(f"http://localhost:{port}/red.png", folder, ROW, policy=LOCAL_SANDBOX)
    assert localhost.data.startswith(b"\x89PNG")
    assert seen.requests[-1] == ("/red.png", f"localhost:{port}")  # resolved, pinned, named as written


async def test_the_same_address_is_refused_for_a_real_store(host: tuple[str, Seen], folder: Path) -> None:
    base, seen = host
    await refused(f"{base}/red.png", folder, "its host 127.0.0.1 is a loopback address",
                  "bcmod downloads images only from public web hosts", policy=ImagePolicy())
    port = base.rsplit(":", 1)[1]
    await refused(f"http://localhost:{port}/red.png", folder, "loopback", policy=ImagePolicy())
    await refused(f"{base}/red.png", folder, "loopback",
                  policy=ImagePolicy.for_stores("https://api.bigcommerce.com/stores/abc123/v3"))
    assert seen.requests == []  # refused before connecting


async def test_bodies_over_8_mb_are_refused_by_what_is_read_or_declared(host: tuple[str, Seen], folder: Path
                                                                        ) -> None:
    base, _ = host
    await refused(f"{base}/huge", folder, "is larger than 8 MB (8,388,608 bytes)", "stopped reading")
    await refused(f"{base}/declared-huge", folder, "is 8,388,609 bytes; BigCommerce takes at most 8 MB")


async def test_a_content_length_that_lies_is_not_trusted(host: tuple[str, Seen], folder: Path) -> None:
    base, _ = host
    # says 5000 bytes, sends a whole PNG of fewer, then drops the connection
    await refused(f"{base}/short", folder, "could not be downloaded", "RemoteProtocolError")
    # says 200 bytes and sends 9 MB: only the 200 bytes are the body, and they are not a whole image
    with undercounting_host() as raw:
        await refused(f"{raw}/red.png", folder, "is an incomplete PNG image")


async def test_html_errors_and_dead_hosts_are_refused(host: tuple[str, Seen], folder: Path) -> None:
    base, _ = host
    await refused(f"{base}/page.png", folder, f"the image at '{base}/page.png' is not a GIF, JPEG or PNG image")
    await refused(f"{base}/missing", folder, "answered HTTP 404")
    await refused("http://127.0.0.1:9/x.png", folder, "could not be downloaded")  # nothing listens on port 9


async def test_three_redirects_are_followed_and_a_fourth_is_refused(host: tuple[str, Seen], folder: Path) -> None:
    base, seen = host
    assert (await load_image(f"{base}/hop/3", folder, ROW, policy=LOCAL_SANDBOX)).filename == "3.png"
    seen.requests.clear()
    await refused(f"{base}/hop/4", folder, "redirects more than 3 times")
    assert seen.paths() == ["/hop/4", "/hop/3", "/hop/2", "/hop/1"]  # the fourth hop was never asked for


@pytest.mark.parametrize("target, words", [
    ("http://169.254.169.254/latest/meta-data/", ("169.254.169.254 is a link-local address",)),
    ("http://10.0.0.1/red.png", ("10.0.0.1 is a private network address",)),
    ("http://[fd00::1]/red.png", ("private network address",)),
    ("ftp://127.0.0.1/red.png", ("is not an http(s) web address (ftp:)",)),
    ("file:///etc/passwd", ("is not an http(s) web address (file:)",)),
])
async def test_a_redirect_to_an_inner_address_or_another_scheme_is_refused(
        host: tuple[str, Seen], folder: Path, target: str, words: tuple[str, ...]) -> None:
    base, seen = host
    url = str(httpx.URL(f"{base}/to", params={"url": target}))
    await refused(url, folder, "redirected from", *words)
    assert seen.paths() == ["/to"]


async def test_a_redirect_to_loopback_is_refused_when_the_store_is_not_local(folder: Path) -> None:
    """From a public host (a MockTransport behind the real guard) to the server on 127.0.0.1."""
    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "http://127.0.0.1:8765/red.png"})

    transport = GuardedTransport(ImagePolicy(), inner=httpx.MockTransport(handler), resolve=public)
    with pytest.raises(ImageError, match=r"column 'image_url': the image at 'http://127.0.0.1:8765/red.png' "
                                         r"\(redirected from 'http://images.example/go'\): its host 127.0.0.1 is a "
                                         r"loopback address"):
        await load_image("http://images.example/go", folder, ROW, transport=transport)


@pytest.mark.parametrize("text", ["ftp://127.0.0.1/red.png", "file:///etc/passwd", "FILE:images/red.png",
                                  "javascript:alert(1)", "data:image/png;base64,iVBORw0KGgo="])
async def test_other_schemes_are_refused_never_read_as_paths(folder: Path, text: str) -> None:
    scheme = text.split(":", 1)[0].lower()
    await refused(text, folder, f"is not an http(s) web address ({scheme}:)")


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


# -- through an apply ---------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path):
    """A sandbox over HTTP on 127.0.0.1 (its seed images are served at /_sandbox/images/seed/)."""
    config = SandboxConfig(data_dir=tmp_path / "served", products=12, token=TEST_TOKEN, quota=None)
    with serve_in_thread(config) as url:
        yield url


async def _upload_two(served: str, folder: Path, tmp_path: Path, **apply_kwargs) -> tuple:
    settings = Settings.for_sandbox(served, TEST_TOKEN)
    async with BigCommerceClient(settings) as client:
        products = await client.get_all("/catalog/products", {"include": "modifiers"})
        pid, modifier = first_of_type(products, "dropdown")
        first, second = modifier["option_values"][:2]
        ops = [
            make_op(OpKind.UPLOAD_IMAGE, pid, modifier["display_name"], "dropdown", modifier_id=modifier["id"],
                    value_id=first["id"], label=first["label"], image=f"{served}/_sandbox/images/seed/value-22.png",
                    source=ROW),
            make_op(OpKind.UPLOAD_IMAGE, pid, modifier["display_name"], "dropdown", modifier_id=modifier["id"],
                    value_id=second["id"], label=second["label"], image="images/red.png"),
        ]
        result = await apply_plan(plan_of(ops), client, workbook_dir=folder,
                                  journal=Journal(tmp_path / "j.jsonl"), backup=False, **apply_kwargs)
        values = await client.get_all(f"/catalog/products/{pid}/modifiers/{modifier['id']}/values")
    return result, {v["id"]: v["adjusters"]["image_url"] for v in values}, first["id"], second["id"]


async def test_upload_from_a_url_and_from_a_file_over_http(served: str, folder: Path, tmp_path: Path) -> None:
    transport = GuardedTransport(ImagePolicy.for_stores(served))  # the policy the apply derives from its store
    result, urls, first, second = await _upload_two(served, folder, tmp_path, image_transport=transport)
    assert result.ok, result.failed
    assert urls[first].startswith(f"{served}/_sandbox/images/uploads/")
    assert urls[second].startswith(f"{served}/_sandbox/images/uploads/")
    assert urls[first] != urls[second]
    assert result.writes == 2


async def test_an_apply_derives_the_image_policy_from_its_store(served: str, folder: Path, tmp_path: Path) -> None:
    result, urls, first, _ = await _upload_two(served, folder, tmp_path)
    assert result.ok, result.failed
    assert urls[first].startswith(f"{served}/_sandbox/images/uploads/")


async def test_a_refused_image_fails_its_row_and_sends_nothing(tmp_path: Path, folder: Path) -> None:
    store = sandbox_store(tmp_path / "store", products=12)
    pid, modifier = first_of_type(products_of(store), "dropdown")
    images = ("../outside.png", "file:///etc/passwd", "http://10.0.0.1/red.png")
    ops = [make_op(OpKind.UPLOAD_IMAGE, pid, modifier["display_name"], "dropdown", modifier_id=modifier["id"],
                   value_id=value["id"], label=value["label"], image=image, source=ROW)
           for image, value in zip(images, modifier["option_values"], strict=False)]
    assert len(ops) == 3
    from tests.pipeline.apply.support import client_for

    async with client_for(store) as client:
        result = await apply_plan(plan_of(ops), client, workbook_dir=folder, journal=None, backup=False)
    messages = sorted(outcome.message for outcome in result.failed)
    assert [m.split(": ", 1)[0] + ": " for m in messages] == [AT] * 3
    assert any("the image path '../outside.png' points outside" in m for m in messages)
    assert any("'file:///etc/passwd' is not an http(s) web address (file:)" in m for m in messages)
    assert any("its host 10.0.0.1 is a private network address" in m for m in messages)
    assert result.requests == 0
