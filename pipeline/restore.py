"""Undo an apply: put every product of a backup back exactly as the backup shows it.

A backup (`backups/backup-<store>-<time>.xlsx`, written by every apply before its first write) is
an ordinary export, so restoring it is planning it with three differences from a person's edit:

- The backup is authoritative. Its export fingerprints are set aside, so no row is "changed in
  the store since the export" and kept: every difference from the store is written (`force`),
  and whatever the store has on the backup's products that the backup does not (modifiers and
  values the apply created) is deleted (`prune`), also on products that had no modifier at all
  when the backup was taken (the backup's metadata lists every product it covers).
- A row whose id the store no longer has (the apply deleted it) is matched by natural key
  (product + display name, modifier + label) like a new row: what a restore created again is
  found again, so planning the same backup after its restore plans nothing. What is not found is
  created again from its row, with new ids; its image is uploaded again from the backup's image
  URL (the store's own copy; if the store no longer serves it, that row fails and says so). An
  image the apply replaced is uploaded back the same way; the restore's journal records those
  uploads (`uploaded`), so they are not sent again.
- What BigCommerce's API cannot empty in place (a value's image the apply added, a config field
  the apply filled in) is deleted and created again, as the backup shows it; for a checkbox,
  whose values the store generates, that is the whole modifier.

The plan is a plain `Plan` (`workbook` = the backup), applied with `apply_plan` like any other:
journaled beside the backup (a re-run of an interrupted restore continues it), its own backup
taken first into the same folder (so a restore can be undone too), results written beside the
backup. Products the store no longer has cannot be created by bcmod: their rows are refused.
Before its first write a restore marks the journal of the run that took the backup as undone
(`undo_journals`): that run is neither resumed nor replayed afterwards, its workbook is planned
again from the store.

For a caller such as a Prefect flow: `plan = await plan_restore(backup, client)`, then
`result = await apply_restore(plan, client, backup=backup)` and `write_results(result, backup)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from pipeline.apply.executor import ApplyResult, apply_plan
from pipeline.apply.interrupt import StopRequest
from pipeline.apply.journal import Journal, journals_backed_up_in, run_request
from pipeline.client import BigCommerceClient
from pipeline.extract import ExtractFilters, ProgressCallback, extract_products
from pipeline.modifier_types import MODIFIER_TYPES
from pipeline.normalise import products_to_frames
from pipeline.plan.build import PlanRefused
from pipeline.plan.diff import OwnUpload, build_plan, touched_product_ids
from pipeline.plan.operations import Operation, OpKind, Plan, RowRef, SkipKind, Skipped, op_id
from pipeline.settings import store_hash_of_url
from pipeline.validate.command import validate_file_async
from pipeline.workbook.layout import SHEETS
from pipeline.workbook.meta import ExportMeta, empty_fingerprints

RESTORE = "restore"
PRODUCT_GONE = "product {product_id} is no longer in the store, and bcmod cannot create products"
Product = dict[str, Any]


def restore_request(backup: Path, store_hash: str) -> dict[str, Any]:
    """What a restore plan is made from, for its journal: a re-run of the same restore continues it."""
    return run_request(RESTORE, backup, store_hash)


def backup_product_ids(sheets: Mapping[str, pd.DataFrame], meta: ExportMeta | None) -> list[int]:
    """Every product the backup covers: those its rows name, and those its export was filtered to
    (a product without modifiers has no row, but what an apply added to it must go)."""
    listed = (meta.filters.get("product_ids") if meta is not None else None) or []
    return sorted({int(p) for p in listed} | set(touched_product_ids(sheets)))


async def plan_restore(backup: Path, client: BigCommerceClient, *, expected_store_hash: str | None = None,
                       progress: ProgressCallback | None = None,
                       uploaded: Mapping[int, OwnUpload] | None = None) -> Plan:
    """The plan that takes the backup's products back to what `backup` shows (reads only).

    Raises `PlanRefused` when the backup does not validate (for instance: it comes from another
    store). `progress` hears (pages read, pages) of the products' current state. `uploaded`: the
    images earlier restores of this backup uploaded (default: from its journal, beside it)."""
    backup = Path(backup)
    if uploaded is None:
        uploaded = Journal.for_workbook(backup).own_uploads(backup.parent)
    expected = expected_store_hash or store_hash_of_url(client.base_url)
    outcome = await validate_file_async(backup, expected_store_hash=expected)
    if not outcome.ok:
        raise PlanRefused(outcome)
    wanted = backup_product_ids(outcome.sheets, outcome.meta)
    products = await extract_products(client, ExtractFilters(product_ids=tuple(wanted)),
                                      progress=progress) if wanted else []
    found = {int(p["id"]) for p in products}
    sheets, gone = _without_products(outcome.sheets, set(wanted) - found)
    meta = replace(outcome.meta, fingerprints=empty_fingerprints()) if outcome.meta is not None else None

    plan = _plan(sheets, meta, products, backup, uploaded)
    recreate = _to_recreate(plan, sheets, products)
    if recreate:
        plan = _plan(sheets, meta, _without(products, recreate), backup, uploaded)
        plan.operations = _deletes(products, recreate, {op.op_id for op in plan.operations}) + plan.operations
    plan.operations += _clear_products(products, set(touched_product_ids(sheets)), {op.op_id for op in plan.operations})
    plan.conflicts = []  # the backup is authoritative: a row the store changed is written back, not a conflict
    plan.skipped += gone
    plan.product_ids = sorted(found)
    return plan


async def apply_restore(plan: Plan, client: BigCommerceClient, *, backup: Path, journal: Journal | None = None,
                        concurrency: int = 8, progress: ProgressCallback | None = None,
                        backup_progress: ProgressCallback | None = None, stop: StopRequest | None = None,
                        image_transport: httpx.AsyncBaseTransport | None = None,
                        replay_complete: bool = True) -> ApplyResult:
    """Apply a restore plan like an apply: journaled beside the backup (default), its own backup taken
    first into the backup's folder, so that it can be undone with `bcmod restore` of that one; the
    journal of the run the backup was taken for is marked undone first. `replay_complete=False` when
    `plan` was just made (see `apply_plan`)."""
    backup = Path(backup)
    undo_journals(backup)
    return await apply_plan(plan, client, workbook_dir=backup.parent, backup_folder=backup.parent,
                            journal=journal if journal is not None else Journal.for_workbook(backup),
                            request=restore_request(backup, plan.store_hash), concurrency=concurrency,
                            progress=progress, backup_progress=backup_progress, stop=stop,
                            image_transport=image_transport, replay_complete=replay_complete)


def undo_journals(backup: Path) -> list[Path]:
    """Mark the journals of the runs that took `backup` as undone (so they are not resumed or replayed
    over the restored store); returns their paths."""
    found = journals_backed_up_in(backup)
    for journal in found:
        journal.mark_undone(backup)
    return [journal.path for journal in found]


# -- planning ---------------------------------------------------------------------------------------


def _plan(sheets: Mapping[str, pd.DataFrame], meta: ExportMeta | None, products: list[Product], backup: Path,
          uploaded: Mapping[int, OwnUpload]) -> Plan:
    """Plan the backup over `products` with the ids they lack taken out of its rows (matched by natural key)."""
    return build_plan(_by_natural_key(sheets, products), meta, products_to_frames(products), workbook=str(backup),
                      prune=True, force=True, uploaded=uploaded)


def _by_natural_key(sheets: Mapping[str, pd.DataFrame], products: list[Product]) -> dict[str, pd.DataFrame]:
    """The sheets with every modifier_id and value_id the store does not have blanked: those rows are
    then matched by natural key, and created only when nothing matches."""
    modifier_ids = {int(m["id"]) for p in products for m in p.get("modifiers") or []}
    value_ids = {int(v["id"]) for p in products for m in p.get("modifiers") or [] for v in m.get("option_values") or []}
    out: dict[str, pd.DataFrame] = {}
    for name, sheet in sheets.items():
        if len(sheet):
            sheet = sheet.copy()
            for column, known in (("modifier_id", modifier_ids), ("value_id", value_ids)):
                if column in sheet.columns:
                    sheet.loc[~sheet[column].isin(list(known)).fillna(False), column] = pd.NA
        out[name] = sheet
    return out


def _without_products(sheets: Mapping[str, pd.DataFrame], missing: set[int]) -> tuple[dict[str, pd.DataFrame],
                                                                                        list[Skipped]]:
    """The sheets without the rows of products the store lost, and those rows as refusals."""
    if not missing:
        return dict(sheets), []
    kept: dict[str, pd.DataFrame] = {}
    refused: list[Skipped] = []
    for name, sheet in sheets.items():
        if not len(sheet) or "product_id" not in sheet.columns:
            kept[name] = sheet
            continue
        lost = sheet["product_id"].isin(list(missing)).fillna(False).to_numpy(bool)
        refused += [Skipped(RowRef(name, int(row)), PRODUCT_GONE.format(product_id=int(pid)), SkipKind.REFUSED)
                    for row, pid in zip(sheet.index[lost], sheet["product_id"][lost], strict=True)]
        kept[name] = sheet[~lost]
    return kept, refused


def _to_recreate(plan: Plan, sheets: Mapping[str, pd.DataFrame], products: list[Product],
                 ) -> dict[tuple[str, int], RowRef]:
    """The store entities a row could not be written to in place (a refusal: the API cannot empty a
    field the apply filled in): ("modifier" | "value", store id) -> the backup row. A checkbox value
    stands for its modifier (the store generates its values), and a value under a modifier created
    again goes with it."""
    kinds = {spec.name: spec.kind for spec in SHEETS}
    out: dict[tuple[str, int], RowRef] = {}
    owner: dict[int, int] = {}  # value id -> modifier id
    for skipped in plan.skipped:
        sheet = sheets.get(skipped.source.sheet)
        if skipped.kind is not SkipKind.REFUSED or sheet is None or skipped.source.row not in sheet.index:
            continue
        row = sheet.loc[skipped.source.row]
        modifier = _find_modifier(products, row)
        if modifier is None:
            continue
        if kinds.get(skipped.source.sheet) == "modifiers" or _generated(modifier.get("type")):
            out[("modifier", int(modifier["id"]))] = skipped.source
            continue
        value = _find_value(modifier, row)
        if value is not None:
            out[("value", int(value["id"]))] = skipped.source
            owner[int(value["id"])] = int(modifier["id"])
    modifiers = {entity_id for kind, entity_id in out if kind == "modifier"}
    return {key: ref for key, ref in out.items() if key[0] == "modifier" or owner[key[1]] not in modifiers}


def _find_modifier(products: list[Product], row: pd.Series) -> Product | None:
    """The store's modifier of a backup row: by id, else by product and display name."""
    product = next((p for p in products if int(p["id"]) == _int(row.get("product_id"))), None)
    modifiers = (product or {}).get("modifiers") or []
    wanted = _int(row.get("modifier_id"))
    return next((m for m in modifiers if int(m["id"]) == wanted), None) or \
        next((m for m in modifiers if _text(m.get("display_name")) == _text(row.get("display_name"))), None)


