"""The demo's stand-in for a person editing the workbook in Excel.

It makes one edit of each kind a catalog manager makes (rename a value, change a price adjuster,
add a value, add a modifier with values, delete a value, delete a modifier, attach an image from
the workbook's folder) through openpyxl, the same library Excel-compatible tools use, so the
plan that follows has something of every kind to show.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from pipeline.workbook.editing import SheetEditor
from sample_data.generator import png_bytes


def scripted_edit(path: Path) -> list[str]:
    """Edit the exported workbook at `path` in place; returns what was changed, for the demo."""
    book = load_workbook(path)
    choice_values = SheetEditor.of(book["Choice values"])
    choice_modifiers = SheetEditor.of(book["Choice modifiers"])
    edits: list[str] = []

    first = 2
    product_id = choice_values.get(first, "product_id")
    old_label = choice_values.get(first, "label")
    choice_values.set(first, "label", f"{old_label} (new season)")
    edits.append(f"renamed value {old_label!r} of product {product_id}")

    second = 3
    choice_values.set(second, "price_adjuster", "relative")
    choice_values.set(second, "price_adjuster_value", 7.5)
    edits.append(f"set a +7.50 price adjuster on value {choice_values.get(second, 'label')!r}")

    image = path.parent / "images" / "gold-foil.png"
    image.parent.mkdir(exist_ok=True)
    image.write_bytes(png_bytes(b"\xd4\xaf\x37", 16, 16))
    choice_values.set(second, "image_url", "images/gold-foil.png")
    edits.append("attached images/gold-foil.png to that value (uploaded on apply)")

    # a new value under the first value's modifier
    template = [choice_values.get(first, name) for name in choice_values.columns]
    new_row = choice_values.last_row() + 1
    for name, value in zip(choice_values.columns, template):
        choice_values.set(new_row, name, value)
    choice_values.set(new_row, "value_id", None)
    choice_values.set(new_row, "label", "Limited edition")
    choice_values.set(new_row, "sort_order", 99)
    choice_values.set(new_row, "is_default", False)
    edits.append(f"added value 'Limited edition' to {choice_values.get(first, 'display_name')!r}")

    # a new dropdown modifier with two values on the same product
    row = choice_modifiers.last_row() + 1
    for name, value in (("product_id", product_id), ("display_name", "Gift box"), ("type", "dropdown"),
                        ("required", False), ("sort_order", 20)):
        choice_modifiers.set(row, name, value)
    for label, order in (("Plain box", 0), ("Luxury box", 1)):
        new_row = choice_values.last_row() + 1
        for name, value in (("product_id", product_id), ("display_name", "Gift box"), ("type", "dropdown"),
                            ("label", label), ("sort_order", order), ("is_default", order == 0)):
            choice_values.set(new_row, name, value)
    choice_values.set(new_row, "price_adjuster", "relative")
    choice_values.set(new_row, "price_adjuster_value", 12)
    edits.append(f"added dropdown 'Gift box' with 2 values to product {product_id}")

    # delete one value of another modifier (not the one edited above)
    other = next(r for r in range(4, choice_values.last_row())
                 if choice_values.get(r, "modifier_id") != choice_values.get(first, "modifier_id")
                 and choice_values.get(r, "value_id"))
    choice_values.set(other, "action", "delete")
    edits.append(f"deleted value {choice_values.get(other, 'label')!r} of product {choice_values.get(other, 'product_id')}")

    # delete a whole text modifier
    text = SheetEditor.of(book["Text modifiers"])
    victim = 2
    text.set(victim, "action", "delete")
    edits.append(f"deleted text modifier {text.get(victim, 'display_name')!r} of product {text.get(victim, 'product_id')}")

    book.save(path)
    return edits
