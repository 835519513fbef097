"""Dates as BigCommerce's modifier API takes them: ISO-8601 ATOM (`2027-04-01T00:00:00+00:00`).

The spec asks for ATOM in date modifier configs (and warns that a date modifier written without
its dates fails), while people type `2027-04-01` in a sheet and stores have been seen answering
`...Z` or `+00:00`. So dates are compared as instants and sent in one form: a typed date equal
to the store's never plans a write, and what is written is always ATOM.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def parse_instant(item: Any) -> datetime | None:
    """An ISO-8601 date or date-time as an aware datetime (a date alone or a naive time is UTC);
    None for a blank or anything that is not one."""
    if item is None:
        return None
    if isinstance(item, datetime):
        parsed = item
    elif isinstance(item, date):
        parsed = datetime(item.year, item.month, item.day)
    else:
        text = str(item).strip()
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def to_atom(item: Any) -> Any:
    """`item` in ATOM form (`YYYY-MM-DDTHH:MM:SS+HH:MM`); what is not a date comes back unchanged,
    for validation to report rather than for this to guess."""
    parsed = parse_instant(item)
    if parsed is None:
        return item
    return parsed.replace(microsecond=0).isoformat()


def same_instant(before: Any, after: Any) -> bool:
    """Both name the same instant (blank equals blank); text that is not a date compares as text."""
    first, second = parse_instant(before), parse_instant(after)
    if first is None or second is None:
        return before == after
    return first == second
