"""A person's edit of an exported workbook, at a chosen size: the benches' stand-in for Excel.

`edit_workbook(path, mix)` changes rows of every kind a catalog manager changes, spread evenly
over the workbook so that no product or modifier gets more than one edit of a kind that would
merge or collide: value creates and deletes go to choice modifiers kept apart from every other
edit; value updates are price adjusters (four rows in five) and new labels (the fifth, on choice
and swatch values); modifier updates flip `required` on text modifiers and bump `sort_order`
elsewhere; modifier deletes take date modifiers (they have no values); modifier creates add a
text modifier to the last products; image uploads attach a new PNG from the workbook's folder to
choice values. Each edited row is one operation in the plan, so the plan must equal the edit.
"""

from __future__ import annotations

import resource
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.workbook.layout import SHEETS

PRICE_SHEETS = ("Choice values", "Swatch values", "Product list values")
LABEL_SHEETS = ("Choice values", "Swatch values")  # checkbox labels are the store's; product list ones too
TEXT_SHEETS = ("Text modifiers", "Multi-line text modifiers")
IMAGE_FOLDER = "images"


@dataclass(frozen=True)
class EditMix:
    """How many rows of each kind to edit (each is one operation of the plan)."""

    update_value: int
    update_modifier: int
    create_value: int = 0
    delete_value: int = 0
    create_modifier: int = 0
    delete_modifier: int = 0
    upload_image: int = 0

    @property
    def total(self) -> int:
        return sum(asdict(self).values())

    @classmethod
    def share(cls, share: float, value_rows: int, modifier_rows: int, **fixed: int) -> EditMix:
        """`share` of the value rows and of the modifier rows, the `fixed` creates and deletes included."""
        values = round(share * value_rows) - sum(fixed.get(k, 0) for k in ("create_value", "delete_value",
                                                                           "upload_image"))
        modifiers = round(share * modifier_rows) - sum(fixed.get(k, 0) for k in ("create_modifier",
                                                                                  "delete_modifier"))
        return cls(update_value=values, update_modifier=modifiers, **fixed)


