"""Runs of one store take turns: each holds the store's slot, a Prefect global concurrency limit
`store:<key>` with one slot, for its whole body, on whichever worker it runs.

Built on the server's lease API rather than `prefect.concurrency.asyncio.concurrency`, which waits
without a word and holds a 300 s lease, so a killed run blocked its store for about five minutes:

- the lease lasts 60 s (the server's minimum) and a thread renews it every 15 s, so a holder whose
  machine dies frees the slot at most 60 s after its last renewal (plus the server's repossessor
  loop, 15 s by default);
- the holder records itself (run, host, pid, lease) in the Prefect variable `bcmod_slot_<store>`;
  a run waiting for the slot logs every 30 s what it waits for and, when the recorded holder's
  run is CRASHED or CANCELLED (its process died without releasing: the worker marks it at once),
  releases that lease itself, so the slot comes back within seconds;
- BCMOD_STORE_SLOTS in the worker's environment: `auto` (default) creates a missing limit with one
  slot; `existing` only uses limits an operator created and runs unguarded, with a warning, when
  there is none; `off` takes no slot. BCMOD_STORE_SLOT_TIMEOUT (seconds) bounds the wait.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import httpx

from flows.store import ensure_store_limit, slug, store_limit_name

LEASE_SECONDS = 60.0  # the shortest lease the server grants
RENEW_SECONDS = 15.0
POLL_SECONDS = 5.0  # longest pause between two attempts to take a busy slot
LOG_EVERY_SECONDS = 30.0
STORE_SLOTS_ENV = "BCMOD_STORE_SLOTS"
STORE_SLOT_TIMEOUT_ENV = "BCMOD_STORE_SLOT_TIMEOUT"
SLOT_LOG_ENV = "BCMOD_SLOT_LOG_SECONDS"  # how often a waiting run logs (tests shorten it)
HOLDER_VARIABLE_PREFIX = "bcmod_slot_"
RECLAIMABLE_STATES = {"CRASHED", "CANCELLED"}


@dataclass(frozen=True)
class Holder:
    """Who holds a store's slot, as the holder recorded it."""

    lease_id: str
    since: str
    host: str
    pid: int
    flow_run_id: str | None = None
    flow_run_name: str | None = None

    def describe(self) -> str:
        run = f"run {self.flow_run_name} ({self.flow_run_id})" if self.flow_run_id else "a process outside any run"
        return f"held by {run} on host {self.host}, pid {self.pid}, since {self.since}"


def holder_variable(key: str) -> str:
    return HOLDER_VARIABLE_PREFIX + slug(key)


async def read_holder(key: str) -> Holder | None:
    """The holder the store's variable names (it may have finished since)."""
    from prefect.variables import Variable

    value = await Variable.aget(holder_variable(key), default=None)
    if not isinstance(value, dict):
        return None
    try:
        return Holder(**value)
    except TypeError:
        return None


@asynccontextmanager
async def store_slot(key: str, *, timeout_seconds: float | None = None) -> AsyncIterator[str | None]:
    """Hold the store's slot for the block; yields the limit's name (None when slots are off).

    Waits as long as it takes unless `timeout_seconds` (or BCMOD_STORE_SLOT_TIMEOUT) is set, then
    raises `TimeoutError` having sent nothing to the store.
    """
    mode = os.environ.get(STORE_SLOTS_ENV, "auto").strip().lower() or "auto"
    if mode not in {"auto", "existing", "off"}:
        raise ValueError(f"{STORE_SLOTS_ENV} must be auto, existing or off, not {mode!r}")
    if mode == "off":
        yield None
        return
    from prefect.client.orchestration import get_client

    name = store_limit_name(key)
    if mode == "auto":
        await ensure_store_limit(key)
    if timeout_seconds is None and os.environ.get(STORE_SLOT_TIMEOUT_ENV):
        timeout_seconds = float(os.environ[STORE_SLOT_TIMEOUT_ENV])
    logger = _logger()
    async with get_client() as client:
        lease_id = await _acquire(client, key, name, timeout_seconds, logger)
        if lease_id is None:
            yield name
            return
        holder = await _record_holder(key, lease_id)
        renewal = _Renewal(lease_id, name, logger)
        renewal.start()
        logger.info("holding the store slot %s (lease %s, renewed every %.0f s)", name, lease_id, RENEW_SECONDS)
        try:
            yield name
        finally:
            renewal.stop()
            try:
                await client.release_concurrency_slots_with_lease(lease_id)
                await _forget_holder(key, holder)
                logger.info("released the store slot %s", name)
            except Exception as error:  # the lease still expires by itself
                logger.warning("could not release the store slot %s (%s); it frees itself within %.0f s",
                               name, type(error).__name__, LEASE_SECONDS)


