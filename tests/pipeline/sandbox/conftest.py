"""Fixtures for the sandbox tests: an app over a temp dir seeded with the hand-built catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from pipeline.sandbox.app import create_app
from pipeline.sandbox.config import SandboxConfig

from .support import client_for, seed_products


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def make_app(data_dir: Path) -> Callable[..., Starlette]:
    """Build an app over the test's data dir (seeded with the hand-built catalog when empty).

    Strict unless a test says otherwise: the requests of these tests conform to BigCommerce's
    specs, and a test of the sandbox's own rules (which a client meets only when the spec check
    is off or the specs are absent) asks for `strict=False` and says why.
    """

    def build(seed: bool = True, **overrides: Any) -> Starlette:
        config = SandboxConfig(data_dir=data_dir, **{"quota": None, "strict": True, **overrides})
        app = create_app(config)
        if seed and app.state.sandbox.store.is_empty():
            app.state.sandbox.store.seed_catalog(seed_products())
        return app

    return build


@pytest.fixture
def app(make_app: Callable[..., Starlette]) -> Starlette:
    return make_app()


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c
