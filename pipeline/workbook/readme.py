"""The README sheet: how to edit the workbook, for someone who will not read a manual."""

from __future__ import annotations

from typing import Final

from pipeline.workbook.layout import ACTION_DELETE, META_SHEET, SHEETS

# (level, text): 0 title, 1 heading, 2 body; an empty text leaves a blank row.
README_LINES: Final[tuple[tuple[int, str], ...]] = (
    (0, "BigCommerce product modifiers (bcmod export)"),
    (2, "Each sheet holds one family of modifier types; a row is one modifier or one option value. "
        "Hover over a column header to see what the column means: headers are BigCommerce's own field "
        "names, which bcmod reads back, so please keep them as they are."),
    (2, "The first columns (the product, the modifier and, on value sheets, the value) stay in view "
        "while you scroll right."),
    (2, ""),
    (1, "How to edit"),
    (2, "Change a cell and load the workbook back: only rows that differ from the store are sent."),
    (2, "action column: leave it blank to keep the row (and update it if you changed it); "
        f"type {ACTION_DELETE} to delete that modifier or value from the store."),
    (2, "New rows: a row with no id (modifier_id on a modifier sheet, value_id on a values sheet) is created. "
        "A new value of a new modifier is linked to it by product_id and display_name."),
    (2, "Removing a row from the sheet does NOT delete anything: deleting takes the delete action, or "
        "pruning asked for explicitly when loading."),
    (2, "A blank cell means the field is not set, or is cleared: the plan shown before anything is sent "
        "lists every field that would become empty."),
    (2, ""),
    (1, "Cell formats"),
    (2, "IDs are whole numbers given by BigCommerce. Do not edit them, and leave them blank on new rows."),
    (2, "TRUE/FALSE columns take TRUE or FALSE (pick from the drop-down)."),
    (2, "Dates: a day is shown and written YYYY-MM-DD (such as 2026-03-15, the start of that day in UTC); "
        "a time of day is written in full ISO form, e.g. 2026-03-15T09:30:00+00:00."),
    (2, "Swatch colours are hex codes such as #ff0000, up to 3 separated by commas. Each cell is filled "
        "with its colours as exported, as a preview: the codes are what counts, and the fill does not "
        "change when you edit them."),
    (2, "Text columns are formatted as text, so values such as 2-8, 1/2, 0017 or =SUM(A1) are kept "
        "exactly as typed; lists (colours, file types) are separated by commas."),
    (2, "Grey columns are read-only, for reference (product SKU and name, a value's modifier type, "
        "values the store generates): they are not sent, so change nothing there."),
    (2, ""),
    (1, "Please do not"),
    (2, "rename, reorder or delete the sheets or their header row; add your own columns or sheets; "
        f"or try to reach the hidden {META_SHEET} sheet (it records which store and rows this export came "
        "from, and bcmod needs it as written)."),
    (2, ""),
    (1, "Sheets"),
    *((2, f"{spec.name}: {', '.join(spec.types)} {spec.kind}") for spec in SHEETS),
)
