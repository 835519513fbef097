"""`bcmod plan` and `bcmod apply`: preview, then carry out, what an edited workbook changes.

Both validate first and send nothing when the file has problems. `plan` only reads (the current
state of the products the file touches). `apply` shows the same plan, asks for confirmation
unless `--yes`, backs the touched products up, applies with a journal, writes a results workbook
and prints the command that undoes it (`bcmod restore <backup>`).

A re-run of the same command after a kill, a crash or Ctrl-C continues the interrupted run's plan
from its journal (the workbook unchanged, the same flags and store), keeps the first run's backup
as the backup of record, and its results report every row across both runs. Ctrl-C stops after
the writes in flight, writes the results so far and exits 130 (a second Ctrl-C stops at once).

Exit codes (`pipeline.exit_codes`): 0 every edited row is in the store (for `plan`: would be);
1 problems in the file, an unreachable store, or failed rows; 2 usage; 3 the run finished but
edited rows were not applied: conflicts with the store's changes (not forced) or rows the plan
refuses (for `plan`: the plan has such rows, and is still printed and saved); 4 cancelled at
the prompt; 5 (`apply`) another run holds the workbook's journal, or the embedded sandbox store:
nothing was planned or sent; 130 interrupted (the same command resumes). Rows the plan only
keeps as the store has them (you did not edit them) do not count.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from pipeline.apply import ApplyResult, BackupError, Journal, apply_plan, render_summary, write_results
from pipeline.apply.lock import LockHeld, ProcessLock, workbook_lock
from pipeline.apply.interrupt import StopRequest, stop_on_signals
from pipeline.apply.journal import run_request
from pipeline.apply.results import verdict
from pipeline.cli.render import StageBars, stage_bars
from pipeline.cli.validate_cmd import show_outcome
from pipeline.client import BigCommerceClient, BigCommerceError
from pipeline.connection import DEFAULT_SANDBOX_DIR, StoreConnection, open_store
from pipeline.extract import ProgressCallback
from pipeline.exit_codes import ExitCode
from pipeline.plan.attention import nothing_edited, plan_exit_code, plan_not_applied
from pipeline.plan.build import PlanRefused, plan_workbook
from pipeline.plan.diff import OwnUpload
from pipeline.plan.operations import Plan
from pipeline.plan.render import plan_summary, render_plan
from pipeline.validate.command import accepting_excel_changes

EXIT_OK, EXIT_PROBLEMS, EXIT_NOT_APPLIED, EXIT_CANCELLED = (ExitCode.OK, ExitCode.PROBLEMS, ExitCode.NOT_APPLIED,
                                                            ExitCode.CANCELLED)
EXIT_LOCKED = ExitCode.LOCKED
console = Console()
err_console = Console(stderr=True)

PRUNE = typer.Option(False, "--prune", help="Also delete modifiers and values of the file's products that are "
                     "no longer in the file.")
FORCE = typer.Option(False, "--force", help="Apply your rows even where the store changed them since the export.")
SANDBOX = typer.Option(DEFAULT_SANDBOX_DIR, "--sandbox-dir", show_default=False,
                       help="Folder of the embedded sandbox store, used when no store is configured (default: "
                       "$BCMOD_SANDBOX_DIR, else bcmod/sandbox in your data folder, e.g. ~/.local/share).")
ACCEPT_EXCEL = typer.Option(False, "--accept-excel-changes", help="Send cells a spreadsheet program rewrote "
                            "(0017 -> 17, 1/2 -> a date, 22E1 -> 220) as they are now, instead of refusing them.")
VERBOSE = typer.Option(False, "--verbose", "-v", help="List every row left alone, refused or in conflict, not only "
                       "the counts by reason.")


async def _plan(file: Path, store: StoreConnection, *, prune: bool, force: bool,
                progress: ProgressCallback | None = None, uploaded: Mapping[int, OwnUpload] | None = None) -> Plan:
    async with BigCommerceClient(store.settings) as client:
        plan, _ = await plan_workbook(file, client, prune=prune, force=force, expected_store_hash=store.store_hash,
                                      progress=progress, uploaded=uploaded)
        return plan


def make_plan(file: Path, store: StoreConnection, *, prune: bool, force: bool, as_json: bool,
              verb: str = "Not planned", accept_excel_changes: bool = False) -> Plan:
    """Validate and plan, or print the file's problems and exit 1. The images earlier applies of this
    file uploaded (its journal knows) are told apart from images someone else set since the export."""
    uploaded = Journal.for_workbook(file).own_uploads(file.parent)
    try:
        with stage_bars(console, disable=as_json) as stages:
            stages.begin(f"checking {file.name}")
            with accepting_excel_changes(accept_excel_changes):
                return asyncio.run(_plan(file, store, prune=prune, force=force,
                                         progress=stages.bar("reading the store"), uploaded=uploaded))
    except PlanRefused as refused:
        show_outcome(file, refused.outcome, as_json=as_json, annotated=None)
        if not as_json:
            console.print(f"[red]{verb}:[/red] fix the problems above first. Nothing was sent to the store.")
        raise typer.Exit(EXIT_PROBLEMS) from None


def plan(
    file: Path = typer.Argument(..., help="The edited .xlsx workbook, or the folder or zip of CSV files."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan summary as JSON."),
    out: Path | None = typer.Option(None, "--out", help="Save the plan as JSON, to apply later."),
    prune: bool = PRUNE,
    force: bool = FORCE,
    verbose: bool = VERBOSE,
    sandbox_dir: Path | None = SANDBOX,
    accept_excel_changes: bool = ACCEPT_EXCEL,
) -> None:
    """Show what applying the edited file would change in the store; sends no writes.

    Exits 3 when applying it would leave edited rows out (conflicts, refusals), else 0."""
    try:
        with open_store(sandbox_dir=sandbox_dir) as store:
            if not as_json:  # the JSON names it in its `store` field
                typer.echo(store.description, err=True)
            result = make_plan(file, store, prune=prune, force=force, as_json=as_json,
                               accept_excel_changes=accept_excel_changes)
    except BigCommerceError as exc:
        err_console.print(f"[red]plan failed:[/red] {exc}")
        raise typer.Exit(EXIT_PROBLEMS) from None
    if out is not None:
        result.save(out)
    if as_json:
        typer.echo(json.dumps({**plan_summary(result), "saved_to": str(out) if out else None,
                               "store": store.as_dict()}, indent=2, default=str))
    else:
        render_plan(result, console, verbose=verbose)
        if out is not None:
            console.print(f"Plan saved to [bold]{out}[/bold]; apply it with `bcmod apply {out}`.", highlight=False)
    raise typer.Exit(plan_exit_code(result))


async def _apply(result_plan: Plan, store: StoreConnection, *, workbook_dir: Path, journal: Journal,
                 concurrency: int, stages: StageBars, stop: StopRequest, request: Mapping[str, Any] | None,
                 backup_folder: Path | None, replay_complete: bool) -> ApplyResult:
    def stopping(signal_name: str) -> None:
        err_console.print(f"[yellow]{signal_name}: stopping after the writes in flight[/yellow] (again to stop at "
                          "once); the results so far will be written", highlight=False)

    with stop_on_signals(stop, on_first=stopping):
        async with BigCommerceClient(store.settings) as client:
            return await apply_plan(result_plan, client, workbook_dir=workbook_dir, journal=journal,
                                    concurrency=concurrency, backup_progress=stages.bar("backup"),
                                    progress=stages.bar("operations"), stop=stop, request=request,
                                    backup_folder=backup_folder, replay_complete=replay_complete)


def run_plan(the_plan: Plan, store: StoreConnection, *, workbook_dir: Path, journal: Journal, concurrency: int,
             as_json: bool, request: Mapping[str, Any] | None = None,
             backup_folder: Path | None = None, replay_complete: bool = True) -> ApplyResult:
    """Back up, then apply `the_plan` with its journal, showing progress. Ctrl-C stops it cleanly (the
    result is `interrupted`); a second Ctrl-C stops at once (exit 130 here; the journal resumes).
    `replay_complete=False` for a plan just made (see `apply_plan`)."""
    stop = StopRequest()
    try:
        with stage_bars(console, disable=as_json) as stages:
            return asyncio.run(_apply(the_plan, store, workbook_dir=workbook_dir, journal=journal,
                                      concurrency=concurrency, stages=stages, stop=stop, request=request,
                                      backup_folder=backup_folder, replay_complete=replay_complete))
    except KeyboardInterrupt:
        err_console.print("[red]Stopped at once.[/red] The journal is sound: run the same command to resume "
                          "(operations cut short are checked against the store first).", highlight=False)
        raise typer.Exit(ExitCode.INTERRUPTED) from None


def resume_or_plan(file: Path, journal: Journal, request: Mapping[str, Any], *, as_json: bool,
                   plan: Callable[[], Plan]) -> tuple[Plan, bool]:
    """The plan of an interrupted run of the same request (said so, unless `as_json`) and True; else
    `plan()` and False."""
    interrupted = journal.interrupted_plan(request)
    if interrupted is None:
        return plan(), False
    if not as_json:
        done = journal.peek().done
        total = len(interrupted.operations)
        left = sum(op.op_id not in done for op in interrupted.operations)
        console.print(f"[bold]Resuming the interrupted run[/bold] of {file.name}: {total - left} of {total} operations "
                      f"are done, {left} left; its plan is continued from the journal {journal.path.name}, not made "
                      "again.", highlight=False)
    return interrupted, True


def undo_command(result: ApplyResult) -> str | None:
    """`bcmod restore <backup>`: the command that puts the products back as they were before the run."""
    return f"bcmod restore {shlex.quote(str(result.backup_path))}" if result.backup_path else None


def report_run(result: ApplyResult, workbook: Path, *, as_json: bool, what: str = "apply") -> None:
    """Write the results workbook, print the summary (or JSON) with the command that undoes the run,
    and exit with the verdict's code."""
    results = None
    if workbook.exists():
        with stage_bars(console, disable=as_json) as stages:
            stages.begin("writing the results workbook")
            results = write_results(result, workbook)
    judged = verdict(result)
    undo = undo_command(result)
    if as_json:
        typer.echo(json.dumps({**result.as_dict(), "results": str(results) if results else None,
                               "exit_code": int(judged.code), "verdict": judged.title,
                               "not_applied": judged.not_applied.as_dict(), "undo": undo}, indent=2, default=str))
    else:
        render_summary(result, console)
        if results is not None:
            console.print(f"Results workbook: [bold]{results}[/bold]", highlight=False)
        if undo is not None:
            console.print(f"To undo this {what}: [bold]{undo}[/bold]", highlight=False, soft_wrap=True)
    raise typer.Exit(judged.code)


