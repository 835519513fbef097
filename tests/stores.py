"""Sandbox stores for tests of the pipeline: the real ASGI app, reached through httpx in-process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from pipeline.sandbox.app import create_app
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.transport import SandboxTransport
from pipeline.settings import Settings

TEST_TOKEN = "test-token-5f1c9e"  # distinctive, so leak checks can search for it


@dataclass
class SandboxStore:
    app: Starlette
    settings: Settings

    def transport(self) -> httpx.AsyncBaseTransport:
        return SandboxTransport(app=self.app)

    def stats(self) -> dict[str, Any]:
        return self.app.state.sandbox.stats.snapshot()


def sandbox_store(data_dir: Path, products: int = 30, **config: Any) -> SandboxStore:
    """A sandbox seeded with `products` generated products, unlimited quota unless given."""
    cfg = SandboxConfig(data_dir=data_dir, products=products, token=TEST_TOKEN, **{"quota": None, **config})
    app = create_app(cfg)
    settings = Settings.for_sandbox(f"http://sandbox.test/stores/{cfg.store_hash}/v3", TEST_TOKEN)
    return SandboxStore(app, settings)
