"""Show a plan the way `terraform plan` does, and summarise it for `--json`.

Operations are grouped by product, in plan order, one line each (`+ create`, `~ update`,
`- delete`, `↑ upload`) with the sheet row it comes from, and an update lists each field as
`before → after`. Fields that would become empty, conflicts and skipped rows follow, then one
line of counts. Every text from the workbook or the store goes through `Text`, never markup, so a
label such as `[red]` prints as written.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

from rich.console import Console
from rich.text import Text

from pipeline.plan.operations import Operation, OpKind, Plan, RowRef

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


def where(ref: RowRef | None) -> str:
    return f"{ref.sheet} row {ref.row}" if ref else "not in the workbook (--prune)"


def shown(item: Any) -> str:
    """A field value as the person would recognise it: blank for missing, TRUE/FALSE, text quoted."""
    if item is None:
        return "(blank)"
    if isinstance(item, bool):
        return "TRUE" if item else "FALSE"
    if isinstance(item, str):
        return repr(item)
    return str(item)


def _target(op: Operation) -> str:
    if op.kind in (OpKind.CREATE_MODIFIER, OpKind.UPDATE_MODIFIER, OpKind.DELETE_MODIFIER):
        ident = f" #{op.modifier_id}" if op.modifier_id is not None else ""
        return f"modifier {op.display_name!r}{ident} ({op.modifier_type})"
    ident = f" #{op.value_id}" if op.value_id is not None else ""
    return f"value {op.label!r}{ident} of {op.display_name!r} ({op.modifier_type})"


def operation_lines(op: Operation) -> list[Text]:
    """The heading line of one operation and its detail lines."""
    sign, style, verb = _SIGN[op.kind]
    head = Text("  ")
    head.append(f"{sign} {verb} ", style=f"bold {style}")
    head.append(_target(op))
    head.append(f"   {where(op.source)}", style="dim")
    lines = [head]
    if op.kind is OpKind.UPLOAD_IMAGE:
        lines.append(Text(f"      image: {op.image}"))
    elif op.kind in _UPDATES:
        for change in op.changes:
            line = Text(f"      {change.field}: {shown(change.before)} → ")
            line.append(shown(change.after), style="bold red" if change.after is None else "")
            lines.append(line)
    elif op.kind in _CREATES:
        lines += [Text(f"      {c.field}: {shown(c.after)}") for c in op.changes]
        new_values = op.payload.get("option_values") or []
        if new_values:
            labels = ", ".join(repr(v.get("label")) for v in new_values[:SHOWN_VALUES])
            more = f" and {len(new_values) - SHOWN_VALUES} more" if len(new_values) > SHOWN_VALUES else ""
            lines.append(Text(f"      with {len(new_values)} value(s): {labels}{more}"))
    elif op.kind is OpKind.DELETE_MODIFIER and op.value_rows:
        lines.append(Text(f"      and its {len(op.value_rows)} value row(s): {', '.join(map(repr, op.value_rows))}"))
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


def summary_line(plan: Plan) -> str:
    """`Plan: 3 to create, 5 to update, 1 to delete, 2 images to upload (12 requests); 2 conflicts skipped.`"""
    n = totals(plan)
    images = "image" if n["upload"] == 1 else "images"
    requests = "request" if n["requests"] == 1 else "requests"
    line = (f"Plan: {n['create']} to create, {n['update']} to update, {n['delete']} to delete, "
            f"{n['upload']} {images} to upload ({n['requests']} {requests})")
    if plan.conflicts:
        conflicts = "conflict" if len(plan.conflicts) == 1 else "conflicts"
        line += f"; {len(plan.conflicts)} {conflicts} " + ("overridden (--force)" if plan.forced else "skipped")
    return line + "."


def render_plan(plan: Plan, console: Console) -> None:
    """Print `plan` for a person: operations by product, then what needs their attention, then counts."""
    by_product: dict[int, list[Operation]] = defaultdict(list)
    for op in plan.operations:
        by_product[op.product_id].append(op)
    if by_product:
        console.print(Text(f"bcmod will make these changes to store {plan.store_hash or '?'} "
                           f"(from {plan.workbook}):", style="bold"))
        for product_id in sorted(by_product):
            console.print(Text(f"\nproduct {product_id}", style="bold"))
            for op in by_product[product_id]:
                for line in operation_lines(op):
                    console.print(line)
    else:
        console.print(Text(f"No changes: the store already matches {plan.workbook} "
                           f"({plan.unchanged} row(s) unchanged).", style="bold green"))
    if plan.blanked:
        console.print(Text("\nFields that would become empty (a blank cell empties the field):", style="bold red"))
        for ref, name in plan.blanked:
            console.print(Text(f"  {where(ref)}: {name}"))
    if plan.conflicts:
        verb = "overridden by --force: your rows are applied" if plan.forced else \
            "skipped: plan with --force to apply your rows anyway"
        console.print(Text(f"\nConflicts ({verb}):", style="bold magenta"))
        for conflict in plan.conflicts:
            fields = f" ({', '.join(conflict.fields)})" if conflict.fields else ""
            ident = f" {conflict.entity_id}" if conflict.entity_id is not None else ""
            console.print(Text(f"  {where(conflict.source)}, {conflict.kind}{ident}: {conflict.message}{fields}"))
    if plan.skipped:
        console.print(Text("\nRows left alone:", style="bold"))
        for skipped in plan.skipped:
            console.print(Text(f"  {where(skipped.source)}: {skipped.reason}"))
    if by_product and plan.unchanged:
        console.print(Text(f"\n{plan.unchanged} row(s) unchanged: no request."))
    console.print(Text("\n" + summary_line(plan), style="bold"))


def plan_summary(plan: Plan) -> dict[str, Any]:
    """The plan's counts and every row that needs attention, JSON-able, for `--json`."""
    return {
        "plan_id": plan.plan_id,
        "store_hash": plan.store_hash,
        "workbook": plan.workbook,
        "created_at": plan.created_at,
        **{f"to_{key}" if key in ("create", "update", "delete", "upload") else key: value
           for key, value in totals(plan).items()},
        "operations": plan.counts(),
        "unchanged": plan.unchanged,
        "conflicts": [{"sheet": c.source.sheet, "row": c.source.row, "kind": c.kind, "id": c.entity_id,
                       "message": c.message, "fields": list(c.fields)} for c in plan.conflicts],
        "skipped": [{"sheet": s.source.sheet, "row": s.source.row, "reason": s.reason} for s in plan.skipped],
        "blanked": [{"sheet": ref.sheet, "row": ref.row, "field": name} for ref, name in plan.blanked],
        "products": len(plan.product_ids),
        "forced": plan.forced,
        "pruned": plan.pruned,
        "summary": summary_line(plan),
    }
