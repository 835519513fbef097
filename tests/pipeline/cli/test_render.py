"""The CLI's stage bars: each stage shows while it runs, and the one before it ends when it starts."""

from __future__ import annotations

import io

from rich.console import Console

from pipeline.cli.render import stage_bars


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=100), out


def test_stages_follow_one_another_and_a_counted_one_starts_at_its_first_report() -> None:
    terminal, _ = console()
    with stage_bars(terminal) as stages:
        stages.begin("checking edits.xlsx")
        pages = stages.bar("reading the store")
        operations = stages.bar("operations")
        assert [t.description for t in stages.progress.tasks] == ["checking edits.xlsx"]
        pages(0, 4)
        pages(3, 4)
        checking, reading = stages.progress.tasks
        assert checking.finished and (reading.completed, reading.total) == (3, 4) and not reading.finished
        operations(1, 10)
        operations(2, 10)
        tasks = {t.description: t for t in stages.progress.tasks}
    assert list(tasks) == ["checking edits.xlsx", "reading the store", "operations"]
    assert tasks["reading the store"].finished and tasks["reading the store"].completed == 3
    assert (tasks["operations"].completed, tasks["operations"].total) == (2, 10)


def test_disabled_bars_print_nothing() -> None:
    terminal, out = console()
    with stage_bars(terminal, disable=True) as stages:
        stages.begin("checking")
        stages.bar("operations")(5, 10)
    assert out.getvalue() == ""
    terminal, out = console()
    with stage_bars(terminal) as stages:
        stages.bar("operations")(5, 10)
    assert "operations" in out.getvalue()
