"""Turn the source's modifiers into the sheets the target should match, and plan the image uploads.

The desired sheets are the source's rows with the target's product ids and no modifier or value
ids, so `build_plan` matches them to what the target already has by natural key (product +
display name, modifier + label, checked_value for a checkbox) and creates the rest: a first run
creates, a re-run finds everything equal and plans nothing.

- Product-list values link to a product by id: the source's id is re-mapped through the SKU map;
  a value whose linked product has no match is left out (listed with the reason), never guessed.
- A second modifier with the same display name on one product, or a second value with the same
  label on one modifier, has no natural key of its own: it is left out and listed.
- A value image (`adjusters.image_url`) on the source is a URL of the source store. The target
  gets the image by upload (downloaded from the source during the apply), not a link to the old
  store: the desired row keeps the target's current image (so no update touches it) and an
  `upload_image` operation with the source URL follows the create of the value, or targets the
  existing value. A target value that already has an image keeps it unless `replace_images`
  (the API cannot tell whether it is the same picture; a re-run must converge).
- A swatch's pattern image (`value_data.image_url`) has no upload endpoint in the API, so it is
  carried as the source's URL; `pattern_links` counts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import pandas as pd

from pipeline.migrate.catalog import SkuMap
from pipeline.modifier_types import MODIFIER_TYPES, checkbox_values
from pipeline.normalise import ModifierFrames
from pipeline.plan.operations import Change, Operation, OpKind, Plan, RowRef, op_id
from pipeline.workbook.layout import SHEETS
from pipeline.workbook.split import as_in_workbook, frames_to_sheets


FIRST_ROW = 2  # sheets are indexed like the reader's: Excel row numbers, header = row 1
_GENERATED_LABELS = {bool(v["value_data"]["checked_value"]): v["label"] for v in checkbox_values()}


@dataclass(frozen=True)
class LeftOut:
    """A source row the migration does not carry, and why."""

    product_id: int  # in the source
    sku: str | None
    display_name: str
    label: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "sku": self.sku, "display_name": self.display_name,
                "label": self.label, "reason": self.reason}


@dataclass
class Desired:
    """What the target's matched products should hold, as sheets `build_plan` takes."""

    frames: ModifierFrames  # the rows as the migration workbook shows them
    sheets: dict[str, pd.DataFrame]  # the same rows by sheet, indexed by Excel row
    left_out: list[LeftOut]
    remapped: int  # product-list values whose linked product id was translated
    pattern_links: int  # swatch pattern images carried as source URLs


@dataclass(frozen=True)
class ImageCarry:
    """One value image to upload to the target from the source's URL."""

    source: RowRef
    product_id: int  # in the target
    display_name: str
    type_name: str
    label: str
    checked_value: bool | None
    url: str
    modifier_id: int | None  # the target's, when the value already exists there
    value_id: int | None
    before: str | None  # the target value's image now


def _key(text: Any) -> str:
    return str(text).strip() if text is not None and text is not pd.NA else ""


def _absolute(url: Any, origin: str) -> Any:
    """A store image URL as an absolute http(s) URL (a relative one is taken against the store)."""
    if url is None or url is pd.NA or not str(url).strip():
        return pd.NA
    text = str(url).strip()
    return text if text.lower().startswith(("http://", "https://")) else urljoin(origin + "/", text.lstrip("/"))


