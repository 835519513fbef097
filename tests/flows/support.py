"""Helpers shared by the flows tests: stores whose catalog was last modified long ago, and real
edits through the sandbox's HTTP API (which bump a product's `date_modified`, as BigCommerce does)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import httpx

from pipeline.sandbox.store import Store
from sample_data.generator import generate_catalog

LONG_AGO = datetime(2026, 1, 1, tzinfo=timezone.utc)


def seed_long_ago(data_dir: Path, products: int) -> Path:
    """A sandbox data folder whose products were all created and last modified on 2026-01-01, so
    only the edits a test makes fall inside an incremental window. Serve it with `products=0`."""
    store = Store(data_dir, clock=LONG_AGO.timestamp)
    try:
        store.seed_catalog(generate_catalog(n_products=products, seed=7))
    finally:
        store.close()
    return data_dir


def edit_product(api_url: str, token: str, product_id: int) -> None:
    """Flip `required` on the product's first modifier (a real PUT: the store bumps `date_modified`)."""
    headers = {"X-Auth-Token": token}
    modifiers = httpx.get(f"{api_url}/catalog/products/{product_id}/modifiers", headers=headers, timeout=10)
    modifiers.raise_for_status()
    first = modifiers.json()["data"][0]
    response = httpx.put(f"{api_url}/catalog/products/{product_id}/modifiers/{first['id']}", headers=headers,
                         json={"type": first["type"], "required": not first["required"]}, timeout=10)
    assert response.status_code == 200, response.text


def sandbox_requests(base_url: str) -> int:
    """Requests the sandbox at `base_url` (http://host:port) has answered on its store routes."""
    return int(httpx.get(f"{base_url}/_sandbox/stats", timeout=10).json()["requests"]["total"])
