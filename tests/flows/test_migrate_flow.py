"""The Prefect migrate_store flow between two sandboxes served over real HTTP: the target's apply
downloads each image from the source's own URL on 127.0.0.1 and uploads it to the target."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tests.pipeline.migrate_support import ABSENT, SOURCE_TOKEN, TARGET_TOKEN, served_pair


@pytest.fixture
def stores(tmp_path, monkeypatch):
    for name in ("BIGCOMMERCE_API_URL", "BIGCOMMERCE_STORE_HASH", "BCMOD_TARGET_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BCMOD_SOURCE_TOKEN", SOURCE_TOKEN)
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", TARGET_TOKEN)
    with served_pair(tmp_path) as pair:
        yield pair


def run(flow, **kwargs):
    return asyncio.run(flow(return_state=True, **kwargs))


def result_of(state):
    result = state.result()
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


def test_migrate_flow_dry_run_then_apply_then_nothing_left(prefect_harness, stores, tmp_path):
    from flows.migrate_flow import migrate_store

    source, target = stores
    args = {"source": {"api_url": source.api_url}, "target": {"api_url": target.api_url},
            "workdir": str(tmp_path / "work")}
    dry = result_of(run(migrate_store, **args))
    assert dry["applied"] is None and dry["operations"] > 0 and dry["unmatched"] == len(ABSENT)
    assert source.writes() == target.writes() == 0
    report = json.loads(Path(dry["report"]).read_text())
    assert sorted(u["sku"] for u in report["unmatched"]) == sorted(ABSENT)

    state = run(migrate_store, apply=True, **args)
    assert state.is_completed(), state.message
    done = result_of(state)
    applied = done["applied"]
    assert applied["failed"] == 0 and applied["writes"] == done["operations"] == target.writes()
    assert source.writes() == 0 and Path(applied["backup"]).exists() and Path(applied["results"]).exists()
    for summary in (dry, done):
        text = json.dumps(summary)
        assert SOURCE_TOKEN not in text and TARGET_TOKEN not in text
    # the target serves its own copies of the images
    products = httpx.get(f"{target.api_url}/catalog/products", params={"include": "modifiers", "limit": 10},
                         headers={"X-Auth-Token": TARGET_TOKEN}, timeout=10).json()["data"]
    images = [v["adjusters"]["image_url"] for p in products for m in p["modifiers"] for v in m["option_values"]
              if v["adjusters"]["image_url"]]
    assert images and all(url.startswith(f"{target.base_url}/_sandbox/images/uploads/") for url in images)
    assert all(httpx.get(url, timeout=10).content.startswith(b"\x89PNG") for url in images)

    again = result_of(run(migrate_store, apply=True, **args))
    assert again["operations"] == 0 and again["applied"] is None and again["images_kept"] == done["images_to_upload"]


def test_migrate_flow_without_a_source_token_fails_before_any_request(prefect_harness, stores, tmp_path,
                                                                      monkeypatch):
    from flows.migrate_flow import migrate_store

    source, target = stores
    monkeypatch.delenv("BCMOD_SOURCE_TOKEN")
    state = run(migrate_store, source={"api_url": source.api_url}, target={"api_url": target.api_url},
                workdir=str(tmp_path / "work"), apply=True)
    assert state.is_failed()
    with pytest.raises(ValueError, match="no token for the source store: set the environment variable "
                                         "BCMOD_SOURCE_TOKEN"):
        result_of(state)
    assert source.stats()["requests"]["total"] == target.stats()["requests"]["total"] == 0


def test_migrate_flow_reads_both_tokens_from_secret_blocks(prefect_harness, stores, tmp_path, monkeypatch):
    from prefect.blocks.system import Secret

    from flows.migrate_flow import migrate_store

    source, target = stores
    monkeypatch.delenv("BCMOD_SOURCE_TOKEN")
    monkeypatch.delenv("BIGCOMMERCE_ACCESS_TOKEN")
    Secret(value=SOURCE_TOKEN).save("bcmod-test-source", overwrite=True)
    Secret(value=TARGET_TOKEN).save("bcmod-test-target", overwrite=True)
    state = run(migrate_store, source={"api_url": source.api_url, "token_secret_block": "bcmod-test-source"},
                target={"api_url": target.api_url, "token_secret_block": "bcmod-test-target"},
                workdir=str(tmp_path / "work"))
    assert state.is_completed(), state.message
    dry = result_of(state)
    assert dry["applied"] is None and dry["operations"] > 0 and dry["requests_all_attempts"] > 0
    assert SOURCE_TOKEN not in json.dumps(dry) and TARGET_TOKEN not in json.dumps(dry)