def origin_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def desired_state(source: ModifierFrames, product_ids: Mapping[int, int], skus: SkuMap,
                  target_names: Mapping[int, str | None], source_origin: str) -> Desired:
    """The source rows of the products in `product_ids` (source id -> target id), for the target."""
    mods = source.modifiers.loc[source.modifiers["product_id"].isin(list(product_ids)).fillna(False)].copy()
    vals = source.values.loc[source.values["product_id"].isin(list(product_ids)).fillna(False)].copy()
    left_out: list[LeftOut] = []

    def leave(row: Mapping[str, Any], reason: str, label: Any = None) -> None:
        sku = row.get("product_sku")
        left_out.append(LeftOut(int(row["product_id"]), None if sku is pd.NA else sku, str(row["display_name"]),
                                None if label is None or label is pd.NA else str(label), reason))

    # natural keys must be unique, or a re-run could not tell the rows apart
    mod_keys = [(int(p), _key(d)) for p, d in zip(mods["product_id"], mods["display_name"], strict=True)]
    repeated_mod = pd.Series(mod_keys, index=mods.index, dtype=object).duplicated().to_numpy(bool)
    dropped_mods = set(mods.loc[repeated_mod, "modifier_id"].dropna().astype(int).tolist())
    for row in mods.loc[repeated_mod].to_dict("records"):
        leave(row, "another modifier of this product has the same display name; only the first is migrated")
    mods = mods.loc[~repeated_mod]
    vals = vals.loc[~vals["modifier_id"].isin(list(dropped_mods)).fillna(False)]
    generated = vals["type"].map(lambda t: MODIFIER_TYPES[t].generated_values).astype(bool)
    val_keys = [(int(m), _key(label)) for m, label in zip(vals["modifier_id"], vals["label"], strict=True)]
    repeated_val = pd.Series(val_keys, index=vals.index, dtype=object).duplicated() & ~generated
    for row in vals.loc[repeated_val].to_dict("records"):
        leave(row, "another value of this modifier has the same label; only the first is migrated", row["label"])
    vals = vals.loc[~repeated_val]

    # product lists: re-map the linked product through the SKU map
    linked = vals["linked_product_id"]
    keep = pd.Series(True, index=vals.index)
    remapped: list[Any] = []
    for index, item in linked.items():
        if item is pd.NA:
            remapped.append(pd.NA)
            continue
        target_id = skus.matched.get(int(item))
        if target_id is None:
            problem = skus.problems.get(int(item))
            why = f"cannot be matched: {problem.reason}" if problem else "is not in the source store"
            leave(vals.loc[index].to_dict(), f"links to source product {int(item)}, which {why}", vals.at[index, "label"])
            keep[index] = False
        remapped.append(target_id)
    vals = vals.assign(linked_product_id=pd.array(remapped, dtype="Int64")).loc[keep]
    n_remapped = int(vals["linked_product_id"].notna().sum())

    # images: absolute source URLs (value images become uploads in `carry_images`)
    vals = vals.assign(image_url=vals["image_url"].map(lambda u: _absolute(u, source_origin)).astype("string"),
                       pattern_image_url=vals["pattern_image_url"].map(
                           lambda u: _absolute(u, source_origin)).astype("string"))
    pattern_links = int(vals["pattern_image_url"].notna().sum())

    # the target's ids: products mapped, modifiers and values to be matched or created
    def to_target(frame: pd.DataFrame) -> pd.DataFrame:
        ids = pd.array([product_ids[int(p)] for p in frame["product_id"]], dtype="Int64")
        return frame.assign(product_id=ids)

    mods = to_target(mods).assign(modifier_id=pd.NA, name=pd.NA)
    mods = mods.assign(product_name=pd.array([target_names.get(int(p)) for p in mods["product_id"]],
                                             dtype="string"))
    vals = to_target(vals).assign(modifier_id=pd.NA, value_id=pd.NA)
    frames = as_in_workbook(ModifierFrames(mods.astype({"modifier_id": "Int64", "name": "string"}),
                                           vals.astype({"modifier_id": "Int64", "value_id": "Int64"})))
    sheets = {name: sheet.set_axis(pd.RangeIndex(FIRST_ROW, FIRST_ROW + len(sheet)))
              for name, sheet in frames_to_sheets(frames).items()}
    return Desired(frames, sheets, left_out, n_remapped, pattern_links)


