"""Export of 10,000 products: bcmod's export vs the per-product way with BigCommerce's own Python client.

BRIEF §8: an export of N products costs at most ceil(N/10)+2 requests, against N + N/250 for the
per-product way. Both run in one process against one sandbox store (`bcmod sandbox serve
--products 10000`, its own process, no quota so that each side's time is its own):

- bcmod: `export_store` (pages of 10 products with `include=modifiers`, 8 in flight, then the
  workbook is written); requests, seconds to the last page, seconds with the workbook;
- the baseline: BigCommerce's Python client (PyPI `bigcommerce`, the `bench` extra) used the way its
  README shows for v3 endpoints, an `OAuthConnection` with `api_path='/stores/{}/v3/{}'`: list the
  products 250 a page, then `GET /catalog/products/{id}/modifiers` for each product, one after
  the other. The client builds `https://` + host URLs; the only change made to it here is that
  scheme (`http://` for the sandbox on 127.0.0.1), in a subclass. Without the package the baseline
  falls back to the same calls with plain `requests` and says so.

If the baseline would run past `BASELINE_BUDGET_S`, it stops and its time is extrapolated linearly
from the products done (the output says so). Under a BigCommerce Pro quota (450 requests / 30 s =
15 req/s) the quota, not the machine, sets the time: requests / 15 is shown for both sides.
Targets: bcmod's requests <= ceil(N/10)+2, and both sides see every product's modifiers.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.sandbox_process import TOKEN, SandboxProcess, sandbox
from bench.summary import record
from pipeline.cli.render import export_progress
from pipeline.export import export_store
from pipeline.extract import PRODUCT_FIELDS, count_requests_bound

N_PRODUCTS = 10_000
PRO_QUOTA, PRO_WINDOW_S = 450, 30  # BigCommerce Pro plan: 450 requests per 30 s
PRO_RATE = PRO_QUOTA / PRO_WINDOW_S
BASELINE_BUDGET_S = 150.0  # past this the per-product loop stops and is extrapolated
LIST_LIMIT = 250


# -- the baseline: BigCommerce's own Python client ------------------------------------------------------


def official_client(store: SandboxProcess) -> tuple[Any, str]:
    """A v3 connection of the `bigcommerce` package to the sandbox, or a plain `requests` stand-in."""
    host = f"127.0.0.1:{store.port}"
    try:
        import bigcommerce
        from bigcommerce.connection import OAuthConnection
    except ImportError:
        return PlainRequests(f"http://{host}/stores/sandbox/v3", TOKEN), \
            "plain `requests` (package `bigcommerce` not installed: pip install -e '.[bench]')"

    class SandboxConnection(OAuthConnection):
        """The package's connection with `http://` instead of its hard-coded `https://`."""

        def full_path(self, url: str) -> str:
            return "http://" + self.host + self.api_path.format(self.store_hash, url)

    version = getattr(bigcommerce, "__version__", None) or _dist_version("bigcommerce")
    connection = SandboxConnection(client_id="bench-client", store_hash="sandbox", access_token=TOKEN, host=host,
                                   api_path="/stores/{}/v3/{}")
    return connection, f"bigcommerce {version} (BigCommerce's Python client), OAuthConnection v3, sequential"


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


class PlainRequests:
    """The same `get(path, **query)` as the package's connection, with a bare `requests.Session`."""

    def __init__(self, base_url: str, token: str) -> None:
        import requests

        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers.update({"X-Auth-Token": token, "Accept": "application/json"})

    def get(self, resource: str, **query: Any) -> Any:
        response = self.session.get(f"{self.base_url}/{resource.lstrip('/')}", params=query, timeout=30)
        response.raise_for_status()
        return response.json()


