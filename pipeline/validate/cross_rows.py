"""Rules that look at several rows or sheets at once: ids, links from values to modifiers, defaults,
checkbox values, label and name uniqueness, product-list targets, deletes.

Every modifier sheet is stacked into one table and every value sheet into another, each row keeping
its sheet and Excel row, so a rule is a vectorised pandas expression over all rows and only the
rows at fault become `Issue`s.

How a value finds its modifier (`link_values`): by `modifier_id` when a modifier row has that id;
otherwise by `product_id` and `display_name` (spaces around ignored), which is how the values of
a new modifier, that has no id yet, are tied to it.

Decisions:
- Rows marked `delete` do not count towards defaults, label and display-name uniqueness or the
  value cap: they are going away. They still count as duplicates of an id and must still link.
- Deleting a modifier deletes its values in the store. A value row of a deleted modifier that is
  not itself marked delete is an error: its edits would be lost, and the workbook would say two
  things at once. The fix is to mark the values delete too (or remove their rows).
- Labels are unique per modifier by exact text, spaces around ignored: BigCommerce treats `Red`
  and `red` as two labels but a shopper cannot see a trailing space.
- A duplicate (id, label, display name) is reported on the row the person edited, not on the
  untouched one it now repeats: `Tables.edited` tells them apart by the export's fingerprints
  (without them, the later row is reported).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from pipeline.modifier_types import MAX_VALUES_PER_MODIFIER, MODIFIER_TYPES
from pipeline.validate.issues import Issue, shown_value
from pipeline.validate.schemas import is_delete, show_cell
from pipeline.workbook.layout import SHEETS, SheetKind
from pipeline.workbook.split import ACTION_DTYPE, frame_dtypes

MODIFIER_COLUMNS: Final = ("action", "product_id", "modifier_id", "display_name", "type")
VALUE_COLUMNS: Final = ("action", "product_id", "modifier_id", "display_name", "type", "value_id", "label",
                        "is_default", "checked_value", "linked_product_id")
NO_LINK: Final = -1
SHOWN_ROWS: Final = 5  # rows listed in a message before "and N more"


class Tables:
    """The modifier and value rows of every sheet, stacked, with where each came from.

    Both tables have a 0..n-1 index and, besides their columns, `sheet`, `row` (Excel row),
    `deleted` and `known_type` (the type is one of its sheet's types). `link[i]` is the position in
    `modifiers` of value i's modifier, or NO_LINK; `linked_by_id[i]` says how it was found.
    """

    def __init__(self, sheets: Mapping[str, pd.DataFrame],
                 edited: Callable[[str, int], bool] | None = None) -> None:
        self.modifiers = _stack(sheets, "modifiers", MODIFIER_COLUMNS)
        self.values = _stack(sheets, "values", VALUE_COLUMNS)
        self.link, self.linked_by_id = link_values(self.modifiers, self.values)
        self._edited = edited

    def edited(self, table: pd.DataFrame, position: int) -> bool:
        """Whether the person changed this row since the export (False when it cannot be told)."""
        if self._edited is None:
            return False
        return self._edited(str(table["sheet"].iat[position]), int(table["row"].iat[position]))

    def edited_last(self, table: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
        """`keys` (indexed by table position) with, among rows sharing a key, the untouched rows first,
        so `_repeats` reports the edited ones."""
        if self._edited is None:
            return keys
        shared = keys.duplicated(keep=False).to_numpy(bool)
        if not shared.any():
            return keys
        later = np.zeros(len(keys), dtype=bool)
        later[shared] = [self.edited(table, p) for p in keys.index[shared].tolist()]
        if not later.any():
            return keys
        return keys.iloc[np.argsort(later, kind="stable")]

    def modifier_ref(self, position: int) -> str:
        modifiers = self.modifiers
        return f"sheet {modifiers['sheet'].iat[position]!r} row {modifiers['row'].iat[position]}"

    def modifier_name(self, position: int) -> str:
        modifiers = self.modifiers
        return f"{show_cell(modifiers['display_name'].iat[position])!r} of product {show_cell(modifiers['product_id'].iat[position])}"


def _stack(sheets: Mapping[str, pd.DataFrame], kind: SheetKind, columns: tuple[str, ...]) -> pd.DataFrame:
    dtypes = {c: ACTION_DTYPE if c == "action" else frame_dtypes(kind)[c] for c in columns}
    parts = []
    for spec in SHEETS:
        frame = sheets.get(spec.name)
        if spec.kind != kind or frame is None or not len(frame):
            continue
        part = frame.reindex(columns=list(columns)).reset_index(drop=True).astype(dtypes)
        part["sheet"] = spec.name
        part["row"] = frame.index.to_numpy()
        part["known_type"] = part["type"].isin(spec.types).fillna(False).to_numpy(bool)
        parts.append(part)
    if not parts:
        empty = pd.DataFrame({c: pd.Series([], dtype=dtypes.get(c, object)) for c in (*columns, "sheet", "row")})
        return empty.assign(deleted=pd.Series([], dtype=bool), known_type=pd.Series([], dtype=bool),
                            name_key=pd.Series([], dtype="string"))
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    table["deleted"] = is_delete(table["action"].astype("string"))
    table["name_key"] = table["display_name"].astype("string").str.strip()
    return table


def link_values(modifiers: pd.DataFrame, values: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(position in `modifiers` of each value's modifier or NO_LINK, whether it was found by id)."""
    link = np.full(len(values), NO_LINK, dtype=np.int64)
    if not len(values) or not len(modifiers):
        return link, np.zeros(len(values), dtype=bool)
    ids = modifiers["modifier_id"].astype("Int64")
    by_id = pd.Series(np.arange(len(modifiers)), index=ids)
    by_id = by_id[by_id.index.notna() & ~by_id.index.duplicated()]
    found = values["modifier_id"].astype("Int64").map(by_id)
    linked_by_id = found.notna().to_numpy(bool)
    link[linked_by_id] = found[linked_by_id].to_numpy(np.int64)
    rest = ~linked_by_id
    if rest.any():
        keys = modifiers[["product_id", "name_key"]].astype(object).assign(position=np.arange(len(modifiers)))
        keys = keys.dropna().drop_duplicates(["product_id", "name_key"])
        wanted = values.loc[rest, ["product_id", "name_key"]].astype(object)
        matched = wanted.merge(keys, how="left", on=["product_id", "name_key"])["position"]
        link[rest] = matched.fillna(NO_LINK).to_numpy(np.int64)
    return link, linked_by_id


# --- the rules ------------------------------------------------------------------------------------

Rule = Callable[[Tables, "_Report"], None]


class _Report:
    """Collects issues for one file; `add` takes a table row by position."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[Issue] = []

    def add(self, table: pd.DataFrame, position: int, column: str | None, message: str) -> None:
        value = table[column].iat[position] if column in table.columns else None
        self.issues.append(Issue(self.file, table["sheet"].iat[position], int(table["row"].iat[position]), column,
                                 shown_value(value), message))


def _ints(column: pd.Series) -> np.ndarray:
    """Whole numbers with -1 for blank, so they compare with plain numpy."""
    return column.astype("Int64").to_numpy(np.int64, na_value=-1)


def _texts(column: pd.Series) -> np.ndarray:
    return column.astype("string").to_numpy(object, na_value="")


def _of_parent(tables: Tables, column: np.ndarray, blank: Any) -> np.ndarray:
    """`column` (one item per modifier) for each value's modifier; `blank` for unlinked values."""
    linked = tables.link != NO_LINK
    out = np.full(len(tables.values), blank, dtype=column.dtype)
    out[linked] = column[tables.link[linked]]
    return out


def _positions(mask: Any) -> list[int]:
    return np.flatnonzero(np.asarray(mask, dtype=bool)).tolist()


def _rows_text(table: pd.DataFrame, positions: list[int]) -> str:
    shown = [f"{table['sheet'].iat[p]!r} row {table['row'].iat[p]}" for p in positions[:SHOWN_ROWS]]
    more = f" and {len(positions) - SHOWN_ROWS} more" if len(positions) > SHOWN_ROWS else ""
    return ", ".join(shown) + more


def _repeats(keys: pd.DataFrame) -> list[tuple[int, int, tuple[Any, ...]]]:
    """(position, position of the first row with the same key, key) for each row whose key an
    earlier row already has; `keys` is indexed by table position."""
    again = keys.duplicated(keep="first").to_numpy(bool)
    if not again.any():
        return []
    first: dict[tuple[Any, ...], int] = {}
    out = []
    for position, key, repeated in zip(keys.index.tolist(), keys.itertuples(index=False, name=None), again.tolist(),
                                       strict=True):
        if repeated:
            out.append((position, first[key], key))
        else:
            first[key] = position
    return out


def duplicate_ids(tables: Tables, report: _Report) -> None:
    """A modifier id on two modifier rows, or a value id on two value rows."""
    for table, column, what in ((tables.modifiers, "modifier_id", "modifier"), (tables.values, "value_id", "value")):
        ids = table[[column]].astype(object)
        ids = tables.edited_last(table, ids[table[column].notna().to_numpy(bool)])
        for position, earlier, (item,) in _repeats(ids):
            report.add(table, position, column, f"{column} {show_cell(item)} is also on {_rows_text(table, [earlier])}: "
                       f"each {what} must have exactly one row")


def unlinked_values(tables: Tables, report: _Report) -> None:
    """A value whose modifier is on no modifier sheet, by id or by product and display name."""
    values = tables.values
    for position in _positions(tables.link == NO_LINK):
        modifier_id, name = (show_cell(values[c].iat[position]) for c in ("modifier_id", "name_key"))
        named = (f"product {show_cell(values['product_id'].iat[position])} has no modifier row named "
                 f"{show_cell(values['display_name'].iat[position])!r}")
        if not modifier_id and not name:
            report.add(values, position, "display_name", "this value belongs to no modifier: it has neither "
                       "modifier_id nor display_name. Give its modifier's modifier_id, or the display_name of a "
                       "new modifier")
        elif modifier_id:
            report.add(values, position, "modifier_id", f"this value belongs to no modifier: no modifier row has "
                       f"modifier_id {modifier_id}, and {named}. Keep the modifier's row on its sheet, or remove "
                       "this value row")
        else:
            report.add(values, position, "display_name", f"this value belongs to no modifier: {named}. The "
                       "values of a new modifier are linked to it by product_id and display_name, which must "
                       "match its modifier row")


def contradictory_links(tables: Tables, report: _Report) -> None:
    """A value with a modifier_id that no row has, whose display name names a different modifier;
    a value with a value_id under a new modifier; a value on another product than its modifier."""
    values, modifiers, link = tables.values, tables.modifiers, tables.link
    linked = link != NO_LINK
    kept = linked & ~values["deleted"].to_numpy(bool)
    by_name_with_id = kept & ~tables.linked_by_id & values["modifier_id"].notna().to_numpy(bool)
    for position in _positions(by_name_with_id):
        target = int(link[position])
        has = modifiers["modifier_id"].iloc[target]
        state = f"has modifier_id {show_cell(has)}" if pd.notna(has) else "is new (no modifier_id yet)"
        report.add(values, position, "modifier_id", f"no modifier row has modifier_id "
                   f"{show_cell(values['modifier_id'].iloc[position])}, but the modifier named "
                   f"{tables.modifier_name(target)} ({tables.modifier_ref(target)}) {state}: correct the "
                   "modifier_id, or clear it to link by display_name")
    parent_new = _of_parent(tables, modifiers["modifier_id"].isna().to_numpy(bool), False)
    for position in _positions(kept & parent_new & values["value_id"].notna().to_numpy(bool) & ~by_name_with_id):
        target = int(link[position])
        report.add(values, position, "value_id", f"its modifier {tables.modifier_name(target)} is new "
                   f"({tables.modifier_ref(target)} has no modifier_id), so this value is new too: clear "
                   "value_id")
    parent_product = _of_parent(tables, _ints(modifiers["product_id"]), -1)
    product = _ints(values["product_id"])
    other_product = kept & tables.linked_by_id & (product != parent_product) & (product != -1) & (parent_product != -1)
    for position in _positions(other_product):
        target = int(link[position])
        report.add(values, position, "product_id", f"product_id {show_cell(values['product_id'].iloc[position])} "
                   f"differs from its modifier's: modifier {show_cell(modifiers['modifier_id'].iloc[target])} "
                   f"({tables.modifier_ref(target)}) is on product {show_cell(parent_product[position])}")


def type_mismatch(tables: Tables, report: _Report) -> None:
    """A value whose type is not its modifier's type."""
    values, modifiers = tables.values, tables.modifiers
    parent_type = _of_parent(tables, _texts(modifiers["type"]), "")
    parent_known = _of_parent(tables, modifiers["known_type"].to_numpy(bool), False)
    wrong = (parent_known & values["known_type"].to_numpy(bool) & ~values["deleted"].to_numpy(bool)
             & (_texts(values["type"]) != parent_type))
    for position in _positions(wrong):
        target = int(tables.link[position])
        parent = parent_type[position]
        if MODIFIER_TYPES[parent].has_values:
            message = (f"type {values['type'].iloc[position]} differs from its modifier's type {parent} "
                       f"({tables.modifier_ref(target)}): a value has its modifier's type")
        else:
            message = (f"its modifier {tables.modifier_name(target)} ({tables.modifier_ref(target)}) is a "
                       f"{parent} modifier, which has no values: remove this row")
        report.add(values, position, "type", message)


def _kept_linked(tables: Tables) -> np.ndarray:
    return (tables.link != NO_LINK) & ~tables.values["deleted"].to_numpy(bool)


def one_default(tables: Tables, report: _Report) -> None:
    """At most one value per modifier is the default."""
    values = tables.values
    defaults = _kept_linked(tables) & values["is_default"].fillna(False).astype(bool).to_numpy()
    owners = pd.DataFrame({"owner": tables.link[defaults]}, index=np.flatnonzero(defaults))
    for position, earlier, (owner,) in _repeats(tables.edited_last(values, owners)):
        report.add(values, position, "is_default", f"modifier {tables.modifier_name(owner)} already has its default "
                   f"on {_rows_text(values, [earlier])}: at most one value per modifier can have is_default TRUE")


def unique_labels(tables: Tables, report: _Report) -> None:
    """Labels are unique within a modifier (exact text, spaces around ignored)."""
    values = tables.values
    labels = values["label"].astype("string").str.strip()
    kept = _kept_linked(tables) & labels.fillna("").ne("").to_numpy(bool)  # a blank label is reported as such
    keys = pd.DataFrame({"owner": tables.link[kept], "label": labels[kept].to_numpy(object)},
                        index=np.flatnonzero(kept))
    for position, earlier, (owner, label) in _repeats(tables.edited_last(values, keys)):
        report.add(values, position, "label", f"label {label!r} is already used by {_rows_text(values, [earlier])} "
                   f"of modifier {tables.modifier_name(owner)}: labels must be unique within a modifier")


def unique_display_names(tables: Tables, report: _Report) -> None:
    """A product's modifiers have different display names (spaces around ignored)."""
    modifiers = tables.modifiers
    kept = ~modifiers["deleted"].to_numpy(bool) & modifiers["name_key"].fillna("").ne("").to_numpy(bool)
    keys = modifiers.loc[kept, ["product_id", "name_key"]].astype(object)
    for position, earlier, (product, name) in _repeats(tables.edited_last(modifiers, keys)):
        report.add(modifiers, position, "display_name", f"product {show_cell(product)} already has a modifier named "
                   f"{name!r} ({_rows_text(modifiers, [earlier])}): display names must be unique per product, "
                   "because they link new values to their modifier")


def value_cap(tables: Tables, report: _Report) -> None:
    """At most MAX_VALUES_PER_MODIFIER values per modifier."""
    counts = np.bincount(tables.link[_kept_linked(tables)], minlength=len(tables.modifiers))
    for position in _positions(counts > MAX_VALUES_PER_MODIFIER):
        report.add(tables.modifiers, position, None, f"this modifier has {counts[position]} values; at most "
                   f"{MAX_VALUES_PER_MODIFIER} are allowed per modifier")


def checkbox_values(tables: Tables, report: _Report) -> None:
    """A checkbox keeps exactly its two generated values (checked_value TRUE and FALSE); they cannot
    be added or deleted. A new checkbox may list none (the store creates them) or exactly those two."""
    values, modifiers, link = tables.values, tables.modifiers, tables.link
    is_checkbox = (modifiers["type"].eq("checkbox").fillna(False) & modifiers["known_type"]).to_numpy(bool)
    live = is_checkbox & ~modifiers["deleted"].to_numpy(bool)
    if not live.any():
        return
    of_checkbox = _of_parent(tables, live, False)
    parent_new = _of_parent(tables, modifiers["modifier_id"].isna().to_numpy(bool), False)
    deleted = values["deleted"].to_numpy(bool)
    has_id = values["value_id"].notna().to_numpy(bool)
    for position in _positions(of_checkbox & deleted):
        report.add(values, position, "action", "checkbox values are generated by the store and cannot be "
                   "deleted: delete the checkbox modifier to remove them")
    added = of_checkbox & ~parent_new & ~has_id
    for position in _positions(added):
        report.add(values, position, "value_id", "checkbox values are generated by the store (checked_value "
                   "TRUE and FALSE); a new one cannot be added: remove this row")
    counted = of_checkbox & ~added
    checked = values["checked_value"].astype("boolean")
    n_true = np.bincount(link[counted & checked.eq(True).fillna(False).to_numpy(bool)], minlength=len(modifiers))
    n_false = np.bincount(link[counted & checked.eq(False).fillna(False).to_numpy(bool)], minlength=len(modifiers))
    n_all = np.bincount(link[counted], minlength=len(modifiers))
    pair = (n_true == 1) & (n_false == 1) & (n_all == 2)
    new = modifiers["modifier_id"].isna().to_numpy(bool)
    for position in _positions(live & ~pair & ~(new & (n_all == 0))):
        found = f"found {n_all[position]}: {n_true[position]} TRUE, {n_false[position]} FALSE"
        if new[position]:
            message = ("a new checkbox gets its two values from the store: leave out its value rows, or give "
                       f"exactly two (checked_value TRUE and FALSE) to set their adjusters; {found}")
        else:
            message = ("a checkbox modifier has exactly two values, checked_value TRUE and FALSE, which must stay "
                       f"on sheet 'Checkbox values'; {found}")
        report.add(modifiers, position, None, message)


def deleted_modifier_values(tables: Tables, report: _Report) -> None:
    """Deleting a modifier deletes its values: its value rows must be marked delete too."""
    values, modifiers, link = tables.values, tables.modifiers, tables.link
    orphaned = _kept_linked(tables) & _of_parent(tables, modifiers["deleted"].to_numpy(bool), False)
    if not orphaned.any():
        return
    owners = pd.Series(np.flatnonzero(orphaned), index=link[orphaned])
    for target, rows in owners.groupby(level=0):
        positions = rows.tolist()
        report.add(modifiers, int(target), "action", f"deleting this modifier also deletes its values, but "
                   f"{len(positions)} of them are not marked delete ({_rows_text(values, positions)}): mark them "
                   "delete too, or remove their rows")


def linked_products_exist(tables: Tables | _Stacked, report: _Report, known_product_ids: set[int]) -> None:
    """A product-list value offers a product that exists in the store."""
    values = tables.values
    targets = values["linked_product_id"]
    present = targets.notna().to_numpy(bool) & ~values["deleted"].to_numpy(bool)
    missing = present & ~targets.astype("Int64").isin(known_product_ids).fillna(False).to_numpy(bool)
    for position in _positions(missing):
        report.add(values, position, "linked_product_id", f"product {show_cell(targets.iloc[position])} does not "
                   "exist in the store: a product list can only offer existing products")


CROSS_ROW_RULES: Final[tuple[Rule, ...]] = (
    duplicate_ids, unlinked_values, contradictory_links, type_mismatch, one_default, unique_labels,
    unique_display_names, value_cap, checkbox_values, deleted_modifier_values,
)


def linked_product_issues(sheets: Mapping[str, pd.DataFrame], *, file: str,
                          known_product_ids: set[int]) -> list[Issue]:
    """The product-list values whose product the store lacks, and nothing else.

    The planner asks this after the other rules passed at validation; it stacks only the sheets that
    hold product-list targets, not every value row of the catalog again (at 100k products, the
    whole stack was the plan's peak).
    """
    holding = {name: frame for name, frame in sheets.items()
               if "linked_product_id" in frame.columns and frame["linked_product_id"].notna().any()}
    if not holding:
        return []
    values = _stack(holding, "values", VALUE_COLUMNS)
    report = _Report(file)
    linked_products_exist(_Stacked(values), report, known_product_ids)
    return report.issues


class _Stacked:
    """The value rows alone, for a rule that reads only `Tables.values`."""

    def __init__(self, values: pd.DataFrame) -> None:
        self.values = values


def cross_row_issues(sheets: Mapping[str, pd.DataFrame], *, file: str,
                     known_product_ids: set[int] | None = None,
                     edited: Callable[[str, int], bool] | None = None) -> list[Issue]:
    """Every cross-row problem of the sheets (typed frames indexed by Excel row).

    `known_product_ids`: the store's product ids, for product-list values; None skips that check.
    `edited(sheet, row)`: whether the person changed that row since the export, so that a
    duplicate is reported on the edited row; None reports the later row.
    """
    tables = Tables(sheets, edited)
    report = _Report(file)
    for rule in CROSS_ROW_RULES:
        rule(tables, report)
    if known_product_ids is not None:
        linked_products_exist(tables, report, known_product_ids)
    return report.issues