def edit_workbook(path: Path, mix: EditMix) -> dict[str, Any]:
    """Edit the workbook at `path` in place; returns the edited rows, the kinds the plan should hold,
    and the editor's own cost (openpyxl load and save time, peak RSS of this process)."""
    from openpyxl import load_workbook

    from pipeline.workbook.editing import SheetEditor as Sheet
    from sample_data.generator import png_bytes

    started = time.perf_counter()
    book = load_workbook(path)
    loaded_s = time.perf_counter() - started
    sheets = {spec.name: Sheet.of(book[spec.name]) for spec in SHEETS}
    rows = {name: sheet.rows() for name, sheet in sheets.items()}
    value_rows = sum(len(rows[s.name]) for s in SHEETS if s.kind == "values")
    modifier_rows = sum(len(rows[s.name]) for s in SHEETS if s.kind == "modifiers")
    edited: list[tuple[str, int]] = []
    expected: Counter[str] = Counter()

    def mark(sheet: str, row: int, kind: str) -> None:
        edited.append((sheet, row))
        expected[kind] += 1

    # value creates and deletes on choice modifiers with >= 3 values, kept apart from every other edit
    values = sheets["Choice values"]
    by_modifier: dict[Any, list[int]] = {}
    for row in rows["Choice values"]:
        by_modifier.setdefault(values.get(row, "modifier_id"), []).append(row)
    groups = [(modifier, group) for modifier, group in by_modifier.items() if len(group) >= 3]
    apart = mix.create_value + mix.delete_value
    if apart > len(groups):
        raise RuntimeError(f"too few choice modifiers for {apart} value creates and deletes ({len(groups)})")
    reserved = {modifier for modifier, _ in groups[len(groups) - apart:]}
    next_row = values.last_row() + 1
    for modifier, group in groups[len(groups) - mix.create_value:] if mix.create_value else ():
        template = group[0]
        for name in ("product_id", "modifier_id", "display_name", "type"):
            values.set(next_row, name, values.get(template, name))
        for name, value in (("label", f"Bench extra {modifier}"), ("sort_order", 99), ("is_default", False),
                            ("price_adjuster", "relative"), ("price_adjuster_value", 2.5)):
            values.set(next_row, name, value)
        mark("Choice values", next_row, "create_value")
        next_row += 1
    for _, group in groups[len(groups) - apart:len(groups) - mix.create_value]:
        row = next(r for r in reversed(group) if not values.get(r, "is_default"))
        values.set(row, "action", "delete")
        mark("Choice values", row, "delete_value")

    # value updates and image uploads spread evenly: an upload on every k-th candidate of choice values
    candidates = [(name, row) for name in PRICE_SHEETS for row in rows[name]
                  if sheets[name].get(row, "modifier_id") not in reserved]
    picked = spread(candidates, mix.update_value + mix.upload_image)
    image_rows = set(spread([c for c in picked if c[0] == "Choice values"], mix.upload_image)) \
        if mix.upload_image else set()
    if image_rows:
        (path.parent / IMAGE_FOLDER).mkdir(exist_ok=True)
    for i, (name, row) in enumerate(c for c in picked if c not in image_rows):
        sheet = sheets[name]
        if i % 5 == 4 and name in LABEL_SHEETS:
            sheet.set(row, "label", f"{sheet.get(row, 'label')} v2")
        else:
            bump_price(sheet, row)
        mark(name, row, "update_value")
    for n, (name, row) in enumerate(sorted(image_rows)):
        image = f"{IMAGE_FOLDER}/bench-{n}.png"
        (path.parent / image).write_bytes(png_bytes(bytes((n % 256, 96, 255 - n % 256)), 8, 8))
        sheets[name].set(row, "image_url", image)
        mark(name, row, "upload_image")

    # modifier deletes (date modifiers have no values) and creates (a text modifier on the last products)
    dates = sheets["Date modifiers"]
    deleted = rows["Date modifiers"][:mix.delete_modifier]
    for row in deleted:
        dates.set(row, "action", "delete")
        mark("Date modifiers", row, "delete_modifier")
    texts = sheets["Text modifiers"]
    products = sorted({sheets["Choice modifiers"].get(r, "product_id") for r in rows["Choice modifiers"]})
    next_row = texts.last_row() + 1
    for product_id in products[len(products) - mix.create_modifier:] if mix.create_modifier else ():
        for name, value in (("product_id", product_id), ("display_name", "Bench engraving"), ("type", "text"),
                            ("required", False), ("sort_order", 9), ("text_characters_limited", True),
                            ("text_min_length", 1), ("text_max_length", 12)):
            texts.set(next_row, name, value)
        mark("Text modifiers", next_row, "create_modifier")
        next_row += 1

    # modifier updates spread evenly: `required` flipped on text modifiers, sort order + 1 elsewhere
    candidates = [(s.name, row) for s in SHEETS if s.kind == "modifiers" for row in rows[s.name]
                  if sheets[s.name].get(row, "modifier_id") not in reserved
                  and not (s.name == "Date modifiers" and row in deleted)]
    for name, row in spread(candidates, mix.update_modifier):
        sheet = sheets[name]
        if name in TEXT_SHEETS:
            sheet.set(row, "required", not sheet.get(row, "required"))
        else:
            sheet.set(row, "sort_order", int(sheet.get(row, "sort_order") or 0) + 1)
        mark(name, row, "update_modifier")

    edited_s = time.perf_counter() - started
    book.save(path)
    return {"edited": edited, "expected": dict(expected), "value_rows": value_rows, "modifier_rows": modifier_rows,
            "load_seconds": loaded_s, "seconds": time.perf_counter() - started,
            "save_seconds": time.perf_counter() - started - edited_s,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def spread(items: list[Any], n: int) -> list[Any]:
    """`n` items taken evenly across `items`."""
    if n > len(items):
        raise RuntimeError(f"too few rows to edit ({len(items)} < {n})")
    if n <= 0:
        return []
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def bump_price(sheet: Any, row: int) -> None:
    """A different price adjuster on a value row: +1.25 on the one it has, or a new relative one."""
    if sheet.get(row, "price_adjuster") in (None, ""):
        sheet.set(row, "price_adjuster", "relative")
        sheet.set(row, "price_adjuster_value", 1.25)
    else:
        sheet.set(row, "price_adjuster_value", round(float(sheet.get(row, "price_adjuster_value") or 0) + 1.25, 2))