async def _acquire(client: Any, key: str, name: str, timeout_seconds: float | None, logger: Any) -> UUID | None:
    """Take the slot; while it is busy, log what we wait for and free it from a dead holder."""
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder
    from prefect.client.schemas.responses import ConcurrencyLimitWithLeaseResponse
    from prefect.runtime import flow_run

    holder = ConcurrencyLeaseHolder(type="flow_run", id=UUID(flow_run.id)) if flow_run.id else None
    log_every = float(os.environ.get(SLOT_LOG_ENV) or LOG_EVERY_SECONDS)
    started = time.monotonic()
    logged_at: float | None = None
    reclaimed: set[str] = set()
    while True:
        try:
            response = await client.increment_concurrency_slots_with_lease(
                names=[name], slots=1, mode="concurrency", lease_duration=LEASE_SECONDS, holder=holder)
        except httpx.HTTPStatusError as busy:
            if busy.response.status_code != 423:
                raise
            pause = _retry_after(busy.response)
        else:
            granted = ConcurrencyLimitWithLeaseResponse.model_validate(response.json())
            if granted.limits:
                return granted.lease_id
            await client.release_concurrency_slots_with_lease(granted.lease_id)
            logger.warning("no concurrency limit %s: running without the store's slot "
                           "(create it: prefect gcl create %s --limit 1)", name, name)
            return None
        waited = time.monotonic() - started
        if timeout_seconds is not None and waited >= timeout_seconds:
            raise TimeoutError(f"the store slot {name} was still busy after {timeout_seconds:g} s; nothing was sent")
        recorded = await read_holder(key)
        if logged_at is None or waited - logged_at >= log_every:
            logger.info("waiting for the store slot %s (%.0f s so far): %s", name, waited,
                        recorded.describe() if recorded else "holder unknown (not recorded)")
            logged_at = waited
        if recorded and recorded.lease_id not in reclaimed:
            gone = await _finished_state(client, recorded)
            if gone:
                reclaimed.add(recorded.lease_id)
                await client.release_concurrency_slots_with_lease(UUID(recorded.lease_id))
                logger.warning("the store slot %s was %s, which is %s: released its lease", name,
                               recorded.describe(), gone)
                continue
        until_log = logged_at + log_every - waited
        until_timeout = POLL_SECONDS if timeout_seconds is None else timeout_seconds - waited
        await asyncio.sleep(max(0.1, min(pause, POLL_SECONDS, until_log, until_timeout)))


async def _finished_state(client: Any, recorded: Holder) -> str | None:
    """The state name when the recorded holder's run died without releasing (CRASHED, CANCELLED, deleted)."""
    from prefect.exceptions import ObjectNotFound

    if not recorded.flow_run_id:
        return None
    try:
        run = await client.read_flow_run(UUID(recorded.flow_run_id))
    except ObjectNotFound:
        return "DELETED"
    state = run.state.type.value if run.state else None
    return state if state in RECLAIMABLE_STATES else None


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.1, float(response.headers.get("Retry-After", POLL_SECONDS)))
    except ValueError:
        return POLL_SECONDS


async def _record_holder(key: str, lease_id: UUID) -> Holder:
    from prefect.runtime import flow_run
    from prefect.variables import Variable

    holder = Holder(lease_id=str(lease_id), since=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    host=socket.gethostname(), pid=os.getpid(), flow_run_id=flow_run.id,
                    flow_run_name=flow_run.name if flow_run.id else None)
    await Variable.aset(holder_variable(key), asdict(holder), overwrite=True)
    return holder


async def _forget_holder(key: str, holder: Holder) -> None:
    from prefect.variables import Variable

    if await read_holder(key) == holder:
        await Variable.aunset(holder_variable(key))


class _Renewal(threading.Thread):
    """Renews the lease from its own thread, so a long synchronous step (writing a large workbook)
    cannot starve it."""

    def __init__(self, lease_id: UUID, name: str, logger: Any) -> None:
        super().__init__(name=f"bcmod-slot-{name}", daemon=True)
        self.lease_id, self.limit, self.logger = lease_id, name, logger
        self._done = threading.Event()

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)

    def run(self) -> None:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            while not self._done.wait(RENEW_SECONDS):
                try:
                    client.renew_concurrency_lease(lease_id=self.lease_id, lease_duration=LEASE_SECONDS)
                except httpx.HTTPStatusError as error:
                    if error.response.status_code in (404, 410):
                        self.logger.error("lost the store slot %s: its lease was released or expired", self.limit)
                        return
                    self.logger.warning("renewing the store slot %s failed (%s); retrying", self.limit,
                                        error.response.status_code)
                except Exception as error:  # the lease is still good for a while: try again next time
                    self.logger.warning("renewing the store slot %s failed (%s); retrying", self.limit,
                                        type(error).__name__)


def _logger() -> Any:
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_logger, get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return get_logger("bcmod.store")
