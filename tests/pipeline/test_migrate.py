"""Store migration between two in-process sandboxes: the source seeded with a generated catalog, the
target with the same SKUs under other product ids (plus a few differences), compared by export."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from pipeline.client import BigCommerceClient
from pipeline.export import fetch_frames
from pipeline.migrate import (
    MigrationError,
    MigrationPlan,
    ProductRef,
    apply_migration,
    match_by_sku,
    migrate,
    plan_migration,
)
from pipeline.normalise import ModifierFrames
from pipeline.plan.build import PlanRefused, plan_workbook
from pipeline.plan.operations import OpKind
from pipeline.settings import Settings
from pipeline.workbook.reader import read_sheets
from sample_data.generator import generate_catalog
from tests.pipeline.apply.support import FAST_RETRY, fast_governor
from tests.pipeline.migrate_support import ABSENT, N, SHIFT, seeded, target_catalog
from tests.stores import TEST_TOKEN, SandboxStore, sandbox_store

pytestmark = pytest.mark.anyio

SOURCE_URL = "http://source.test/stores/src/v3"
TARGET_URL = "http://target.test/stores/tgt/v3"
ID_COLUMNS = ["product_id", "modifier_id", "value_id"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Pair:
    source: SandboxStore
    target: SandboxStore
    workdir: Path

    def clients(self) -> tuple[BigCommerceClient, BigCommerceClient]:
        return (BigCommerceClient(self.source.settings, transport=self.source.transport(), retry=FAST_RETRY,
                                  governor=fast_governor()),
                BigCommerceClient(self.target.settings, transport=self.target.transport(), retry=FAST_RETRY,
                                  governor=fast_governor()))

    async def plan(self, **kwargs: Any) -> MigrationPlan:
        source, target = self.clients()
        async with source, target:
            return await plan_migration(source, target, workdir=self.workdir, **kwargs)

    async def migrate(self, **kwargs: Any):
        source, target = self.clients()
        async with source, target:
            return await migrate(source, target, workdir=self.workdir, image_transport=self.source.transport(),
                                 **kwargs)

    def writes(self) -> tuple[int, int]:
        return self.source.stats()["writes"], self.target.stats()["writes"]


def store_at(path: Path, url: str, store_hash: str, products: int = 0, **config: Any) -> SandboxStore:
    store = sandbox_store(path, products=products, store_hash=store_hash, **config)
    store.settings = Settings.for_sandbox(url, TEST_TOKEN, store_hash)  # distinct hosts: image URLs tell them apart
    return store


def make_pair(tmp_path: Path, catalog: list[dict[str, Any]] | None = None, *,
              source_catalog: list[dict[str, Any]] | None = None, **target_config: Any) -> Pair:
    source = store_at(seeded(tmp_path / "source", source_catalog or generate_catalog(N)), SOURCE_URL, "src")
    target = store_at(seeded(tmp_path / "target", target_catalog() if catalog is None else catalog), TARGET_URL,
                      "tgt", **target_config)
    return Pair(source, target, tmp_path / "work")


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    return make_pair(tmp_path)


# -- comparing exports -----------------------------------------------------------------------------


async def export_of(store: SandboxStore) -> tuple[ModifierFrames, dict[int, str]]:
    """The store's export frames, and its product id -> SKU."""
    async with BigCommerceClient(store.settings, transport=store.transport()) as client:
        products, frames = await fetch_frames(client)
    return frames, {int(p["id"]): p["sku"] for p in products}


async def image_digests(store: SandboxStore, urls: Iterable[str]) -> dict[str, str]:
    async with httpx.AsyncClient(transport=store.transport()) as http:
        out = {}
        for url in set(urls):
            response = await http.get(url)
            assert response.status_code == 200, url
            out[url] = hashlib.sha256(response.content).hexdigest()[:16]
    return out


