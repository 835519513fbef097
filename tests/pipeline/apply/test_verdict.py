"""How an apply ended: its exit code and title from the outcomes, the conflicts and the rows the plan skipped,
each row counted once and rows the store only kept never counted against the run."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from pipeline.apply.executor import FAILED, OK, ApplyResult, OpOutcome
from pipeline.apply.results import render_summary, row_results, verdict
from pipeline.exit_codes import ExitCode
from pipeline.plan.operations import Conflict, OpKind, RowRef, SkipKind, Skipped

VALUES = "Choice values"


def outcome(row: int, status: str = OK, kind: OpKind = OpKind.UPDATE_VALUE, **fields) -> OpOutcome:
    return OpOutcome(f"op-{row}-{kind.value}", kind, status, 1, "Size", "Small", RowRef(VALUES, row), **fields)


def result(outcomes=(), conflicts=(), skipped=()) -> ApplyResult:
    return ApplyResult("plan", "store", "edits.xlsx", list(outcomes), list(conflicts), list(skipped))


def conflict(row: int) -> Conflict:
    return Conflict(RowRef(VALUES, row), "value", row, "changed in both", ["label"])


def test_kept_rows_and_rows_following_their_modifier_do_not_count() -> None:
    judged = verdict(result([outcome(2)], skipped=[Skipped(RowRef(VALUES, 3), "kept", SkipKind.KEPT),
                                                   Skipped(RowRef(VALUES, 4), "follows", SkipKind.WITH_MODIFIER)]))
    assert judged.code is ExitCode.OK and judged.title == "Apply succeeded: every edited row is in the store"
    rows = row_results(result(skipped=[Skipped(RowRef(VALUES, 3), "the store's", SkipKind.KEPT)]))
    assert rows[RowRef(VALUES, 3)].text == "kept: the store's"


def test_conflicts_and_refusals_give_3_and_each_row_counts_once() -> None:
    judged = verdict(result([outcome(2)], conflicts=[conflict(5)],
                            skipped=[Skipped(RowRef(VALUES, 5), "also refused"),  # REFUSED by default
                                     Skipped(RowRef(VALUES, 6), "refused", SkipKind.REFUSED),
                                     Skipped(RowRef(VALUES, 6), "twice", SkipKind.REFUSED)]))
    assert judged.code is ExitCode.NOT_APPLIED
    assert judged.not_applied.as_dict() == {"total": 2, "failed": 0, "conflicts": 1, "refused": 1}
    assert judged.title == ("2 rows not applied (1 in conflict with the store's changes, 1 refused); every other "
                            "edited row is in the store")
    nothing = verdict(result(conflicts=[conflict(5)]))
    assert nothing.title == "1 row not applied (1 in conflict with the store's changes); nothing was sent"


def test_a_forced_conflict_counts_as_applied() -> None:
    forced = result([outcome(5)], conflicts=[conflict(5)])
    assert verdict(forced).code is ExitCode.OK
    assert row_results(forced)[RowRef(VALUES, 5)].text == "ok (conflict overridden with --force)"


def test_failures_give_1_and_name_the_rows_left_out_for_other_reasons() -> None:
    create = OpOutcome("create", OpKind.CREATE_MODIFIER, FAILED, 1, "Box", source=RowRef("Choice modifiers", 4),
                       value_rows={"Plain": RowRef(VALUES, 8), "Luxury": RowRef(VALUES, 9)}, message="500")
    judged = verdict(result([outcome(2), create], conflicts=[conflict(8), conflict(5)]))
    assert judged.code is ExitCode.PROBLEMS
    # the modifier row and its two value rows failed; row 8's conflict is a failure already
    assert judged.not_applied.as_dict() == {"total": 4, "failed": 3, "conflicts": 1, "refused": 0}
    assert judged.title == "Apply failed for 3 rows; 1 more row not applied (1 in conflict with the store's changes)"
    pruned = OpOutcome("prune", OpKind.DELETE_VALUE, FAILED, 1, "Size", "Old", message="500")
    assert verdict(result([pruned])).title == \
        "Apply failed for 1 operation(s) on rows no longer in the file (--prune)"
    out = StringIO()
    render_summary(result([outcome(2)], conflicts=[conflict(5)]), Console(file=out, width=200))
    assert out.getvalue().rstrip().splitlines()[-1] == (
        "1 row not applied (1 in conflict with the store's changes); every other edited row is in the store (each "
        "row's reason is in the results file)")
