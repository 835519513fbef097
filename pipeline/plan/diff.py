"""Compare the edited workbook with the store and list the requests that take the store there.

`build_plan` is pure: it gets the validated sheets (typed frames indexed by Excel row, with
`action`), the export's metadata (a fingerprint of every exported row) and a fresh extract of
every product the sheets mention, and returns a `Plan`. Nothing here talks to the store.

Rules
- A row is compared with the store's current row field by field, in frame space: numbers with a
  relative tolerance of 1e-9 (Excel and LibreOffice keep 15 significant digits), dates as instants
  (`2027-04-01` equals `2027-04-01T00:00:00+00:00`), everything else exactly, blank equal to blank.
  An equal row costs nothing; a row that differs is written whole (`plan.bodies`: the complete,
  spec-conforming body, with the store's keys our columns do not know kept).
- Blank cells: a blank writes the field's empty form where BigCommerce's contract has one (an
  empty list, an empty text, `adjuster: null`) and is listed in `Plan.blanked`; a blank where the
  contract has none (a date, number, flag or choice of a config, a value's image) refuses the row
  with the reason instead of inventing a form; in the fields the store always has a value for
  (`required`, `sort_order`, `is_default`, `purchasing_disabled`) a blank keeps the store's value.
- Who changed what since the export: `user changed` = the row's fingerprint differs from the one
  recorded at export, `store changed` = the store row's fingerprint differs from it. A row that
  differs from the store is updated when only the user changed it, skipped (the store's version
  is kept) when only the store did, and is a `Conflict` when both did, skipped unless `force`.
  A row whose entity was deleted in the store since the export is likewise skipped (row not
  edited) or a conflict (row edited; `force` creates it again). `action=delete` of a row the store
  changed since the export is a conflict too; of an entity already gone, a skipped row.
- A row without id matches the store by natural key (product + display name for a modifier,
  modifier + label for a value, checked_value for a checkbox value) before it is created, so
  planning again after a partial or complete apply converges instead of duplicating.
- A new modifier carries its new values inline (one request). A new checkbox is created without
  values (the store generates them); rows that give its values other data than the generated
  ones become `update_value` operations depending on the create, matched by label on apply.
- `image_url` holding a local path or a web address other than the store's becomes an
  `upload_image` operation (images only go through the image endpoint: `adjusters.image_url` is
  read-only in BigCommerce's contract); no body ever carries it. It is uploaded when the store's
  image is still the one the person saw (the store has none, or the store's row, or the rest of
  the person's row, is as exported); over an image the store got since the export only with
  `force`. `uploaded` (from the apply journal, `Journal.own_uploads`) names the images an earlier
  apply of this workbook put in the store: a row whose value still has the very image that apply
  uploaded from the same cell is kept (nothing to send), not mistaken for someone else's change.
- Refusals (skipped with a reason, not overridable): a changed `type`, a row whose id belongs to
  another product or modifier in the store, a checkbox value to create or delete, a value row
  that belongs to no modifier row.
- Absent rows are left alone; with `prune`, the touched products' store modifiers and values
  that no row names are deleted. Deleting a modifier deletes its values: no value deletes are
  emitted for it, its value rows are listed in the delete's `value_rows`.

Order of operations (each group in product order, then sheet order; `depends_on` always points
to an earlier operation): value deletes, modifier deletes, modifier updates, value updates,
modifier creates, value creates, value updates of new checkboxes, image uploads. Deletes first
free labels, display names and the 250-value cap for what follows; updates before creates let a
rename free a label a new value takes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal, NamedTuple

import numpy as np
import pandas as pd

from pipeline.dates import same_instant
from pipeline.gc_pause import gc_paused
from pipeline.modifier_types import MODIFIER_TYPES, checkbox_values
from pipeline.normalise import (
    ModifierFrames,
    fingerprint,
    modifier_payload,
    products_to_frames,
    value_payload,
)
from pipeline.plan.bodies import DATE_FIELDS, modifier_body, uncleared_config_fields, value_body
from pipeline.plan.operations import Change, Conflict, Operation, OpKind, Plan, RowRef, SkipKind, Skipped, op_id
from pipeline.validate.against_export import ExportPrints
from pipeline.workbook.layout import ACTION_DELETE, SHEETS, sheet_row
from pipeline.workbook.meta import ExportMeta, utc_now_iso

REL_TOLERANCE: Final = 1e-9
KEEP_WHEN_BLANK: Final = frozenset({"required", "sort_order", "is_default", "purchasing_disabled"})
MODIFIER_SCALARS: Final = ("display_name", "required", "sort_order")
ADJUSTER_COLUMNS: Final = ("price_adjuster", "price_adjuster_value", "weight_adjuster", "weight_adjuster_value",
                           "image_url", "purchasing_disabled", "purchasing_disabled_message")
# value_data key -> its column (checked_value is generated by the store and never sent)
VALUE_DATA_COLUMNS: Final = {"colors": "colors", "image_url": "pattern_image_url", "product_id": "linked_product_id"}
_PHASE: Final = {OpKind.DELETE_VALUE: 0, OpKind.DELETE_MODIFIER: 1, OpKind.UPDATE_MODIFIER: 2,
                 OpKind.UPDATE_VALUE: 3, OpKind.CREATE_MODIFIER: 4, OpKind.CREATE_VALUE: 5, OpKind.UPLOAD_IMAGE: 7}
_DEPENDENT_UPDATE_PHASE: Final = 6
_NOT_COMPARED: Final = frozenset({"action", "product_sku", "product_name"})  # reference columns, never sent

Kind = Literal["modifier", "value"]
Record = dict[str, Any]


class Compared(StrEnum):
    """What comparing one row with the store's entity did."""

    UNCHANGED = "unchanged"  # the row is as the store has it: nothing to send
    KEPT = "kept"  # only the store changed it: the store's version stays
    CONFLICT = "conflict"  # both changed it and --force was not given
    REFUSED = "refused"  # it would empty a field the API cannot clear
    UPDATED = "updated"  # an update operation was planned

