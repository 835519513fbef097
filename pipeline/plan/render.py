"""Show a plan the way `terraform plan` does, and summarise it for `--json`.

Operations are grouped by product, in plan order, one line each (`+ create`, `~ update`,
`- delete`, `↑ upload`) with the sheet row it comes from, and an update lists each field as
`before → after`. Then what is merely counted (fields that would become empty, rows left alone,
one line per reason), then what needs the person's attention right above the last line: the rows
refused and the conflicts, then one line of counts. Rows left alone are listed one by one only
with `verbose` (and always in `plan_summary` and the saved plan). Values longer than
SHORT_VALUE characters are cut, with their length. Every text from the workbook or the store goes
through `Text`, never markup, so a label such as `[red]` prints as written.
"""

from __future__ import annotations

import shlex
from collections import defaultdict
from typing import Any, Final

from rich.console import Console
from rich.text import Text

from pipeline.plan.attention import (
    left_alone,
    nothing_edited,
    plan_exit_code,
    plan_not_applied,
    reason_counts,
    refused,
)
from pipeline.plan.operations import Conflict, Operation, OpKind, Plan, RowRef, Skipped

_SIGN: Final = {
    OpKind.CREATE_MODIFIER: ("+", "green", "create"), OpKind.CREATE_VALUE: ("+", "green", "create"),
    OpKind.UPDATE_MODIFIER: ("~", "yellow", "update"), OpKind.UPDATE_VALUE: ("~", "yellow", "update"),
    OpKind.DELETE_MODIFIER: ("-", "red", "delete"), OpKind.DELETE_VALUE: ("-", "red", "delete"),
    OpKind.UPLOAD_IMAGE: ("↑", "cyan", "upload image for"),
}
_CREATES: Final = (OpKind.CREATE_MODIFIER, OpKind.CREATE_VALUE)
_UPDATES: Final = (OpKind.UPDATE_MODIFIER, OpKind.UPDATE_VALUE)
_DELETES: Final = (OpKind.DELETE_MODIFIER, OpKind.DELETE_VALUE)
SHOWN_VALUES: Final = 10  # inline values listed under a new modifier before "and N more"
SHORT_VALUE: Final = 60  # characters of a value shown in the terminal before it is cut
SHORT_MESSAGE: Final = 300  # characters of a reason or conflict message (they may quote values)
SHOWN_ROWS: Final = 20  # refused and conflicting rows listed before "and N more" (all with verbose)
SHOWN_REASONS: Final = 10  # reasons counted one per line before the rest are summed


def where(ref: RowRef | None) -> str:
    return f"{ref.sheet} row {ref.row}" if ref else "not in the workbook (--prune)"


