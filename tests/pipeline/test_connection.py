"""The embedded store: one folder per user, image URLs that do not depend on the port it got.

Each command starts the embedded sandbox on whatever port is free; an export's image URLs must still
equal the store's in the next command (or a plan reports every imaged row as changed in the store),
and still download while the sandbox runs. The sandboxes here are real, on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from pipeline.connection import StoreConnection, default_sandbox_dir, open_store, user_data_dir
from pipeline.doctor import run_doctor
from pipeline.image_fetch import ImagePolicy, fetch_image
from sample_data.generator import png_bytes

PRODUCTS = 12


@contextmanager
def taken_port() -> Iterator[int]:
    """A port some other program listens on: the sandbox cannot have it, its image origin names it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


async def _image_urls(store: StoreConnection) -> dict[tuple[str, str, str], str]:
    """(product sku, modifier display name, value label) -> image URL, for every value with an image."""
    headers = {"X-Auth-Token": store.settings.access_token.get_secret_value(), "Accept": "application/json"}
    found: dict[tuple[str, str, str], str] = {}
    async with httpx.AsyncClient(base_url=store.settings.base_url, headers=headers) as client:
        page = 1
        while True:
            body = (await client.get("/catalog/products", params={"include": "modifiers", "limit": 10,
                                                                  "page": page})).raise_for_status().json()
            for product in body["data"]:
                for modifier in product.get("modifiers") or []:
                    for value in modifier["option_values"]:
                        data = value.get("value_data") or {}
                        for url in (value["adjusters"].get("image_url"), data.get("image_url")):
                            if url:
                                found[(product["sku"], modifier["display_name"], value["label"])] = url
            if page >= body["meta"]["pagination"]["total_pages"]:
                return found
            page += 1


def _urls(folder: Path, origin: str) -> tuple[dict[tuple[str, str, str], str], str]:
    with open_store(sandbox_dir=folder, sandbox_products=PRODUCTS, sandbox_quota=None, image_origin=origin) as store:
        return asyncio.run(_image_urls(store)), store.settings.base_url


def test_image_urls_are_the_same_across_restarts_on_other_ports_and_across_sandboxes_seeded_alike(tmp_path):
    with taken_port() as port:
        origin = f"http://localhost:{port}"
        first, first_api = _urls(tmp_path / "a", origin)
        again, again_api = _urls(tmp_path / "a", origin)
        other, _ = _urls(tmp_path / "b", origin)
    assert first and first_api != again_api, "the two runs served on different ports"
    assert all(url.startswith(f"{origin}/_sandbox/images/") for url in first.values())
    assert first == again == other


def test_a_seeded_and_an_uploaded_image_download_from_their_stable_url_while_the_sandbox_runs(tmp_path):
    image = png_bytes(b"\x10\x80\xf0")
    with taken_port() as port:
        origin = f"http://localhost:{port}"
        with open_store(sandbox_dir=tmp_path, sandbox_products=PRODUCTS, sandbox_quota=None,
                        image_origin=origin) as store:
            policy = ImagePolicy.for_stores(store.settings.base_url)
            seeded = next(iter(asyncio.run(_image_urls(store)).values()))
            assert asyncio.run(fetch_image(seeded, policy=policy)).data[:8] == b"\x89PNG\r\n\x1a\n"
            uploaded = asyncio.run(_upload(store, image))
            assert uploaded.startswith(f"{origin}/_sandbox/images/uploads/")
            assert asyncio.run(fetch_image(uploaded, policy=policy)).data == image
        with open_store(sandbox_dir=tmp_path, sandbox_products=PRODUCTS, sandbox_quota=None,
                        image_origin=origin) as store:  # restarted on another port: the same URL, still served
            assert uploaded in asyncio.run(_image_urls(store)).values()
            policy = ImagePolicy.for_stores(store.settings.base_url)
            assert asyncio.run(fetch_image(uploaded, policy=policy)).data == image


async def _upload(store: StoreConnection, image: bytes) -> str:
    """Upload `image` to the first value of the first product with modifiers; its new image URL."""
    headers = {"X-Auth-Token": store.settings.access_token.get_secret_value(), "Accept": "application/json"}
    async with httpx.AsyncClient(base_url=store.settings.base_url, headers=headers) as client:
        products = (await client.get("/catalog/products", params={"include": "modifiers"})).json()["data"]
        product, modifier, value = next((p, m, m["option_values"][0]) for p in products for m in p["modifiers"]
                                        if m["option_values"] and m["type"] in ("radio_buttons", "dropdown"))
        response = await client.post(
            f"/catalog/products/{product['id']}/modifiers/{modifier['id']}/values/{value['id']}/image",
            files={"image_file": ("dot.png", image, "image/png")})
        return str(response.raise_for_status().json()["data"]["image_url"])


