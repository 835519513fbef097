"""The incremental window of nightly exports: from the start of the store's last successful export.

A fixed "last 24 hours" loses changes silently whenever a night is late, skipped or failed. Instead
each successful full or incremental export records when it started reading in the Prefect variable
`bcmod_last_export_<store>` (on the server, so every worker sees the same value), and the next
incremental export asks for products modified since then. A store with no record gets a full export.
A failed run records nothing, so the next one covers its window too.

The window opens a minute before the recorded start: BigCommerce stamps `date_modified` with its own
clock, and a worker's clock a little ahead of it must not lose a change. Products changed in that
minute appear in two consecutive exports, which is harmless.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from flows.store import slug

VARIABLE_PREFIX = "bcmod_last_export_"
CLOCK_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True)
class LastExport:
    """What the store's last successful export recorded."""

    started: str  # ISO 8601, UTC: when it started reading the store
    flow_run: str | None
    path: str
    host: str
    products: int

    @property
    def started_at(self) -> datetime:
        return datetime.fromisoformat(self.started)


def variable_name(key: str) -> str:
    return VARIABLE_PREFIX + slug(key)


async def last_export(key: str) -> LastExport | None:
    """The store's last successful export, or None when it never had one (or the record is unreadable)."""
    from prefect.variables import Variable

    value = await Variable.aget(variable_name(key), default=None)
    if not isinstance(value, dict):
        return None
    try:
        record = LastExport(**value)
        record.started_at  # noqa: B018 - refuse a record whose date does not parse
    except (TypeError, ValueError):
        return None
    return record


async def incremental_since(key: str) -> tuple[datetime | None, LastExport | None]:
    """Where an incremental export starts: the last success's start less the clock margin, or None (full)."""
    record = await last_export(key)
    if record is None:
        return None, None
    return record.started_at - CLOCK_MARGIN, record


async def record_success(key: str, started: datetime, summary: dict[str, Any], flow_run: str | None) -> None:
    """Remember this export as the store's last success (only exports that read every change since
    `started`'s window: full ones and incremental ones)."""
    from prefect.variables import Variable

    record = LastExport(started=started.isoformat(timespec="seconds"), flow_run=flow_run,
                        path=str(summary.get("path")), host=str(summary.get("host")),
                        products=int(summary.get("products") or 0))
    await Variable.aset(variable_name(key), asdict(record), overwrite=True)