async def by_natural_key(store: SandboxStore, skus: set[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Modifier and value rows keyed by SKU, display name and label: ids dropped, product-list targets
    as SKUs, value images as the digest of the bytes the store serves (every one from this store)."""
    frames, sku_of = await export_of(store)
    origin = str(store.settings.base_url).split("/stores/")[0]
    mods = frames.modifiers.drop(columns=["modifier_id", "name", "product_name", "product_id"])
    values = frames.values.drop(columns=ID_COLUMNS)
    if skus is not None:
        mods = mods[mods["product_sku"].isin(skus)]
        values = values[values["product_sku"].isin(skus)]
    images = values["image_url"].dropna().tolist()
    assert all(url.startswith(origin + "/_sandbox/images/") for url in images), "an image not served by this store"
    digests = await image_digests(store, images)
    values = values.assign(
        linked_product_id=values["linked_product_id"].map(lambda i: sku_of[int(i)] if pd.notna(i) else None),
        image_url=values["image_url"].map(lambda u: digests[u] if pd.notna(u) else None))
    mods = mods.sort_values(["product_sku", "display_name"]).reset_index(drop=True)
    values = values.sort_values(["product_sku", "display_name", "label"]).reset_index(drop=True)
    return mods, values.astype({"linked_product_id": "string", "image_url": "string"})


async def assert_target_reproduces_source(pair: Pair, migration: MigrationPlan) -> None:
    matched_skus = {f"SKU-{i:06d}" for i in migration.matched}
    source_mods, source_values = await by_natural_key(pair.source, matched_skus)
    target_mods, target_values = await by_natural_key(pair.target, matched_skus)
    left_out = {(f"SKU-{r.product_id:06d}", r.display_name, r.label) for r in migration.left_out}
    keys = list(zip(source_values["product_sku"], source_values["display_name"], source_values["label"], strict=True))
    source_values = source_values[[k not in left_out for k in keys]].reset_index(drop=True)
    pd.testing.assert_frame_equal(target_mods, source_mods)
    pd.testing.assert_frame_equal(target_values, source_values)


# -- matching --------------------------------------------------------------------------------------


def test_products_match_on_exactly_the_same_sku_and_nothing_is_guessed() -> None:
    source = [ProductRef(1, "A"), ProductRef(2, None), ProductRef(3, "B"), ProductRef(4, "B"), ProductRef(5, "C"),
              ProductRef(6, "d-1"), ProductRef(7, "E")]
    target = [ProductRef(11, "A"), ProductRef(13, "B"), ProductRef(15, "C"), ProductRef(16, "C"),
              ProductRef(17, "D-1 "), ProductRef(18, "X")]
    skus = match_by_sku(source, target)
    assert skus.matched == {1: 11}
    reasons = {i: u.reason for i, u in skus.problems.items()}
    assert reasons[2] == "has no SKU, so it cannot be matched"
    assert reasons[3] == reasons[4] == "its SKU 'B' is shared by 2 source products (3, 4): ambiguous"
    assert reasons[5] == "its SKU 'C' is shared by 2 target products (15, 16): ambiguous"
    assert reasons[6] == ("no product with SKU 'd-1' in the target store (it has 'D-1 ', which differs in case or "
                          "spaces; not matched)")
    assert reasons[7] == "no product with SKU 'E' in the target store"
    assert [u.product_id for u in skus.unmatched([7, 1, 2])] == [2, 7]


# -- planning --------------------------------------------------------------------------------------


async def test_a_dry_run_reads_both_stores_writes_nothing_and_lists_what_cannot_be_matched(pair: Pair) -> None:
    migration = await pair.plan()
    assert pair.writes() == (0, 0)
    assert pair.source.stats()["requests"]["GET"] == migration.requests["source"] == math.ceil(N / 10)
    assert pair.target.stats()["requests"]["GET"] == migration.requests["target"] == math.ceil((N - 2) / 10)
    assert sorted(u.sku for u in migration.unmatched) == sorted(ABSENT)
    assert all(u.reason.startswith("no product with SKU") for u in migration.unmatched)
    assert migration.matched == {i: i + SHIFT for i in range(101, 101 + N) if f"SKU-{i:06d}" not in ABSENT}
    absent_ids = {int(s[4:]) for s in ABSENT}
    # product-list values linking to an unmatched product are left out with the reason, the rest re-mapped
    assert migration.left_out and all(r.label in {f"Add product {i}" for i in absent_ids} for r in migration.left_out)
    assert all("cannot be matched: no product with SKU" in r.reason for r in migration.left_out)
    creates = [op for op in migration.plan.operations if op.kind is OpKind.CREATE_MODIFIER]
    assert {op.product_id for op in creates} == set(migration.matched.values())
    links = [v["value_data"]["product_id"] for op in creates for v in op.payload.get("option_values", [])
             if v.get("value_data") and "product_id" in v["value_data"]]
    assert len(links) == migration.remapped > 0 and all(i - SHIFT in migration.matched for i in links)
    # value images go by upload from the source's URL, never as a link in a create
    uploads = [op for op in migration.plan.operations if op.kind is OpKind.UPLOAD_IMAGE]
    assert len(uploads) == migration.images > 0
    assert all(op.image.startswith("http://source.test/_sandbox/images/") and op.depends_on for op in uploads)
    assert not any("image_url" in (v.get("adjusters") or {})  # no body carries adjusters.image_url
                   for op in creates for v in op.payload.get("option_values", []))
    assert migration.plan_path.exists() and migration.report_path.exists() and migration.workbook.exists()
    assert migration.plan.store_hash == "tgt" and migration.source_store == "src"


async def test_the_migration_workbook_rows_are_the_planned_rows_and_apply_refuses_it_on_the_target(
        pair: Pair) -> None:
    migration = await pair.plan()
    sheets, meta = read_sheets(migration.workbook)
    assert meta.store_hash == "src" and meta.filters["migration_to"] == "tgt"
    refs = {(op.source.sheet, op.source.row): op for op in migration.plan.operations if op.source}
    for (sheet, row), op in refs.items():
        written = sheets[sheet].loc[row]
        assert int(written["product_id"]) == op.product_id and written["display_name"] == op.display_name
        if op.kind is OpKind.UPLOAD_IMAGE:
            assert written["label"] == op.label and written["image_url"] == op.image
    _, target = pair.clients()
    async with target:
        with pytest.raises(PlanRefused) as refused:
            await plan_workbook(migration.workbook, target)
    assert [i.message for i in refused.value.outcome.issues if "src" in i.message and "tgt" in i.message]
    assert pair.writes() == (0, 0)


async def test_the_same_store_on_both_sides_is_refused(pair: Pair) -> None:
    source, _ = pair.clients()
    other = BigCommerceClient(pair.source.settings, transport=pair.source.transport())
    async with source, other:
        with pytest.raises(MigrationError, match="same store"):
            await plan_migration(source, other, workdir=pair.workdir)


# -- applying --------------------------------------------------------------------------------------


async def test_apply_reproduces_the_source_on_the_target_and_a_rerun_plans_nothing(pair: Pair) -> None:
    result = await pair.migrate(apply=True)
    migration, applied = result.migration, result.applied
    assert applied is not None and applied.ok, [o.message for o in applied.failed]
    assert applied.writes == len(migration.plan.operations) and pair.writes() == (0, applied.writes)
    assert applied.backup_path is not None and applied.backup_path.exists()
    assert result.results is not None and result.results.exists()
    await assert_target_reproduces_source(pair, migration)
    again = await pair.migrate(apply=True)
    assert again.migration.plan.operations == [] and again.applied is None
    assert again.migration.images_kept == migration.images and again.migration.unmatched == migration.unmatched
    assert pair.writes() == (0, applied.writes)


async def test_images_on_the_target_are_its_own_uploads_with_the_sources_bytes(pair: Pair) -> None:
    result = await pair.migrate(apply=True)
    frames, _ = await export_of(pair.target)
    images = frames.values["image_url"].dropna().tolist()
    assert len(images) == result.migration.images
    assert all(url.startswith("http://target.test/_sandbox/images/uploads/") for url in images)
    source_frames, _ = await export_of(pair.source)
    source_images = source_frames.values.dropna(subset=["image_url"])
    target_images = frames.values.dropna(subset=["image_url"])
    wanted = await image_digests(pair.source, source_images["image_url"])
    got = await image_digests(pair.target, target_images["image_url"])
    key = ["product_sku", "display_name", "label"]
    source_keyed = {tuple(r[k] for k in key): wanted[r["image_url"]] for r in source_images.to_dict("records")}
    target_keyed = {tuple(r[k] for k in key): got[r["image_url"]] for r in target_images.to_dict("records")}
    left_out = {(f"SKU-{r.product_id:06d}", r.display_name, r.label) for r in result.migration.left_out}
    assert target_keyed == {k: v for k, v in source_keyed.items() if k[0] not in ABSENT and k not in left_out}


async def test_checkbox_values_relabelled_with_images_and_swatch_patterns_are_carried(tmp_path: Path) -> None:
    """A new checkbox's values are made by the store: its images go after the updates that
    relabel them. A swatch pattern has no upload endpoint, so its source URL is carried."""
    catalog = generate_catalog(N)
    product = catalog[0]
    checkbox = next(m for p in catalog for m in p["modifiers"] if m["type"] == "checkbox")
    checkbox = {**checkbox, "display_name": "Gift box", "sort_order": 8, "option_values": [
        {**v, "label": "Sure" if v["value_data"]["checked_value"] else v["label"],
         "adjusters": {**v["adjusters"], "image_url": f"/_sandbox/images/seed/box-{n}.png"}}
        for n, v in enumerate(checkbox["option_values"])]}
    swatch = {"display_name": "Pattern", "type": "swatch", "required": False, "sort_order": 9, "config": {},
              "option_values": [{"label": "Tweed", "sort_order": 0, "is_default": False,
                                 "value_data": {"image_url": "/_sandbox/images/seed/tweed.png"},
                                 "adjusters": {"image_url": "/_sandbox/images/seed/tweed-photo.png"}}]}
    catalog[0] = {**product, "modifiers": [*product["modifiers"], checkbox, swatch]}
    pair = make_pair(tmp_path, source_catalog=catalog)
    result = await pair.migrate(apply=True)
    assert result.applied is not None and result.applied.ok, [o.message for o in result.applied.failed]
    uploads = {op.label: op for op in result.migration.plan.operations if op.kind is OpKind.UPLOAD_IMAGE
               and op.product_id == product["id"] + SHIFT}
    ops = {op.op_id: op for op in result.migration.plan.operations}
    relabel = ops[uploads["Sure"].depends_on]  # the update that relabels the store's "Yes"
    assert relabel.kind is OpKind.UPDATE_VALUE and relabel.payload["label"] == "Sure"
    assert ops[relabel.depends_on].kind is OpKind.CREATE_MODIFIER and ops[relabel.depends_on].display_name == "Gift box"
    assert result.migration.pattern_links >= 1
    await assert_target_reproduces_source(pair, result.migration)
    frames, _ = await export_of(pair.target)
    tweed = frames.values[frames.values["label"] == "Tweed"].iloc[0]
    assert tweed["pattern_image_url"] == "http://source.test/_sandbox/images/seed/tweed.png"
    assert tweed["image_url"].startswith("http://target.test/_sandbox/images/uploads/")
    assert (await pair.plan()).plan.operations == []


async def test_a_subset_by_sku_maps_product_lists_to_products_outside_it(pair: Pair) -> None:
    catalog = generate_catalog(N)
    chosen = next(p for p in catalog if any(
        m["type"].startswith("product_list") and not any(f"SKU-{v['value_data']['product_id']:06d}" in ABSENT
                                                         for v in m["option_values"])
        for m in p["modifiers"]))
    result = await pair.migrate(apply=True, product_skus=[chosen["sku"], "NO-SUCH-SKU"])
    migration = result.migration
    assert migration.matched == {chosen["id"]: chosen["id"] + SHIFT}
    assert [(u.product_id, u.sku) for u in migration.unmatched] == [(None, "NO-SUCH-SKU")]
    assert migration.requests["source"] == 2  # the product, then the SKUs of the products it links to
    assert result.applied is not None and result.applied.ok
    await assert_target_reproduces_source(pair, migration)
    frames, _ = await export_of(pair.target)
    assert set(frames.modifiers["product_id"]) == {chosen["id"] + SHIFT}


async def test_duplicate_target_skus_are_reported_and_links_to_them_left_out(tmp_path: Path) -> None:
    catalog = target_catalog()
    catalog.append({**catalog[1], "id": 5000, "name": "Duplicate"})  # SKU-000102 twice in the target
    pair = make_pair(tmp_path, catalog)
    migration = (await pair.migrate(apply=True)).migration
    reasons = {u.sku: u.reason for u in migration.unmatched}
    assert reasons["SKU-000102"] == "its SKU 'SKU-000102' is shared by 2 target products (1102, 5000): ambiguous"
    assert any(r.label == "Add product 102" and "shared by 2 target products" in r.reason for r in migration.left_out)
    await assert_target_reproduces_source(pair, migration)


def _existing_modifiers() -> tuple[dict[str, Any], dict[str, Any]]:
    """A source product with a choice modifier of 3+ values, and the target's version of it: same
    display names, a changed config-free field, a changed and a missing value, an extra value, and
    a modifier the source does not have."""
    source = next(p for p in generate_catalog(N) if p["sku"] not in ABSENT and any(
        m["type"] in ("dropdown", "radio_buttons", "rectangles") and len(m["option_values"]) >= 3
        for m in p["modifiers"]))
    modifiers = []
    for modifier in source["modifiers"]:
        modifier = {**modifier, "option_values": [dict(v) for v in modifier["option_values"]]}
        if modifier["type"] in ("dropdown", "radio_buttons", "rectangles") and len(modifier["option_values"]) >= 3:
            values = modifier["option_values"]
            values[0]["adjusters"] = {**values[0]["adjusters"], "price": {"adjuster": "relative",
                                                                          "adjuster_value": 99.5}}
            del values[1]
            values.append({**values[-1], "label": "Target only", "is_default": False})
            modifier["required"] = not modifier["required"]
        modifiers.append(modifier)
    modifiers.append({"display_name": "Legacy note", "type": "text", "required": False, "sort_order": 9,
                      "config": {"default_value": "", "text_characters_limited": False}, "option_values": []})
    return source, {**source, "id": source["id"] + SHIFT, "modifiers": modifiers}


@pytest.mark.parametrize("prune", [False, True])
async def test_what_the_target_already_has_is_matched_by_name_and_label_not_duplicated(tmp_path: Path,
                                                                                       prune: bool) -> None:
    source, existing = _existing_modifiers()
    catalog = [existing if p["id"] == existing["id"] else p for p in target_catalog()]
    pair = make_pair(tmp_path, catalog)
    migration = await pair.plan(prune=prune)
    ops = [op for op in migration.plan.operations if op.product_id == existing["id"]]
    assert not any(op.kind is OpKind.CREATE_MODIFIER for op in ops)
    kinds = {op.kind for op in ops}
    assert {OpKind.UPDATE_MODIFIER, OpKind.UPDATE_VALUE, OpKind.CREATE_VALUE} <= kinds
    assert (OpKind.DELETE_MODIFIER in kinds) is prune and (OpKind.DELETE_VALUE in kinds) is prune
    result = await pair.migrate(apply=True, prune=prune)
    assert result.applied is not None and result.applied.ok
    frames, _ = await export_of(pair.target)
    mine = frames.modifiers[frames.modifiers["product_id"] == existing["id"]]
    assert sorted(mine["display_name"]) == sorted(
        [m["display_name"] for m in source["modifiers"]] + ([] if prune else ["Legacy note"]))
    labels = frames.values[frames.values["product_id"] == existing["id"]]["label"].tolist()
    assert ("Target only" in labels) is not prune
    if prune:
        await assert_target_reproduces_source(pair, migration)
    assert (await pair.plan(prune=prune)).plan.operations == []


async def test_an_image_the_target_value_already_has_is_kept_unless_replacing(tmp_path: Path) -> None:
    catalog = generate_catalog(N)
    product = next(p for p in catalog if p["sku"] not in ABSENT and any(
        v["adjusters"]["image_url"] for m in p["modifiers"] if m["type"] != "checkbox" for v in m["option_values"]))
    existing = {**product, "id": product["id"] + SHIFT, "modifiers": [
        {**m, "option_values": [{**v, "adjusters": {**v["adjusters"], "image_url": "/_sandbox/images/seed/other.png"}}
                                if v["adjusters"]["image_url"] else v for v in m["option_values"]]}
        for m in product["modifiers"]]}
    pair = make_pair(tmp_path, [existing if p["id"] == existing["id"] else p for p in target_catalog()])
    kept = await pair.plan()
    replacing = await pair.plan(replace_images=True)
    assert replacing.images - kept.images == kept.images_kept > 0
    uploads = [op for op in replacing.plan.operations
               if op.kind is OpKind.UPLOAD_IMAGE and op.product_id == existing["id"]]
    assert uploads and all(op.value_id is not None and op.changes[0].before.endswith("/seed/other.png")
                           for op in uploads)


async def test_an_apply_cut_off_midway_resumes_from_its_journal_without_duplicates(tmp_path: Path) -> None:
    pair = make_pair(tmp_path, crash_after_writes=40)
    migration = await pair.plan()
    _, target = pair.clients()
    async with target:
        first, _ = await apply_migration(migration.plan, target, image_transport=pair.source.transport())
    assert first.failed and first.counts()["ok"] < len(migration.plan.operations)
    pair.target = store_at(tmp_path / "target", TARGET_URL, "tgt")  # the store is back, same database
    _, target = pair.clients()
    async with target:
        second, _ = await apply_migration(migration.plan, target, image_transport=pair.source.transport())
    assert second.ok and second.resumed, [o.message for o in second.failed]
    assert any(o.from_journal for o in second.outcomes)
    await assert_target_reproduces_source(pair, migration)
    frames, _ = await export_of(pair.target)
    assert not frames.modifiers.duplicated(["product_id", "display_name"]).any()
    assert (await pair.plan()).plan.operations == []


async def test_a_sku_with_a_comma_is_matched_and_a_modifier_of_another_type_is_reported_not_replaced(
        tmp_path: Path) -> None:
    source_catalog = generate_catalog(N)
    source_catalog[4] = {**source_catalog[4], "sku": "KIT,RED"}  # cannot go in sku:in
    catalog = target_catalog()
    comma = next(p for p in catalog if p["id"] == source_catalog[4]["id"] + SHIFT)
    comma["sku"] = "KIT,RED"
    first = next(p for p in catalog if p["id"] == source_catalog[0]["id"] + SHIFT)
    clash = source_catalog[0]["modifiers"][0]
    other_type = "text" if clash["type"] != "text" else "date"
    first["modifiers"] = [{"display_name": clash["display_name"], "type": other_type, "required": False,
                           "sort_order": 0, "config": {}, "option_values": []}]
    pair = make_pair(tmp_path, catalog, source_catalog=source_catalog)
    migration = await pair.plan()
    assert migration.matched[source_catalog[4]["id"]] == comma["id"]
    refused = [s.reason for s in migration.plan.skipped if "type of a modifier cannot change" in s.reason]
    assert len(refused) == 1 and f"is {other_type} in the store" in refused[0]
    assert not any(op.product_id == first["id"] and op.display_name == clash["display_name"]
                   for op in migration.plan.operations)
    result = await pair.migrate(apply=True)
    assert result.applied is not None and result.applied.ok
    frames, _ = await export_of(pair.target)
    kept = frames.modifiers[(frames.modifiers["product_id"] == first["id"])
                            & (frames.modifiers["display_name"] == clash["display_name"])]
    assert kept["type"].tolist() == [other_type]


async def test_a_product_without_sku_is_listed_and_an_empty_source_plans_nothing(tmp_path: Path) -> None:
    source_catalog = generate_catalog(3)
    source_catalog[1] = {**source_catalog[1], "sku": ""}
    pair = make_pair(tmp_path / "one", target_catalog(3, ()), source_catalog=source_catalog)
    migration = await pair.plan()
    assert [(u.product_id, u.reason) for u in migration.unmatched] == [(102, "has no SKU, so it cannot be matched")]
    assert set(migration.matched) == {101, 103}
    empty = make_pair(tmp_path / "empty", target_catalog(3, ()), source_catalog=[{"id": 1, "name": "Bare",
                                                                                 "sku": "SKU-000101"}])
    result = await empty.migrate(apply=True)
    assert result.migration.plan.operations == [] and result.applied is None and result.migration.matched == {}
    assert empty.writes() == (0, 0) and empty.target.stats()["requests"]["total"] == 0
