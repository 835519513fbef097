"""bcmod from Python: export, read, validate, plan and apply in a few calls, as a notebook wants them.

Each function is a coroutine (a notebook cell can `await` it) that opens and closes its own client,
so no `async with` is needed; each has a `*_sync` twin for plain scripts that also works where an
event loop is already running (a Jupyter kernel, an async web app): there it runs the coroutine on a
worker thread with its own loop and waits for it, because `asyncio.run` refuses to nest.

`settings` names the store (`Settings()` reads BIGCOMMERCE_STORE_HASH / BIGCOMMERCE_API_URL and
BIGCOMMERCE_ACCESS_TOKEN from the environment or `.env`); `transport` is for tests (an in-process
sandbox). The modules behind each call are imported when it is first made, so `import pipeline`
stays cheap.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    import httpx

    from pipeline.apply.executor import ApplyResult
    from pipeline.normalise import ModifierFrames
    from pipeline.plan.operations import Plan
    from pipeline.settings import Settings
    from pipeline.validate.command import ValidationOutcome
    from pipeline.workbook.meta import ExportMeta

P = ParamSpec("P")
T = TypeVar("T")

__all__ = [
    "apply", "apply_sync", "export_frames", "export_frames_sync", "plan", "plan_sync", "read_workbook",
    "read_workbook_sync", "run_sync", "validate", "validate_sync",
]


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to its end from synchronous code and return its result.

    With no event loop running on this thread it is `asyncio.run`. Inside a running loop (Jupyter)
    that would raise, and waiting on the loop itself would deadlock it, so the coroutine runs on a
    worker thread with a loop of its own while this thread waits; the coroutine must not use
    objects bound to the caller's loop (the functions of this module open their own clients).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcmod-sync") as worker:
        return worker.submit(asyncio.run, coroutine).result()


def _sync_twin(function: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    @functools.wraps(function)
    def twin(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(function(*args, **kwargs))

    twin.__name__ = twin.__qualname__ = f"{function.__name__}_sync"
    twin.__doc__ = (f"`{function.__name__}` for synchronous code, also inside a running event loop "
                    f"(see `run_sync`).\n\n{function.__doc__ or ''}")
    return twin


def _store(settings: Settings | None) -> Settings:
    from pipeline.settings import Settings

    settings = settings if settings is not None else Settings()
    if not settings.is_configured:
        raise ValueError("no store configured: set BIGCOMMERCE_STORE_HASH (or BIGCOMMERCE_API_URL) and "
                         "BIGCOMMERCE_ACCESS_TOKEN, or pass settings=Settings(...)")
    return settings


async def export_frames(
    settings: Settings | None = None,
    *,
    products: Iterable[int] = (),
    skus: Iterable[str] = (),
    since: datetime | str | None = None,
    concurrency: int = 8,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ModifierFrames:
    """The store's modifiers as DataFrames (`.modifiers`, one row each; `.values`, one row per value),
    read ten products a request; only `products` (ids), `skus` or products modified `since` when given."""
    from pipeline.client import BigCommerceClient
    from pipeline.extract import ExtractFilters, parse_since
    from pipeline.extract_frames import extract_frames

    filters = ExtractFilters(product_ids=tuple(int(p) for p in products), skus=tuple(skus),
                             since=parse_since(since) if isinstance(since, str) else since)
    async with BigCommerceClient(_store(settings), transport=transport) as client:
        return (await extract_frames(client, filters, concurrency=concurrency)).frames


async def read_workbook(path: str | Path) -> tuple[ModifierFrames, ExportMeta]:
    """The frames and origin (`_bcmod` sheet: store, export time, filters) of an export, an .xlsx or a
    folder or zip of CSV files, read on a worker thread so the caller's loop keeps running."""
    from pipeline.workbook.reader import read_export

    return await asyncio.to_thread(read_export, Path(path))


async def validate(
    path: str | Path,
    settings: Settings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ValidationOutcome:
    """Every problem of an edited export (`.issues`, empty when `.ok`), each pinned to its cell.

    With `settings`, the file must come from that store and its product ids are looked up there
    (reads only); without, it is checked offline."""
    from pipeline.validate.command import validate_file_async

    return await validate_file_async(Path(path), settings=settings, transport=transport)


async def plan(
    path: str | Path,
    settings: Settings | None = None,
    *,
    prune: bool = False,
    force: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Plan:
    """The operations that would make the store match an edited export; sends no writes.

    Raises `pipeline.plan.build.PlanRefused` (its `.outcome.issues` say why) when the file has
    problems. `prune` also deletes what the file's products no longer list; `force` applies rows
    the store changed since the export too."""
    from pipeline.apply import Journal
    from pipeline.client import BigCommerceClient
    from pipeline.connection import store_hash_of
    from pipeline.plan.build import plan_workbook

    settings, path = _store(settings), Path(path)
    # as `bcmod plan`: images an earlier apply of this file uploaded are not taken for someone else's
    uploaded = Journal.for_workbook(path).own_uploads(path.parent)
    async with BigCommerceClient(settings, transport=transport) as client:
        planned, _ = await plan_workbook(path, client, prune=prune, force=force,
                                         expected_store_hash=store_hash_of(settings), uploaded=uploaded)
    return planned


async def apply(
    changes: Plan | str | Path,
    settings: Settings | None = None,
    *,
    concurrency: int = 8,
    backup: bool = True,
    journal: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
    image_transport: httpx.AsyncBaseTransport | None = None,
) -> ApplyResult:
    """Carry out a plan (or plan the edited export at that path first, as `bcmod apply` does).

    As the CLI: the touched products are backed up first (`backups/` beside the workbook), the run
    is journaled (`<workbook>.journal.jsonl`: running it again resumes), creates are matched by
    natural key so nothing is duplicated, and a failing operation is reported in the result
    (`.failed`, `.counts()`), never raised. Write the results workbook with
    `pipeline.apply.write_results(result, workbook)`. Like the CLI, it holds the workbook's lock
    from before planning to the end (`LockHeld` if another apply of the same workbook runs)."""
    from pipeline.apply import Journal, apply_plan
    from pipeline.apply.lock import workbook_lock
    from pipeline.client import BigCommerceClient

    settings = _store(settings)
    workbook = Path(changes) if isinstance(changes, (str, Path)) else Path(changes.workbook)
    with workbook_lock(workbook, "pipeline.api.apply"):
        if isinstance(changes, (str, Path)):
            changes = await plan(changes, settings, transport=transport)
        async with BigCommerceClient(settings, transport=transport) as client:
            return await apply_plan(changes, client, workbook_dir=workbook.parent, concurrency=concurrency,
                                    journal=Journal.for_workbook(workbook) if journal else None, backup=backup,
                                    image_transport=image_transport)


export_frames_sync = _sync_twin(export_frames)
read_workbook_sync = _sync_twin(read_workbook)
validate_sync = _sync_twin(validate)
plan_sync = _sync_twin(plan)
apply_sync = _sync_twin(apply)
