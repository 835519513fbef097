"""Show what an apply did: a results copy of the workbook (or a results CSV) and a rich summary.

The results copy is the edited workbook itself (streamed through `annotate_copy`, so formats,
comments and drop-downs survive) with a `result` column on every data sheet: `ok`,
`failed: <store's message>`, `conflict: <message>`, `not applied: <why the plan refused it>`,
`skipped: <reason>` (a value row that followed its modifier row), `kept: <reason>` (the store
changed a row you did not edit) or `unchanged`; the ids of what was created are filled into the
blank `modifier_id` / `value_id` cells, so the copy can be edited and applied again; and an `Apply
summary` sheet whose title says whether every edited row is in the store, and if not how many are
not and why, with the counts and a linked list of the rows that need attention. A CSV export gets
one `results.csv` (sheet, row, result, ids) instead. `verdict` is the run's exit code and title,
shared by the CLI.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.apply.executor import FAILED, OK, SKIPPED, ApplyResult, OpOutcome
from pipeline.exit_codes import ExitCode
from pipeline.plan.attention import NotApplied, count_not_applied
from pipeline.plan.operations import Conflict, RowRef, SkipKind
from pipeline.workbook.annotate import Link, Look, Note, SheetNotes, SummarySheet, annotate_copy
from pipeline.workbook.cells import neutralise
from pipeline.workbook.layout import RESULT_COLUMN, RESULTS_CSV, RESULTS_SUMMARY_SHEET, SHEETS, split_part_name



class RowStatus(StrEnum):
    """The word a row's `result` cell starts with, worst first: a row several operations came from
    shows the worst of them."""

    FAILED = "failed"
    CONFLICT = "conflict"
    REFUSED = "not applied"
    SKIPPED = "skipped"
    OK = "ok"
    KEPT = "kept"
    UNCHANGED = "unchanged"


CONFLICT, REFUSED, KEPT, UNCHANGED = RowStatus.CONFLICT, RowStatus.REFUSED, RowStatus.KEPT, RowStatus.UNCHANGED
CSV_FIELDS: Final = ("sheet", "row", "result", "modifier_id", "value_id")
_RANK: Final = {status: rank for rank, status in enumerate(RowStatus)}
_FILLS: Final = {RowStatus.FAILED: "FFFFC7CE", CONFLICT: "FFFFEB9C", REFUSED: "FFFFEB9C", RowStatus.SKIPPED: "FFFFEB9C",
                 RowStatus.OK: "FFC6EFCE"}
_SKIP_STATUS: Final = {SkipKind.KEPT: KEPT, SkipKind.REFUSED: REFUSED, SkipKind.WITH_MODIFIER: RowStatus.SKIPPED}
ATTENTION: Final = (RowStatus.FAILED, CONFLICT, REFUSED, RowStatus.SKIPPED)  # listed on the summary sheet
OVERRIDDEN: Final = "conflict overridden with --force"
_RESULT_WIDTH: Final = 60


@dataclass
class RowResult:
    """What the apply did to one row of the workbook."""

    status: RowStatus = UNCHANGED
    messages: list[str] = field(default_factory=list)
    modifier_id: int | None = None
    value_id: int | None = None
    notes: list[str] = field(default_factory=list)  # said after `ok` (e.g. a conflict overridden)

    def add(self, status: RowStatus, message: str = "") -> None:
        if _RANK[status] < _RANK[self.status]:
            self.status = status
        if message and status is not RowStatus.OK:
            self.messages.append(message)

    @property
    def text(self) -> str:
        if self.status in (RowStatus.OK, UNCHANGED):
            return f"{self.status} ({'; '.join(self.notes)})" if self.notes else str(self.status)
        relevant = list(dict.fromkeys(self.messages))
        return f"{self.status}: " + " | ".join(relevant) if relevant else str(self.status)


def row_results(result: ApplyResult) -> dict[RowRef, RowResult]:
    """Every row the plan or the apply said something about, with its status and new ids."""
    rows: dict[RowRef, RowResult] = {}

    def at(ref: RowRef) -> RowResult:
        return rows.setdefault(RowRef(ref.sheet, int(ref.row)), RowResult())

    for outcome in result.outcomes:
        if outcome.source is not None:
            row = at(outcome.source)
            row.add(RowStatus(outcome.status), outcome.message)
            row.modifier_id = row.modifier_id or outcome.modifier_id
            if outcome.label is not None:  # a value operation
                row.value_id = row.value_id or outcome.value_id
        for label, ref in outcome.value_rows.items():
            row = at(ref)
            row.add(RowStatus(outcome.status), outcome.message)
            row.modifier_id = row.modifier_id or outcome.modifier_id
            row.value_id = row.value_id or outcome.value_ids.get(label)
    overridden = {c.source for c in overridden_conflicts(result)}
    for conflict in result.conflicts:
        if conflict.source in overridden:
            at(conflict.source).notes.append(OVERRIDDEN)
        else:
            at(conflict.source).add(CONFLICT, conflict.message)
    for skipped in result.skipped_rows:
        at(skipped.source).add(_SKIP_STATUS[skipped.kind], skipped.reason)
    return rows


def _sources(outcome: OpOutcome) -> list[RowRef]:
    refs = [outcome.source] if outcome.source is not None else []
    return [RowRef(r.sheet, int(r.row)) for r in (*refs, *outcome.value_rows.values())]


def overridden_conflicts(result: ApplyResult) -> list[Conflict]:
    """The conflicts whose rows were applied anyway (the plan was made with --force): an operation
    came from the row. A conflict that is not forced gives its row no operation at all."""
    planned = {ref for outcome in result.outcomes for ref in _sources(outcome)}
    return [c for c in result.conflicts if RowRef(c.source.sheet, int(c.source.row)) in planned]


@dataclass(frozen=True)
class Verdict:
    """How an apply ended, for its exit code and the first line of its results."""

    code: ExitCode
    not_applied: NotApplied
    applied: int  # operations that succeeded (done now or in an earlier run)
    title: str


def verdict(result: ApplyResult) -> Verdict:
    """0 only when every edited row is in the store; 1 when operations failed; 3 when the run finished
    with edited rows left out (conflicts not forced, rows the plan refused); 130 when it was
    interrupted (Ctrl-C) before every operation was attempted."""
    failed = {ref for outcome in result.outcomes if outcome.status in (FAILED, SKIPPED) for ref in _sources(outcome)}
    overridden = {id(c) for c in overridden_conflicts(result)}
    missing = count_not_applied([c for c in result.conflicts if id(c) not in overridden],
                                [s for s in result.skipped_rows if s.kind is SkipKind.REFUSED], failed)
    applied = sum(o.status == OK for o in result.outcomes)
    unplaced = sum(o.status in (FAILED, SKIPPED) and o.source is None and not o.value_rows for o in result.outcomes)
    others = missing.parts(failed=False)
    if result.interrupted:  # not finished: the rows not reached are not failures, the same command resumes
        return Verdict(ExitCode.INTERRUPTED, missing, applied,
                       f"Interrupted after {result.attempted:,} of {len(result.outcomes):,} operations; "
                       "run the same command to resume")
    if failed or unplaced:
        parts = [_rows(missing.failed)] if failed else []
        if unplaced:
            parts.append(f"{unplaced} operation(s) on rows no longer in the file (--prune)")
        title = f"Apply failed for {' and '.join(parts)}"
        if others:
            more = missing.conflicts + missing.refused
            title += f"; {more:,} more {'row' if more == 1 else 'rows'} not applied ({', '.join(others)})"
        return Verdict(ExitCode.PROBLEMS, missing, applied, title)
    if missing.total:
        rest = "every other edited row is in the store" if applied else "nothing was sent"
        return Verdict(ExitCode.NOT_APPLIED, missing, applied,
                       f"{_rows(missing.total)} not applied ({', '.join(others)}); {rest}")
    title = "Apply succeeded: every edited row is in the store" if result.outcomes else \
        "Nothing to apply: the store already has every edited row"
    return Verdict(ExitCode.OK, missing, applied, title)


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


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
    annotate_copy(workbook, out, _sheet_notes(rows), _summary(result, rows))
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


def _sheet_notes(rows: dict[RowRef, RowResult]) -> dict[str, SheetNotes]:
    """Each data sheet's result column: every row the apply touched, `unchanged` on the other rows with
    data, and the new ids for the blank id cells."""
    notes: dict[str, dict[int, Note]] = {s.name: {} for s in SHEETS}
    ids: dict[str, dict[tuple[int, str], int]] = {s.name: {} for s in SHEETS}
    for ref, row in rows.items():
        if (split_part_name(ref.sheet) or ("",))[0] not in notes:
            continue
        notes.setdefault(ref.sheet, {})  # a continuation sheet ("Choice values (2)") has its own notes
        ids.setdefault(ref.sheet, {})
        notes[ref.sheet][ref.row] = Note(row.text, Look(fill=_FILLS.get(row.status)))
        for name, new_id in (("modifier_id", row.modifier_id), ("value_id", row.value_id)):
            if new_id is not None:
                ids[ref.sheet][(ref.row, name)] = int(new_id)
    return {name: SheetNotes(RESULT_COLUMN, Look(bold=True), _RESULT_WIDTH, notes=notes[name],
                             default=Note(UNCHANGED), numbers=ids[name]) for name in notes}


def _summary(result: ApplyResult, rows: dict[RowRef, RowResult]) -> SummarySheet:
    """The counts, the facts of the run, and every problem row linked to its row in the copy."""
    lines: list[list[Any]] = [[verdict(result).title]]
    lines += [[key, value] for key, value in _facts(result, rows)]
    lines += [[], ["operation", "ok", "failed", "skipped"]]
    bold = [len(lines)]
    lines += [[kind, by_status[OK], by_status[FAILED], by_status[SKIPPED]]
              for kind, by_status in result.counts_by_kind().items()]
    lines += [[], ["sheet", "row", "result"]]
    bold.append(len(lines))
    links = {}
    problems = [(ref, row) for ref, row in rows.items() if row.status in ATTENTION]
    for ref, row in sorted(problems, key=lambda item: (item[0].sheet, item[0].row)):
        lines.append([ref.sheet, ref.row, row.text])
        links[(len(lines), 1)] = Link(ref.sheet, ref.row)
    looks = {1: Look(bold=True, size=13), **dict.fromkeys(bold, Look(bold=True))}
    return SummarySheet(RESULTS_SUMMARY_SHEET, lines, looks=looks, links=links, widths=(40, 14, 100))


def _facts(result: ApplyResult, rows: dict[RowRef, RowResult]) -> Iterable[tuple[str, Any]]:
    counts = result.counts()
    judged = verdict(result)
    statuses = [row.status for row in rows.values()]
    yield "store", result.store_hash
    yield "workbook", result.workbook
    yield "plan id", result.plan_id
    yield "exit code", int(judged.code)
    yield "rows not applied", judged.not_applied.total
    yield "rows failed", judged.not_applied.failed
    yield "rows in conflict (not applied)", judged.not_applied.conflicts
    yield "rows refused by the plan (not applied)", judged.not_applied.refused
    yield "conflicts overridden (--force)", len(overridden_conflicts(result))
    yield "rows kept as the store has them (you did not edit them)", statuses.count(KEPT)
    yield "rows left alone with their modifier row", statuses.count(RowStatus.SKIPPED)
    yield "rows unchanged", result.unchanged
    yield "operations ok", counts[OK]
    yield "operations failed", counts[FAILED]
    yield "operations skipped", counts[SKIPPED]
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
    judged = verdict(result)
    style = {ExitCode.OK: "green", ExitCode.NOT_APPLIED: "yellow"}.get(judged.code, "red")
    console.print(Text(judged.title + ("" if judged.code is ExitCode.OK else
                                       " (each row's reason is in the results file)"), style=f"bold {style}"))