class _TargetIndex:
    """The target's modifiers by (product, display name) and values by natural key."""

    def __init__(self, target: ModifierFrames) -> None:
        self.modifiers: dict[tuple[int, str], dict[str, Any]] = {}
        for row in target.modifiers.to_dict("records"):
            self.modifiers.setdefault((int(row["product_id"]), _key(row["display_name"])), row)
        self.values: dict[int, list[dict[str, Any]]] = {}
        for row in target.values.to_dict("records"):
            self.values.setdefault(int(row["modifier_id"]), []).append(row)

    def value(self, product_id: int, display_name: Any, type_name: str, label: Any, checked: Any
              ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        modifier = self.modifiers.get((product_id, _key(display_name)))
        if modifier is None or modifier["type"] != type_name:
            return modifier, None
        for value in self.values.get(int(modifier["modifier_id"]), ()):
            if (value["checked_value"] == checked) if MODIFIER_TYPES[type_name].generated_values else \
                    _key(value["label"]) == _key(label):
                return modifier, value
        return modifier, None


def _plain(item: Any) -> Any:
    return None if item is None or item is pd.NA else item


def carry_images(sheets: dict[str, pd.DataFrame], target: ModifierFrames, *, replace: bool
                 ) -> tuple[list[ImageCarry], int]:
    """Value images to upload, with `sheets` rewritten so no row sends a source URL as a link;
    and how many source images the target already has an image for (kept)."""
    index = _TargetIndex(target)
    carries: list[ImageCarry] = []
    kept = 0
    for spec in SHEETS:
        sheet = sheets.get(spec.name)
        if spec.kind != "values" or sheet is None or "image_url" not in sheet.columns:
            continue
        for row_number in sheet.index[sheet["image_url"].notna()].tolist():
            row = {k: _plain(v) for k, v in sheet.loc[row_number].to_dict().items()}
            product_id = int(row["product_id"])
            modifier, value = index.value(product_id, row["display_name"], row["type"], row["label"],
                                          row.get("checked_value"))
            if modifier is not None and modifier["type"] != row["type"]:
                continue  # the plan refuses the row (a type cannot change); nothing to upload to
            before = _plain(value["image_url"]) if value is not None else None
            sheet.at[row_number, "image_url"] = before if before is not None else pd.NA
            if before is not None and not replace:
                kept += 1
                continue
            carries.append(ImageCarry(RowRef(spec.name, int(row_number)), product_id, str(row["display_name"]),
                                      str(row["type"]), str(row["label"]), row.get("checked_value"), str(row["image_url"]),
                                      None if modifier is None else int(modifier["modifier_id"]),
                                      None if value is None else int(value["value_id"]), before))
    return carries, kept


def upload_operations(plan: Plan, carries: list[ImageCarry]) -> list[Operation]:
    """An `upload_image` for each carried image: after the operation that creates its value (or,
    for a new checkbox's value, the update that follows the create), or after the update of an
    existing value. An image whose value the plan neither has nor creates (the plan skipped the
    row, and says why) is not uploaded."""
    creates: dict[tuple[int, str, str], Operation] = {}
    updates: dict[int, Operation] = {}
    for op in plan.operations:
        name = _key(op.display_name)
        if op.kind is OpKind.CREATE_MODIFIER:
            for label in op.value_rows:
                creates.setdefault((op.product_id, name, _key(label)), op)
        elif op.kind is OpKind.CREATE_VALUE:
            creates[(op.product_id, name, _key(op.label))] = op
        elif op.kind is OpKind.UPDATE_VALUE:
            if op.value_id is not None:
                updates[op.value_id] = op
            elif op.depends_on is not None:  # a new checkbox's value, updated after its create
                creates[(op.product_id, name, _key(op.label))] = op
    taken = {op.op_id for op in plan.operations}
    out: list[Operation] = []
    for carry in carries:
        if carry.value_id is not None:
            after = updates.get(carry.value_id)
        else:
            label = carry.label
            if MODIFIER_TYPES[carry.type_name].generated_values:  # created by the store, under its own label
                label = _GENERATED_LABELS.get(bool(carry.checked_value), label)
            after = creates.get((carry.product_id, _key(carry.display_name), _key(label)))
            if after is None:
                continue
        identifier = op_id(OpKind.UPLOAD_IMAGE, carry.product_id, carry.display_name, carry.label)
        if identifier in taken:
            identifier = f"{identifier}#{len(taken)}"
        taken.add(identifier)
        out.append(Operation(
            identifier, OpKind.UPLOAD_IMAGE, carry.product_id, carry.display_name, carry.type_name,
            modifier_id=carry.modifier_id, value_id=carry.value_id, label=carry.label,
            changes=[Change("image_url", carry.before, carry.url)],
            depends_on=after.op_id if after is not None else None, source=carry.source, image=carry.url))
    return out
