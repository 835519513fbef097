"""End to end over uvicorn on 127.0.0.1: real sockets, real drops, images served over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pipeline.sandbox.app import create_app
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread

from .support import API, TOKEN, modifier_body, png_bytes, seed_products

pytestmark = pytest.mark.e2e


def _seed(config: SandboxConfig) -> None:
    store = create_app(config).state.sandbox.store
    store.seed_catalog(seed_products())
    store.close()


def test_real_requests_and_images_over_uvicorn(tmp_path: Path) -> None:
    config = SandboxConfig(data_dir=tmp_path, quota=50, window_ms=30_000)
    _seed(config)
    with serve_in_thread(config) as base_url, httpx.Client(base_url=base_url, headers={"X-Auth-Token": TOKEN},
                                                            timeout=10) as client:
        assert base_url.startswith("http://127.0.0.1:")
        page = client.get(f"{API}/catalog/products", params={"include": "modifiers"})
        assert page.status_code == 200 and page.json()["meta"]["pagination"]["per_page"] == 10
        assert page.headers["x-rate-limit-requests-left"] == "49"
        modifier = client.post(f"{API}/catalog/products/1/modifiers", json=modifier_body("dropdown")).json()["data"]
        value = modifier["option_values"][0]
        url = f"{API}/catalog/products/1/modifiers/{modifier['id']}/values/{value['id']}/image"
        uploaded = client.post(url, files={"image_file": ("a.png", png_bytes(), "image/png")})
        image_url = uploaded.json()["data"]["image_url"]
        assert image_url.startswith(f"{base_url}/_sandbox/images/uploads/")
        served = httpx.get(image_url, timeout=10)
        assert served.status_code == 200 and served.content == png_bytes()
        assert served.headers["content-type"] == "image/png"
        assert client.get("/_sandbox/stats").json()["requests"] == {
            "total": 3, "GET": 1, "POST": 2, "PUT": 0, "DELETE": 0}


def test_drops_surface_as_closed_connections_not_500s(tmp_path: Path) -> None:
    config = SandboxConfig(data_dir=tmp_path, quota=None, fault_drop_rate=0.5, seed=5)
    _seed(config)
    outcomes: list[str] = []
    with serve_in_thread(config) as base_url, httpx.Client(base_url=base_url, headers={"X-Auth-Token": TOKEN},
                                                            timeout=10) as client:
        for n in range(20):
            try:
                r = client.post(f"{API}/catalog/products/1/modifiers", json=modifier_body("text", f"T{n}"))
            except (httpx.RemoteProtocolError, httpx.ReadError):
                outcomes.append("drop")
            else:
                assert r.status_code == 200, r.text
                outcomes.append("ok")
        stats = client.get("/_sandbox/stats").json()
        listed = client.get("/_sandbox/log", params={"limit": 20}).json()
    assert 4 <= outcomes.count("drop") <= 16, outcomes
    assert stats["writes"] == 20, "dropped requests were processed"
    assert [e["fault"] == "drop" for e in listed] == [o == "drop" for o in outcomes]
    store = create_app(SandboxConfig(data_dir=tmp_path)).state.sandbox.store
    assert store.list_modifiers(1, 0, 250)[1] == 20
    store.close()


def test_crash_over_uvicorn_and_clean_shutdown(tmp_path: Path) -> None:
    config = SandboxConfig(data_dir=tmp_path, quota=None, crash_after_writes=1)
    _seed(config)
    with serve_in_thread(config) as base_url, httpx.Client(base_url=base_url, headers={"X-Auth-Token": TOKEN},
                                                            timeout=10) as client:
        assert client.post(f"{API}/catalog/products/1/modifiers", json=modifier_body("text")).status_code == 200
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.get(f"{API}/catalog/products")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/_sandbox/stats", timeout=2)