def test_the_doctors_image_check_reaches_the_sandbox_on_the_port_it_got(tmp_path):
    with taken_port() as port, open_store(sandbox_dir=tmp_path, sandbox_products=PRODUCTS, sandbox_quota=None,
                                          image_origin=f"http://localhost:{port}") as store:
        report = asyncio.run(run_doctor(store.settings, store=store.label, sandbox=True,
                                        image_transport=store.image_transport()))
    check = next(c for c in report.checks if c.name == "image host")
    assert check.status == "pass", check
    assert check.data["url"].startswith(f"http://localhost:{port}/_sandbox/images/")


def test_a_sandbox_image_goes_to_the_store_only_for_a_local_sandbox():
    local = ImagePolicy.for_stores("https://api.bigcommerce.com/stores/x/v3", "http://127.0.0.1:5123/stores/s/v3")
    url = httpx.URL("http://localhost:8765/_sandbox/images/seed/value-11.png")
    assert local.served_url(url) == httpx.URL("http://127.0.0.1:5123/_sandbox/images/seed/value-11.png")
    other = httpx.URL("http://localhost:8765/other.png")
    assert local.served_url(other) == other, "only the sandbox's image paths"
    public = httpx.URL("https://cdn.example.com/_sandbox/images/seed/value-11.png")
    assert local.served_url(public) == public, "only loopback hosts are the sandbox's"
    remote = ImagePolicy.for_stores("https://api.bigcommerce.com/stores/x/v3")
    assert not remote.allow_loopback and remote.served_url(url) == url


def test_the_store_folder_is_per_user_never_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("BCMOD_SANDBOX_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    if user_data_dir() == tmp_path / "data":  # Linux and other XDG platforms
        assert default_sandbox_dir() == tmp_path / "data" / "bcmod" / "sandbox"
    assert not default_sandbox_dir().is_relative_to(Path.cwd() / ".sandbox")
    monkeypatch.setenv("BCMOD_SANDBOX_DIR", str(tmp_path / "mine"))
    assert default_sandbox_dir() == tmp_path / "mine"


def test_the_connection_names_its_store(tmp_path):
    with open_store(sandbox_dir=tmp_path / "s", sandbox_products=2, sandbox_quota=None) as store:
        assert store.description.startswith(f"Store: the embedded sandbox store in {(tmp_path / 's').resolve()}")
        assert store.as_dict()["sandbox_dir"] == str((tmp_path / "s").resolve())


def test_an_image_origin_is_an_origin():
    from pipeline.sandbox.config import SandboxConfig

    assert SandboxConfig(data_dir=Path("x"), image_origin="http://localhost:8765/").image_origin == \
        "http://localhost:8765"
    with pytest.raises(ValueError, match="image_origin"):
        SandboxConfig(data_dir=Path("x"), image_origin="http://localhost:8765/images")


def _bcmod(cwd: Path, sandbox_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`bcmod ARGS` in its own process, from `cwd`, with no real store configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIGCOMMERCE_")}
    env |= {"BCMOD_SANDBOX_DIR": str(sandbox_dir), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "pipeline.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _edit_an_imaged_row(folder: Path) -> str:
    """Give the first choice value with an image a new price adjustment, in the CSV export; its label."""
    path = folder / "choice_values.csv"
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    row = next(r for r in rows if r["image_url"])
    row["price_adjuster"], row["price_adjuster_value"] = "relative", "3.25"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return row["label"]


@pytest.mark.e2e
def test_two_folders_one_store_an_untouched_export_plans_nothing_and_an_imaged_row_applies(tmp_path):
    store, here, there = tmp_path / "store", tmp_path / "here", tmp_path / "there"
    here.mkdir(), there.mkdir()
    exported = _bcmod(here, store, "export", "--out", str(here / "exp"), "--csv")
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr.startswith(f"Store: the embedded sandbox store in {store.resolve()}")
    folder = next((here / "exp").iterdir())

    planned = _bcmod(there, store, "plan", str(folder), "--json")
    assert planned.returncode == 0, planned.stderr + planned.stdout
    summary = json.loads(planned.stdout)
    assert summary["store"]["sandbox_dir"] == str(store.resolve())
    shown = _bcmod(there, store, "plan", str(folder))
    assert shown.returncode == 0 and "changed in the store" not in shown.stdout, shown.stdout
    assert "0 to create, 0 to update, 0 to delete, 0 images to upload" in shown.stdout
    assert not (here / ".sandbox").exists() and not (there / ".sandbox").exists()

    label = _edit_an_imaged_row(folder)
    applied = _bcmod(there, store, "apply", str(folder), "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "conflict" not in applied.stdout.lower(), applied.stdout
    again = _bcmod(here, store, "plan", str(folder))
    assert again.returncode == 0 and "changed in the store" not in again.stdout, again.stdout
    assert "0 to create, 0 to update, 0 to delete" in again.stdout, (label, again.stdout)
