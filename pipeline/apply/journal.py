"""The apply journal: what an apply has started and finished, durable across a crash or a kill -9.

One JSON object per line, appended and fsync'd before the apply goes on, next to the workbook
(`<workbook>.journal.jsonl`). Each run starts with a `run` line naming the plan (`plan_id`); the
first run of a plan then records the plan itself (`plan`, with the `request` that produced it:
which file, with which flags, for which store), so that a re-run after a kill, a crash or Ctrl-C
continues that very plan instead of planning again against a half-applied store
(`interrupted_plan`). Then for each operation a `started` record (written *before* its first
write request is sent) and a `done` record with the ids it produced (or `failed` with the store's
message); a `backup` record with the backup file (the backup of record: a resumed run keeps it);
an `uploaded` record for each image upload (value id, image cell, file digest, the URL the store
gave), so a later plan can tell the image its own apply uploaded from one someone else set; and
`complete` when a run got to the end (an interrupted run has none).

On the next run of the same plan, `done` operations are skipped and their ids restored for the
operations that depend on them; operations `started` (or `failed`) but not `done` are ambiguous:
their write may have reached the store, so creates are matched by natural key before anything is
sent again. A journal written for another plan is moved aside, never replayed; its `uploaded`
records are carried over into the new journal.

Durability costs one fsync per record, but records written while an fsync is in progress are
committed together by the next one (group commit), so concurrent operations do not queue behind
each other's disk flushes; each caller still waits until its own record is on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.plan.diff import OwnUpload
from pipeline.plan.operations import Plan

JOURNAL_SUFFIX = ".journal.jsonl"
JOURNAL_FORMAT = 1
_CHUNK = 1 << 20


def journal_path(workbook: Path) -> Path:
    """`edits.xlsx` -> `edits.xlsx.journal.jsonl`, beside it."""
    workbook = Path(workbook)
    return workbook.with_name(workbook.name + JOURNAL_SUFFIX)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def file_digest(path: Path) -> str | None:
    """sha256 of a file's bytes, or of a folder's files (name and bytes, in name order); None if unreadable.

    It tells a re-run of the same command (the same workbook, unchanged) from a run of an edited one."""
    path = Path(path)
    digest = hashlib.sha256()
    try:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for item in files:
            if path.is_dir():
                digest.update(str(item.relative_to(path)).encode() + b"\0")
            with item.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


@dataclass
class DoneRecord:
    """What a finished operation produced."""

    op_id: str
    modifier_id: int | None = None
    value_id: int | None = None
    values: dict[str, int] = field(default_factory=dict)
    note: str = ""


def run_request(command: str, source: Path, store_hash: str, **flags: Any) -> dict[str, Any]:
    """What a run's plan is made from, as recorded with the plan: the command, the digest of the file
    it read, the store and the flags that shape the plan (say `prune`, `force`). A re-run continues an
    interrupted plan only for an equal request."""
    return {"command": command, "file": file_digest(source), "store": store_hash, **flags}


class Journal:
    """An append-only, fsync'd record of one plan's apply. Call `open(plan_id)` first."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.plan_id: str | None = None
        self.done: dict[str, DoneRecord] = {}
        self.started: set[str] = set()
        self.failed: dict[str, str] = {}
        self.complete = False  # the last run got to the end
        self.runs = 0  # earlier runs of this plan found in the file
        self.backup: str | None = None
        self.moved_aside: Path | None = None
        self.plan_record: dict[str, Any] | None = None  # the plan as the first run recorded it
        self.request: dict[str, Any] | None = None  # what produced the plan (see `interrupted_plan`)
        self.uploaded: dict[int, OwnUpload] = {}  # value id -> the image an apply uploaded there
        self.undone = False  # a restore of this run's backup began (`mark_undone`)
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

    def open(self, plan_id: str, *, plan: Plan | None = None, request: Mapping[str, Any] | None = None,
             replay_complete: bool = True) -> Journal:
        """Load the records of `plan_id` and start a new run.

        A journal of another plan, or one whose changes a restore undid (`mark_undone`), is moved
        aside, never replayed; so is a complete one unless `replay_complete` (a saved plan applied
        again sends nothing; a plan just made against the store, that happens to equal a finished
        one, means the store needs those operations again). `plan` (and the `request` that
        produced it) are recorded on the plan's first run, so that an interrupted run can be
        continued as it was planned (`interrupted_plan`)."""
        self.plan_id = plan_id
        records = self._read()
        carried: list[dict[str, Any]] = []
        if records:
            probe = self._probe(records)
            if probe.plan_id != plan_id or probe.undone or (probe.complete and not replay_complete):
                carried = [r for r in records if r.get("type") == "uploaded"]
                self._move_aside(records[0].get("plan_id"))
                records = []
        for record in records:
            self._load(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        header = {"type": "run", "plan_id": plan_id, "format": JOURNAL_FORMAT, "at": _now(), "pid": os.getpid()}
        self.complete = False  # this run has not got to the end (the header is not an earlier run)
        lines = [json.dumps(header)]
        if plan is not None and self.plan_record is None:
            record = {"type": "plan", "request": dict(request or {}), "plan": json.loads(plan.to_json())}
            self._load(record)
            lines.append(json.dumps(record, ensure_ascii=False, default=str))
        for record in carried:
            self._load(record)
            lines.append(json.dumps(record, ensure_ascii=False, default=str))
        self._append(lines)
        if fresh:
            _fsync_dir(self.path.parent)
        return self

    def interrupted_plan(self, request: Mapping[str, Any]) -> Plan | None:
        """The plan of a run that did not get to the end, when it was made for the same `request`
        (say the same workbook, unchanged, with the same flags, for the same store): a re-run of the
        same command continues it. None when there is nothing to continue, or the request differs
        (the file was edited since: plan it again). Reads the file; does not open the journal."""
        probe = self.peek()
        if probe.runs == 0 or probe.complete or probe.undone or probe.plan_record is None or \
                probe.request != dict(request):
            return None
        try:
            plan = Plan.from_json(json.dumps(probe.plan_record))
        except (ValueError, KeyError, TypeError):
            return None
        return plan if plan.plan_id == probe.plan_id else None

    def peek(self) -> Journal:
        """What the file records so far (runs, done operations, backup, plan), without opening it for a run."""
        return self._probe(self._read())

    def _probe(self, records: list[dict[str, Any]]) -> Journal:
        probe = Journal(self.path)
        if records:
            probe.plan_id = records[0].get("plan_id")
        for record in records:
            probe._load(record)
        return probe

    def mark_undone(self, backup: Path) -> None:
        """A restore of this run's backup began: what the run did is being undone, so the journal must
        not be resumed or replayed (the next run of its workbook plans again, from the store)."""
        if self.path.exists():
            self._append([json.dumps({"type": "undone", "backup": str(backup), "at": _now()})])

    def own_uploads(self, workbook_dir: Path | None = None) -> dict[int, OwnUpload]:
        """The images earlier applies uploaded, by value id, read from the file (carried over from
        journals of earlier plans too); a local file whose bytes changed since is left out, so its new
        content is not mistaken for the one uploaded. For `build_plan(uploaded=...)`."""
        out: dict[int, OwnUpload] = {}
        for value_id, upload in self.peek().uploaded.items():
            if upload.digest is not None and workbook_dir is not None and not _is_url(upload.image):
                if file_digest(Path(workbook_dir) / upload.image) != upload.digest:
                    continue
            out[value_id] = upload
        return out

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
            self.complete = False
        elif kind == "plan":
            self.plan_record = record.get("plan")
            self.request = record.get("request") or {}
        elif kind == "uploaded" and record.get("value_id") is not None:
            self.uploaded[int(record["value_id"])] = OwnUpload(str(record.get("image") or ""), record.get("digest"),
                                                               record.get("image_url"))
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
        elif kind == "undone":
            self.undone = True

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

    async def mark_uploaded(self, value_id: int, image: str, *, digest: str | None, image_url: str | None) -> None:
        """An image this apply uploaded to value `value_id` (`image`: the cell's text; `digest`: sha256 of
        the bytes sent; `image_url`: where the store says it put it)."""
        await self.write({"type": "uploaded", "value_id": int(value_id), "image": image, "digest": digest,
                          "image_url": image_url})

    async def mark_backup(self, path: Path) -> None:
        await self.write({"type": "backup", "path": str(path)})

    async def mark_complete(self, summary: dict[str, Any] | None = None) -> None:
        await self.write({"type": "complete", **(summary or {})})


def journals_backed_up_in(backup: Path) -> list[Journal]:
    """The journals whose run took `backup` as its backup (found beside the backup, where a restore keeps
    its journal, and in the folder above, where an apply's workbook and journal are)."""
    backup = Path(backup).resolve()
    folders = {backup.parent, backup.parent.parent}
    out = []
    for folder in folders:
        for path in sorted(folder.glob(f"*{JOURNAL_SUFFIX}")):
            recorded = Journal(path).peek().backup
            if recorded and Path(recorded).resolve() == backup:
                out.append(Journal(path))
    return out


def _is_url(text: str) -> bool:
    return "://" in text


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
