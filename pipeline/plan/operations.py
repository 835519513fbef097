"""What a plan is made of: operations against the store, conflicts, and the plan itself.

A plan is data, not code: it can be printed, saved as JSON, read back and applied later, and an
interrupted apply can tell from it (and its journal) what is left. Every operation names its
target twice, by id when the store has one and by natural key (product + display name for a
modifier, modifier + label for a value), so an apply can match a create that may already have
happened instead of creating it twice.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

PLAN_FORMAT = 2  # 2: skipped rows carry their `kind`


class OpKind(str, Enum):
    CREATE_MODIFIER = "create_modifier"
    UPDATE_MODIFIER = "update_modifier"
    DELETE_MODIFIER = "delete_modifier"
    CREATE_VALUE = "create_value"
    UPDATE_VALUE = "update_value"
    DELETE_VALUE = "delete_value"
    UPLOAD_IMAGE = "upload_image"


@dataclass(frozen=True)
class RowRef:
    """A row of the edited workbook: sheet name and Excel row number (header = row 1)."""

    sheet: str
    row: int


@dataclass
class Change:
    """One field that an update or create sets; `before` is None for a create."""

    field: str
    before: Any
    after: Any


@dataclass
class Operation:
    """One request to the store (checkbox creation is two: its create and its value updates).

    `modifier_id`/`value_id` are None while the target does not exist yet; `depends_on` then names
    the create operation whose result supplies the id, found again by natural key
    (`product_id` + `display_name`, then `label`).
    `payload` is the JSON body (for an update, only the changed fields); for an image upload,
    `image` is a path relative to the workbook's folder, or an http(s) URL.
    `value_rows` maps labels of values created inline with a new modifier to their sheet rows,
    so results can be written back to each row.
    """

    op_id: str
    kind: OpKind
    product_id: int
    display_name: str
    modifier_type: str
    modifier_id: int | None = None
    value_id: int | None = None
    label: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    depends_on: str | None = None
    source: RowRef | None = None
    value_rows: dict[str, RowRef] = field(default_factory=dict)
    image: str | None = None


@dataclass
class Conflict:
    """A row both the person and the store changed since the export; skipped unless forced."""

    source: RowRef
    kind: str  # "modifier" | "value"
    entity_id: int | None
    message: str
    fields: list[str] = field(default_factory=list)


class SkipKind(StrEnum):
    """Why a row is left alone, as far as the person's edit is concerned (this decides the exit code,
    never the wording of `reason`)."""

    KEPT = "kept"  # nothing of the person's is lost: the store's own change is kept, or nothing is left to do
    REFUSED = "refused"  # the person's edit will not happen (the reason says why and what to do)
    WITH_MODIFIER = "with_modifier"  # a value row left alone because its modifier row was; that row says why


@dataclass
class Skipped:
    """A row left alone on purpose, with the reason (e.g. the store changed it and you did not).

    `kind` defaults to REFUSED so that a skip nobody classified never passes for a success."""

    source: RowRef
    reason: str
    kind: SkipKind = SkipKind.REFUSED


@dataclass
class Plan:
    store_hash: str
    api_url: str
    workbook: str
    created_at: str
    operations: list[Operation] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unchanged: int = 0
    blanked: list[tuple[RowRef, str]] = field(default_factory=list)  # fields the plan would empty
    product_ids: list[int] = field(default_factory=list)  # every product the plan touches
    forced: bool = False
    pruned: bool = False

    def counts(self) -> dict[str, int]:
        counted = Counter(op.kind.value for op in self.operations)
        return {kind.value: counted.get(kind.value, 0) for kind in OpKind}

    @property
    def plan_id(self) -> str:
        """Identifies the exact set of operations, so a journal is only replayed for its own plan."""
        digest = hashlib.blake2b(digest_size=8)
        for op in self.operations:
            digest.update(json.dumps([op.op_id, op.payload], sort_keys=True, default=str).encode())
        return digest.hexdigest()

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = PLAN_FORMAT
        data["plan_id"] = self.plan_id
        return json.dumps(data, indent=1, default=str, ensure_ascii=False)

    def save(self, path: Path) -> Path:
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        if not isinstance(data, dict) or "format" not in data or "operations" not in data:
            raise ValueError("not a bcmod plan file")
        found = data.pop("format")
        if found != PLAN_FORMAT:
            raise ValueError(f"this plan was saved by another version of bcmod (plan format {found}; this version "
                             f"reads format {PLAN_FORMAT}): plan the workbook again with `bcmod plan --out`")
        data.pop("plan_id", None)

        def ref(item: dict[str, Any] | None) -> RowRef | None:
            return RowRef(**item) if item else None

        operations = []
        for op in data.pop("operations"):
            op["kind"] = OpKind(op["kind"])
            op["changes"] = [Change(**c) for c in op["changes"]]
            op["source"] = ref(op["source"])
            op["value_rows"] = {k: RowRef(**v) for k, v in op["value_rows"].items()}
            operations.append(Operation(**op))
        conflicts = [Conflict(**{**c, "source": RowRef(**c["source"])}) for c in data.pop("conflicts")]
        skipped = [Skipped(RowRef(**s["source"]), s["reason"], SkipKind(s["kind"])) for s in data.pop("skipped")]
        blanked = [(RowRef(**r), f) for r, f in data.pop("blanked")]
        return cls(**data, operations=operations, conflicts=conflicts, skipped=skipped, blanked=blanked)

    @classmethod
    def load(cls, path: Path) -> Plan:
        return cls.from_json(path.read_text(encoding="utf-8"))


def op_id(kind: OpKind, product_id: int, display_name: str, label: str | None = None) -> str:
    """A stable id from the natural key, the same on every planning of the same workbook."""
    key = json.dumps([kind.value, product_id, display_name, label], ensure_ascii=False)
    return f"{kind.value}:{hashlib.blake2b(key.encode(), digest_size=6).hexdigest()}"
