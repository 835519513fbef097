"""The incremental window runs from the start of the store's last successful export: a skipped or
failed night is covered by the next run, and the first run is a full export."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from pathlib import Path

from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.workbook.reader import read_export
from tests.flows.support import edit_product, seed_long_ago
from tests.stores import TEST_TOKEN

PRODUCTS = 15


def _exported_ids(summary: dict) -> set[int]:
    frames, _ = read_export(Path(summary["path"]))
    return set(int(i) for i in frames.modifiers["product_id"].unique())


def _last_export(key: str):
    from flows.window import last_export

    return asyncio.run(last_export(key))


def test_a_skipped_night_is_covered_by_the_next_run(prefect_harness, no_store_env, tmp_path, monkeypatch):
    from flows.export_flow import export_modifiers
    from flows.window import CLOCK_MARGIN

    store = f"nightly{uuid.uuid4().hex[:6]}"
    seed_long_ago(tmp_path / "store", PRODUCTS)  # nothing changed since 2026-01-01
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", TEST_TOKEN)

    def night(out: str, **kwargs):
        parameters = {"incremental": True, **kwargs}
        state = asyncio.run(export_modifiers(out=str(tmp_path / out), store={"api_url": api_url}, return_state=True,
                                             **parameters))
        return state, (asyncio.run(state.aresult()) if state.is_completed() else None)

    with serve_in_thread(SandboxConfig(data_dir=tmp_path / "store", store_hash=store, token=TEST_TOKEN, products=0,
                                       quota=None)) as base:
        api_url = f"{base}/stores/{store}/v3"
        # night 1: no earlier export recorded, so a full export; it records when it started reading
        _, first = night("n1")
        assert first["window"] == "whole catalog" and first["since"] is None and first["products"] == PRODUCTS
        recorded = _last_export(store)
        assert recorded.path == first["path"] and recorded.products == PRODUCTS
        # changes the next night should see, then a night that failed (wrong token): it records nothing
        edit_product(api_url, TEST_TOKEN, 101)
        monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", "wrong-token")
        failed, _ = night("n2")
        assert failed.is_failed() and _last_export(store) == recorded
        monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", TEST_TOKEN)
        # more changes during the skipped night, then night 3 reads everything since night 1 started
        edit_product(api_url, TEST_TOKEN, 107)
        _, third = night("n3")
        assert third["since"] == (recorded.started_at - CLOCK_MARGIN).isoformat(timespec="seconds")
        assert third["window"] == f"changed since {third['since']}"
        assert _exported_ids(third) == {101, 107}
        assert _last_export(store).started_at > recorded.started_at
        # a by-hand window (or a partial export) answers a question; it does not move the nightly window
        before = _last_export(store)
        _, by_hand = night("n4", since_hours=1)
        assert by_hand["window"].startswith("changed since") and _last_export(store) == before
        _, some = night("n5", product_ids=[101], incremental=False)
        assert some["products"] == 1 and _last_export(store) == before


def test_a_full_export_also_starts_the_window(prefect_harness, no_store_env, tmp_path, monkeypatch):
    from flows.export_flow import export_modifiers

    store = f"full{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", TEST_TOKEN)
    with serve_in_thread(SandboxConfig(data_dir=tmp_path / "store", store_hash=store, token=TEST_TOKEN, products=3,
                                       quota=None)) as base:
        started = datetime.now().astimezone()
        state = asyncio.run(export_modifiers(out=str(tmp_path / "out"), store={"api_url": f"{base}/stores/{store}/v3"},
                                             return_state=True))
    assert state.is_completed()
    assert _last_export(store).started_at >= started.replace(microsecond=0)
