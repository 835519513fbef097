"""Validate edited sheets: every row against its type's model, then the rules across rows.

Each sheet's rows are grouped by `type` and each group is checked by that type's model, so a
sheet holding several types (Choice modifiers: dropdown, radio_buttons, rectangles, swatch)
checks each row with exactly its own rules. A row whose type is blank, unknown or belongs to
another sheet gets one issue on its `type` cell and no other row-level check, since which rules
apply to it is not known. Nothing here talks to the store.

With the export's metadata, rows are also set against what was exported (`against_export`): a
changed modifier type, a value moved to another modifier, edits in read-only columns and cells a
spreadsheet program rewrote are issues on their cells, and what other checks say about the same
edits (a value "of the wrong type" under a retyped modifier) is left out. A new value row's type
is taken from its modifier row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import pandas as pd

from pipeline.gc_pause import gc_paused
from pipeline.modifier_types import TYPE_NAMES
from pipeline.validate.against_export import ExportCheck, fill_value_types
from pipeline.validate.cross_rows import cross_row_issues
from pipeline.validate.issues import Issue, shown_value
from pipeline.validate.schemas import MODIFIER_MODELS, VALUE_MODELS, check_rows
from pipeline.workbook.layout import SHEETS, SheetSpec
from pipeline.workbook.meta import ExportMeta

_SHEET_ORDER: Final = {spec.name: position for position, spec in enumerate(SHEETS)}
_COLUMN_ORDER: Final = {spec.name: {c: i for i, c in enumerate(spec.column_names)} for spec in SHEETS}


@gc_paused()
def validate_sheets(sheets: Mapping[str, pd.DataFrame], *, file: str,
                    known_product_ids: set[int] | None = None, meta: ExportMeta | None = None,
                    accept_excel_changes: bool = False) -> list[Issue]:
    """Every problem of the sheets (as `read_sheets` returns them), sorted by sheet, row and column.

    `known_product_ids`: the store's product ids, to check product-list values against; None skips
    that check. Sheets missing from `sheets` count as empty; other keys are ignored. `meta`: the
    export's metadata, to set the rows against what was exported (None skips that).
    `accept_excel_changes`: cells a spreadsheet program rewrote are not issues.
    """
    sheets = fill_value_types(sheets)
    issues: list[Issue] = []
    for spec in SHEETS:
        frame = sheets.get(spec.name)
        if frame is not None and len(frame):
            issues += sheet_issues(frame, spec, file=file)
    exported = ExportCheck(sheets, meta, file=file, accept_excel_changes=accept_excel_changes)
    issues += cross_row_issues(sheets, file=file, known_product_ids=known_product_ids,
                               edited=exported.edited if exported.prints else None)
    if exported.has_record:
        issues = [i for i in issues if exported.keep(i)] + exported.issues
    return sorted(issues, key=issue_order)


def sheet_issues(frame: pd.DataFrame, spec: SheetSpec, *, file: str) -> list[Issue]:
    """The row-level problems of one sheet: a `type` issue for rows of no known type, and each
    type's rows checked by its model."""
    models = MODIFIER_MODELS if spec.kind == "modifiers" else VALUE_MODELS
    if "type" not in frame.columns:  # which rules apply to a row is unknown
        return [Issue(file, spec.name, None, "type", None, "column 'type' is missing")]
    types = frame["type"].astype("string")
    known = types.isin(spec.types).fillna(False).to_numpy(bool)
    issues = [Issue(file, spec.name, int(row), "type", shown_value(value), _type_message(value, spec))
              for row, value in types[~known].items()]
    for type_name, rows in frame[known].groupby(types[known], sort=False):
        issues += check_rows(rows, models[str(type_name)], file=file, sheet=spec.name)
    return issues


def _type_message(value: object, spec: SheetSpec) -> str:
    choices = ", ".join(spec.types)
    if (value is None or value is pd.NA or not str(value).strip()) and spec.kind == "values":
        return ("a value's type is its modifier's, and no modifier row matches this value's modifier_id (or its "
                "product_id and display_name)")
    if value is None or value is pd.NA or not str(value).strip():
        return f"type is required: one of {choices}"
    text = str(value)
    if text in TYPE_NAMES:
        home = next(s.name for s in SHEETS if s.kind == spec.kind and text in s.types)
        return f"{text} rows belong on sheet {home!r}; this sheet takes {choices}"
    close = next((t for t in spec.types if t == text.strip().lower().replace(" ", "_").replace("-", "_")), None)
    if close:
        return f"type {text!r} must be written exactly {close}"
    return f"{text!r} is not a type this sheet takes: use one of {choices}"


def issue_order(issue: Issue) -> tuple[int, int, int, str]:
    """Sheets in workbook order, then Excel row, then column left to right (whole-row issues first)."""
    columns = _COLUMN_ORDER.get(issue.sheet or "", {})
    column = -1 if issue.column is None else columns.get(issue.column, len(columns))
    return (_SHEET_ORDER.get(issue.sheet or "", len(_SHEET_ORDER)), -1 if issue.row is None else issue.row,
            column, issue.message)
