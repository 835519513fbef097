"""`bcmod migrate`: copy modifiers from one store to another, matched by SKU; a dry run unless --apply.

Tokens come from environment variables, never from flags (a flag ends up in shell history and in
`ps`): the source's from BCMOD_SOURCE_TOKEN (or the variable --from-token-env names), the target's
from BCMOD_TARGET_TOKEN, else BIGCOMMERCE_ACCESS_TOKEN. The migration is planned first (reads
only) and printed: matched and unmatched products, rows left out, then the operations. With
--apply it asks for confirmation (unless --yes), backs up the touched target products, applies
with a journal (a re-run resumes) and writes a results copy of the migration workbook.
Exit codes (`pipeline.exit_codes`): 0 every planned row is in the target (a dry run: would be);
1 a request or operation failed; 2 usage; 3 finished with rows not applied (conflicts with the
target's changes, rows the plan refuses; a dry run: the plan has such rows); 4 cancelled.
Products without a matching SKU and rows left out of the migration are listed, not counted.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.apply import BackupError, render_summary
from pipeline.apply.results import verdict
from pipeline.cli.render import stage_bars
from pipeline.client import BigCommerceClient, BigCommerceError
from pipeline.migrate import (
    SOURCE_TOKEN_ENV,
    TARGET_TOKEN_ENV,
    MigrationError,
    MigrationPlan,
    MigrationResult,
    StoreConfigError,
    apply_migration,
    plan_migration,
    source_settings,
    target_settings,
)
from pipeline.exit_codes import ExitCode
from pipeline.plan.attention import nothing_edited, plan_exit_code
from pipeline.plan.render import render_plan
from pipeline.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = ExitCode.OK, ExitCode.PROBLEMS, ExitCode.USAGE, ExitCode.CANCELLED
SHOWN_ROWS = 50
console = Console()
err_console = Console(stderr=True)


async def _plan(source: Settings, target: Settings, *, workdir: Path, skus: list[str] | None, prune: bool,
                replace_images: bool, concurrency: int) -> MigrationPlan:
    async with BigCommerceClient(source) as source_client, BigCommerceClient(target) as target_client:
        return await plan_migration(source_client, target_client, workdir=workdir, product_skus=skus, prune=prune,
                                    replace_images=replace_images, concurrency=concurrency)


async def _apply(migration: MigrationPlan, target: Settings, *, concurrency: int, progress) -> MigrationResult:
    async with BigCommerceClient(target) as client:
        result, results = await apply_migration(migration.plan, client, concurrency=concurrency, progress=progress)
    return MigrationResult(migration, result, results)


def render_migration(migration: MigrationPlan, out: Console, *, verbose: bool = False) -> None:
    """What the migration matched, what it leaves behind, then the plan itself."""
    out.print(Text(f"Migration from store {migration.source_store} to store {migration.target_store}", style="bold"))
    if migration.unmatched:
        table = Table(title=f"Products not migrated ({len(migration.unmatched)})", title_justify="left")
        for column in ("source product", "SKU", "why"):
            table.add_column(column)
        for item in migration.unmatched[:SHOWN_ROWS]:
            table.add_row("" if item.product_id is None else str(item.product_id), Text(item.sku or "(none)"), Text(item.reason))
        out.print(table)
    if migration.left_out:
        table = Table(title=f"Rows left out ({len(migration.left_out)})", title_justify="left")
        for column in ("source product", "modifier", "value", "why"):
            table.add_column(column)
        for row in migration.left_out[:SHOWN_ROWS]:
            table.add_row(str(row.product_id), Text(row.display_name), Text(row.label or ""), Text(row.reason))
        out.print(table)
    more = len(migration.unmatched) + len(migration.left_out) - 2 * SHOWN_ROWS
    if more > 0:
        out.print(f"... the whole lists are in --json output ({more} more).")
    render_plan(migration.plan, out, verbose=verbose)
    lines = [f"{len(migration.matched)} products matched by SKU, {len(migration.unmatched)} not migrated",
             f"{migration.remapped} product-list links re-mapped to the target's products, "
             f"{len(migration.left_out)} rows left out",
             f"{migration.images} images to upload (downloaded from the source), {migration.images_kept} target "
             "images kept (--replace-images uploads over them)"]
    if migration.pattern_links:
        lines.append(f"{migration.pattern_links} swatch pattern images stay links to the source store (the API has "
                     "no upload for them)")
    lines.append(f"Planning read {migration.requests.get('source', 0)} pages from the source and "
                 f"{migration.requests.get('target', 0)} from the target; migration workbook {migration.workbook}")
    for line in lines:
        out.print(Text(line))


def _skus(text: str | None) -> list[str] | None:
    if text is None:
        return None
    skus = [part.strip() for part in text.split(",") if part.strip()]
    if not skus:
        raise typer.BadParameter("--skus needs at least one SKU")
    return skus


def migrate(
    from_url: str | None = typer.Option(None, "--from-url", help="Source store's API URL (.../stores/HASH/v3)."),
    from_hash: str | None = typer.Option(None, "--from-hash", help="Source store's hash."),
    from_token_env: str = typer.Option(SOURCE_TOKEN_ENV, "--from-token-env",
                                       help="Environment variable holding the source store's token."),
    to_url: str | None = typer.Option(None, "--to-url", help="Target store's API URL (default: the configured "
                                      "store)."),
    to_hash: str | None = typer.Option(None, "--to-hash", help="Target store's hash."),
    to_token_env: str = typer.Option(TARGET_TOKEN_ENV, "--to-token-env", help="Environment variable holding the "
                                     "target store's token (default BCMOD_TARGET_TOKEN, else "
                                     "BIGCOMMERCE_ACCESS_TOKEN)."),
    skus: str | None = typer.Option(None, "--skus", help="Only the source products with these SKUs, comma "
                                    "separated."),
    apply: bool = typer.Option(False, "--apply", help="Carry the migration out (without it: a dry run)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --apply: do not ask for confirmation."),
    prune: bool = typer.Option(False, "--prune", help="Also delete modifiers and values of matched target "
                               "products that the source does not have."),
    replace_images: bool = typer.Option(False, "--replace-images", help="Upload source images even over images "
                                        "the target's values already have."),
    workdir: Path = typer.Option(Path("out/migration"), help="Folder for the migration workbook, plan, journal, "
                                 "backups and results."),
    concurrency: int = typer.Option(8, min=1, max=64, help="Requests in flight at once (within the rate limit)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every row of the plan left alone, refused or in "
                                 "conflict, not only the counts by reason."),
) -> None:
    """Migrate modifiers from one store to another: products matched by SKU, a dry run unless --apply."""
    try:
        source = source_settings(from_url, from_hash, from_token_env)
        target = target_settings(to_url, to_hash, to_token_env)
        wanted = _skus(skus)
    except StoreConfigError as exc:
        err_console.print(f"[red]migrate:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    try:
        with stage_bars(console, disable=as_json) as stages:
            stages.begin("reading both stores and planning")
            migration = asyncio.run(_plan(source, target, workdir=workdir, skus=wanted, prune=prune,
                                          replace_images=replace_images, concurrency=concurrency))
    except MigrationError as exc:
        err_console.print(f"[red]migrate:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except BigCommerceError as exc:
        err_console.print(f"[red]migration planning failed:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_FAILED) from None
    if not as_json:
        render_migration(migration, console, verbose=verbose)
    if not apply or not migration.plan.operations:
        if as_json:
            typer.echo(json.dumps(MigrationResult(migration).as_dict(), indent=2, default=str))
        elif not apply:
            console.print(f"[bold]Dry run:[/bold] nothing was written. Plan saved to {migration.plan_path}; "
                          "run again with --apply to carry it out.", highlight=False)
        elif nothing_edited(migration.plan):
            console.print("[green]Nothing to apply: the target already matches the source.[/green]")
        else:
            console.print("[yellow]Nothing can be applied: every planned row is in conflict or refused (see "
                          "above); nothing was sent.[/yellow]")
        raise typer.Exit(plan_exit_code(migration.plan))
    if not yes and not typer.confirm(f"Apply {len(migration.plan.operations)} operations to store "
                                     f"{migration.target_store}?"):
        console.print("Cancelled; nothing was sent.")
        raise typer.Exit(EXIT_CANCELLED)
    try:
        with stage_bars(console, disable=as_json) as stages:
            result = asyncio.run(_apply(migration, target, concurrency=concurrency,
                                        progress=stages.bar("operations")))
    except (BigCommerceError, BackupError) as exc:
        err_console.print(f"[red]migration apply failed:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_FAILED) from None
    assert result.applied is not None
    judged = verdict(result.applied)
    if as_json:
        typer.echo(json.dumps({**result.as_dict(), "exit_code": int(judged.code), "verdict": judged.title,
                               "not_applied": judged.not_applied.as_dict()}, indent=2, default=str))
    else:
        render_summary(result.applied, console)
        if result.results is not None:
            console.print(f"Results workbook: [bold]{result.results}[/bold]", highlight=False)
    raise typer.Exit(judged.code)
