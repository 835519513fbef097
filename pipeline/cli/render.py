"""Rich tables and progress bars shared by the commands."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
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


class StageBars:
    """One bar per stage of a command, shown one after another, so a long run always shows what it
    is doing: a counted stage (pages read, operations settled) fills as it reports; an uncounted one
    (checking a workbook, writing the results) pulses until the next stage starts."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.current: TaskID | None = None

    def begin(self, label: str) -> None:
        """Start an uncounted stage now."""
        self._start(label)

    def bar(self, label: str) -> ProgressCallback:
        """A counted stage, started by its first (done, total) report."""
        task: list[TaskID] = []

        def report(done: int, total: int) -> None:
            if not task:
                task.append(self._start(label))
            self.progress.update(task[0], completed=done, total=total or None)

        return report

    def _start(self, label: str) -> TaskID:
        if self.current is not None:  # the stage before is over, whatever it counted
            done = self.progress.tasks[self.current].completed if self.current < len(self.progress.tasks) else 0
            self.progress.update(self.current, total=max(done, 1), completed=max(done, 1))
        self.current = self.progress.add_task(label, total=None)
        return self.current


@contextmanager
def stage_bars(console: Console, *, disable: bool = False) -> Iterator[StageBars]:
    """Bars for the stages of one command (hidden with `disable`, e.g. under --json; gone when done)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=disable, transient=True) as progress:
        yield StageBars(progress)


@contextmanager
def export_progress(console: Console, *, disable: bool = False) -> Iterator[ProgressCallback]:
    """A bar over pages fetched; yields the callback the extractor reports to."""
    with stage_bars(console, disable=disable) as stages:
        yield stages.bar("pages")
