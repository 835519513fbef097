"""The demo: the main job end to end against a fresh sandbox store."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from rich.console import Console

from pipeline.cli.render import counts_table, export_progress
from pipeline.connection import open_store
from pipeline.extract import count_requests_bound


def run_demo(console: Console, workdir: Path, products: int) -> int:
    """Seed a sandbox with `products` products, export it, and report; returns the exit code."""
    from pipeline.export import export_store

    sandbox_dir = workdir / "sandbox"
    if sandbox_dir.exists():
        shutil.rmtree(sandbox_dir)
    with open_store(sandbox_only=True, sandbox_dir=sandbox_dir, sandbox_products=products) as store:
        console.rule("[bold]bcmod demo")
        console.print(f"Sandbox store with {products} generated products at {store.settings.base_url}")
        console.rule("1. export")
        with export_progress(console) as progress:
            result = asyncio.run(export_store(store.settings, workdir, progress=progress))
    console.print(counts_table(result.counts_by_type))
    bound = count_requests_bound(result.products)
    console.print(f"{result.products} products, {result.modifiers} modifiers, {result.values} values; "
                  f"{result.requests} requests (bound ceil(N/10)+2 = {bound}) in {result.seconds:.1f} s")
    console.print(f"Workbook: [bold]{result.path}[/bold]")
    return 0 if result.requests <= bound else 1
