"""One writer at a time: an inter-process lock per apply journal (so per workbook) and per embedded store.

Two `bcmod apply` of one workbook at once both planned and wrote everything (duplicate modifiers),
appended to one journal and overwrote one results workbook. So an apply (and a restore) takes the
lock of its journal, `<workbook>.journal.jsonl.lock`, before it plans, backs up or sends anything,
and keeps it until its results are written; a second run finds it taken and stops at once
(`LockHeld`, exit code 5 in the CLI), saying which process holds it. The embedded sandbox store
takes the lock of its folder the same way, so two commands never serve one store at once.

The lock is `flock` on the lock file (`msvcrt.locking` on Windows): the kernel drops it when its
holder exits, however it exits (kill -9 included), so a lock left by a dead process is simply
taken over; there is no stale lock to clean up and no race in deciding that one is stale. The
file holds the holder's pid, host, command and start time, for the message only; it is never
deleted (a process could then lock a new file while another holds the old one). Locks on a
network file system are only as good as its `flock`.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from pipeline.apply.journal import journal_path
from pipeline.client.errors import FatalError

LOCK_SUFFIX = ".lock"


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, as the holder wrote it in the lock file."""

    pid: int
    host: str
    command: str
    since: str  # ISO 8601, UTC

    def describe(self) -> str:
        return f"{self.command} (process {self.pid} on {self.host}, since {self.since})"


class LockHeld(FatalError):
    """Another process holds the lock: `what` is locked (`lock_file`), `holder` is who has it (None if unknown).

    A client error like the store's own, so every command reports it in one line, without a traceback."""

    default_title = "in use by another bcmod process"

    def __init__(self, what: str, path: Path, holder: LockHolder | None) -> None:
        self.what = what
        self.lock_file = path
        self.holder = holder
        who = holder.describe() if holder else "another bcmod process"
        super().__init__(f"{what} is in use by {who}: wait for it to finish (or stop it) and run the command again; "
                         f"nothing was sent (lock file {path})")


class ProcessLock:
    """An exclusive lock on the file `path`, held by this process until `release` (or its exit)."""

    def __init__(self, path: Path, what: str, command: str) -> None:
        self.path = Path(path)
        self.what = what
        self.command = command
        self._handle: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self) -> ProcessLock:
        """Take the lock now or raise `LockHeld`; never waits."""
        if self._handle is not None:
            raise RuntimeError(f"{self.path} is already locked by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            _lock(handle)
        except OSError:
            handle.seek(0)
            holder = _holder(handle.read())
            handle.close()
            raise LockHeld(self.what, self.path, holder) from None
        holder = LockHolder(os.getpid(), socket.gethostname(), self.command,
                            datetime.now(UTC).isoformat(timespec="seconds"))
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(asdict(holder)) + "\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            handle.seek(0)
            handle.truncate()  # nobody holds it now
            handle.flush()
            _unlock(handle)
        finally:
            handle.close()

    def __enter__(self) -> ProcessLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def journal_lock(journal: Path, command: str = "bcmod apply") -> ProcessLock:
    """The lock of the journal `journal` (`<journal>.lock`, beside it): an apply or a restore holds
    it from before its plan until its results are written."""
    journal = Path(journal).resolve()
    return ProcessLock(journal.with_name(journal.name + LOCK_SUFFIX), f"the apply journal {journal.name}", command)


def workbook_lock(workbook: Path, command: str = "bcmod apply") -> ProcessLock:
    """The lock of `workbook`'s journal (`edits.xlsx` -> `edits.xlsx.journal.jsonl.lock`), whatever
    path names the workbook."""
    lock = journal_lock(journal_path(Path(workbook).resolve()), command)
    lock.what = f"the workbook {Path(workbook).name} (its apply journal)"
    return lock


def store_lock(data_dir: Path, command: str | None = None) -> ProcessLock:
    """The lock of an embedded sandbox store's folder (`<folder>/store.lock`), held while a command serves it."""
    folder = Path(data_dir).resolve()
    return ProcessLock(folder / ("store" + LOCK_SUFFIX), f"the embedded sandbox store in {folder}",
                       command or this_command())


def this_command() -> str:
    """How this process was started, shortly: `bcmod apply`, `python -m pipeline.apply`."""
    argv = sys.argv or ["python"]
    name = Path(argv[0]).name
    if name in ("main.py", "__main__.py", "bcmod"):
        name = "bcmod" if "apply" not in Path(argv[0]).parts else "python -m pipeline.apply"
    verb = argv[1] if len(argv) > 1 and not argv[1].startswith("-") and name == "bcmod" else ""
    return f"{name} {verb}".strip()


def _holder(text: str) -> LockHolder | None:
    try:
        data = json.loads(text.splitlines()[0])
        return LockHolder(int(data["pid"]), str(data["host"]), str(data["command"]), str(data["since"]))
    except (IndexError, ValueError, KeyError, TypeError):
        return None  # the holder has not written it yet, or an older bcmod wrote it


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