KEPT_REASON: Final = "changed in the store since the export; your row was not edited, so the store's version is kept"
KEPT_IMAGE_REASON: Final = ("changed in the store since the export; only your image was edited, so the store's "
                            "version is kept and your image uploaded")
GONE_KEPT_REASON: Final = ("deleted in the store since the export; your row was not edited, so it is not "
                           "created again")
GONE_CONFLICT: Final = "deleted in the store since the export, and you edited it (--force creates it again)"
CHANGED_CONFLICT: Final = "changed in the store since the export, and you changed it too"
DELETE_CONFLICT: Final = "changed in the store since the export, and you marked it delete"
ALREADY_DELETED: Final = "already deleted in the store: nothing to do"
OWN_UPLOAD_REASON: Final = "your image is already in the store: an earlier apply of this workbook uploaded it"


class OwnUpload(NamedTuple):
    """An image an apply uploaded to a value (recorded in its journal): the `image_url` cell it came
    from, the sha256 of the bytes sent, and the URL the store answered with (None if it named none)."""

    image: str
    digest: str | None = None
    image_url: str | None = None


def modifier_fields(type_name: str) -> tuple[str, ...]:
    """The columns of a modifier row that are compared with the store and sent."""
    return (*MODIFIER_SCALARS, *MODIFIER_TYPES[type_name].config_field_names)


def value_fields(type_name: str) -> tuple[str, ...]:
    """The columns of a value row that are compared with the store and sent."""
    spec = MODIFIER_TYPES[type_name]
    default = ("is_default",) if spec.supports_default_value else ()
    data = tuple(column for key, column in VALUE_DATA_COLUMNS.items() if key in spec.value_data_fields)
    return ("label", "sort_order", *default, *data, *ADJUSTER_COLUMNS)


def is_web_image(item: Any) -> bool:
    """An `image_url` cell holding an http(s) address (downloaded and uploaded on apply)."""
    return isinstance(item, str) and item.strip().lower().startswith(("http://", "https://"))


def is_local_image(item: Any) -> bool:
    """An `image_url` cell naming a file (uploaded on apply) rather than a web address."""
    return isinstance(item, str) and bool(item.strip()) and \
        not item.strip().lower().startswith(("http://", "https://"))


def same(before: Any, after: Any) -> bool:
    """Equal in frame space: blank == blank, numbers to REL_TOLERANCE, everything else exactly."""
    if before is None or after is None:
        return before is None and after is None
    if isinstance(before, float) or isinstance(after, float):
        if isinstance(before, bool) or isinstance(after, bool):
            return False
        try:
            return math.isclose(float(before), float(after), rel_tol=REL_TOLERANCE)
        except (TypeError, ValueError):
            return False
    return before == after


@dataclass
class _Row:
    ref: RowRef
    data: Record
    delete: bool

    def __getitem__(self, key: str) -> Any:
        return self.data.get(key)


@dataclass
class _Sheet:
    """One sheet's rows; `same[n]`: row n equals its store row (see `unchanged_rows`). Arrays, not
    lists: a big untouched workbook walks none of its rows in Python."""

    name: str
    rows: np.ndarray  # Excel row numbers
    table: _Columns
    delete: np.ndarray
    same: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, n: int) -> _Row:
        # a continuation sheet's rows are family rows here: the RowRef names the real sheet and row
        return _Row(RowRef(*sheet_row(self.name, int(self.rows[n]))), self.table.record(n), bool(self.delete[n]))


@dataclass
class _Target:
    """What a modifier row resolved to, which decides what happens to its value rows."""

    state: Literal["existing", "new", "deleted", "blocked"]
    product_id: int
    display_name: str
    type_name: str
    modifier_id: int | None = None
    op: Operation | None = None  # the create (new) or delete (deleted)
    reason: str = ""  # why its value rows are skipped (blocked)


_BLOCK: Final = 2048


class _Columns:
    """A frame read as plain Python values (None for blank), a block of rows of one column at a
    time when first asked for: most rows of a big workbook (and of the store's state) are never
    looked at one by one, so they are never turned into Python objects."""

    def __init__(self, frame: pd.DataFrame, names: Iterable[str] | None = None) -> None:
        self.frame = frame
        self.names = list(frame.columns if names is None else names)
        self._series: dict[str, pd.Series] = {}
        self._blocks: dict[tuple[str, int], list[Any]] = {}

    def __len__(self) -> int:
        return len(self.frame)

    def value(self, name: str, position: int) -> Any:
        block, at = divmod(position, _BLOCK)
        items = self._blocks.get((name, block))
        if items is None:
            series = self._series.get(name)
            if series is None:
                series = self._series[name] = self.frame[name]
            start = block * _BLOCK
            items = self._blocks[(name, block)] = \
                series.iloc[start:start + _BLOCK].to_numpy(dtype=object, na_value=None).tolist()
        return items[at]

    def record(self, position: int) -> Record:
        return {name: self.value(name, position) for name in self.names}