def per_product_drain(connection: Any, budget_s: float) -> dict[str, Any]:
    """List every product 250 a page, then read each product's modifiers, one request at a time."""
    started = time.perf_counter()
    requests = 0
    ids: list[int] = []
    page, pages = 1, 1
    while page <= pages:
        body = connection.get("/catalog/products", limit=LIST_LIMIT, page=page, include_fields=",".join(PRODUCT_FIELDS))
        requests += 1
        ids += [int(p["id"]) for p in body["data"]]
        pages = int(body["meta"]["pagination"]["total_pages"])
        page += 1
    listed_s = time.perf_counter() - started
    modifiers = done = 0
    for product_id in ids:
        page, pages = 1, 1
        while page <= pages:
            body = connection.get(f"/catalog/products/{product_id}/modifiers", page=page) if page > 1 else \
                connection.get(f"/catalog/products/{product_id}/modifiers")
            requests += 1
            modifiers += len(body["data"])
            pages = int(body["meta"]["pagination"]["total_pages"])
            page += 1
        done += 1
        if time.perf_counter() - started > budget_s:
            break
    seconds = time.perf_counter() - started
    out = {"products": len(ids), "done": done, "requests": requests, "modifiers": modifiers, "seconds": seconds,
           "list_seconds": listed_s, "list_requests": -(-len(ids) // LIST_LIMIT), "sampled": done < len(ids)}
    if out["sampled"]:  # linear extrapolation of the per-product part to every product
        per_product_s = (seconds - listed_s) / done
        per_product_requests = (requests - out["list_requests"]) / done
        out["seconds_est"] = listed_s + per_product_s * len(ids)
        out["requests_est"] = round(out["list_requests"] + per_product_requests * len(ids))
    else:
        out["seconds_est"], out["requests_est"] = seconds, requests
    return out


# -- running -------------------------------------------------------------------------------------------


async def bcmod_export(store: SandboxProcess, folder: Path, console: Console) -> dict[str, Any]:
    marks: dict[str, float] = {}
    started = time.perf_counter()
    with export_progress(console) as bar:
        def progress(done: int, total: int) -> None:
            bar(done, total)
            if total and done == total:
                marks["fetched"] = time.perf_counter() - started

        result = await export_store(store.settings, folder / "export.xlsx", progress=progress)
    return {"result": result, "fetch_seconds": marks.get("fetched", result.seconds), "seconds": result.seconds}


def main() -> int:
    console = Console()
    bound = count_requests_bound(N_PRODUCTS)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, sandbox(products=N_PRODUCTS) as store:
        seeded_s = time.perf_counter() - started
        store.reset()
        ours = asyncio.run(bcmod_export(store, Path(tmp), console))
        ours_stats = store.stats()
        store.reset()
        connection, label = official_client(store)
        base = per_product_drain(connection, BASELINE_BUDGET_S)
        base_stats = store.stats()

    result = ours["result"]
    print(f"sandbox: {N_PRODUCTS:,} products seeded and serving in {seeded_s:.1f} s (own process, no quota)")
    print(f"bcmod export_store: {result.products:,} products, {result.modifiers:,} modifiers, {result.values:,} "
          f"values; {result.requests} requests (store saw {ours_stats['requests']['total']}; bound ceil(N/10)+2 = "
          f"{bound}); {ours['fetch_seconds']:.2f} s to the last page, {ours['seconds']:.2f} s with the workbook")
    print(f"baseline: {label}")
    sampled = ""
    if base["sampled"]:
        sampled = (f" (SAMPLED: stopped after {base['done']:,} of {base['products']:,} products at the "
                   f"{BASELINE_BUDGET_S:.0f} s budget; {base['requests']:,} requests in {base['seconds']:.2f} s "
                   f"extrapolated linearly)")
    print(f"baseline per-product drain: {base['products']:,} products listed in {base['list_requests']} pages, "
          f"{base['modifiers']:,} modifiers; {base['requests_est']:,} requests (store saw "
          f"{base_stats['requests']['total']:,}), {base['seconds_est']:.2f} s{sampled}")

    requests_ratio = result.requests / base["requests_est"]
    fetch_ratio = ours["fetch_seconds"] / base["seconds_est"]
    full_ratio = ours["seconds"] / base["seconds_est"]
    ours_pro, base_pro = result.requests / PRO_RATE, base["requests_est"] / PRO_RATE
    print(f"requests ratio bcmod / per-product: {requests_ratio:.4f} ({result.requests} vs {base['requests_est']:,})")
    print(f"time ratio, unlimited store: {fetch_ratio:.3f} to the last page ({ours['fetch_seconds']:.2f} s vs "
          f"{base['seconds_est']:.2f} s); {full_ratio:.3f} with bcmod's workbook written")
    print(f"under a Pro quota of {PRO_QUOTA}/{PRO_WINDOW_S} s ({PRO_RATE:.0f} req/s): bcmod >= {ours_pro:.1f} s, "
          f"per-product >= {base_pro:.1f} s ({base_pro / 60:.1f} min), ratio {ours_pro / base_pro:.4f}")

    complete = (result.products == N_PRODUCTS and base["products"] == N_PRODUCTS
                and (base["sampled"] or base["modifiers"] == result.modifiers))
    ok = result.requests <= bound and ours_stats["requests"]["total"] == result.requests and complete
    print(f"bcmod requests <= {bound}, every product's modifiers on both sides: {'PASS' if ok else 'MISS'}")

    record("export_10k", f"export of {N_PRODUCTS:,} products (`export_store`, 10 a page, 8 in flight, no quota)",
           f"{result.requests} requests, {ours['fetch_seconds']:.2f} s to the last page, {ours['seconds']:.2f} s "
           f"with the workbook ({result.modifiers:,} modifiers, {result.values:,} values)",
           f"≤ ceil(N/10)+2 = {bound}", ok)
    record("export_10k", "per-product drain with BigCommerce's Python client `bigcommerce` (list 250 a page, "
           "then one `/modifiers` GET per product, sequential)" if "bigcommerce" in label.split()[0] else
           "per-product drain with plain `requests` (list 250 a page, then one `/modifiers` GET per product)",
           f"{base['requests_est']:,} requests, {base['seconds_est']:.2f} s"
           + (f" (extrapolated from {base['done']:,} products)" if base["sampled"] else ""), "N + N/250")
    record("export_10k", "bcmod export / per-product, same store, one run",
           f"requests **{requests_ratio:.4f}x**; time **{fetch_ratio:.3f}x** to the last page, {full_ratio:.3f}x "
           f"with the workbook", "")
    record("export_10k", f"the same under a Pro quota ({PRO_QUOTA} req / {PRO_WINDOW_S} s = {PRO_RATE:.0f} req/s), "
           "requests / 15", f"bcmod ≥ {ours_pro:.0f} s vs per-product ≥ {base_pro:.0f} s ({base_pro / 60:.1f} min)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