def shorten(text: str, limit: int = SHORT_MESSAGE) -> str:
    """`text`, or its first `limit` characters, an ellipsis and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def shown(item: Any, limit: int = SHORT_VALUE) -> str:
    """A field value as the person would recognise it: blank for missing, TRUE/FALSE, text quoted;
    longer than `limit` characters, cut with an ellipsis and its length (`'aaa…' (10,000 characters)`)."""
    if item is None:
        return "(blank)"
    if isinstance(item, bool):
        return "TRUE" if item else "FALSE"
    if isinstance(item, str):
        if len(item) > limit:
            return f"{item[:limit] + '…'!r} ({len(item):,} characters)"
        return repr(item)
    return shorten(str(item), limit)


def _target(op: Operation) -> str:
    if op.kind in (OpKind.CREATE_MODIFIER, OpKind.UPDATE_MODIFIER, OpKind.DELETE_MODIFIER):
        ident = f" #{op.modifier_id}" if op.modifier_id is not None else ""
        return f"modifier {shown(op.display_name)}{ident} ({op.modifier_type})"
    ident = f" #{op.value_id}" if op.value_id is not None else ""
    return f"value {shown(op.label)}{ident} of {shown(op.display_name)} ({op.modifier_type})"


def operation_lines(op: Operation) -> list[Text]:
    """The heading line of one operation and its detail lines."""
    sign, style, verb = _SIGN[op.kind]
    head = Text("  ")
    head.append(f"{sign} {verb} ", style=f"bold {style}")
    head.append(_target(op))
    head.append(f"   {where(op.source)}", style="dim")
    lines = [head]
    if op.kind is OpKind.UPLOAD_IMAGE:
        lines.append(Text(f"      image: {shorten(op.image or '', 2 * SHORT_VALUE)}"))
    elif op.kind in _UPDATES:
        for change in op.changes:
            line = Text(f"      {change.field}: {shown(change.before)} → ")
            line.append(shown(change.after), style="bold red" if change.after is None else "")
            lines.append(line)
    elif op.kind in _CREATES:
        lines += [Text(f"      {c.field}: {shown(c.after)}") for c in op.changes]
        new_values = op.payload.get("option_values") or []
        if new_values:
            labels = ", ".join(shown(v.get("label")) for v in new_values[:SHOWN_VALUES])
            more = f" and {len(new_values) - SHOWN_VALUES} more" if len(new_values) > SHOWN_VALUES else ""
            lines.append(Text(f"      with {len(new_values)} value(s): {labels}{more}"))
    elif op.kind is OpKind.DELETE_MODIFIER and op.value_rows:
        labels = ", ".join(map(shown, list(op.value_rows)[:SHOWN_VALUES]))
        more = f" and {len(op.value_rows) - SHOWN_VALUES} more" if len(op.value_rows) > SHOWN_VALUES else ""
        lines.append(Text(f"      and its {len(op.value_rows)} value row(s): {labels}{more}"))
    return lines


def totals(plan: Plan) -> dict[str, int]:
    """Operations by what they do, and the write requests they cost (one each)."""
    kinds = [op.kind for op in plan.operations]
    return {
        "create": sum(k in _CREATES for k in kinds),
        "update": sum(k in _UPDATES for k in kinds),
        "delete": sum(k in _DELETES for k in kinds),
        "upload": sum(k is OpKind.UPLOAD_IMAGE for k in kinds),
        "requests": len(kinds),
    }


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def summary_line(plan: Plan) -> str:
    """`Plan: 3 to create, 5 to update, 1 to delete, 2 images to upload (12 requests); not applied: 2 rows in
    conflict, 1 row refused; 370 rows left alone.`"""
    n = totals(plan)
    images = "image" if n["upload"] == 1 else "images"
    requests = "request" if n["requests"] == 1 else "requests"
    line = (f"Plan: {n['create']} to create, {n['update']} to update, {n['delete']} to delete, "
            f"{n['upload']} {images} to upload ({n['requests']} {requests})")
    missing = plan_not_applied(plan)
    if missing.total:
        parts = []
        if missing.conflicts:
            parts.append(f"{_rows(missing.conflicts)} in conflict")
        if missing.refused:
            parts.append(f"{_rows(missing.refused)} refused")
        line += "; not applied: " + ", ".join(parts)
    if plan.forced and plan.conflicts:
        conflicts = "conflict" if len(plan.conflicts) == 1 else "conflicts"
        line += f"; {len(plan.conflicts)} {conflicts} overridden (--force)"
    alone = len({s.source for s in left_alone(plan)})
    if alone:
        line += f"; {_rows(alone)} left alone"
    return line + "."


def _heading(plan: Plan, console: Console) -> None:
    if plan.operations:
        console.print(Text(f"bcmod will make these changes to store {plan.store_hash or '?'} "
                           f"(from {plan.workbook}):", style="bold"))
    elif nothing_edited(plan):
        alone = left_alone(plan)
        kept = f"; {_rows(len(alone))} left alone, see below" if alone else ""
        console.print(Text(f"No changes: the store already matches {plan.workbook} "
                           f"({_rows(plan.unchanged)} unchanged{kept}).", style="bold green"))
    else:
        console.print(Text(f"Nothing can be changed in the store: {_rows(plan_not_applied(plan).total)} you edited in "
                           f"{plan.workbook} will not be applied (see below).", style="bold red"))


def _operations(plan: Plan, console: Console) -> None:
    by_product: dict[int, list[Operation]] = defaultdict(list)
    for op in plan.operations:
        by_product[op.product_id].append(op)
    for product_id in sorted(by_product):
        console.print(Text(f"\nproduct {product_id}", style="bold"))
        for op in by_product[product_id]:
            for line in operation_lines(op):
                console.print(line)


def _left_alone(rows: list[Skipped], console: Console, *, verbose: bool) -> None:
    """One line per reason with its count; every row with `verbose`."""
    if not rows:
        return
    console.print(Text(f"\nRows left alone ({len(rows):,}), by reason:", style="bold"))
    counted = reason_counts(rows)
    width = len(f"{counted[0][2]:,}")
    for _, reason, n in counted[:SHOWN_REASONS]:
        console.print(Text(f"  {n:>{width},}  {shorten(reason)}"))
    rest = counted[SHOWN_REASONS:]
    if rest:
        console.print(Text(f"  {sum(n for *_, n in rest):>{width},}  for {len(rest)} other reasons"))
    if verbose:
        for skipped in rows:
            console.print(Text(f"  {where(skipped.source)}: {shorten(skipped.reason)}", style="dim"))
    else:
        console.print(Text("  Row by row: add --verbose (also in --json and in a plan saved with --out).", style="dim"))


def _listed(lines: list[Text], console: Console, *, verbose: bool) -> None:
    shown_lines = lines if verbose else lines[:SHOWN_ROWS]
    for line in shown_lines:
        console.print(line)
    if len(lines) > len(shown_lines):
        console.print(Text(f"  ... and {len(lines) - len(shown_lines):,} more: add --verbose, or --json", style="dim"))


def _refused(rows: list[Skipped], console: Console, *, verbose: bool) -> None:
    if not rows:
        return
    n = len({s.source for s in rows})
    console.print(Text(f"\nNot applied: {_rows(n)} refused, as {'it stands' if n == 1 else 'they stand'} (fix "
                       f"{'it' if n == 1 else 'them'}, then plan again):", style="bold red"))
    _listed([Text(f"  {where(s.source)}: {shorten(s.reason)}") for s in rows], console, verbose=verbose)


def conflict_line(conflict: Conflict) -> Text:
    fields = f" ({', '.join(conflict.fields)})" if conflict.fields else ""
    ident = f" {conflict.entity_id}" if conflict.entity_id is not None else ""
    return Text(f"  {where(conflict.source)}, {conflict.kind}{ident}: {shorten(conflict.message)}{fields}")


def _conflicts(plan: Plan, console: Console, *, verbose: bool) -> None:
    if not plan.conflicts:
        return
    count = len({c.source for c in plan.conflicts})
    if plan.forced:
        console.print(Text(f"\nConflicts overridden by --force ({_rows(count)}): your rows are applied over the "
                           "store's changes:", style="bold magenta"))
    else:
        them = "it" if count == 1 else "them"
        console.print(Text(f"\nNot applied: {_rows(count)} in conflict (the store changed {them} since the export, "
                           "and so did you):", style="bold magenta"))
    _listed([conflict_line(c) for c in plan.conflicts], console, verbose=verbose)
    if not plan.forced:
        console.print(Text("  To apply your rows over the store's changes: bcmod apply --force "
                           f"{shlex.quote(plan.workbook)}", style="magenta"))


def render_plan(plan: Plan, console: Console, *, verbose: bool = False) -> None:
    """Print `plan` for a person: operations by product, what is only counted, then what needs their
    attention (refusals, conflicts) right above the line of counts."""
    _heading(plan, console)
    _operations(plan, console)
    if plan.blanked:
        console.print(Text("\nFields that would become empty (a blank cell empties the field):", style="bold red"))
        _listed([Text(f"  {where(ref)}: {name}") for ref, name in plan.blanked], console, verbose=verbose)
    _left_alone(left_alone(plan), console, verbose=verbose)
    if plan.operations and plan.unchanged:
        console.print(Text(f"\n{_rows(plan.unchanged)} unchanged: no request."))
    _refused(refused(plan), console, verbose=verbose)
    _conflicts(plan, console, verbose=verbose)
    console.print(Text("\n" + summary_line(plan), style="bold"))


def plan_summary(plan: Plan) -> dict[str, Any]:
    """The plan's counts and every row that needs attention or was left alone, JSON-able, for `--json`."""
    return {
        "plan_id": plan.plan_id,
        "store_hash": plan.store_hash,
        "workbook": plan.workbook,
        "created_at": plan.created_at,
        **{f"to_{key}" if key in ("create", "update", "delete", "upload") else key: value
           for key, value in totals(plan).items()},
        "operations": plan.counts(),
        "unchanged": plan.unchanged,
        "not_applied": plan_not_applied(plan).as_dict(),
        "exit_code": int(plan_exit_code(plan)),
        "conflicts": [{"sheet": c.source.sheet, "row": c.source.row, "kind": c.kind, "id": c.entity_id,
                       "message": c.message, "fields": list(c.fields)} for c in plan.conflicts],
        "skipped": [{"sheet": s.source.sheet, "row": s.source.row, "kind": str(s.kind), "reason": s.reason}
                    for s in plan.skipped],
        "skipped_by_reason": [{"kind": str(kind), "reason": reason, "rows": n}
                              for kind, reason, n in reason_counts(plan.skipped)],
        "blanked": [{"sheet": ref.sheet, "row": ref.row, "field": name} for ref, name in plan.blanked],
        "products": len(plan.product_ids),
        "forced": plan.forced,
        "pruned": plan.pruned,
        "summary": summary_line(plan),
    }