def _int_column(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A column of ids as int64 (0 where blank) and where it is not blank."""
    if name not in frame.columns:
        return np.zeros(len(frame), dtype=np.int64), np.zeros(len(frame), dtype=bool)
    column = frame[name].astype("Int64")
    return column.to_numpy(np.int64, na_value=0), column.notna().to_numpy(bool)


class _Index:
    """Positions of a column's rows by key (an int id), as sorted arrays rather than a dict of
    lists: a row's positions keep their order, blank keys are left out."""

    def __init__(self, keys: np.ndarray, present: np.ndarray) -> None:
        positions = np.flatnonzero(present)
        order = np.argsort(keys[positions], kind="stable")
        self.keys = keys[positions][order]
        self.positions = positions[order]

    @classmethod
    def of(cls, frame: pd.DataFrame, name: str) -> _Index:
        return cls(*_int_column(frame, name))

    def all(self, key: int | None) -> list[int]:
        if key is None or not len(self.keys):
            return []
        start = int(np.searchsorted(self.keys, key, side="left"))
        stop = int(np.searchsorted(self.keys, key, side="right"))
        return self.positions[start:stop].tolist()

    def first(self, keys: np.ndarray, present: np.ndarray) -> np.ndarray:
        """The first position of each key (-1 where the key is blank or absent)."""
        if not len(self.keys):
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.searchsorted(self.keys, keys, side="left")
        inside = np.minimum(at, len(self.keys) - 1)
        found = present & (at < len(self.keys)) & (self.keys[inside] == keys)
        return np.where(found, self.positions[inside], -1)


class _Claimed:
    """Entity ids some row names (a sorted array), plus those claimed while planning."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = np.unique(ids)
        self.added: set[int] = set()

    def __contains__(self, entity_id: object) -> bool:
        if entity_id is None:
            return False
        if entity_id in self.added:
            return True
        at = int(np.searchsorted(self.ids, entity_id))  # type: ignore[call-overload]
        return at < len(self.ids) and self.ids[at] == entity_id

    def add(self, entity_id: int) -> None:
        self.added.add(entity_id)


class _Store:
    """The current state of the touched products, indexed every way the planner looks it up (by
    sorted id arrays; a row's values are read only when the row is compared)."""

    def __init__(self, current: ModifierFrames) -> None:
        self.modifier_table = _Columns(current.modifiers)
        self.value_table = _Columns(current.values)
        self._modifiers = _Index.of(current.modifiers, "modifier_id")
        self._values = _Index.of(current.values, "value_id")
        self._modifiers_of = _Index.of(current.modifiers, "product_id")
        self._values_of = _Index.of(current.values, "modifier_id")

    def modifier(self, modifier_id: int) -> Record | None:
        found = self._modifiers.all(modifier_id)  # the last of equal ids counts, as a dict would
        return self.modifier_table.record(found[-1]) if found else None

    def value(self, value_id: int) -> Record | None:
        found = self._values.all(value_id)
        return self.value_table.record(found[-1]) if found else None

    def modifiers_of(self, product_id: int) -> list[Record]:
        return [self.modifier_table.record(n) for n in self._modifiers_of.all(product_id)]

    def value_ids_of(self, modifier_id: int | None) -> list[int]:
        return [self.value_table.value("value_id", n) for n in self._values_of.all(modifier_id)]

    def values_of(self, modifier_id: int | None) -> list[Record]:
        return [self.value_table.record(n) for n in self._values_of.all(modifier_id)]


def _generated_checkbox_values() -> dict[bool, Record]:
    """The two values the store creates with a checkbox, by checked_value, as frame rows."""
    product = {"id": 0, "modifiers": [{"id": 0, "display_name": "", "type": "checkbox",
                                       "option_values": checkbox_values()}]}
    table = _Columns(products_to_frames([product]).values)
    return {row["checked_value"]: row for row in map(table.record, range(len(checkbox_values())))}


def _payload_of(kind: Kind) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    return modifier_payload if kind == "modifier" else value_payload


def _key(text: Any) -> str:
    return str(text).strip() if text is not None else ""


class _Planner:
    def __init__(self, sheets: Mapping[str, pd.DataFrame], meta: ExportMeta | None, current: ModifierFrames, *,
                 prune: bool, force: bool, uploaded: Mapping[int, OwnUpload] | None = None) -> None:
        self.force = force
        self.prune = prune
        self.uploaded = uploaded or {}
        self.store = _Store(current)
        self.extras = current.extras
        self.next_sort: dict[int, int] = {}  # modifier id -> sort_order for its next new value left blank
        self.modifier_sheets = _sheets(sheets, "modifiers", current.modifiers)
        self.value_sheets = _sheets(sheets, "values", current.values)
        # the export's fingerprints of the rows that may be looked at one by one (rows equal to the
        # store never are): all of a big export's would cost tens of MB
        self._fingerprints = meta.fingerprints if meta is not None else None
        self._wanted = {"modifier": _ids_of(self.modifier_sheets, "modifier_id", changed=True),
                        "value": _ids_of(self.value_sheets, "value_id", changed=True)}
        self.exported = ExportPrints(_prints_of(self._fingerprints, self._wanted))
        self.touched = touched_product_ids(sheets)
        self.phases: dict[int, list[Operation]] = defaultdict(list)
        self.op_ids: set[str] = set()
        self.conflicts: list[Conflict] = []
        self.skipped: list[Skipped] = []
        self.blanked: list[tuple[RowRef, str]] = []
        self.unchanged = 0
        # store entities some row names by id, so natural keys never match them
        self.claimed_modifiers = _Claimed(_ids_of(self.modifier_sheets, "modifier_id"))
        self.claimed_values = _Claimed(_ids_of(self.value_sheets, "value_id"))
        # the modifier rows of all modifier sheets in order, by position: where each sheet starts,
        # the targets of the rows planned one by one (and of those asked for since)
        self._starts = np.cumsum([0, *(len(sheet) for sheet in self.modifier_sheets)])
        self._targets: dict[int, _Target] = {}
        self._by_name: dict[tuple[Any, str], int] | None = None

    # --- the walk ------------------------------------------------------------------------------------

    def run(self) -> None:
        """Modifier rows first (their targets decide for their values), then value rows, then pruning.

        A value finds its modifier row by modifier_id when a modifier row has it, else by product
        and display name. Rows equal to the store are counted without a closer look: a value row
        equal to the store whose modifier row (by id) is kept as the store has it is decided in
        arrays, only the others go one by one."""
        start = 0
        for sheet in self.modifier_sheets:
            self.unchanged += int(sheet.same.sum())
            for n in np.flatnonzero(~sheet.same).tolist():
                self._targets[start + n] = self.plan_modifier(sheet.row(n))
            start += len(sheet)
        ids, present = _concat_ints(self.modifier_sheets, "modifier_id")
        by_id = _Index(ids, present)
        # per modifier row: its target is "existing" with the row's own modifier_id
        kept = np.concatenate([sheet.same for sheet in self.modifier_sheets]) if self.modifier_sheets else \
            np.zeros(0, dtype=bool)
        for position, target in self._targets.items():
            kept[position] = target.state == "existing" and present[position] and \
                target.modifier_id == int(ids[position])
        walks = []
        for sheet in self.value_sheets:
            modifier_ids, named = _int_column(sheet.table.frame, "modifier_id")
            found = by_id.first(modifier_ids, named)
            quick = sheet.same & (found >= 0) & kept[np.maximum(found, 0)] if len(kept) else \
                np.zeros(len(sheet), dtype=bool)
            walks.append((sheet, found, quick))
        self.want_prints("value", [_int_column(sheet.table.frame, "value_id")[0][sheet.same & ~quick]
                                   for sheet, _, quick in walks])
        for sheet, found, quick in walks:
            self.unchanged += int(quick.sum())
            table = sheet.table
            for n in np.flatnonzero(~quick).tolist():
                modifier_id = table.value("modifier_id", n)
                target = self.target_at(int(found[n])) if found[n] >= 0 else None
                if target is None:
                    position = self.by_name().get((table.value("product_id", n), _key(table.value("display_name", n))))
                    target = None if position is None else self.target_at(position)
                if sheet.same[n] and target is not None and target.state == "existing" and \
                        target.modifier_id == modifier_id:
                    self.unchanged += 1
                elif target is None:
                    self.skip(sheet.row(n), "this value belongs to no modifier row (by modifier_id, or by "
                              "product_id and display_name)")
                else:
                    self.plan_value(sheet.row(n), target)
        if self.prune:
            self.plan_prune([self.target_at(p) for p in range(int(self._starts[-1]))])

    def want_prints(self, kind: Kind, ids: list[np.ndarray]) -> None:
        """Also keep the export's fingerprints of these rows (equal to the store, yet walked one by one)."""
        more = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        if len(more):
            self._wanted[kind] = np.concatenate([self._wanted[kind], more])
            self.exported = ExportPrints(_prints_of(self._fingerprints, self._wanted))

    def target_at(self, position: int) -> _Target:
        """The target of the modifier row at `position` (over all modifier sheets): the one it was
        planned to, or, for a row equal to the store, the modifier it names."""
        target = self._targets.get(position)
        if target is None:
            at = int(np.searchsorted(self._starts, position, side="right")) - 1
            table, n = self.modifier_sheets[at].table, position - int(self._starts[at])
            target = self._targets[position] = _Target(
                "existing", table.value("product_id", n), table.value("display_name", n), table.value("type", n),
                table.value("modifier_id", n))
        return target

    def by_name(self) -> dict[tuple[Any, str], int]:
        """The first modifier row of each (product_id, display name), made when a value row first
        needs it (an untouched workbook's value rows all find theirs by id)."""
        if self._by_name is None:
            self._by_name = {}
            position = 0
            for sheet in self.modifier_sheets:
                table = sheet.table
                for n in range(len(sheet)):
                    self._by_name.setdefault((table.value("product_id", n), _key(table.value("display_name", n))),
                                             position)
                    position += 1
        return self._by_name

    # --- modifiers -----------------------------------------------------------------------------------

    def plan_modifier(self, row: _Row) -> _Target:
        product_id, type_name, modifier_id = row["product_id"], row["type"], row["modifier_id"]
        target = _Target("blocked", product_id, row["display_name"], type_name, modifier_id)
        if modifier_id is None:
            if row.delete:
                return self.refuse(row, target, "this row has no modifier_id, so there is nothing to delete")
            store = self._match_modifier(product_id, row["display_name"])
            if store is None:
                return self.create_modifier(row)
            return self.existing_modifier(row, store, target, exported=None)
        exported = self.exported.get(("modifier", modifier_id))
        store = self.store.modifier(modifier_id)
        if store is None:
            if self.gone(row, "modifier", modifier_id, exported):
                return self.create_modifier(row)
            target.reason = ALREADY_DELETED if row.delete else \
                f"its modifier {modifier_id} is not in the store any more"
            return target
        if store["product_id"] != product_id:
            return self.refuse(row, target, f"modifier {modifier_id} belongs to product {store['product_id']} "
                               f"in the store, not {product_id}")
        if row.delete:
            if self.store_changed("modifier", store, exported) and not self.conflict(row, "modifier", modifier_id,
                                                                                     DELETE_CONFLICT):
                target.reason = f"the delete of its modifier {modifier_id} was skipped (conflict)"
                return target
            op = self.add(self.operation(OpKind.DELETE_MODIFIER, store, row.ref))
            return _Target("deleted", product_id, store["display_name"], store["type"], modifier_id, op)
        return self.existing_modifier(row, store, target, exported)

    def existing_modifier(self, row: _Row, store: Record, target: _Target, exported: str | None) -> _Target:
        if row["type"] != store["type"]:
            return self.refuse(row, target, f"the type of a modifier cannot change: modifier {store['modifier_id']} "
                               f"is {store['type']} in the store, the row says {row['type']}; delete it and add a "
                               "new row instead")
        self.claimed_modifiers.add(store["modifier_id"])
        if self.compare(row, "modifier", store, exported, modifier_fields(store["type"])) is Compared.UNCHANGED:
            self.unchanged += 1
        return _Target("existing", row["product_id"], row["display_name"], store["type"], store["modifier_id"])

    def _match_modifier(self, product_id: int, display_name: Any) -> Record | None:
        """The store's modifier of that product and display name that no row names by id (claimed:
        even when the row is then refused, pruning leaves it alone)."""
        wanted = _key(display_name)
        found = next((m for m in self.store.modifiers_of(product_id)
                      if m["modifier_id"] not in self.claimed_modifiers and _key(m["display_name"]) == wanted), None)
        if found is not None:
            self.claimed_modifiers.add(found["modifier_id"])
        return found

    def create_modifier(self, row: _Row) -> _Target:
        spec = MODIFIER_TYPES[row["type"]]
        data = {**row.data, "modifier_id": None}
        payload = modifier_body(data)
        if spec.has_values and not spec.generated_values:
            payload["option_values"] = []
        changes = [Change(f, None, data[f]) for f in modifier_fields(spec.name) if data.get(f) is not None]
        op = self.add(Operation(
            self.new_id(OpKind.CREATE_MODIFIER, row["product_id"], row["display_name"]), OpKind.CREATE_MODIFIER,
            row["product_id"], row["display_name"], spec.name, payload=payload, changes=changes, source=row.ref))
        return _Target("new", row["product_id"], row["display_name"], spec.name, None, op)

    # --- values --------------------------------------------------------------------------------------

    def plan_value(self, row: _Row, target: _Target) -> None:
        if target.state == "blocked":
            self.skip(row, target.reason or "its modifier row was skipped", SkipKind.WITH_MODIFIER)
        elif target.state == "deleted":
            assert target.op is not None
            target.op.value_rows[_key(row["label"])] = row.ref  # deleted along with its modifier
        elif target.state == "new":
            self.new_modifier_value(row, target)
        else:
            self.existing_modifier_value(row, target)

    def new_modifier_value(self, row: _Row, target: _Target) -> None:
        create = target.op
        assert create is not None
        if row.delete:
            self.skip(row, "its modifier is new, so this value is not in the store: there is nothing to delete")
            return
        if MODIFIER_TYPES[target.type_name].generated_values:
            self.generated_value(row, target, create)
            return
        values = create.payload["option_values"]
        values.append(value_body(row.data, type_name=target.type_name, default_sort_order=len(values)))
        create.value_rows[_key(row["label"])] = row.ref
        self.upload(row, target, row["label"], depends_on=create)

    def generated_value(self, row: _Row, target: _Target, create: Operation) -> None:
        """A value row of a new checkbox: the store creates the value; update it if the row says more."""
        generated = _GENERATED.get(row["checked_value"])
        if generated is None:
            self.skip(row, "a checkbox has two values, checked_value TRUE and FALSE, which the store creates")
            return
        label = generated["label"]
        create.value_rows[label] = row.ref
        data = self.effective(row.data, generated, value_fields(target.type_name), target.type_name)
        changes = _changes(data, generated, value_fields(target.type_name))
        if changes:
            op = Operation(self.new_id(OpKind.UPDATE_VALUE, target.product_id, target.display_name, label),
                           OpKind.UPDATE_VALUE, target.product_id, target.display_name, target.type_name,
                           label=label, payload=value_body(data, type_name=target.type_name, store=generated),
                           changes=changes,
                           depends_on=create.op_id, source=row.ref)
            self.add(op, phase=_DEPENDENT_UPDATE_PHASE)
            self.note_blanks(row.ref, changes)
        self.upload(row, target, label, depends_on=create)

    def existing_modifier_value(self, row: _Row, target: _Target) -> None:
        modifier_id = target.modifier_id
        generated = MODIFIER_TYPES[target.type_name].generated_values
        value_id = row["value_id"]
        if value_id is None:
            if row.delete:
                self.skip(row, "this row has no value_id, so there is nothing to delete")
                return
            store = self._match_value(modifier_id, row, generated)
            if store is None:
                self.create_value(row, target)
            else:
                self.existing_value(row, target, store, exported=None)
            return
        exported = self.exported.get(("value", value_id))
        store = self.store.value(value_id)
        if store is None:
            if self.gone(row, "value", value_id, exported):
                self.create_value(row, target)
            return
        if store["modifier_id"] != modifier_id:
            self.skip(row, f"value {value_id} belongs to modifier {store['modifier_id']} in the store, not "
                      f"{modifier_id}: a value cannot move to another modifier")
            return
        if row.delete:
            if generated:
                self.skip(row, "checkbox values are generated by the store and cannot be deleted")
            elif not self.store_changed("value", store, exported) or self.conflict(row, "value", value_id,
                                                                                   DELETE_CONFLICT):
                self.add(self.operation(OpKind.DELETE_VALUE, store, row.ref, target))
            return
        self.existing_value(row, target, store, exported)

    def _match_value(self, modifier_id: int | None, row: _Row, generated: bool) -> Record | None:
        for value in self.store.values_of(modifier_id):  # type: ignore[arg-type]
            if value["value_id"] in self.claimed_values:
                continue
            if (value["checked_value"] == row["checked_value"]) if generated else \
                    _key(value["label"]) == _key(row["label"]):
                self.claimed_values.add(value["value_id"])
                return value
        return None

    def existing_value(self, row: _Row, target: _Target, store: Record, exported: str | None) -> None:
        self.claimed_values.add(store["value_id"])
        outcome = self.compare(row, "value", store, exported, value_fields(target.type_name), target)
        image = row["image_url"]
        if outcome not in (Compared.CONFLICT, Compared.REFUSED) and _new_image(image, store) and \
                self.own_upload(store, image):
            if outcome is Compared.UNCHANGED:
                self.skip(row, OWN_UPLOAD_REASON, SkipKind.KEPT)
            return
        if outcome not in (Compared.CONFLICT, Compared.REFUSED) and _new_image(image, store):
            # the store's image is the one the person saw (and replaces) when the store has none, when
            # the store's row is as exported, or when the rest of the row is ("kept": its fingerprint,
            # taken with the store's image, is the export's)
            replaceable = store["image_url"] is None or outcome is Compared.KEPT or (
                exported is not None and not self.store_changed("value", store, exported))
            if replaceable or self.force:
                self.upload(row, target, row["label"], store)
                if outcome is Compared.KEPT:
                    self.skipped[-1] = Skipped(row.ref, KEPT_IMAGE_REASON, SkipKind.KEPT)
                return
            self.skip(row, f"the image {image.strip()} was not uploaded: the store's image was set or changed "
                      "since the export (perhaps by an earlier apply of this workbook); use --force to upload it "
                      "again")
            return
        if outcome is Compared.UNCHANGED:
            self.unchanged += 1

    def own_upload(self, store: Record, image: str) -> bool:
        """The store's image of this value is the one an earlier apply uploaded from this very cell."""
        upload = self.uploaded.get(store["value_id"])
        return upload is not None and upload.image == image.strip() and \
            (upload.image_url is None or upload.image_url == store["image_url"])

    def create_value(self, row: _Row, target: _Target) -> None:
        if MODIFIER_TYPES[target.type_name].generated_values:
            self.skip(row, "checkbox values are generated by the store; a new one cannot be added")
            return
        data = {**row.data, "type": target.type_name, "value_id": None}
        fields = value_fields(target.type_name)
        payload = value_body(data, type_name=target.type_name, default_sort_order=self.new_sort_order(target))
        op = self.add(Operation(
            self.new_id(OpKind.CREATE_VALUE, target.product_id, target.display_name, row["label"]),
            OpKind.CREATE_VALUE, target.product_id, target.display_name, target.type_name,
            modifier_id=target.modifier_id, label=row["label"], payload=payload,
            changes=[Change(f, None, data[f]) for f in fields if data.get(f) is not None], source=row.ref))
        self.upload(row, target, row["label"], depends_on=op)

    def new_sort_order(self, target: _Target) -> int:
        """The sort_order a new value of an existing modifier gets when its cell is blank (the spec
        requires one): after the store's values and the new ones before it."""
        modifier_id = target.modifier_id or 0
        if modifier_id not in self.next_sort:
            orders = [v["sort_order"] for v in self.store.values_of(modifier_id) if v["sort_order"] is not None]
            self.next_sort[modifier_id] = max(orders, default=-1) + 1
        self.next_sort[modifier_id] += 1
        return self.next_sort[modifier_id] - 1

    def upload(self, row: _Row, target: _Target, label: str, store: Record | None = None,
               depends_on: Operation | None = None) -> None:
        """An image upload when the row's image_url names a file or a web address; after `depends_on`
        (a create). Images only ever go through the image endpoint: `adjusters.image_url` is
        read-only in BigCommerce's contract."""
        image = row["image_url"]
        if not isinstance(image, str) or not image.strip():
            return
        self.add(Operation(
            self.new_id(OpKind.UPLOAD_IMAGE, target.product_id, target.display_name, label), OpKind.UPLOAD_IMAGE,
            target.product_id, target.display_name, target.type_name, modifier_id=target.modifier_id,
            value_id=store["value_id"] if store else None, label=label,
            changes=[Change("image_url", store["image_url"] if store else None, image.strip())],
            depends_on=depends_on.op_id if depends_on else None, source=row.ref, image=image.strip()))

    # --- comparing -----------------------------------------------------------------------------------

    def effective(self, data: Record, store: Record, fields: Iterable[str], type_name: str,
                  *, keep: bool = True) -> Record:
        """The row as it would be sent: numbers the store has within tolerance and dates naming the
        store's instant taken from the store, an image replaced by the store's (it goes by upload;
        a local file only, unless `keep`), blanks of KEEP_WHEN_BLANK filled from the store (unless
        not `keep`)."""
        out = {**data, "type": type_name}
        for name in fields:
            mine, theirs = out.get(name), store.get(name)
            if isinstance(mine, float) and isinstance(theirs, float) and same(theirs, mine):
                out[name] = theirs
            elif name in DATE_FIELDS and mine is not None and same_instant(mine, theirs):
                out[name] = theirs
            elif name == "image_url" and (is_local_image(mine) or (keep and is_web_image(mine))):
                out[name] = theirs
            elif keep and mine is None and name in KEEP_WHEN_BLANK:
                out[name] = theirs
        return out

    def compare(self, row: _Row, kind: Kind, store: Record, exported: str | None, fields: tuple[str, ...],
                target: _Target | None = None) -> Compared:
        """Update, keep or flag one row whose entity exists; returns what happened."""
        type_name = store["type"]
        data = self.effective(row.data, store, fields, type_name)
        changes = _changes(data, store, fields)
        entity_id = store[f"{kind}_id"]
        if not changes:
            return Compared.UNCHANGED
        if self.store_changed(kind, store, exported):
            as_written = self.effective(row.data, store, fields, type_name, keep=False)
            if fingerprint(_payload_of(kind)(as_written)) == exported:
                self.skip(row, KEPT_REASON, SkipKind.KEPT)
                return Compared.KEPT
            if not self.conflict(row, kind, entity_id, CHANGED_CONFLICT, [c.field for c in changes]):
                return Compared.CONFLICT
        refusal = _uncleared(data, store, kind)
        if refusal:
            self.skip(row, refusal)
            return Compared.REFUSED
        extras = self.extras.get((kind, int(entity_id)), {})
        if kind == "modifier":
            op = self.operation(OpKind.UPDATE_MODIFIER, store, row.ref, display_name=data["display_name"])
            op.payload = modifier_body(data, store, extras)
        else:
            assert target is not None
            op = self.operation(OpKind.UPDATE_VALUE, store, row.ref, target, label=data["label"])
            op.payload = value_body(data, type_name=type_name, store=store, extras=extras)
        op.changes = changes
        self.add(op)
        self.note_blanks(row.ref, changes)
        return Compared.UPDATED

    def store_changed(self, kind: Kind, store: Record, exported: str | None) -> bool:
        return exported is not None and fingerprint(_payload_of(kind)(store)) != exported

    def gone(self, row: _Row, kind: Kind, entity_id: int, exported: str | None) -> bool:
        """A row whose entity the store no longer has; True when it is to be created again (forced)."""
        if row.delete:
            self.skip(row, ALREADY_DELETED, SkipKind.KEPT)
            return False
        edited = exported is None or fingerprint(_payload_of(kind)(row.data)) != exported
        if not edited:
            self.skip(row, GONE_KEPT_REASON, SkipKind.KEPT)
            return False
        return self.conflict(row, kind, entity_id, GONE_CONFLICT)

    # --- recording -----------------------------------------------------------------------------------

    def conflict(self, row: _Row, kind: Kind, entity_id: int | None, message: str,
                 fields: list[str] | None = None) -> bool:
        """Record a conflict; True when `force` says to go ahead with the row anyway."""
        self.conflicts.append(Conflict(row.ref, kind, entity_id, message, fields or []))
        return self.force

    def skip(self, row: _Row, reason: str, kind: SkipKind = SkipKind.REFUSED) -> None:
        self.skipped.append(Skipped(row.ref, reason, kind))

    def refuse(self, row: _Row, target: _Target, reason: str) -> _Target:
        self.skip(row, reason)
        target.state, target.reason = "blocked", f"its modifier row ({row.ref.sheet} row {row.ref.row}) was skipped"
        return target

    def note_blanks(self, ref: RowRef, changes: list[Change]) -> None:
        self.blanked += [(ref, c.field) for c in changes if c.after is None and c.before is not None]

    def new_id(self, kind: OpKind, product_id: int, display_name: str, label: str | None = None,
               entity_id: int | None = None) -> str:
        """`op_id` of the natural key, made unique with the entity id if two operations share it."""
        candidate = op_id(kind, product_id, display_name, label)
        if candidate in self.op_ids:
            candidate = f"{candidate}#{entity_id if entity_id is not None else len(self.op_ids)}"
        self.op_ids.add(candidate)
        return candidate

    def operation(self, kind: OpKind, store: Record, source: RowRef | None, target: _Target | None = None,
                  *, display_name: str | None = None, label: str | None = None) -> Operation:
        """An operation on an entity the store has (`store` is its frame row)."""
        is_value = kind in (OpKind.UPDATE_VALUE, OpKind.DELETE_VALUE)
        name = display_name or (target.display_name if target else store["display_name"])
        label = (label or store["label"]) if is_value else None
        entity_id = store["value_id"] if is_value else store["modifier_id"]
        return Operation(self.new_id(kind, store["product_id"], name, label, entity_id), kind, store["product_id"],
                         name, store["type"], modifier_id=store["modifier_id"],
                         value_id=store["value_id"] if is_value else None, label=label, source=source)

    def add(self, op: Operation, phase: int | None = None) -> Operation:
        self.phases[_PHASE[op.kind] if phase is None else phase].append(op)
        return op

    # --- pruning -------------------------------------------------------------------------------------

    def plan_prune(self, targets: list[_Target]) -> None:
        for product_id in self.touched:
            for store in self.store.modifiers_of(product_id):
                if store["modifier_id"] not in self.claimed_modifiers:
                    self.add(self.operation(OpKind.DELETE_MODIFIER, store, None))
        kept = {t.modifier_id: t for t in targets if t.state == "existing"}
        for modifier_id, target in kept.items():
            if MODIFIER_TYPES[target.type_name].generated_values:
                continue
            for value_id in self.store.value_ids_of(modifier_id):
                if value_id not in self.claimed_values:
                    self.add(self.operation(OpKind.DELETE_VALUE, self.store.value(value_id), None,  # type: ignore[arg-type]
                                            target))

    # --- result --------------------------------------------------------------------------------------

    def ordered(self) -> list[Operation]:
        out: list[Operation] = []
        for phase in sorted(self.phases):
            out += sorted(self.phases[phase], key=lambda op: op.product_id)  # stable: sheet order within
        position = {op.op_id: n for n, op in enumerate(out)}
        for n, op in enumerate(out):
            if op.depends_on is not None and position.get(op.depends_on, n) >= n:
                raise AssertionError(f"{op.op_id} depends on {op.depends_on}, which does not come before it")
        return out


_GENERATED: Final = _generated_checkbox_values()


def _changes(data: Record, store: Record, fields: Iterable[str]) -> list[Change]:
    return [Change(name, before, after) for name in fields
            if (before := store.get(name)) != (after := data.get(name)) and not same(before, after)]


def _new_image(image: Any, store: Record) -> bool:
    """The row's image is one to upload: a local file, or a web address other than the store's."""
    if is_local_image(image):
        return True
    return is_web_image(image) and image.strip() != (store.get("image_url") or "").strip()


def _uncleared(data: Record, store: Record, kind: Kind) -> str:
    """Why the row cannot be written as it stands, when it empties a field that BigCommerce's API
    has no documented empty form for; "" when it can."""
    if kind == "modifier":
        names = uncleared_config_fields(data, store)
        if names:
            shown = ", ".join(f"{name} (the store has {store[name]!r})" for name in names)
            return (f"BigCommerce's API has no way to empty {shown}: type the value to keep, or another "
                    "one; nothing of this row was sent")
        return ""
    if data.get("image_url") is None and store.get("image_url") is not None:
        return ("BigCommerce's API has no way to remove a value's image (adjusters.image_url is read-only): "
                "leave the cell as exported, or give another image; nothing of this row was sent")
    return ""


def _sheets(sheets: Mapping[str, pd.DataFrame], kind: str, store: pd.DataFrame) -> list[_Sheet]:
    """The non-empty sheets of `kind`, in workbook order. A family's continuation sheets ("Choice
    values (2)", ...) are already merged into its frame by the readers, indexed by family row; `_Sheet.row`
    names the real sheet and row again."""
    out: list[_Sheet] = []
    for spec in SHEETS:
        sheet = sheets.get(spec.name)
        if spec.kind != kind or sheet is None or not len(sheet):
            continue
        action = sheet["action"] if "action" in sheet.columns else pd.Series(pd.NA, index=sheet.index)
        delete = action.astype("string").str.strip().str.lower().eq(ACTION_DELETE).fillna(False).to_numpy(bool)
        id_column = "modifier_id" if kind == "modifiers" else "value_id"
        out.append(_Sheet(spec.name, sheet.index.to_numpy(np.int64),
                          _Columns(sheet, [name for name in sheet.columns if name != "action"]), delete,
                          unchanged_rows(sheet, store, id_column) & ~delete))
    return out


def _concat_ints(sheets: list[_Sheet], name: str) -> tuple[np.ndarray, np.ndarray]:
    """An id column of all `sheets` in order (0 where blank) and where it is not blank."""
    parts = [_int_column(sheet.table.frame, name) for sheet in sheets]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _ids_of(sheets: list[_Sheet], name: str, *, changed: bool = False) -> np.ndarray:
    """The ids the rows of `sheets` name (only of rows not equal to the store, when `changed`)."""
    ids, present = _concat_ints(sheets, name)
    if changed and sheets:
        present = present & ~np.concatenate([sheet.same for sheet in sheets])
    return ids[present]


def _prints_of(fingerprints: pd.DataFrame | None, wanted: Mapping[str, np.ndarray]) -> pd.DataFrame | None:
    """The rows of the export's fingerprints of the wanted (kind, id)s."""
    if fingerprints is None or not len(fingerprints):
        return fingerprints
    kinds = fingerprints["kind"].astype("string")
    ids, present = _int_column(fingerprints, "id")
    keep = np.zeros(len(fingerprints), dtype=bool)
    for kind, wanted_ids in wanted.items():
        if len(wanted_ids):
            keep |= kinds.eq(kind).fillna(False).to_numpy(bool) & present & np.isin(ids, wanted_ids)
    return fingerprints[keep]


def unchanged_rows(sheet: pd.DataFrame, store: pd.DataFrame, id_column: str) -> np.ndarray:
    """Rows equal to the store's row with the same id in every column the sheet shows (blank ==
    blank, numbers to REL_TOLERANCE) and without a local image: vectorised, so the common case of
    a large workbook with few edits needs no per-row work. Any doubt leaves a row False, for the
    row-by-row comparison to decide."""
    size = len(sheet)
    if not size or not len(store) or id_column not in sheet.columns:
        return np.zeros(size, dtype=bool)
    ids = pd.Index(store[id_column].astype("Int64"))
    if not ids.is_unique:
        return np.zeros(size, dtype=bool)
    positions = ids.get_indexer(sheet[id_column].astype("Int64"))
    same_rows = positions >= 0
    take = np.where(same_rows, positions, 0)
    for name in sheet.columns:
        if name in _NOT_COMPARED or name not in store.columns:
            continue
        mine, theirs = sheet[name].array, store[name].array.take(take)  # theirs: the store row of each row
        try:
            if mine.dtype == "Float64" or theirs.dtype == "Float64":
                # equal to REL_TOLERANCE, or both blank
                same_rows &= np.isclose(mine.to_numpy(float, na_value=np.nan), theirs.to_numpy(float, na_value=np.nan),
                                        rtol=REL_TOLERANCE, atol=0.0, equal_nan=True)
            else:  # as `same` compares them: Python values, None for blank (None == None)
                same_rows &= mine.to_numpy(object, na_value=None) == theirs.to_numpy(object, na_value=None)
        except (TypeError, ValueError):
            return np.zeros(size, dtype=bool)
    if "image_url" in sheet.columns:
        images = sheet["image_url"].astype("string").str.strip()
        web = images.str.lower().str.startswith(("http://", "https://"))
        same_rows &= (images.isna() | web).fillna(False).to_numpy(bool)
    return same_rows


def touched_product_ids(sheets: Mapping[str, pd.DataFrame]) -> list[int]:
    """Every product id a row of the sheets belongs to (not product-list targets)."""
    ids: set[int] = set()
    for spec in SHEETS:
        sheet = sheets.get(spec.name)
        if sheet is not None and len(sheet):
            ids.update(int(v) for v in sheet["product_id"].dropna().unique().tolist())
    return sorted(ids)


@gc_paused()
def build_plan(sheets: Mapping[str, pd.DataFrame], meta: ExportMeta | None, current: ModifierFrames, *,
               workbook: str, prune: bool = False, force: bool = False,
               uploaded: Mapping[int, OwnUpload] | None = None) -> Plan:
    """The operations that take the store (`current`: a fresh extract of every product the sheets
    mention) to what the validated `sheets` say; see the module docstring for the rules.

    `uploaded`: value id -> the image an earlier apply of this workbook uploaded there (its journal
    knows; the planner reads no files), so a re-plan keeps that image instead of refusing the row."""
    planner = _Planner(sheets, meta, current, prune=prune, force=force, uploaded=uploaded)
    planner.run()
    return Plan(
        store_hash=meta.store_hash if meta else "",
        api_url=meta.api_url if meta else "",
        workbook=workbook,
        created_at=utc_now_iso(),
        operations=planner.ordered(),
        conflicts=planner.conflicts,
        skipped=planner.skipped,
        unchanged=planner.unchanged,
        blanked=planner.blanked,
        product_ids=planner.touched,
        forced=force,
        pruned=prune,
    )
