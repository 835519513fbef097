"""The `bcmod` command line: export, validate, plan, apply, restore, migrate, doctor, sandbox, demo.

Commands talk to the configured store (BIGCOMMERCE_STORE_HASH / BIGCOMMERCE_API_URL and
BIGCOMMERCE_ACCESS_TOKEN, from the environment or .env) or, when none is configured, to the
embedded sandbox store. Exit codes: 0 success, 1 a request or file failed, 2 bad usage.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.cli import apply_cmd, doctor_cmd, migrate_cmd, restore_cmd, sandbox_cmd, validate_cmd
from pipeline.cli.render import counts_table, export_progress
from pipeline.client import BigCommerceError
from pipeline.connection import DEFAULT_SANDBOX_DIR, open_store
from pipeline.extract import ExtractFilters, parse_since

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Round-trip BigCommerce product modifiers through Excel and CSV.")
app.add_typer(sandbox_cmd.app, name="sandbox")
validate_cmd.register(app)
app.command()(apply_cmd.plan)
app.command()(apply_cmd.apply)
app.command()(restore_cmd.restore)
app.command()(migrate_cmd.migrate)
app.command()(doctor_cmd.doctor)
console = Console()
err_console = Console(stderr=True)


def _split_ints(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise typer.BadParameter(f"product ids must be whole numbers separated by commas, got {text!r}") from None


@app.command()
def export(
    out: Path = typer.Option(..., "--out", help="An .xlsx file, or a folder for a dated file."),
    csv: bool = typer.Option(False, "--csv", help="Write one CSV file per sheet instead of a workbook."),
    zip_: bool = typer.Option(False, "--zip", help="With --csv: pack the CSV files into one .zip."),
    products: str | None = typer.Option(None, "--products", help="Only these product ids, comma separated."),
    skus: str | None = typer.Option(None, "--skus", help="Only these SKUs, comma separated."),
    since: str | None = typer.Option(None, "--since", help="Only products modified since this date or time."),
    concurrency: int = typer.Option(8, min=1, max=64, help="Pages fetched at once (within the rate limit)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    sandbox_dir: Path = typer.Option(DEFAULT_SANDBOX_DIR, help="Embedded sandbox folder when no store is set."),
) -> None:
    """Export every product's modifiers to an editable workbook (or CSV files)."""
    try:
        filters = ExtractFilters(
            product_ids=_split_ints(products),
            skus=tuple(s.strip() for s in (skus or "").split(",") if s.strip()),
            since=parse_since(since) if since else None,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    from pipeline.export import export_store

    try:
        with open_store(sandbox_dir=sandbox_dir) as store:
            if not as_json:
                console.print(f"Exporting modifiers from the {store.label}")
            with export_progress(console, disable=as_json) as progress:
                result = asyncio.run(export_store(store.settings, out, csv=csv, zip_=zip_, filters=filters,
                                                  concurrency=concurrency, progress=progress))
    except BigCommerceError as exc:
        err_console.print(f"[red]export failed:[/red] {exc}")
        raise typer.Exit(1) from None
    if as_json:  # the warnings are in the JSON
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    console.print(counts_table(result.counts_by_type))
    console.print(f"{result.products} products, {result.modifiers} modifiers, {result.values} values "
                  f"in {result.requests} requests, {result.seconds:.1f} s")
    console.print(f"Wrote [bold]{result.path}[/bold]")
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)


@app.command()
def demo(
    workdir: Path = typer.Option(Path("out/demo"), help="Folder for the demo's sandbox and files."),
    products: int = typer.Option(300, help="Products in the demo catalog."),
) -> None:
    """Run the main job against a fresh embedded sandbox store and print what happened."""
    from pipeline.cli.demo import run_demo

    raise typer.Exit(run_demo(console, workdir, products))


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