def _find_value(modifier: Product, row: pd.Series) -> Product | None:
    """The store's value of a backup row under `modifier`: by id, else by label."""
    values = modifier.get("option_values") or []
    wanted = _int(row.get("value_id"))
    return next((v for v in values if int(v["id"]) == wanted), None) or \
        next((v for v in values if _text(v.get("label")) == _text(row.get("label"))), None)


def _without(products: list[Product], entities: Iterable[tuple[str, int]]) -> list[Product]:
    """The products as if the entities were not in the store (so the plan creates them from their rows)."""
    keys = set(entities)
    out = []
    for product in products:
        modifiers = []
        for modifier in product.get("modifiers") or []:
            if ("modifier", int(modifier["id"])) in keys:
                continue
            values = [v for v in modifier.get("option_values") or [] if ("value", int(v["id"])) not in keys]
            modifiers.append({**modifier, "option_values": values})
        out.append({**product, "modifiers": modifiers})
    return out


def _deletes(products: list[Product], entities: Mapping[tuple[str, int], RowRef], taken: set[str]) -> list[Operation]:
    """Delete operations for the entities to create again (values first, then modifiers)."""
    ops: list[Operation] = []
    for product in products:
        for modifier in product.get("modifiers") or []:
            name, type_name, modifier_id = modifier["display_name"], modifier["type"], int(modifier["id"])
            source = entities.get(("modifier", modifier_id))
            if source is not None:
                ops.append(_operation(OpKind.DELETE_MODIFIER, int(product["id"]), name, type_name, taken,
                                      modifier_id=modifier_id, source=source))
                continue
            for value in modifier.get("option_values") or []:
                source = entities.get(("value", int(value["id"])))
                if source is not None:
                    ops.insert(0, _operation(OpKind.DELETE_VALUE, int(product["id"]), name, type_name, taken,
                                             modifier_id=modifier_id, value_id=int(value["id"]),
                                             label=value["label"], source=source))
    return ops


