"""A migration downloads each source image through the same guarded fetch as an apply, under the
policy of both stores: sandboxes served on 127.0.0.1 may serve images there, inner addresses never."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.client import BigCommerceClient
from pipeline.migrate import apply_migration, migrate, plan_migration
from pipeline.plan.operations import OpKind
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.settings import Settings
from sample_data.generator import generate_catalog
from tests.pipeline.apply.support import FAST_RETRY, fast_governor
from tests.pipeline.migrate_support import ABSENT, N, SOURCE_TOKEN, TARGET_TOKEN, seeded, target_catalog
from tests.stores import TEST_TOKEN, sandbox_store

pytestmark = pytest.mark.anyio
INNER = ("http://169.254.169.254/latest/meta-data/iam/red.png", "http://10.0.0.1/red.png")
TARGET_URL = "http://target.test/stores/tgt/v3"  # not loopback: the policy must come from the source


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def source_catalog(inner: bool) -> list[dict[str, Any]]:
    """The generated catalog; with `inner`, two of its value images point at inner addresses."""
    catalog = copy.deepcopy(generate_catalog(N))
    if inner:
        values = [v for p in catalog if p["sku"] not in ABSENT for m in p["modifiers"]
                  if m["type"] in ("dropdown", "radio_buttons", "rectangles", "swatch")
                  for v in m["option_values"] if v["adjusters"].get("image_url")]
        for value, url in zip(values[:2], INNER, strict=True):
            value["adjusters"]["image_url"] = url
    return catalog


def served(tmp_path: Path, name: str, store_hash: str, token: str, catalog: list[dict[str, Any]]):
    config = SandboxConfig(data_dir=seeded(tmp_path / name, catalog), store_hash=store_hash, token=token, quota=None)
    return serve_in_thread(config)


def client(api_url: str, token: str, **kwargs: Any) -> BigCommerceClient:
    return BigCommerceClient(Settings(_env_file=None, api_url=api_url, access_token=token), retry=FAST_RETRY,
                             governor=fast_governor(), **kwargs)


async def image_bytes(urls: list[str], transport: httpx.AsyncBaseTransport | None = None) -> list[bytes]:
    async with httpx.AsyncClient(transport=transport, timeout=10) as http:
        return [(await http.get(url)).raise_for_status().content for url in urls]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(source API URL, target API URL), both served on 127.0.0.1; the source has two inner image links."""
    with served(tmp_path, "source", "src", SOURCE_TOKEN, source_catalog(inner=True)) as source, \
            served(tmp_path, "target", "tgt", TARGET_TOKEN, target_catalog()) as target:
        yield f"{source}/stores/src/v3", f"{target}/stores/tgt/v3"


async def test_migrate_downloads_the_sources_images_and_refuses_inner_links(stores, tmp_path: Path) -> None:
    source_url, target_url = stores
    async with client(source_url, SOURCE_TOKEN) as source, client(target_url, TARGET_TOKEN) as target:
        result = await migrate(source, target, workdir=tmp_path / "work", apply=True)
        values = {v["id"]: v for p in await target.get_all("/catalog/products", {"include": "modifiers"})
                  for m in p["modifiers"] for v in m["option_values"]}
    assert result.applied is not None
    uploads = {o.op_id: o for o in result.applied.outcomes if o.kind is OpKind.UPLOAD_IMAGE}
    ops = {op.op_id: op for op in result.migration.plan.operations if op.kind is OpKind.UPLOAD_IMAGE}
    failed = [o for o in uploads.values() if o.status != "ok"]
    assert sorted(ops[o.op_id].image for o in failed) == sorted(INNER)
    for outcome in failed:  # (the executor names the workbook too once it passes `workbook=` to load_image)
        assert (f"sheet {outcome.source.sheet!r}, row {outcome.source.row}, column 'image_url': the image at "
                in outcome.message)
        assert "link-local address" in outcome.message or "private network address" in outcome.message
    assert [o.status for o in result.applied.outcomes if o.kind is not OpKind.UPLOAD_IMAGE].count("failed") == 0

    done = [o for o in uploads.values() if o.status == "ok"]
    assert len(done) == len(uploads) - 2 > 0
    source_images = await image_bytes([ops[o.op_id].image for o in done])
    target_images = await image_bytes([values[o.value_id]["adjusters"]["image_url"] for o in done])
    assert source_images == target_images  # the same bytes, now served by the target
    assert all(values[o.value_id]["adjusters"]["image_url"].startswith(target_url.split("/stores/")[0])
               for o in done)


async def test_apply_migration_takes_the_source_from_the_workbook(tmp_path: Path) -> None:
    """The CLI and the flow call apply_migration with the target only: the loopback source recorded in
    the migration workbook is what allows its images; a real source store would not."""
    target_store = sandbox_store(seeded(tmp_path / "target", target_catalog()), products=0, store_hash="tgt")
    target_store.settings = Settings.for_sandbox(TARGET_URL, TEST_TOKEN, "tgt")

    def target_client() -> BigCommerceClient:
        return BigCommerceClient(target_store.settings, transport=target_store.transport(), retry=FAST_RETRY,
                                 governor=fast_governor())

    with served(tmp_path, "source", "src", SOURCE_TOKEN, source_catalog(inner=False)) as base:
        async with client(f"{base}/stores/src/v3", SOURCE_TOKEN) as source, target_client() as target:
            migration = await plan_migration(source, target, workdir=tmp_path / "work")
        assert migration.images > 0

        async with target_client() as target:
            strict, _ = await apply_migration(migration.plan, target, backup=False,
                                              source_api_url="https://api.bigcommerce.com/stores/src/v3")
        refused = [o for o in strict.outcomes if o.kind is OpKind.UPLOAD_IMAGE]
        assert refused and all(o.status == "failed" and "loopback address" in o.message for o in refused)

        async with target_client() as target:
            result, _ = await apply_migration(migration.plan, target, backup=False)  # source from the workbook
    uploads = [o for o in result.outcomes if o.kind is OpKind.UPLOAD_IMAGE]
    assert len(uploads) == migration.images and all(o.status == "ok" for o in uploads), result.failed
