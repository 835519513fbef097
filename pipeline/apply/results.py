"""Show what an apply did: a results copy of the workbook (or a results CSV) and a rich summary.

The results copy is the edited workbook itself (openpyxl, normal mode, so formats, comments and
drop-downs survive) with a `result` column on every data sheet: `ok`, `failed: <store's message>`,
`skipped: <reason>`, `conflict: <message>` or `unchanged`; the ids of what was created are filled
into the blank `modifier_id` / `value_id` cells, so the copy can be edited and applied again; and
an `Apply summary` sheet with the counts and a linked list of the failures. A CSV export gets one
`results.csv` (sheet, row, result, ids) instead.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from pipeline.apply.executor import FAILED, OK, SKIPPED, ApplyResult, OpOutcome
from pipeline.plan.operations import RowRef
from pipeline.validate.report import _header_columns, _letter, _set_text
from pipeline.workbook.cells import neutralise
from pipeline.workbook.layout import RESULT_COLUMN, RESULTS_CSV, RESULTS_SUMMARY_SHEET, SHEETS

CONFLICT, UNCHANGED = "conflict", "unchanged"
CSV_FIELDS: Final = ("sheet", "row", "result", "modifier_id", "value_id")
# worst first: the status a row shows when several operations came from it
_RANK: Final = {FAILED: 0, CONFLICT: 1, SKIPPED: 2, OK: 3, UNCHANGED: 4}
_FILLS: Final = {FAILED: "FFFFC7CE", CONFLICT: "FFFFEB9C", SKIPPED: "FFFFEB9C", OK: "FFC6EFCE"}
_LINK_COLOR: Final = "FF0563C1"


@dataclass
class RowResult:
    """What the apply did to one row of the workbook."""

    status: str = UNCHANGED
    messages: list[str] = field(default_factory=list)
    modifier_id: int | None = None
    value_id: int | None = None

    def add(self, status: str, message: str = "") -> None:
        if _RANK[status] < _RANK[self.status]:
            self.status = status
        if message and status != OK:
            self.messages.append(message)

    @property
    def text(self) -> str:
        if self.status in (OK, UNCHANGED):
            return self.status
        relevant = list(dict.fromkeys(self.messages))
        return f"{self.status}: " + " | ".join(relevant) if relevant else self.status


def row_results(result: ApplyResult) -> dict[RowRef, RowResult]:
    """Every row the plan or the apply said something about, with its status and new ids."""
    rows: dict[RowRef, RowResult] = {}

    def at(ref: RowRef) -> RowResult:
        return rows.setdefault(RowRef(ref.sheet, int(ref.row)), RowResult())

    for outcome in result.outcomes:
        if outcome.source is not None:
            row = at(outcome.source)
            row.add(outcome.status, outcome.message)
            row.modifier_id = row.modifier_id or outcome.modifier_id
            if outcome.label is not None:  # a value operation
                row.value_id = row.value_id or outcome.value_id
        for label, ref in outcome.value_rows.items():
            row = at(ref)
            row.add(outcome.status, outcome.message)
            row.modifier_id = row.modifier_id or outcome.modifier_id
            row.value_id = row.value_id or outcome.value_ids.get(label)
    for conflict in result.conflicts:
        at(conflict.source).add(CONFLICT, conflict.message)
    for skipped in result.skipped_rows:
        at(skipped.source).add(SKIPPED, skipped.reason)
    return rows


def results_path(workbook: Path) -> Path:
    """Where the results go by default: `<stem>.results.xlsx` beside a workbook, `results.csv` for CSV."""
    workbook = Path(workbook)
    if workbook.is_dir():
        return workbook / RESULTS_CSV
    if workbook.suffix.lower() in (".zip", ".csv"):
        return workbook.with_name(f"{workbook.stem}.{RESULTS_CSV}")
    return workbook.with_name(f"{workbook.stem}.results{workbook.suffix or '.xlsx'}")


def write_results(result: ApplyResult, workbook: Path, out: Path | None = None) -> Path:
    """Write the results copy of `workbook` (or a results CSV for a CSV export); returns its path."""
    workbook = Path(workbook)
    out = Path(out) if out is not None else results_path(workbook)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = row_results(result)
    is_csv = workbook.is_dir() or workbook.suffix.lower() in (".zip", ".csv") or out.suffix.lower() == ".csv"
    if is_csv:
        _write_csv(rows, out)
        return out
    from openpyxl import load_workbook

    book = load_workbook(workbook)
    _annotate(book, rows)
    _summary_sheet(book, result, rows)
    tmp = out.with_name(out.name + ".partial")
    try:
        book.save(tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _write_csv(rows: dict[RowRef, RowResult], target: Path) -> None:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    order = {s.name: i for i, s in enumerate(SHEETS)}
    for ref in sorted(rows, key=lambda r: (order.get(r.sheet, len(order)), r.sheet, r.row)):
        row = rows[ref]
        writer.writerow([neutralise(ref.sheet), ref.row, neutralise(row.text),
                         "" if row.modifier_id is None else row.modifier_id,
                         "" if row.value_id is None else row.value_id])
    target.write_bytes(buffer.getvalue().encode("utf-8"))


def _rows_with_data(ws: Any, last_column: int) -> set[int]:
    """Row numbers holding any value left of `last_column`, in one pass: asking openpyxl for one
    row at a time rescans the whole sheet each time (quadratic on a 10k-product workbook)."""
    return {number for number, values in enumerate(
        ws.iter_rows(min_row=2, max_col=max(last_column - 1, 1), values_only=True), start=2)
        if any(value not in (None, "") for value in values)}


def _annotate(book: Any, rows: dict[RowRef, RowResult]) -> None:
    from openpyxl.styles import Font, PatternFill

    fills = {status: PatternFill("solid", start_color=color, end_color=color) for status, color in _FILLS.items()}
    data_sheets = {s.name for s in SHEETS}
    for ws in book.worksheets:
        if ws.title not in data_sheets:
            continue
        columns = _header_columns(ws)
        column = columns.get(RESULT_COLUMN) or (ws.max_column + 1)
        header = ws.cell(1, column)
        header.value = RESULT_COLUMN
        header.font = Font(bold=True)
        ids = {name: columns.get(name) for name in ("modifier_id", "value_id")}
        with_data = _rows_with_data(ws, column)
        for number in range(2, ws.max_row + 1):
            cell = ws.cell(number, column)
            cell.value = None  # an earlier result
            row = rows.get(RowRef(ws.title, number))
            if row is None:
                if number not in with_data:
                    continue
                row = RowResult()
            _set_text(cell, row.text)
            if row.status in fills:
                cell.fill = fills[row.status]
            for name, new_id in (("modifier_id", row.modifier_id), ("value_id", row.value_id)):
                target = ids[name]
                if target is not None and new_id is not None and ws.cell(number, target).value in (None, ""):
                    ws.cell(number, target).value = int(new_id)
                    ws.cell(number, target).number_format = "0"
        ws.column_dimensions[_letter(column)].width = 60


def _summary_sheet(book: Any, result: ApplyResult, rows: dict[RowRef, RowResult]) -> None:
    from openpyxl.styles import Font
    from openpyxl.worksheet.hyperlink import Hyperlink

    if RESULTS_SUMMARY_SHEET in book.sheetnames:
        del book[RESULTS_SUMMARY_SHEET]
    ws = book.create_sheet(RESULTS_SUMMARY_SHEET, 0)
    counts = result.counts()
    ws.append(["Apply failed for some rows" if counts[FAILED] else "Apply succeeded"])
    ws["A1"].font = Font(bold=True, size=13)
    for key, value in _facts(result):
        ws.append([key, value])
    ws.append([])
    ws.append(["operation", "ok", "failed", "skipped"])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for kind, by_status in result.counts_by_kind().items():
        ws.append([kind, by_status[OK], by_status[FAILED], by_status[SKIPPED]])
    ws.append([])
    problems = [(ref, row) for ref, row in rows.items() if row.status in (FAILED, CONFLICT, SKIPPED)]
    ws.append(["sheet", "row", "result"])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    titles = set(book.sheetnames)
    for ref, row in sorted(problems, key=lambda item: (item[0].sheet, item[0].row)):
        ws.append([None, ref.row, None])
        line = ws.max_row
        _set_text(ws.cell(line, 1), ref.sheet)
        _set_text(ws.cell(line, 3), row.text)
        if ref.sheet in titles:
            link = ws.cell(line, 1)
            link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{ref.sheet}'!A{ref.row}")
            link.font = Font(color=_LINK_COLOR, underline="single")
    for letter, width in zip("ABC", (26, 14, 100), strict=True):
        ws.column_dimensions[letter].width = width
    book.active = 0


def _facts(result: ApplyResult) -> Iterable[tuple[str, Any]]:
    counts = result.counts()
    yield "store", result.store_hash
    yield "workbook", result.workbook
    yield "plan id", result.plan_id
    yield "operations ok", counts[OK]
    yield "operations failed", counts[FAILED]
    yield "operations skipped", counts[SKIPPED]
    yield "rows in conflict (not applied)", len(result.conflicts)
    yield "rows skipped by the plan", len(result.skipped_rows)
    yield "rows unchanged", result.unchanged
    yield "requests sent", result.requests
    yield "writes", result.writes
    yield "natural-key lookups", result.reconcile_reads
    yield "seconds", result.seconds
    yield "resumed an interrupted run", "yes" if result.resumed else "no"
    yield "backup", str(result.backup_path) if result.backup_path else "none"


def _failure_rows(outcomes: Iterable[OpOutcome]) -> list[tuple[str, str, str]]:
    out = []
    for outcome in outcomes:
        where = f"{outcome.source.sheet} row {outcome.source.row}" if outcome.source else ""
        out.append((where, outcome.describe(), outcome.message))
    return out


def render_summary(result: ApplyResult, console: Console, *, max_failures: int = 50) -> None:
    """Print the counts by operation kind, the cost of the run, and the failures (first `max_failures`)."""
    table = Table(title="Apply", show_footer=True)
    counts = result.counts()
    table.add_column("operation", footer="total")
    for status, style in ((OK, "green"), (FAILED, "red"), (SKIPPED, "yellow")):
        table.add_column(status, justify="right", style=style, footer=str(counts[status]))
    for kind, by_status in result.counts_by_kind().items():
        table.add_row(kind.replace("_", " "), *(str(by_status[s]) for s in (OK, FAILED, SKIPPED)))
    console.print(table)
    extra = []
    if result.conflicts:
        extra.append(f"{len(result.conflicts)} row(s) in conflict, not applied")
    if result.skipped_rows:
        extra.append(f"{len(result.skipped_rows)} row(s) skipped by the plan")
    if result.resumed:
        extra.append("resumed an interrupted run")
    console.print(f"{result.requests} requests ({result.writes} writes, {result.reconcile_reads} natural-key "
                  f"lookups) in {result.seconds:.1f} s" + ("; " + "; ".join(extra) if extra else ""))
    if result.backup_path:
        console.print(f"backup of the touched products: {result.backup_path}")
    failures = result.failed
    if failures:
        failed = Table(title=f"{len(failures)} failed operation(s)", show_lines=False)
        for name in ("row", "operation", "message"):
            failed.add_column(name, overflow="fold")
        for row in _failure_rows(failures[:max_failures]):
            failed.add_row(*row)
        console.print(failed)
        if len(failures) > max_failures:
            console.print(f"... and {len(failures) - max_failures} more in the results file")