def _clear_products(products: list[Product], with_rows: set[int], taken: set[str]) -> list[Operation]:
    """Deletes of every modifier of the backup's products that had none when it was taken (no row)."""
    return [_operation(OpKind.DELETE_MODIFIER, int(product["id"]), modifier["display_name"], modifier["type"], taken,
                       modifier_id=int(modifier["id"]))
            for product in products if int(product["id"]) not in with_rows
            for modifier in product.get("modifiers") or []]


def _operation(kind: OpKind, product_id: int, display_name: str, type_name: str, taken: set[str],
               **fields: Any) -> Operation:
    candidate = op_id(kind, product_id, display_name, fields.get("label"))
    if candidate in taken:
        candidate = f"{candidate}#{fields.get('value_id') or fields.get('modifier_id')}"
    taken.add(candidate)
    return Operation(candidate, kind, product_id, display_name, type_name, **fields)


def _generated(type_name: Any) -> bool:
    spec = MODIFIER_TYPES.get(str(type_name)) if isinstance(type_name, str) else None
    return bool(spec and spec.generated_values)


def _text(item: Any) -> str:
    return "" if item is None or item is pd.NA else str(item).strip()


def _int(item: Any) -> int | None:
    return None if item is None or item is pd.NA or (isinstance(item, float) and item != item) else int(item)
