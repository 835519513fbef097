"""Rich tables and progress bars shared by the commands."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.extract import ProgressCallback


def counts_table(counts: Mapping[str, Mapping[str, int]], title: str = "Modifiers by type") -> Table:
    table = Table(title=title)
    table.add_column("type")
    table.add_column("modifiers", justify="right")
    table.add_column("values", justify="right")
    for type_name, row in sorted(counts.items()):
        table.add_row(type_name, str(row["modifiers"]), str(row["values"]))
    table.add_row("[bold]total[/bold]", str(sum(r["modifiers"] for r in counts.values())),
                  str(sum(r["values"] for r in counts.values())))
    return table


@contextmanager
def export_progress(console: Console, *, disable: bool = False) -> Iterator[ProgressCallback]:
    """A bar over pages fetched; yields the callback the extractor reports to."""
    with Progress(TextColumn("pages"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=disable, transient=True) as progress:
        task = progress.add_task("pages", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        yield report
