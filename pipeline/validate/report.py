"""Show validation issues to a person (a rich table), to a machine (JSON), and in a copy of the file.

The annotated copy is the workbook itself with every failing cell filled red, an `errors` column
on each data sheet holding that row's problems, and a summary sheet listing every issue with a
link to its cell. A CSV export gets an `errors.csv` instead. The copy is made with openpyxl in
normal mode: it is a one-off, and it keeps the sheets' formats, comments and drop-downs.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from rich.table import Table

from pipeline.validate.issues import Issue
from pipeline.workbook.cells import neutralise
from pipeline.workbook.layout import ERRORS_COLUMN, ERRORS_CSV, META_SHEET, SHEETS, SUMMARY_SHEET

FIELDS: Final = ("file", "sheet", "row", "column", "value", "message")
_SHEET_ORDER: Final = {name: position for position, name in enumerate([s.name for s in SHEETS] + [META_SHEET])}
_COLUMN_ORDER: Final = {(s.name, c.name): p for s in SHEETS for p, c in enumerate(s.columns)}
_RED: Final = "FFFFC7CE"
_RED_TEXT: Final = "FF9C0006"
MAX_VALUE_CHARS: Final = 60


def sort_key(issue: Issue) -> tuple[Any, ...]:
    """File, then sheet in workbook order, then row, then column in sheet order; whole-file first."""
    return (issue.file, issue.sheet is not None, _SHEET_ORDER.get(issue.sheet or "", len(_SHEET_ORDER)),
            issue.sheet or "", issue.row if issue.row is not None else 0,
            _COLUMN_ORDER.get((issue.sheet or "", issue.column or ""), -1 if issue.column is None else 999),
            issue.column or "", issue.message)


def sort_issues(issues: Iterable[Issue]) -> list[Issue]:
    return sorted(issues, key=sort_key)


def summary_line(issues: Sequence[Issue], *, file: str, rows: int | None = None) -> str:
    """One sentence: how many problems where, or that the file is clean."""
    if not issues:
        checked = f" ({rows} rows checked)" if rows is not None else ""
        return f"{file}: no problems found{checked}. Nothing was sent to the store."
    sheets = {i.sheet for i in issues if i.sheet}
    rows_hit = {(i.file, i.sheet, i.row) for i in issues if i.row is not None}
    where = f" on {len(rows_hit)} row{'s' if len(rows_hit) != 1 else ''}" if rows_hit else ""
    in_sheets = f" in {len(sheets)} sheet{'s' if len(sheets) != 1 else ''}" if sheets else ""
    return (f"{file}: {len(issues)} problem{'s' if len(issues) != 1 else ''}{where}{in_sheets}. "
            f"Nothing was sent to the store: fix {'them' if len(issues) != 1 else 'it'} and validate again.")


def issues_table(issues: Sequence[Issue], *, limit: int | None = None) -> Table:
    """The issues as a rich table: file, sheet, row, column, value, problem."""
    table = Table(title="Problems found", show_lines=False, expand=False)
    for name, style in (("file", "dim"), ("sheet", "cyan"), ("row", "bold"), ("column", "magenta"),
                        ("value", "yellow"), ("problem", "")):
        table.add_column(name, style=style or None, justify="right" if name == "row" else "left",
                         overflow="fold", ratio=4 if name == "problem" else None)
    shown = issues if limit is None else issues[:limit]
    for issue in shown:
        table.add_row(issue.file, issue.sheet or "", "" if issue.row is None else str(issue.row),
                      issue.column or "", _short(issue.value), issue.message, )
    if limit is not None and len(issues) > limit:
        table.caption = f"{len(issues) - limit} more not shown (use --json or --annotated for all)"
    return table


def _short(value: str | None) -> str:
    if value is None:
        return ""
    text = value.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


def issues_json(issues: Sequence[Issue], *, file: str, rows: int | None = None) -> dict[str, Any]:
    """`{"file", "ok", "counts": {"issues", "rows", "by_sheet"}, "issues": [{file, sheet, row, column, value,
    message}]}`."""
    by_sheet = Counter(i.sheet or "" for i in issues)
    return {
        "file": file,
        "ok": not issues,
        "counts": {"issues": len(issues), "rows": rows, "by_sheet": dict(sorted(by_sheet.items()))},
        "issues": [issue.as_dict() for issue in issues],
    }


# --- the annotated copy --------------------------------------------------------------------------------


def write_annotated_copy(source: Path, issues: Sequence[Issue], out: Path) -> Path:
    """Write the file with its problems marked; returns the path written.

    An .xlsx source gives a copy at `out`: failing cells filled red, an `errors` column on every data
    sheet, and a summary sheet. A CSV export (folder or zip) gives an errors CSV instead: `out`
    itself when it ends in .csv, else `errors.csv` in `out`'s folder. A source that cannot be opened
    as a workbook gives a workbook holding only the summary.
    """
    source, out = Path(source), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir() or (source.suffix.lower() in (".zip", ".csv")):
        target = out if out.suffix.lower() == ".csv" else out.parent / ERRORS_CSV
        _write_errors_csv(issues, target)
        return target
    from openpyxl import Workbook, load_workbook

    try:
        workbook = load_workbook(source)
    except Exception:  # noqa: BLE001 - any file openpyxl cannot open still gets its summary
        workbook = Workbook()
        workbook.remove(workbook.active)
    _annotate(workbook, issues)
    tmp = out.with_name(out.name + ".partial")
    try:
        workbook.save(tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _write_errors_csv(issues: Sequence[Issue], target: Path) -> None:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for issue in issues:
        writer.writerow([neutralise(str(v)) if v is not None else "" for v in
                         (issue.file, issue.sheet, issue.row, issue.column, issue.value, issue.message)])
    target.write_bytes(buffer.getvalue().encode("utf-8"))


def _annotate(workbook: Any, issues: Sequence[Issue]) -> None:
    from openpyxl.styles import Font, PatternFill

    fill = PatternFill("solid", start_color=_RED, end_color=_RED)
    by_title = {ws.title.casefold(): ws for ws in workbook.worksheets}
    located: dict[int, tuple[str, str]] = {}  # issue position -> (sheet title, cell ref)
    row_messages: dict[tuple[str, int], list[str]] = {}
    headers: dict[str, dict[str, int]] = {}
    for position, issue in enumerate(issues):
        ws = by_title.get((issue.sheet or "").casefold())
        if ws is None or issue.sheet == META_SHEET or issue.row is None:
            continue
        if ws.title not in headers:
            headers[ws.title] = _header_columns(ws)
        columns = headers[ws.title]
        column = columns.get((issue.column or "").casefold())
        if column is not None:
            ws.cell(issue.row, column).fill = fill
            located[position] = (ws.title, f"{_letter(column)}{issue.row}")
        else:
            located[position] = (ws.title, f"A{issue.row}")
        if issue.row > 1:
            row_messages.setdefault((ws.title, issue.row), []).append(
                f"{issue.column}: {issue.message}" if issue.column else issue.message)
    data_sheets = {s.name.casefold() for s in SHEETS}
    for ws in workbook.worksheets:
        if ws.title.casefold() not in data_sheets:
            continue
        columns = _header_columns(ws)
        column = columns.get(ERRORS_COLUMN) or (ws.max_column + 1)
        header = ws.cell(1, column)
        header.value = ERRORS_COLUMN
        header.font = Font(bold=True, color=_RED_TEXT)
        for row in range(2, ws.max_row + 1):
            if ws.cell(row, column).value is not None:
                ws.cell(row, column).value = None  # an earlier annotation
        for (title, row), messages in row_messages.items():
            if title == ws.title:
                cell = ws.cell(row, column)
                _set_text(cell, " | ".join(dict.fromkeys(messages)))
                cell.font = Font(color=_RED_TEXT)
        ws.column_dimensions[_letter(column)].width = 80
    _summary_sheet(workbook, issues, located)


def _summary_sheet(workbook: Any, issues: Sequence[Issue], located: dict[int, tuple[str, str]]) -> None:
    from openpyxl.styles import Font
    from openpyxl.worksheet.hyperlink import Hyperlink

    if SUMMARY_SHEET in workbook.sheetnames:
        del workbook[SUMMARY_SHEET]
    ws = workbook.create_sheet(SUMMARY_SHEET, 0)
    ws.append([f"{len(issues)} problem{'s' if len(issues) != 1 else ''} found" if issues else "No problems found"])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(list(FIELDS))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for position, issue in enumerate(issues, start=0):
        ws.append([None] * len(FIELDS))
        row = ws.max_row
        for column, value in enumerate((issue.file, issue.sheet, issue.row, issue.column, issue.value, issue.message),
                                       start=1):
            if value is not None:
                _set_text(ws.cell(row, column), value) if isinstance(value, str) else \
                    setattr(ws.cell(row, column), "value", value)
        if position in located:
            title, ref = located[position]
            link = ws.cell(row, 2)
            link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{title}'!{ref}")
            link.font = Font(color="FF0563C1", underline="single")
    for letter, width in zip("ABCDEF", (22, 24, 7, 22, 24, 100), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A3"
    workbook.active = 0


def _header_columns(ws: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for cell in ws[1]:
        if isinstance(cell.value, str) and cell.value.strip():
            out.setdefault(cell.value.strip().casefold(), cell.column)
    return out


def _letter(column: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(column)


def _set_text(cell: Any, text: str) -> None:
    """Text into a cell as text: never read as a formula, without characters xlsx cannot hold."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    cell.data_type = "s"
