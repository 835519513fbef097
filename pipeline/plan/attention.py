"""What in a plan needs the person's attention, and what may be counted and set aside.

A plan's `skipped` list mixes rows the person has nothing to do about (`SkipKind.KEPT`: the store
changed a row they did not edit, or there is nothing left to do; `WITH_MODIFIER`: a value row that
follows its modifier row) with refusals (`SkipKind.REFUSED`: an edit that will not happen). Only
refusals and conflicts that are not overridden by `--force` leave edited rows out of the store;
they decide the exit code (3), from the kinds, never from the wording of a reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pipeline.exit_codes import ExitCode
from pipeline.plan.operations import Conflict, Plan, RowRef, SkipKind, Skipped


def refused(plan: Plan) -> list[Skipped]:
    """The rows whose edit the plan will not carry out."""
    return [s for s in plan.skipped if s.kind is SkipKind.REFUSED]


def left_alone(plan: Plan) -> list[Skipped]:
    """The rows set aside with nothing of the person's lost (kept, or following their modifier row)."""
    return [s for s in plan.skipped if s.kind is not SkipKind.REFUSED]


def blocking_conflicts(plan: Plan) -> list[Conflict]:
    """The conflicts whose rows are not applied: all of them, unless the plan was made with --force."""
    return [] if plan.forced else list(plan.conflicts)


@dataclass(frozen=True)
class NotApplied:
    """Edited rows left out of the store, by why: each row counted once (a conflict before a refusal)."""

    conflicts: int = 0
    refused: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.conflicts + self.refused + self.failed

    def parts(self, *, failed: bool = True) -> list[str]:
        """`['2 in conflict with the store's changes', '1 refused']`, leaving out the zeros (and the
        failed rows unless `failed`)."""
        out = []
        if self.failed and failed:
            out.append(f"{self.failed} failed")
        if self.conflicts:
            out.append(f"{self.conflicts} in conflict with the store's changes")
        if self.refused:
            out.append(f"{self.refused} refused")
        return out

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, "failed": self.failed, "conflicts": self.conflicts, "refused": self.refused}


def count_not_applied(conflicts: list[Conflict], refusals: list[Skipped],
                      failed: set[RowRef] | None = None) -> NotApplied:
    """Rows counted once each: a failed row is only failed, a conflicting row only in conflict."""
    failed = failed or set()
    in_conflict = {c.source for c in conflicts} - failed
    refused_rows = {s.source for s in refusals} - failed - in_conflict
    return NotApplied(conflicts=len(in_conflict), refused=len(refused_rows), failed=len(failed))


def plan_not_applied(plan: Plan) -> NotApplied:
    """The edited rows this plan would leave out of the store."""
    return count_not_applied(blocking_conflicts(plan), refused(plan))


def plan_exit_code(plan: Plan) -> ExitCode:
    """`bcmod plan`'s code: 3 when applying the plan would leave edited rows out, else 0."""
    return ExitCode.NOT_APPLIED if plan_not_applied(plan).total else ExitCode.OK


def nothing_edited(plan: Plan) -> bool:
    """True when the person edited nothing the store does not already have: no operation, no conflict,
    no refusal (rows the store changed on its own may be kept)."""
    return not plan.operations and not plan.conflicts and not refused(plan)


def reason_counts(skipped: list[Skipped]) -> list[tuple[SkipKind, str, int]]:
    """(kind, reason, rows) for each distinct reason, most rows first, then in order of appearance."""
    counted = Counter((s.kind, s.reason) for s in skipped)
    return [(kind, reason, n) for (kind, reason), n in sorted(counted.items(), key=lambda item: -item[1])]
