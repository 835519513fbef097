"""The apply journal: what an apply has started and finished, durable across a crash or a kill -9.

One JSON object per line, appended and fsync'd before the apply goes on, next to the workbook
(`<workbook>.journal.jsonl`). The first line names the plan (`plan_id`); then for each operation a
`started` record (written *before* its first write request is sent) and a `done` record with the
ids it produced (or `failed` with the store's message); a `backup` record with the backup file;
and `complete` when a run got to the end.

On the next run of the same plan, `done` operations are skipped and their ids restored for the
operations that depend on them; operations `started` (or `failed`) but not `done` are ambiguous:
their write may have reached the store, so creates are matched by natural key before anything is
sent again. A journal written for another plan is moved aside, never replayed.

Durability costs one fsync per record, but records written while an fsync is in progress are
committed together by the next one (group commit), so concurrent operations do not queue behind
each other's disk flushes; each caller still waits until its own record is on disk.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JOURNAL_SUFFIX = ".journal.jsonl"
JOURNAL_FORMAT = 1


def journal_path(workbook: Path) -> Path:
    """`edits.xlsx` -> `edits.xlsx.journal.jsonl`, beside it."""
    workbook = Path(workbook)
    return workbook.with_name(workbook.name + JOURNAL_SUFFIX)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class DoneRecord:
    """What a finished operation produced."""

    op_id: str
    modifier_id: int | None = None
    value_id: int | None = None
    values: dict[str, int] = field(default_factory=dict)
    note: str = ""


class Journal:
    """An append-only, fsync'd record of one plan's apply. Call `open(plan_id)` first."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.plan_id: str | None = None
        self.done: dict[str, DoneRecord] = {}
        self.started: set[str] = set()
        self.failed: dict[str, str] = {}
        self.complete = False
        self.runs = 0  # earlier runs of this plan found in the file
        self.backup: str | None = None
        self.moved_aside: Path | None = None
        self._lock = threading.Lock()
        self._pending: list[tuple[str, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @classmethod
    def for_workbook(cls, workbook: Path) -> Journal:
        return cls(journal_path(workbook))

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, plan_id={self.plan_id!r}, done={len(self.done)})"

    # -- reading ------------------------------------------------------------------------------------

    @property
    def resuming(self) -> bool:
        """True when an earlier run of this plan left records behind."""
        return self.runs > 0

    def ambiguous(self, op_id: str) -> bool:
        """Started (or failed) in an earlier run and not done: its write may have reached the store."""
        return op_id not in self.done and (op_id in self.started or op_id in self.failed)

    def open(self, plan_id: str) -> Journal:
        """Load the records of `plan_id` (moving a foreign journal aside) and start a new run."""
        self.plan_id = plan_id
        records = self._read()
        if records and records[0].get("plan_id") != plan_id:
            self._move_aside(records[0].get("plan_id"))
            records = []
        for record in records:
            self._load(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        header = {"type": "run", "plan_id": plan_id, "format": JOURNAL_FORMAT, "at": _now(), "pid": os.getpid()}
        self._append([json.dumps(header)])
        if fresh:
            _fsync_dir(self.path.parent)
        return self

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        with self.path.open("r", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:  # a line torn by a kill mid-write: it was never acknowledged
                    continue
                if isinstance(record, dict):
                    records.append(record)
        return records

    def _move_aside(self, other_plan: Any) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.path.with_name(f"{self.path.name}.{other_plan or 'unknown'}.{stamp}.old")
        self.path.replace(target)
        self.moved_aside = target

    def _load(self, record: dict[str, Any]) -> None:
        kind, op_id = record.get("type"), record.get("op_id")
        if kind == "run":
            self.runs += 1
        elif kind == "started" and op_id:
            self.started.add(op_id)
        elif kind == "done" and op_id:
            self.done[op_id] = DoneRecord(op_id, record.get("modifier_id"), record.get("value_id"),
                                          {str(k): int(v) for k, v in (record.get("values") or {}).items()},
                                          record.get("note") or "")
            self.failed.pop(op_id, None)
        elif kind == "failed" and op_id:
            self.failed[op_id] = record.get("message") or ""
        elif kind == "backup":
            self.backup = record.get("path")
        elif kind == "complete":
            self.complete = True

    # -- writing ------------------------------------------------------------------------------------

    def _append(self, lines: list[str]) -> None:
        """Write lines and fsync; thread-safe."""
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        with self._lock, self.path.open("ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    async def write(self, record: dict[str, Any]) -> None:
        """Append one record; returns once it is on disk (group commit with concurrent writers)."""
        if self.plan_id is None:
            raise RuntimeError("open the journal with its plan_id first")
        self._load(record)
        line = json.dumps({**record, "at": _now()}, ensure_ascii=False, default=str)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((line, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._append, [line for line, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - every waiter must hear about it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def mark_started(self, op_id: str) -> None:
        await self.write({"type": "started", "op_id": op_id})

    async def mark_done(self, op_id: str, *, modifier_id: int | None = None, value_id: int | None = None,
                        values: dict[str, int] | None = None, note: str = "") -> None:
        await self.write({"type": "done", "op_id": op_id, "modifier_id": modifier_id, "value_id": value_id,
                          "values": values or {}, "note": note})

    async def mark_failed(self, op_id: str, message: str) -> None:
        await self.write({"type": "failed", "op_id": op_id, "message": message})

    async def mark_backup(self, path: Path) -> None:
        await self.write({"type": "backup", "path": str(path)})

    async def mark_complete(self, summary: dict[str, Any] | None = None) -> None:
        await self.write({"type": "complete", **(summary or {})})


def _fsync_dir(folder: Path) -> None:
    """Make a new file's directory entry durable too (POSIX; a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