def apply(
    file: Path = typer.Argument(..., help="The edited workbook (or CSV files), or a plan saved with `plan --out`."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    concurrency: int = typer.Option(8, min=1, max=64, help="Requests in flight at once (within the rate limit)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    prune: bool = PRUNE,
    force: bool = FORCE,
    verbose: bool = VERBOSE,
    sandbox_dir: Path | None = SANDBOX,
    accept_excel_changes: bool = ACCEPT_EXCEL,
) -> None:
    """Apply the edited file to the store: validate, plan, confirm, back up, write, report.

    Exits 0 only when every edited row is in the store; 3 when rows were not applied (conflicts,
    refusals), 1 when rows failed, 130 when interrupted (run the same command to resume). Ends
    with the command that undoes it (bcmod restore BACKUP)."""
    saved = load_plan(file) if file.suffix.lower() == ".json" else None
    # one apply of a workbook at a time: the lock is taken before anything is planned or sent, and
    # held until the results are written (the process's exit drops it, however it exits)
    lock = take_workbook_lock(Path(saved.workbook or file) if saved is not None else file)
    try:
        with open_store(sandbox_dir=sandbox_dir) as store:
            if not as_json:
                typer.echo(store.description, err=True)
            resumed = False
            if saved is not None:
                the_plan = saved  # its journal resumes it by plan id
                if the_plan.store_hash != store.store_hash:
                    err_console.print(f"[red]this plan is for store {the_plan.store_hash!r}, not "
                                      f"{store.store_hash!r}[/red]")
                    raise typer.Exit(EXIT_PROBLEMS)
                request = run_request("apply-plan", file, store.store_hash)
            else:
                # a re-run of the same command after an interruption continues that run's plan
                request = run_request("apply", file, store.store_hash, prune=prune, force=force)
                the_plan, resumed = resume_or_plan(
                    file, Journal.for_workbook(file), request, as_json=as_json,
                    plan=lambda: make_plan(file, store, prune=prune, force=force, as_json=as_json, verb="Not applied",
                                           accept_excel_changes=accept_excel_changes))
            if not as_json:
                render_plan(the_plan, console, verbose=verbose)
            if not the_plan.operations:
                nothing_to_apply(the_plan, as_json=as_json)
            left_out = plan_not_applied(the_plan).total
            also = f" ({left_out} edited row(s) will not be applied, see above)" if left_out else ""
            question = f"Apply {len(the_plan.operations)} operations to the {store.label}{also}?"
            if resumed:
                question = f"Resume: apply what is left of the {len(the_plan.operations)} operations to the {store.label}?"
            if not yes and not typer.confirm(question):
                console.print("Cancelled; nothing was sent.")
                raise typer.Exit(EXIT_CANCELLED)
            workbook = Path(the_plan.workbook)
            result = run_plan(the_plan, store, workbook_dir=workbook.parent, journal=Journal.for_workbook(workbook),
                              concurrency=concurrency, as_json=as_json, request=request,
                              replay_complete=saved is not None or resumed)
        report_run(result, workbook, as_json=as_json)  # the lock is held until the results are written
    except LockHeld as exc:  # the embedded sandbox store is in use by another command
        err_console.print(f"[red]Not applied:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_LOCKED) from None
    except (BigCommerceError, BackupError) as exc:
        err_console.print(f"[red]apply failed:[/red] {exc}")
        raise typer.Exit(EXIT_PROBLEMS) from None
    finally:
        lock.release()


def take_workbook_lock(workbook: Path) -> ProcessLock:
    """The lock of `workbook`'s journal, or exit 5 saying which run holds it; nothing is sent either way."""
    try:
        return workbook_lock(workbook, "bcmod apply").acquire()
    except LockHeld as exc:
        err_console.print(f"[red]Not applied:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_LOCKED) from None


def load_plan(file: Path) -> Plan:
    """A plan saved with `plan --out`, or exit 1 saying why it cannot be read."""
    try:
        return Plan.load(file)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        err_console.print(f"[red]cannot read the plan {file}:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None


def nothing_to_apply(the_plan: Plan, *, as_json: bool) -> None:
    """A plan without operations: exit 0 when nothing was edited; otherwise (every edit is in conflict or
    refused) write the results workbook that marks those rows, and exit 3. Nothing is sent either way."""
    if nothing_edited(the_plan):
        if as_json:
            typer.echo(json.dumps({**plan_summary(the_plan), "applied": False}, indent=2, default=str))
        else:
            console.print("[green]Nothing to apply: the store already matches the file.[/green]")
        raise typer.Exit(EXIT_OK)
    result = ApplyResult(the_plan.plan_id, the_plan.store_hash, the_plan.workbook, conflicts=list(the_plan.conflicts),
                         skipped_rows=list(the_plan.skipped), unchanged=the_plan.unchanged)
    workbook = Path(the_plan.workbook)
    results = write_results(result, workbook) if the_plan.workbook and workbook.exists() else None
    judged = verdict(result)
    if as_json:
        typer.echo(json.dumps({**plan_summary(the_plan), "applied": False, "verdict": judged.title,
                               "results": str(results) if results else None}, indent=2, default=str))
    else:
        console.print(f"[yellow]{judged.title}.[/yellow]", highlight=False)
        if results is not None:
            console.print(f"Results workbook: [bold]{results}[/bold]", highlight=False)
    raise typer.Exit(judged.code)
