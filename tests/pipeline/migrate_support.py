"""Two sandbox stores for migration tests: the source seeded with a generated catalog, the target
with the same SKUs under other product ids, no modifiers, and a couple of the source's SKUs missing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.sandbox.store import Store
from sample_data.generator import generate_catalog

N = 30
SHIFT = 1000  # the target's product id = the source's + SHIFT
ABSENT = ("SKU-000103", "SKU-000116")  # source products the target does not have
SOURCE_TOKEN = "source-token-3b8d41"  # distinctive, so leak checks can search for them
TARGET_TOKEN = "target-token-9e27c0"


def target_catalog(n: int = N, absent: Iterable[str] = ABSENT) -> list[dict[str, Any]]:
    """The source's products (names, SKUs) under ids shifted by SHIFT, without modifiers."""
    return [{**p, "id": p["id"] + SHIFT, "modifiers": []} for p in generate_catalog(n) if p["sku"] not in absent]


def seeded(path: Path, catalog: list[dict[str, Any]]) -> Path:
    """A sandbox database folder holding `catalog`."""
    store = Store(path)
    store.seed_catalog(catalog)
    store.close()
    return path


@dataclass(frozen=True)
class Served:
    """One sandbox served on 127.0.0.1."""

    base_url: str
    api_url: str

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.base_url}/_sandbox/stats", timeout=10).json()

    def writes(self) -> int:
        requests = self.stats()["requests"]
        return requests["POST"] + requests["PUT"] + requests["DELETE"]


@contextmanager
def served_pair(tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    """The source (hash `src`) and the target (hash `tgt`) over real HTTP, each with its own token."""
    source = SandboxConfig(data_dir=seeded(tmp_path / "source", generate_catalog(N)), store_hash="src",
                           token=SOURCE_TOKEN, quota=None)
    target = SandboxConfig(data_dir=seeded(tmp_path / "target", target_catalog()), store_hash="tgt",
                           token=TARGET_TOKEN, quota=None)
    with serve_in_thread(source) as source_url, serve_in_thread(target) as target_url:
        yield (Served(source_url, f"{source_url}/stores/src/v3"), Served(target_url, f"{target_url}/stores/tgt/v3"))
