"""Execute a plan against the store: concurrent, dependency-aware, journaled, never duplicating.

How a run goes:
- Every operation is a task; at most `concurrency` of them talk to the store at once, and the
  client's shared rate governor paces the requests themselves (429s and 5xx are retried there).
- An operation with `depends_on` waits for that operation; if it failed, the dependent fails too
  ("not attempted: depends on failed ..."), without a request. Besides the plan's dependencies,
  a create (or rename) that claims a display name or a label waits for the delete (or rename)
  that frees it in the same plan, so concurrency cannot reorder them into a clash.
- Ids flow by natural key: a created modifier is recorded under (product, display name) and its
  values under (modifier, label), so a checkbox's Yes/No updates, a value created under a new
  modifier and an image upload for a new value all find their targets.
- Creates are the only writes that are not idempotent. A POST whose outcome is unknown
  (`AmbiguousWriteError`: a 5xx or a dropped connection after sending) is reconciled by natural
  key: the product's modifiers (or the modifier's values) are read, and the object is used if it
  is there, else the POST is sent again. Updates and deletes are idempotent and simply re-sent.
- The journal records `started` before an operation's first write and `done` (with ids) after;
  on a re-run, done operations are skipped (ids restored) and started-but-not-done creates are
  reconciled before anything is sent, so a killed run converges without duplicates.
- A failing operation (422 and the like) is reported with the store's message; the others go on.
- A run is resumable as a whole: the journal records the plan itself, so a re-run of the same
  command after a kill, a crash or Ctrl-C continues this plan (`Journal.interrupted_plan`), and
  the first run's backup stays the backup of record. `stop` (Ctrl-C, see `pipeline.apply.interrupt`)
  starts no new operation and lets those in flight finish; the others end `skipped` with
  `interrupted` set, the journal gets no `complete`, and `ApplyResult.interrupted` says so.
- An image upload is journaled with the cell, the digest of the bytes and the URL the store gave
  (`Journal.own_uploads`), so planning the same workbook again keeps that image.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from pipeline.apply.backup import backup_products
from pipeline.apply.images import ImageError, load_image
from pipeline.apply.interrupt import INTERRUPTED_MESSAGE, StopRequest
from pipeline.image_fetch import ImagePolicy
from pipeline.apply.journal import DoneRecord, Journal
from pipeline.client import (
    AmbiguousWriteError,
    BigCommerceClient,
    BigCommerceError,
    NotFoundError,
)
from pipeline.extract import ProgressCallback
from pipeline.modifier_types import MODIFIER_TYPES
from pipeline.plan.operations import Conflict, OpKind, Operation, Plan, RowRef, Skipped



class OpStatus(StrEnum):
    """What became of one operation (a str, so journals and JSON reports hold the plain word)."""

    OK = "ok"
    FAILED = "failed"  # also one not attempted because what it depends on failed
    SKIPPED = "skipped"  # not attempted: the run was stopped first (Ctrl-C); running it again does it


OK, FAILED, SKIPPED = OpStatus.OK, OpStatus.FAILED, OpStatus.SKIPPED
STATUSES = tuple(OpStatus)
MAX_AMBIGUOUS_ROUNDS = 5  # POST, reconcile, POST again ... before giving up on one create



class OperationFailed(Exception):
    """An operation that cannot be done; the message is what the results report shows."""


@dataclass
class OpOutcome:
    """What became of one operation."""

    op_id: str
    kind: OpKind
    status: OpStatus
    product_id: int
    display_name: str
    label: str | None = None
    source: RowRef | None = None
    value_rows: dict[str, RowRef] = field(default_factory=dict)
    modifier_id: int | None = None
    value_id: int | None = None
    value_ids: dict[str, int] = field(default_factory=dict)  # label -> id of the values a create made
    message: str = ""
    reconciled: bool = False  # a create found by natural key instead of (re-)sent
    from_journal: bool = False  # done in an earlier run; nothing sent now
    interrupted: bool = False  # not attempted: the run was stopped first (Ctrl-C); a re-run does it

    def describe(self) -> str:
        what = f"{self.kind.value.replace('_', ' ')} {self.display_name!r}"
        if self.label is not None:
            what += f" / {self.label!r}"
        return f"{what} on product {self.product_id}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data


@dataclass
class ApplyResult:
    """Every operation's outcome, plus what the run cost; safe to persist (no token)."""

    plan_id: str
    store_hash: str
    workbook: str
    outcomes: list[OpOutcome] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    skipped_rows: list[Skipped] = field(default_factory=list)
    unchanged: int = 0
    requests: int = 0  # requests the executor sent (retries and reconciliation reads included)
    writes: int = 0  # write requests issued (POST/PUT/DELETE; a retried one counts once)
    reconcile_reads: int = 0  # natural-key lookups after an ambiguous or interrupted create
    backup_requests: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    backup_path: Path | None = None
    journal_path: Path | None = None
    resumed: bool = False
    interrupted: bool = False  # stopped before every operation was attempted; the same command resumes

    def counts(self) -> dict[str, int]:
        return {status: sum(o.status == status for o in self.outcomes) for status in STATUSES}

    def counts_by_kind(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for outcome in self.outcomes:
            row = table.setdefault(outcome.kind.value, dict.fromkeys(STATUSES, 0))
            row[outcome.status] += 1
        return table

    @property
    def failed(self) -> list[OpOutcome]:
        return [o for o in self.outcomes if o.status == FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def outcome(self, op_id: str) -> OpOutcome:
        return next(o for o in self.outcomes if o.op_id == op_id)

    @property
    def attempted(self) -> int:
        """Operations settled (done, now or in an earlier run, or failed): the N of "interrupted after N of M"."""
        return sum(not o.interrupted for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id, "store_hash": self.store_hash, "workbook": self.workbook,
            "counts": self.counts(), "counts_by_kind": self.counts_by_kind(),
            "conflicts": len(self.conflicts), "skipped_rows": len(self.skipped_rows), "unchanged": self.unchanged,
            "requests": self.requests, "writes": self.writes, "reconcile_reads": self.reconcile_reads,
            "backup_requests": self.backup_requests, "seconds": self.seconds, "resumed": self.resumed,
            "interrupted": self.interrupted, "attempted": self.attempted, "operations": len(self.outcomes),
            "backup_path": str(self.backup_path) if self.backup_path else None,
            "journal_path": str(self.journal_path) if self.journal_path else None,
            "metrics": self.metrics, "outcomes": [o.as_dict() for o in self.outcomes],
        }


def describe_error(exc: BaseException) -> str:
    """The store's answer as one readable line: status, title and every field message."""
    if isinstance(exc, BigCommerceError):
        text = f"{exc.status} {exc.title}" if exc.status is not None else exc.title
        if exc.errors:
            text += ": " + "; ".join(f"{name}: {message}" for name, message in exc.errors.items())
        return " ".join(text.split())
    return str(exc) or type(exc).__name__


# -- paths ------------------------------------------------------------------------------------------


def modifiers_path(product_id: int) -> str:
    return f"/catalog/products/{product_id}/modifiers"


def modifier_path(product_id: int, modifier_id: int) -> str:
    return f"{modifiers_path(product_id)}/{modifier_id}"


def values_path(product_id: int, modifier_id: int) -> str:
    return f"{modifier_path(product_id, modifier_id)}/values"


def value_path(product_id: int, modifier_id: int, value_id: int) -> str:
    return f"{values_path(product_id, modifier_id)}/{value_id}"


# -- ordering ---------------------------------------------------------------------------------------


def _changed(op: Operation, name: str) -> tuple[Any, Any] | None:
    change = next((c for c in op.changes if c.field == name), None)
    if change is not None and change.before != change.after:
        return change.before, change.after
    if name in op.payload and op.kind in (OpKind.UPDATE_MODIFIER, OpKind.UPDATE_VALUE):
        return None, op.payload[name]  # renamed, from an unknown name
    return None


def _slots(op: Operation) -> tuple[list[tuple], list[tuple]]:
    """The natural-key slots (display name on a product, label on a modifier) `op` frees and claims."""
    value_owner = op.modifier_id if op.modifier_id is not None else op.display_name
    frees: list[tuple] = []
    claims: list[tuple] = []
    if op.kind is OpKind.DELETE_MODIFIER:
        frees.append(("modifier", op.product_id, op.display_name))
    elif op.kind is OpKind.CREATE_MODIFIER:
        claims.append(("modifier", op.product_id, op.payload.get("display_name", op.display_name)))
    elif op.kind is OpKind.UPDATE_MODIFIER and (renamed := _changed(op, "display_name")):
        if renamed[0] is not None:
            frees.append(("modifier", op.product_id, renamed[0]))
        claims.append(("modifier", op.product_id, renamed[1]))
    elif op.kind is OpKind.DELETE_VALUE:
        frees.append(("value", op.product_id, value_owner, op.label))
    elif op.kind is OpKind.CREATE_VALUE:
        claims.append(("value", op.product_id, value_owner, op.payload.get("label", op.label)))
    elif op.kind is OpKind.UPDATE_VALUE and (relabelled := _changed(op, "label")):
        if relabelled[0] is not None:
            frees.append(("value", op.product_id, value_owner, relabelled[0]))
        claims.append(("value", op.product_id, value_owner, relabelled[1]))
    return frees, claims


def order_after(operations: list[Operation]) -> dict[str, list[str]]:
    """Implicit waits: an op claiming a name or label waits for the ops in the plan that free it.

    A delete always goes first; a rename only when it comes earlier in the plan (two renames that
    swap names cannot both go first, and the store will say so for whichever loses).
    """
    position = {op.op_id: i for i, op in enumerate(operations)}
    freed_by: dict[tuple, list[Operation]] = {}
    for op in operations:
        for slot in _slots(op)[0]:
            freed_by.setdefault(slot, []).append(op)
    after: dict[str, list[str]] = {}
    for op in operations:
        for slot in _slots(op)[1]:
            for freer in freed_by.get(slot, []):
                if freer.op_id == op.op_id:
                    continue
                if freer.kind in (OpKind.DELETE_MODIFIER, OpKind.DELETE_VALUE) or \
                        position[freer.op_id] < position[op.op_id]:
                    after.setdefault(op.op_id, []).append(freer.op_id)
    return after


def _cyclic(operations: list[Operation], edges: dict[str, list[str]]) -> set[str]:
    """Ops that can never start because their waits form a cycle (Kahn's algorithm)."""
    waiting = {op.op_id: set(edges.get(op.op_id, ())) for op in operations}
    ready = [op_id for op_id, deps in waiting.items() if not deps]
    dependants: dict[str, list[str]] = {}
    for op_id, deps in waiting.items():
        for dep in deps:
            dependants.setdefault(dep, []).append(op_id)
    while ready:
        done = ready.pop()
        for nxt in dependants.get(done, ()):
            waiting[nxt].discard(done)
            if not waiting[nxt]:
                ready.append(nxt)
    return {op_id for op_id, deps in waiting.items() if deps}


# -- the executor -----------------------------------------------------------------------------------


class _Run:
    def __init__(self, plan: Plan, client: BigCommerceClient, workbook_dir: Path, journal: Journal | None,
                 concurrency: int, progress: ProgressCallback | None,
                 image_transport: httpx.AsyncBaseTransport | None, stop: StopRequest | None = None) -> None:
        self.plan = plan
        self.client = client
        self.workbook_dir = Path(workbook_dir)
        self.journal = journal
        self.semaphore = asyncio.Semaphore(max(1, concurrency))
        self.progress = progress
        self.image_transport = image_transport
        self.stop = stop if stop is not None else StopRequest()
        self.ops = {op.op_id: op for op in plan.operations}
        self.outcomes: dict[str, OpOutcome] = {}
        self.finished = {op_id: asyncio.Event() for op_id in self.ops}
        self.modifier_ids: dict[tuple[int, str], int] = {}
        self.value_ids: dict[tuple[int, str], int] = {}
        self.modifier_types: dict[int, str] = {}
        self.writes = 0
        self.reconcile_reads = 0
        self.done_count = 0
        self.ambiguous = {op_id for op_id in self.ops if journal is not None and journal.ambiguous(op_id)}
        soft = order_after(plan.operations)
        hard = {op.op_id: [op.depends_on] for op in plan.operations if op.depends_on in self.ops}
        edges = {op_id: hard.get(op_id, []) + soft.get(op_id, []) for op_id in self.ops}
        stuck = _cyclic(plan.operations, edges)
        if stuck:  # drop the implicit waits of the ops involved; if plan dependencies loop, fail them
            edges = {op_id: hard.get(op_id, []) + ([] if op_id in stuck else soft.get(op_id, []))
                     for op_id in self.ops}
            stuck = _cyclic(plan.operations, edges)
            soft = {op_id: deps for op_id, deps in soft.items() if op_id not in stuck}
        self.soft = soft
        self.cycle = stuck

    # -- bookkeeping --------------------------------------------------------------------------------

    def _outcome(self, op: Operation, status: OpStatus, message: str = "", **fields: Any) -> OpOutcome:
        return OpOutcome(op.op_id, op.kind, status, op.product_id, op.display_name, op.label, op.source,
                         dict(op.value_rows), message=message, **fields)

    def _register_modifier(self, product_id: int, display_name: str, modifier: dict[str, Any]) -> dict[str, int]:
        modifier_id = int(modifier["id"])
        self.modifier_ids[(product_id, display_name)] = modifier_id
        if modifier.get("type"):
            self.modifier_types[modifier_id] = modifier["type"]
        values = {str(v["label"]): int(v["id"]) for v in modifier.get("option_values") or [] if "id" in v}
        for label, value_id in values.items():
            self.value_ids[(modifier_id, label)] = value_id
        return values

    def _restore(self, op: Operation, record: DoneRecord) -> OpOutcome:
        """An op done in an earlier run: its ids back in the registry, nothing sent."""
        modifier_id = record.modifier_id if record.modifier_id is not None else op.modifier_id
        if modifier_id is not None and op.kind in (OpKind.CREATE_MODIFIER, OpKind.UPDATE_MODIFIER):
            self.modifier_ids[(op.product_id, op.payload.get("display_name", op.display_name))] = modifier_id
        if modifier_id is not None:
            for label, value_id in record.values.items():
                self.value_ids[(modifier_id, label)] = value_id
            if record.value_id is not None and op.label is not None:
                self.value_ids[(modifier_id, op.payload.get("label", op.label))] = record.value_id
        return self._outcome(op, OK, "done in an earlier run", from_journal=True, modifier_id=modifier_id,
                             value_id=record.value_id if record.value_id is not None else op.value_id,
                             value_ids=dict(record.values))

    def _interrupted(self, op: Operation) -> OpOutcome:
        return self._outcome(op, SKIPPED, INTERRUPTED_MESSAGE, interrupted=True)

    def _tick(self) -> None:
        self.done_count += 1
        if self.progress is not None:
            self.progress(self.done_count, len(self.ops))

    # -- running ------------------------------------------------------------------------------------

    async def run(self) -> list[OpOutcome]:
        tasks = [asyncio.ensure_future(self._run_op(op)) for op in self.plan.operations]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        return [self.outcomes[op.op_id] for op in self.plan.operations]

    async def _run_op(self, op: Operation) -> None:
        try:
            self.outcomes[op.op_id] = await self._settle(op)
        finally:
            self.finished[op.op_id].set()
            self._tick()

    async def _settle(self, op: Operation) -> OpOutcome:
        if self.journal is not None and op.op_id in self.journal.done:
            return self._restore(op, self.journal.done[op.op_id])
        if self.stop:
            return self._interrupted(op)
        if op.op_id in self.cycle:
            return self._outcome(op, FAILED, "not attempted: its dependencies form a cycle in the plan")
        if op.depends_on is not None:
            if op.depends_on not in self.ops:
                return self._outcome(op, FAILED, f"not attempted: depends on {op.depends_on}, which is not in the plan")
            await self.finished[op.depends_on].wait()
            if self.stop:
                return self._interrupted(op)
            before = self.outcomes[op.depends_on]
            if before.status != OK:
                return self._outcome(op, FAILED, f"not attempted: depends on failed {before.describe()}"
                                     + (f" ({before.source.sheet} row {before.source.row})" if before.source else ""))
        for op_id in self.soft.get(op.op_id, ()):
            await self.finished[op_id].wait()
        async with self.semaphore:
            if self.stop:  # checked once a slot is free: the writes in flight finish, no new one starts
                return self._interrupted(op)
            try:
                outcome = await self._execute(op)
            except (OperationFailed, ImageError) as exc:
                outcome = self._outcome(op, FAILED, str(exc))
            except BigCommerceError as exc:
                outcome = self._outcome(op, FAILED, describe_error(exc))
            except (KeyError, TypeError, ValueError) as exc:  # an answer of an unexpected shape
                outcome = self._outcome(op, FAILED, f"unexpected answer from the store ({type(exc).__name__}: {exc})")
            if self.journal is not None:
                if outcome.status == OK:
                    await self.journal.mark_done(op.op_id, modifier_id=outcome.modifier_id, value_id=outcome.value_id,
                                                 values=outcome.value_ids, note=outcome.message)
                elif op.op_id in self.journal.started:
                    await self.journal.mark_failed(op.op_id, outcome.message)
            return outcome

    async def _started(self, op: Operation) -> None:
        """Just before the op's first write: durable in the journal, so a kill leaves a trace."""
        if self.journal is not None and op.op_id not in self.journal.started:
            await self.journal.mark_started(op.op_id)

    async def _write(self, method: str, path: str, **kwargs: Any) -> Any:
        self.writes += 1
        if method == "POST" and "files" in kwargs:
            response = await self.client.request("POST", path, files=kwargs["files"], idempotent=True)
            return response.json() if response.content else {}
        if method == "POST":
            return await self.client.post_json(path, kwargs["json"])
        if method == "PUT":
            return await self.client.put_json(path, kwargs["json"])
        await self.client.delete(path, missing_ok=True)
        return None

    async def _write_existing(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """A write to an object the plan says exists; a 404 means it was deleted since planning."""
        try:
            return await self._write(method, path, **kwargs)
        except NotFoundError:
            raise OperationFailed(f"{what} no longer exists in the store (deleted since the plan was made)") from None

    # -- resolving targets --------------------------------------------------------------------------

    async def _read_modifiers(self, product_id: int) -> list[dict[str, Any]]:
        self.reconcile_reads += 1
        return await self.client.get_all(modifiers_path(product_id))

    async def _read_values(self, product_id: int, modifier_id: int) -> list[dict[str, Any]]:
        self.reconcile_reads += 1
        return await self.client.get_all(values_path(product_id, modifier_id))

    async def _find_modifier(self, product_id: int, display_name: str) -> dict[str, Any] | None:
        matches = [m for m in await self._read_modifiers(product_id) if m.get("display_name") == display_name]
        return max(matches, key=lambda m: int(m["id"])) if matches else None

    async def _find_value(self, product_id: int, modifier_id: int, label: str) -> dict[str, Any] | None:
        return next((v for v in await self._read_values(product_id, modifier_id) if v.get("label") == label), None)

    def _dependency(self, op: Operation) -> OpOutcome | None:
        return self.outcomes.get(op.depends_on) if op.depends_on else None

    async def _modifier_id(self, op: Operation) -> int:
        if op.modifier_id is not None:
            return int(op.modifier_id)
        before = self._dependency(op)
        if before is not None and before.modifier_id is not None:
            return before.modifier_id
        known = self.modifier_ids.get((op.product_id, op.display_name))
        if known is not None:
            return known
        found = await self._find_modifier(op.product_id, op.display_name)
        if found is None:
            raise OperationFailed(f"no modifier named {op.display_name!r} on product {op.product_id} "
                                  "(it was not created, or was deleted since the plan was made)")
        self._register_modifier(op.product_id, op.display_name, found)
        return int(found["id"])

    async def _value_id(self, op: Operation, modifier_id: int) -> int:
        if op.value_id is not None:
            return int(op.value_id)
        label = op.label
        if label is None:
            raise OperationFailed("the operation names neither a value id nor a label")
        before = self._dependency(op)
        if before is not None and before.modifier_id == modifier_id:
            if before.kind is OpKind.CREATE_VALUE and before.value_id is not None and before.label == label:
                return before.value_id
            if label in before.value_ids:
                return before.value_ids[label]
        known = self.value_ids.get((modifier_id, label))
        if known is not None:
            return known
        found = await self._find_value(op.product_id, modifier_id, label)
        if found is None:
            raise OperationFailed(f"no value labelled {label!r} on modifier {op.display_name!r} "
                                  f"(id {modifier_id}) of product {op.product_id}")
        self.value_ids[(modifier_id, label)] = int(found["id"])
        return int(found["id"])

    # -- one operation ------------------------------------------------------------------------------

    async def _execute(self, op: Operation) -> OpOutcome:
        handler = {
            OpKind.CREATE_MODIFIER: self._create_modifier,
            OpKind.UPDATE_MODIFIER: self._update_modifier,
            OpKind.DELETE_MODIFIER: self._delete_modifier,
            OpKind.CREATE_VALUE: self._create_value,
            OpKind.UPDATE_VALUE: self._update_value,
            OpKind.DELETE_VALUE: self._delete_value,
            OpKind.UPLOAD_IMAGE: self._upload_image,
        }[op.kind]
        return await handler(op)

    async def _create(self, op: Operation, path: str, payload: dict[str, Any],
                      find: Callable[[], Any]) -> tuple[dict[str, Any], bool]:
        """POST a create, matching it by natural key when its outcome is (or was) unknown."""
        if op.op_id in self.ambiguous:  # an earlier run may have created it
            found = await find()
            if found is not None:
                return found, True
        await self._started(op)
        for _ in range(MAX_AMBIGUOUS_ROUNDS):
            try:
                created = await self._write("POST", path, json=payload)
            except AmbiguousWriteError:
                found = await find()
                if found is not None:
                    return found, True
                continue
            if not isinstance(created, Mapping) or created.get("id") is None:
                # BigCommerce documents `data` as an object, `{items: [obj]}` or `[obj]`; anything else
                # leaves the new id unknown, so it is found by natural key like an ambiguous write
                found = await find()
                if found is None:
                    raise OperationFailed("the store's answer to the create named no id, and the new entity "
                                          "cannot be found by its natural key")
                return found, True
            return created, False
        raise OperationFailed(f"the store kept failing while creating it ({MAX_AMBIGUOUS_ROUNDS} attempts, "
                              "none of which left it in the store); try again later")

    async def _create_modifier(self, op: Operation) -> OpOutcome:
        payload = dict(op.payload)
        payload.setdefault("display_name", op.display_name)
        payload.setdefault("type", op.modifier_type)
        name = payload["display_name"]
        spec = MODIFIER_TYPES.get(payload["type"])
        if spec is not None and spec.generated_values:
            payload.pop("option_values", None)  # the store makes Yes/No; adjusters come in a second step
        modifier, reconciled = await self._create(
            op, modifiers_path(op.product_id), payload, lambda: self._find_modifier(op.product_id, name))
        if reconciled and modifier.get("type") not in (None, payload["type"]):
            raise OperationFailed(f"product {op.product_id} already has a modifier named {name!r} of type "
                                  f"{modifier.get('type')}, not {payload['type']}")
        values = self._register_modifier(op.product_id, name, modifier)
        return self._outcome(op, OK, "matched by display name" if reconciled else "", reconciled=reconciled,
                             modifier_id=int(modifier["id"]), value_ids=values)

    async def _create_value(self, op: Operation) -> OpOutcome:
        modifier_id = await self._modifier_id(op)
        payload = dict(op.payload)
        if op.label is not None:
            payload.setdefault("label", op.label)
        label = payload.get("label")
        value, reconciled = await self._create(
            op, values_path(op.product_id, modifier_id), payload,
            lambda: self._find_value(op.product_id, modifier_id, label))
        value_id = int(value["id"])
        self.value_ids[(modifier_id, label)] = value_id
        return self._outcome(op, OK, "matched by label" if reconciled else "", reconciled=reconciled,
                             modifier_id=modifier_id, value_id=value_id, value_ids={label: value_id})

    async def _update_modifier(self, op: Operation) -> OpOutcome:
        modifier_id = await self._modifier_id(op)
        await self._started(op)
        updated = await self._write_existing("PUT", modifier_path(op.product_id, modifier_id),
                                             f"modifier {modifier_id} of product {op.product_id}", json=op.payload)
        values = self._register_modifier(op.product_id, op.payload.get("display_name", op.display_name),
                                         {"option_values": [], **(updated or {}), "id": modifier_id})
        return self._outcome(op, OK, modifier_id=modifier_id, value_ids=values if op.payload.get("option_values")
                             else {})

    async def _update_value(self, op: Operation) -> OpOutcome:
        modifier_id = await self._modifier_id(op)
        value_id = await self._value_id(op, modifier_id)
        await self._started(op)
        await self._write_existing("PUT", value_path(op.product_id, modifier_id, value_id),
                                   f"value {value_id} of modifier {modifier_id} (product {op.product_id})",
                                   json=op.payload)
        if "label" in op.payload:
            self.value_ids[(modifier_id, op.payload["label"])] = value_id
        return self._outcome(op, OK, modifier_id=modifier_id, value_id=value_id)

    async def _delete_modifier(self, op: Operation) -> OpOutcome:
        modifier_id = await self._modifier_id(op)
        await self._started(op)
        await self._write("DELETE", modifier_path(op.product_id, modifier_id))
        self.modifier_ids.pop((op.product_id, op.display_name), None)
        return self._outcome(op, OK, modifier_id=modifier_id)

    async def _delete_value(self, op: Operation) -> OpOutcome:
        modifier_id = await self._modifier_id(op)
        value_id = await self._value_id(op, modifier_id)
        await self._started(op)
        await self._write("DELETE", value_path(op.product_id, modifier_id, value_id))
        return self._outcome(op, OK, modifier_id=modifier_id, value_id=value_id)

    async def _upload_image(self, op: Operation) -> OpOutcome:
        image = await load_image(op.image or "", self.workbook_dir, op.source, transport=self.image_transport,
                                 policy=ImagePolicy.for_stores(self.client.base_url),
                                 workbook=self.plan.workbook or None)
        modifier_id = await self._modifier_id(op)
        value_id = await self._value_id(op, modifier_id)
        await self._started(op)
        answer = await self._write_existing("POST", value_path(op.product_id, modifier_id, value_id) + "/image",
                                            f"value {value_id} of modifier {modifier_id} (product {op.product_id})",
                                            files=image.as_files())
        if self.journal is not None:
            data = answer.get("data") if isinstance(answer, Mapping) else None
            image_url = data.get("image_url") if isinstance(data, Mapping) else None
            await self.journal.mark_uploaded(value_id, (op.image or "").strip(),
                                             digest=hashlib.sha256(image.data).hexdigest(),
                                             image_url=image_url if isinstance(image_url, str) else None)
        return self._outcome(op, OK, modifier_id=modifier_id, value_id=value_id)


async def apply_plan(
    plan: Plan,
    client: BigCommerceClient,
    *,
    workbook_dir: Path,
    journal: Journal | None,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
    backup: bool = True,
    backup_progress: ProgressCallback | None = None,
    image_transport: httpx.AsyncBaseTransport | None = None,
    stop: StopRequest | None = None,
    request: Mapping[str, Any] | None = None,
    backup_folder: Path | None = None,
    replay_complete: bool = True,
) -> ApplyResult:
    """Apply `plan` with `client` (inside its `async with`); see the module docstring for the rules.

    `journal` (opened here for `plan.plan_id` unless already open) makes the run resumable; None
    runs without one. With `backup`, every touched product is exported to `<workbook_dir>/backups`
    before the first write (once per plan: a resumed run keeps the first backup). `progress`
    hears (operations settled, total). Returns every operation's outcome; never raises for a
    failing operation (only `BackupError` when the backup cannot be taken, before any write).
    `backup_progress` hears (pages read, pages) of the backup; `backup_folder` puts it elsewhere
    than `<workbook_dir>/backups` (a restore keeps its backup beside the one it restores).

    `stop` (set by Ctrl-C, `pipeline.apply.interrupt`): no new operation starts once it is set,
    and the result is `interrupted` (the journal then has no `complete`, and the same command
    resumes). `request`: what produced the plan, recorded with it in the journal on its first run
    (see `Journal.interrupted_plan`). `replay_complete=False` for a plan just made against the
    store: a finished journal of an equal plan is then set aside, not replayed (`Journal.open`).
    """
    started = time.perf_counter()
    if journal is not None and journal.plan_id != plan.plan_id:
        journal.open(plan.plan_id, plan=plan, request=request, replay_complete=replay_complete)
    result = ApplyResult(plan.plan_id, plan.store_hash, plan.workbook, conflicts=list(plan.conflicts),
                         skipped_rows=list(plan.skipped), unchanged=plan.unchanged,
                         journal_path=journal.path if journal else None,
                         resumed=bool(journal and journal.resuming))
    pending = [op for op in plan.operations if journal is None or op.op_id not in journal.done]
    if journal is not None and journal.backup:  # the backup of record: taken before the first run's writes
        result.backup_path = Path(journal.backup)
    if backup and pending and result.backup_path is None and not stop:
        before = client.metrics.requests_sent
        result.backup_path = await backup_products(plan, client, workbook_dir=workbook_dir, folder=backup_folder,
                                                   concurrency=concurrency, progress=backup_progress)
        result.backup_requests = client.metrics.requests_sent - before
        if journal is not None:
            await journal.mark_backup(result.backup_path)
    metrics_before = client.metrics.as_dict()
    run = _Run(plan, client, workbook_dir, journal, concurrency, progress, image_transport, stop)
    result.outcomes = await run.run()
    result.interrupted = any(o.interrupted for o in result.outcomes)
    metrics_after = client.metrics.as_dict()
    result.metrics = {key: round(metrics_after[key] - metrics_before[key], 3) for key in metrics_after}
    result.requests = int(result.metrics["requests_sent"])
    result.writes = run.writes
    result.reconcile_reads = run.reconcile_reads
    result.seconds = round(time.perf_counter() - started, 3)
    if journal is not None and not result.interrupted:
        await journal.mark_complete({"counts": result.counts()})
    return result
