"""`bcmod export`: the store's modifiers to an editable workbook (or CSV files).

Nightly incremental exports are small, so start-up is most of their cost: this module imports
only typer at load, and the export its stack (client, normalise, workbook writer) when it runs;
nothing of validation, planning, applying or (with a store configured) the sandbox.
"""

from __future__ import annotations

from pathlib import Path

import typer

SANDBOX_HELP = ("Folder of the embedded sandbox store, used when no store is configured (default: $BCMOD_SANDBOX_DIR, "
                "else bcmod/sandbox in your data folder, e.g. ~/.local/share).")


def _split_ints(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise typer.BadParameter(f"product ids must be whole numbers separated by commas, got {text!r}") from None


def export(
    out: Path = typer.Option(..., "--out", help="An .xlsx file, or a folder for a dated file."),
    csv: bool = typer.Option(False, "--csv", help="Write one CSV file per sheet instead of a workbook."),
    zip_: bool = typer.Option(False, "--zip", help="With --csv: pack the CSV files into one .zip."),
    products: str | None = typer.Option(None, "--products", help="Only these product ids, comma separated."),
    skus: str | None = typer.Option(None, "--skus", help="Only these SKUs, comma separated."),
    since: str | None = typer.Option(None, "--since", help="Only products modified since this date or time."),
    concurrency: int = typer.Option(8, min=1, max=64, help="Pages fetched at once (within the rate limit)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    sandbox_dir: Path | None = typer.Option(None, "--sandbox-dir", help=SANDBOX_HELP, show_default=False),
) -> None:
    """Export every product's modifiers to an editable workbook (or CSV files)."""
    import asyncio
    import json

    from rich.console import Console
    from rich.markup import escape

    from pipeline.cli.render import counts_table, export_progress
    from pipeline.client import BigCommerceError
    from pipeline.connection import open_store
    from pipeline.export import export_store
    from pipeline.extract import ExtractFilters, parse_since

    console, err_console = Console(), Console(stderr=True)
    try:
        filters = ExtractFilters(
            product_ids=_split_ints(products),
            skus=tuple(s.strip() for s in (skus or "").split(",") if s.strip()),
            since=parse_since(since) if since else None,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        with open_store(sandbox_dir=sandbox_dir) as store:
            if not as_json:  # the JSON names it in its `store` field
                typer.echo(store.description, err=True)
            with export_progress(console, disable=as_json) as progress:
                result = asyncio.run(export_store(store.settings, out, csv=csv, zip_=zip_, filters=filters,
                                                  concurrency=concurrency, progress=progress))
    except BigCommerceError as exc:
        err_console.print(f"[red]export failed:[/red] {exc}")
        raise typer.Exit(1) from None
    if as_json:  # the warnings are in the JSON
        typer.echo(json.dumps({**result.as_dict(), "store": store.as_dict()}, indent=2))
        return
    console.print(counts_table(result.counts_by_type))
    console.print(f"{result.products} products, {result.modifiers} modifiers, {result.values} values "
                  f"in {result.requests} requests, {result.seconds:.1f} s")
    console.print(f"Wrote [bold]{result.path}[/bold]")
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)

