"""`bcmod doctor`: check, reading only, that the configured store behaves as bcmod relies on.

The first command to run against a real store: it costs two product pages and one image request
and writes nothing. With no store configured it checks the embedded sandbox and says so. Exit 0
when every check passes (or had nothing to look at), 1 otherwise. A refused token is one line on
stderr; the token itself is never printed.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline.client import BigCommerceError
from pipeline.connection import DEFAULT_SANDBOX_DIR, open_store
from pipeline.doctor import DoctorReport, run_doctor

console = Console()
err_console = Console(stderr=True)

STATUS_STYLE = {"pass": "[green]pass[/green]", "fail": "[bold red]FAIL[/bold red]", "skip": "[dim]skip[/dim]"}


def report_table(report: DoctorReport) -> Table:
    table = Table(title=f"bcmod doctor: {escape(report.store)}", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("what the store showed")
    for check in report.checks:
        table.add_row(check.name, STATUS_STYLE[check.status], escape(check.detail))
    return table


def summary_line(report: DoctorReport) -> str:
    failed = [c.name for c in report.checks if c.status == "fail"]
    total = report.api_requests + report.image_requests
    cost = (f"{total} request{'' if total == 1 else 's'} ({report.api_requests} to the API, "
            f"{report.image_requests} to the image host), no writes")
    if failed:
        return f"[bold red]{len(failed)} of {len(report.checks)} checks failed[/bold red] ({', '.join(failed)}); {cost}"
    return f"[green]No check failed[/green]; {cost}"


def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    sandbox_dir: Path | None = typer.Option(
        DEFAULT_SANDBOX_DIR, "--sandbox-dir", show_default=False,
        help="Folder of the embedded sandbox store, used when no store is configured (default: $BCMOD_SANDBOX_DIR, "
             "else bcmod/sandbox in your data folder, e.g. ~/.local/share)."),
) -> None:
    """Check the configured store, reading only: token, rate limits, modifiers, include_fields, shapes, images."""
    try:
        with open_store(sandbox_dir=sandbox_dir) as store:
            # the report's title and JSON name the store; the sandbox's image URLs name a fixed origin: its transport reaches it on the port it got
            report = asyncio.run(run_doctor(store.settings, store=store.label, sandbox=store.sandbox,
                                            image_transport=store.image_transport()))
    except BigCommerceError as exc:  # a token that cannot be sent, a sandbox store in use
        err_console.print(f"bcmod doctor: {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    code = 0 if report.ok else 1
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        raise typer.Exit(code)
    if report.token_refused:
        err_console.print(f"bcmod doctor: {escape(report.checks[0].detail)}", highlight=False)
        raise typer.Exit(1)
    if report.sandbox:
        console.print("No store is configured (BIGCOMMERCE_STORE_HASH or BIGCOMMERCE_API_URL, and "
                      "BIGCOMMERCE_ACCESS_TOKEN): these are the embedded sandbox store's answers.", highlight=False)
    console.print(report_table(report))
    console.print(summary_line(report), highlight=False)
    raise typer.Exit(code)
