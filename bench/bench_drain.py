"""Draining a 300-product sandbox over real HTTP under a 30 req/s quota with faults on.

The sandbox runs as its own process (`bcmod sandbox serve`), as a real store would, with 10% 5xx,
5% bare 429s and 2% dropped connections. Two drains share the one store:

- the export way: `GET /catalog/products?include=modifiers`, 10 products a page;
- the per-product way: one `GET /catalog/products/{id}/modifiers` per product, 300+ requests, long
  enough to measure the governor's steady pace against the quota.

Both drains run twice: against a store with faults (nothing may be lost) and against the same
catalog without faults, where the per-product drain measures the governor's steady pace (faults
make the client back off on purpose: a bare 429 means platform load).
Targets: every product arrives exactly once in every drain; without faults the per-product drain
keeps >= 0.90 of quota/window (the store itself refuses anything above it, so a rate a hair over 1.00
is window-edge rounding); no request is lost to a 429.
"""

from __future__ import annotations

import asyncio
import sys
import time

from bench.sandbox_process import sandbox
from bench.summary import record
from pipeline.client import BigCommerceClient
from pipeline.extract import count_requests_bound, extract_products
from pipeline.settings import Settings

N_PRODUCTS = 300
QUOTA, WINDOW_MS = 30, 1000
FAULTS = {"--fault-5xx-rate": "0.1", "--fault-429-rate": "0.05", "--fault-drop-rate": "0.02"}


async def drain(settings: Settings) -> dict[str, object]:
    out: dict[str, object] = {}
    async with BigCommerceClient(settings) as client:
        started = time.perf_counter()
        products = await extract_products(client)
        out["export_seconds"] = time.perf_counter() - started
        out["export_products"] = len({p["id"] for p in products})
        out["export_requests"] = client.metrics.requests_sent
        out["export_metrics"] = client.metrics.as_dict()

    async with BigCommerceClient(settings) as client:
        ids = [p["id"] for p in products]
        semaphore = asyncio.Semaphore(8)

        async def one(product_id: int) -> int:
            async with semaphore:
                return len(await client.get_all(f"/catalog/products/{product_id}/modifiers"))

        started = time.perf_counter()
        counts = await asyncio.gather(*(one(i) for i in ids))
        seconds = time.perf_counter() - started
        out["per_product_seconds"] = seconds
        out["per_product_modifiers"] = sum(counts)
        out["per_product_requests"] = client.metrics.requests_sent
        out["per_product_rate"] = client.metrics.requests_sent / seconds
        out["per_product_metrics"] = client.metrics.as_dict()
    out["export_modifiers"] = sum(len(p["modifiers"]) for p in products)
    return out


def run(faults: bool) -> tuple[dict[str, object], dict[str, object]]:
    with sandbox(products=N_PRODUCTS, quota=QUOTA, window_ms=WINDOW_MS, options=FAULTS if faults else None) as store:
        result = asyncio.run(drain(store.settings))
        stats = store.stats()
    return result, stats


def report(label: str, result: dict[str, object], stats: dict[str, object]) -> float:
    quota_rate = QUOTA / (WINDOW_MS / 1000)
    use = float(result["per_product_rate"]) / quota_rate
    em, pm = result["export_metrics"], result["per_product_metrics"]
    print(f"[{label}] export drain:      {result['export_products']} products, {result['export_modifiers']} "
          f"modifiers, {result['export_requests']} requests (bound ceil(N/10)+2 = {count_requests_bound(N_PRODUCTS)}),"
          f" {result['export_seconds']:.2f} s; 5xx {em['server_errors']}, 429 {em['throttled']}, "
          f"bare 429 {em['throttled_bare']}, drops {em['connection_drops']}, retries {em['retries']}")
    print(f"[{label}] per-product drain: {result['per_product_modifiers']} modifiers, "
          f"{result['per_product_requests']} requests in {result['per_product_seconds']:.2f} s = "
          f"{result['per_product_rate']:.1f} req/s = {use:.2f} of quota; 5xx {pm['server_errors']}, "
          f"429 {pm['throttled']}, bare 429 {pm['throttled_bare']}, drops {pm['connection_drops']}, "
          f"retries {pm['retries']}")
    print(f"[{label}] sandbox stats: {stats}")
    return use


def main() -> int:
    print(f"sandbox: {N_PRODUCTS} products, quota {QUOTA}/{WINDOW_MS} ms; faults run: {FAULTS}")
    ok = True
    for label, faults in (("no faults", False), ("faults", True)):
        result, stats = run(faults)
        use = report(label, result, stats)
        ok &= result["export_products"] == N_PRODUCTS
        ok &= result["per_product_modifiers"] == result["export_modifiers"]
        em, pm = result["export_metrics"], result["per_product_metrics"]
        complete = result["export_products"] == N_PRODUCTS and \
            result["per_product_modifiers"] == result["export_modifiers"]
        if not faults:
            steady = 0.90 <= use <= 1.05
            bounded = result["export_requests"] <= count_requests_bound(N_PRODUCTS)
            ok &= steady and bounded
            record("drain", f"export of {N_PRODUCTS} products, `include=modifiers` (over HTTP, sandbox in its own "
                   "process)", f"{result['export_requests']} requests, {result['export_seconds']:.2f} s",
                   f"≤ ceil(N/10)+2 = {count_requests_bound(N_PRODUCTS)}", bounded and complete)
            record("drain", f"per-product drain under a {QUOTA} req/s quota, no faults",
                   f"{result['per_product_requests']} requests in {result['per_product_seconds']:.2f} s = "
                   f"{result['per_product_rate']:.1f} req/s = **{use:.2f}** of quota; {int(pm['throttled'])} "
                   f"window-edge 429, {int(pm['retries'])} retries", "≥ 0.90 of quota, no request lost",
                   steady and complete)
        else:
            record("drain", "same drains with 10% 5xx, 5% bare 429, 2% drops",
                   f"every product once; export {result['export_requests']} requests ({int(em['retries'])} retries); "
                   f"per-product {result['per_product_requests']} requests ({int(pm['retries'])} retries), "
                   f"{use:.2f} of quota", "nothing lost", complete)
    print("target met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
