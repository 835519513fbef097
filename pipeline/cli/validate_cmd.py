"""`bcmod validate FILE`: check an edited export and list every problem; send nothing.

Exit codes: 0 the file is clean, 1 it has problems (all of them are listed), 2 bad usage. It never
sends a write request; it only reads which of the file's product ids exist in the store (skip that
with --offline).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from pipeline.client import BigCommerceError
from pipeline.cli.render import stage_bars
from pipeline.connection import DEFAULT_SANDBOX_DIR, open_store
from pipeline.validate.command import ValidationOutcome, validate_file
from pipeline.validate.report import issues_json, issues_table, summary_line, write_annotated_copy

EXIT_CLEAN = 0
EXIT_PROBLEMS = 1
TABLE_LIMIT = 200  # rows of the terminal table; --json and --annotated always hold every issue

console = Console()
err_console = Console(stderr=True)

FILE_ARGUMENT = typer.Argument(..., help="The edited .xlsx workbook, or the folder or zip of CSV files.",
                               show_default=False)
OFFLINE_OPTION = typer.Option(False, "--offline", help="Do not ask the store whether the product ids exist "
                              "(and do not check which store the file came from).")
SANDBOX_OPTION = typer.Option(DEFAULT_SANDBOX_DIR, "--sandbox-dir", show_default=False,
                              help="Folder of the embedded sandbox store, used when no store is configured (default: "
                              "$BCMOD_SANDBOX_DIR, else bcmod/sandbox in your data folder, e.g. ~/.local/share).")


def run_validation(file: Path, *, offline: bool, sandbox_dir: Path | None, quiet: bool,
                   accept_excel_changes: bool = False) -> ValidationOutcome:
    """Validate `file` against the configured store (or the embedded sandbox), or offline."""
    if offline:
        with stage_bars(console, disable=quiet) as stages:
            stages.begin(f"checking {file.name}")
            return validate_file(file, accept_excel_changes=accept_excel_changes)
    try:
        with open_store(sandbox_dir=sandbox_dir) as store:
            if not quiet:
                typer.echo(store.description, err=True)
            with stage_bars(console, disable=quiet) as stages:
                stages.begin(f"checking {file.name}")
                return validate_file(file, settings=store.settings, expected_store_hash=store.store_hash,
                                     accept_excel_changes=accept_excel_changes)
    except BigCommerceError as exc:  # only raised before the file is read (the store is unreachable)
        err_console.print(f"[red]cannot reach the store:[/red] {exc} (use --offline to validate without it)")
        raise typer.Exit(EXIT_PROBLEMS) from None


def show_outcome(file: Path, outcome: ValidationOutcome, *, as_json: bool, annotated: Path | None) -> None:
    written = write_annotated_copy(file, outcome.issues, annotated) if annotated is not None else None
    if as_json:
        payload = issues_json(outcome.issues, file=str(file), rows=outcome.rows)
        payload["requests"] = outcome.requests
        payload["annotated"] = str(written) if written else None
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    if outcome.issues:
        console.print(issues_table(outcome.issues, limit=TABLE_LIMIT))
    style = "red" if outcome.issues else "green"
    console.print(f"[{style}]{summary_line(outcome.issues, file=str(file), rows=outcome.rows)}[/{style}]",
                  highlight=False)
    if written is not None:
        console.print(f"Annotated copy: [bold]{written}[/bold]", highlight=False)


def validate(
    file: Path = FILE_ARGUMENT,
    as_json: bool = typer.Option(False, "--json", help="Print the issues as JSON."),
    annotated: Path | None = typer.Option(None, "--annotated", help="Also write a copy of the workbook with the "
                                          "problems marked (an errors.csv for CSV files).", show_default=False),
    offline: bool = OFFLINE_OPTION,
    sandbox_dir: Path | None = SANDBOX_OPTION,
    accept_excel_changes: bool = typer.Option(False, "--accept-excel-changes", help="Do not report cells a "
                                              "spreadsheet program rewrote (0017 -> 17, 1/2 -> a date, 22E1 -> 220)."),
) -> None:
    """Check an edited export and list every problem at once; nothing is sent to the store."""
    outcome = run_validation(file, offline=offline, sandbox_dir=sandbox_dir, quiet=as_json,
                             accept_excel_changes=accept_excel_changes)
    show_outcome(file, outcome, as_json=as_json, annotated=annotated)
    raise typer.Exit(EXIT_PROBLEMS if outcome.issues else EXIT_CLEAN)


def register(app: typer.Typer) -> None:
    app.command()(validate)
