"""`bcmod restore BACKUP`: undo an apply by putting the backed-up products back as they were.

Every `bcmod apply` exports the products it will touch to `backups/backup-<store>-<time>.xlsx`
before its first write, and prints `bcmod restore <that file>` at the end. The restore is planned
like an apply (`pipeline.restore`: the backup is the desired state, nothing in it is second-guessed,
what the apply created is deleted and what it deleted is created again), shown, confirmed unless
`--yes`, backed up first (so a restore can be undone too), journaled beside the backup (a re-run
after an interruption continues it) under the same lock as an apply, and reported in a results
copy of the backup. Exit codes as `bcmod apply` (`pipeline.exit_codes`).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

from pipeline.apply import BackupError, Journal
from pipeline.apply.lock import LockHeld, journal_lock
from pipeline.cli.apply_cmd import SANDBOX, VERBOSE, console, err_console, report_run, resume_or_plan, run_plan
from pipeline.cli.render import stage_bars
from pipeline.cli.validate_cmd import show_outcome
from pipeline.client import BigCommerceClient, BigCommerceError
from pipeline.connection import StoreConnection, open_store
from pipeline.exit_codes import ExitCode
from pipeline.plan.attention import plan_not_applied
from pipeline.plan.build import PlanRefused
from pipeline.plan.operations import Plan
from pipeline.plan.render import plan_summary, render_plan
from pipeline.restore import plan_restore, restore_request, undo_journals


def make_restore_plan(backup: Path, store: StoreConnection, *, as_json: bool) -> Plan:
    """Plan the restore (reads only), or print why the backup cannot be used and exit 1."""

    async def plan(progress) -> Plan:
        async with BigCommerceClient(store.settings) as client:
            return await plan_restore(backup, client, expected_store_hash=store.store_hash, progress=progress)

    try:
        with stage_bars(console, disable=as_json) as stages:
            stages.begin(f"checking {backup.name}")
            return asyncio.run(plan(stages.bar("reading the store")))
    except PlanRefused as refused:
        show_outcome(backup, refused.outcome, as_json=as_json, annotated=None)
        if not as_json:
            console.print("[red]Not restored:[/red] the backup above cannot be read as it is. Nothing was sent.")
        raise typer.Exit(ExitCode.PROBLEMS) from None


def restore(
    backup: Path = typer.Argument(..., help="A backup written by `bcmod apply` (backups/backup-<store>-<time>.xlsx), "
                                  "or any bcmod export of the store."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    concurrency: int = typer.Option(8, min=1, max=64, help="Requests in flight at once (within the rate limit)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    verbose: bool = VERBOSE,
    sandbox_dir: Path | None = SANDBOX,
) -> None:
    """Put every product of BACKUP back exactly as the backup shows it: undo an apply.

    Reverts updates, creates again what was deleted (with its images), deletes what was created.
    Shown as a plan first; the restore takes its own backup, so it can be undone the same way."""
    if not backup.is_file() and not backup.is_dir():
        err_console.print(f"[red]no such backup:[/red] {backup}", highlight=False)
        raise typer.Exit(ExitCode.USAGE)
    journal = Journal.for_workbook(backup)
    try:
        lock = journal_lock(journal.path, "bcmod restore").acquire()
    except LockHeld as exc:
        err_console.print(f"[red]Not restored:[/red] {exc}", highlight=False)
        raise typer.Exit(ExitCode.LOCKED) from None
    try:
        with open_store(sandbox_dir=sandbox_dir) as store:
            if not as_json:
                typer.echo(store.description, err=True)
            request = restore_request(backup, store.store_hash)
            the_plan, resumed = resume_or_plan(backup, journal, request, as_json=as_json,
                                               plan=lambda: make_restore_plan(backup, store, as_json=as_json))
            if not as_json:
                render_plan(the_plan, console, verbose=verbose)
            if not the_plan.operations:
                _nothing_to_restore(the_plan, as_json=as_json)
            left_out = plan_not_applied(the_plan).total
            also = f" ({left_out} row(s) cannot be restored, see above)" if left_out else ""
            products = len(the_plan.product_ids)
            question = (f"Resume: apply what is left of the {len(the_plan.operations)} operations to the {store.label}?"
                        if resumed else f"Restore {products} product(s) of the {store.label} to {backup.name}: "
                        f"{len(the_plan.operations)} operations{also}?")
            if not yes and not typer.confirm(question):
                console.print("Cancelled; nothing was sent.")
                raise typer.Exit(ExitCode.CANCELLED)
            undo_journals(backup)  # the run that took this backup is not to be resumed or replayed any more
            result = run_plan(the_plan, store, workbook_dir=backup.parent, journal=journal, concurrency=concurrency,
                              as_json=as_json, request=request, backup_folder=backup.parent,
                              replay_complete=resumed)
        report_run(result, backup, as_json=as_json, what="restore")
    except (BigCommerceError, BackupError) as exc:
        err_console.print(f"[red]restore failed:[/red] {exc}", highlight=False)
        raise typer.Exit(ExitCode.PROBLEMS) from None
    except LockHeld as exc:  # the embedded sandbox store is in use by another command
        err_console.print(f"[red]Not restored:[/red] {exc}", highlight=False)
        raise typer.Exit(ExitCode.LOCKED) from None
    finally:
        lock.release()


def _nothing_to_restore(the_plan: Plan, *, as_json: bool) -> None:
    """The store already has the backup's products as the backup shows them (or only rows that cannot be
    restored differ): exit 0, or 3 naming those rows. Nothing is sent either way."""
    left_out = plan_not_applied(the_plan).total
    code = ExitCode.NOT_APPLIED if left_out else ExitCode.OK
    if as_json:
        typer.echo(json.dumps({**plan_summary(the_plan), "applied": False, "exit_code": int(code)}, indent=2,
                              default=str))
    elif left_out:
        console.print(f"[yellow]Nothing can be restored: {left_out} row(s) cannot be, see above.[/yellow]")
    else:
        console.print("[green]Nothing to restore: the store already has the backup's products as they were.[/green]")
    raise typer.Exit(code)

