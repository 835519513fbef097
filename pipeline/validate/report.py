"""Show validation issues to a person (a rich table), to a machine (JSON), and in a copy of the file.

The annotated copy is the workbook itself with every failing cell filled red, an `errors` column
on each data sheet holding that row's problems, and a summary sheet listing every issue with a
link to its cell. A CSV export gets an `errors.csv` instead. The copy is written by
`annotate_copy`, which edits the workbook's package as it streams through, so it keeps the
sheets' formats, comments and drop-downs and costs about one read of the file.
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
from pipeline.workbook.annotate import (
    Link,
    Look,
    Note,
    SheetNotes,
    SummarySheet,
    UnreadableWorkbook,
    annotate_copy,
    write_summary_only,
)
from pipeline.workbook.cells import neutralise
from pipeline.workbook.layout import ERRORS_COLUMN, ERRORS_CSV, META_SHEET, SHEETS, SUMMARY_SHEET, split_part_name

FIELDS: Final = ("file", "sheet", "row", "column", "value", "message")
_SHEET_ORDER: Final = {name: position for position, name in enumerate([s.name for s in SHEETS] + [META_SHEET])}
_COLUMN_ORDER: Final = {(s.name, c.name): p for s in SHEETS for p, c in enumerate(s.columns)}
_RED: Final = "FFFFC7CE"
_RED_TEXT: Final = "FF9C0006"
_ERRORS_WIDTH: Final = 80
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
    sheets, summary = _sheet_notes(issues), _summary(issues)
    try:
        annotate_copy(source, out, sheets, summary)
    except UnreadableWorkbook:
        write_summary_only(out, summary)
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


def _sheet_notes(issues: Sequence[Issue]) -> dict[str, SheetNotes]:
    """Each data sheet's errors column (a row's problems joined) and its failing cells to fill red."""
    names = {s.name.casefold(): s.name for s in SHEETS}
    messages: dict[str, dict[int, list[str]]] = {name: {} for name in names.values()}
    fills: dict[str, dict[tuple[int, str], str]] = {name: {} for name in names.values()}
    for issue in issues:
        name = names.get((issue.sheet or "").casefold())
        if name is None and issue.sheet and (split_part_name(issue.sheet) or ("",))[0] in messages:
            name = issue.sheet  # a continuation sheet ("Choice values (2)") has its own notes
            messages.setdefault(name, {})
            fills.setdefault(name, {})
        if name is None or issue.row is None:
            continue
        if issue.column:
            fills[name][(issue.row, issue.column)] = _RED
        if issue.row > 1:
            messages[name].setdefault(issue.row, []).append(
                f"{issue.column}: {issue.message}" if issue.column else issue.message)
    red = Look(color=_RED_TEXT)
    return {name: SheetNotes(ERRORS_COLUMN, Look(bold=True, color=_RED_TEXT), _ERRORS_WIDTH,
                             notes={row: Note(" | ".join(dict.fromkeys(texts)), red)
                                    for row, texts in messages[name].items()},
                             fills=fills[name])
            for name in messages}


def _summary(issues: Sequence[Issue]) -> SummarySheet:
    """Every issue on a line of its own, its sheet linked to the failing cell (the row without a column)."""
    rows: list[list[object]] = [
        [f"{len(issues)} problem{'s' if len(issues) != 1 else ''} found" if issues else "No problems found"],
        list(FIELDS)]
    links = {}
    for issue in issues:
        rows.append([issue.file, issue.sheet, issue.row, issue.column, issue.value, issue.message])
        if issue.sheet is not None and issue.sheet != META_SHEET and issue.row is not None:
            links[(len(rows), 2)] = Link(issue.sheet, issue.row, issue.column)
    return SummarySheet(SUMMARY_SHEET, rows, looks={1: Look(bold=True, size=13), 2: Look(bold=True)}, links=links,
                        widths=(22, 24, 7, 22, 24, 100), freeze="A3")
