"""`bcmod restore BACKUP` through the real command line, against a sandbox served over HTTP on 127.0.0.1.

An apply ends by printing the command that undoes it; that very command puts the store back as
exported, prints the command that undoes the restore, and reports like an apply. A restore asks
first, says when there is nothing to restore, refuses while another run holds the backup's
journal, and continues an interrupted restore from its journal.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path

from pipeline.apply.interrupt import StopRequest
from pipeline.apply.lock import journal_lock
from pipeline.apply.journal import journal_path
from pipeline.cli.demo_edit import scripted_edit
from pipeline.client import BigCommerceClient
from pipeline.exit_codes import ExitCode
from pipeline.restore import apply_restore, plan_restore
from pipeline.settings import Settings
from tests.pipeline.apply.test_resume import catalog
from tests.pipeline.cli.test_plan_apply_cmd import TOKEN, Store, store  # noqa: F401 - the fixture

def undo_command(output: str, what: str = "apply") -> list[str]:
    """The `bcmod restore ...` words printed after `To undo this <what>:`."""
    said = " ".join(output.split())
    marker = f"To undo this {what}: "
    assert marker in said, said[-2000:]
    words = shlex.split(said.split(marker, 1)[1])
    assert words[:2] == ["bcmod", "restore"]
    return words[1:3]


def applied(store: Store, tmp_path: Path) -> tuple[Path, str]:
    workbook = store.export(tmp_path / "mods.xlsx")
    scripted_edit(workbook)
    result = store.invoke("apply", str(workbook), "--yes")
    assert result.exit_code == 0, result.output
    return workbook, result.output


def test_the_command_an_apply_prints_puts_the_store_back_and_can_itself_be_undone(store, tmp_path) -> None:
    original = asyncio.run(catalog(store.base_url, TOKEN))
    workbook, output = applied(store, tmp_path)
    changed = asyncio.run(catalog(store.base_url, TOKEN))
    assert changed != original
    command = undo_command(output)
    backup = Path(command[1])
    assert backup.parent == tmp_path / "backups" and backup.exists()

    restored = store.invoke(*command, "--yes")
    assert restored.exit_code == 0, restored.output
    said = " ".join(restored.output.split())
    assert "Plan:" in said and "Apply succeeded" in said
    assert f"Results workbook: {backup.with_name(backup.stem + '.results.xlsx')}" in said
    assert asyncio.run(catalog(store.base_url, TOKEN)) == original
    again = undo_command(restored.output, "restore")
    assert Path(again[1]).parent == backup.parent and Path(again[1]) != backup

    writes = store.writes()
    nothing = store.invoke(*command, "--yes")
    assert nothing.exit_code == 0 and "Nothing to restore" in nothing.output
    assert store.writes() == writes

    undone = store.invoke(*again, "--yes", "--json")  # the restore of the restore: back to the applied state
    report = json.loads(undone.output)
    assert undone.exit_code == 0 and report["exit_code"] == 0 and report["undo"].startswith("bcmod restore ")
    assert asyncio.run(catalog(store.base_url, TOKEN)) == changed


def test_a_restore_asks_first_and_a_no_sends_nothing(store, tmp_path) -> None:
    _, output = applied(store, tmp_path)
    command = undo_command(output)
    writes = store.writes()
    answer = store.invoke(*command, stdin="n\n")
    assert answer.exit_code == ExitCode.CANCELLED and "Cancelled; nothing was sent." in answer.output
    assert "Restore " in answer.output and "operations?" in answer.output
    assert store.writes() == writes


def test_a_restore_refuses_while_another_run_holds_the_backup_journal(store, tmp_path) -> None:
    _, output = applied(store, tmp_path)
    command = undo_command(output)
    writes = store.writes()
    with journal_lock(journal_path(Path(command[1])), "bcmod restore"):
        held = store.invoke(*command, "--yes")
    assert held.exit_code == ExitCode.LOCKED and "Not restored" in held.output
    assert store.writes() == writes


def test_an_interrupted_restore_is_continued_by_the_same_command(store, tmp_path) -> None:
    original = asyncio.run(catalog(store.base_url, TOKEN))
    _, output = applied(store, tmp_path)
    command = undo_command(output)
    backup = Path(command[1])
    stop = StopRequest()

    async def interrupted() -> int:
        async with BigCommerceClient(Settings.for_sandbox(store.api_url, TOKEN)) as client:
            plan = await plan_restore(backup, client)

            def progress(done: int, total: int) -> None:
                if done >= 2:
                    stop.request()

            result = await apply_restore(plan, client, backup=backup, concurrency=1, progress=progress, stop=stop)
            assert result.interrupted
            return len(plan.operations)

    total = asyncio.run(interrupted())
    resumed = store.invoke(*command, "--yes")
    assert resumed.exit_code == 0, resumed.output
    said = " ".join(resumed.output.split())
    assert f"Resuming the interrupted run of {backup.name}: 2 of {total} operations are done" in said
    assert asyncio.run(catalog(store.base_url, TOKEN)) == original


def test_a_missing_backup_is_a_usage_error(store, tmp_path) -> None:
    result = store.invoke("restore", str(tmp_path / "nowhere.xlsx"), "--yes")
    assert result.exit_code == ExitCode.USAGE and "no such backup" in result.output
