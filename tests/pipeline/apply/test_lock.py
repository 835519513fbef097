"""One writer at a time: the journal's lock, a dead holder's lock taken over, the embedded store's
lock, and two real `bcmod apply` processes on one workbook against a sandbox on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.apply.journal import journal_path
from pipeline.apply.lock import LockHeld, ProcessLock, journal_lock, store_lock, workbook_lock
from pipeline.cli.demo_edit import scripted_edit
from pipeline.client import BigCommerceError
from pipeline.connection import open_store
from pipeline.exit_codes import ExitCode
from pipeline.export import export_store
from pipeline.client import BigCommerceClient
from pipeline.extract import extract_products
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.server import serve_in_thread
from pipeline.settings import Settings

TOKEN = "lock-test-token"


def _holder_text(lock: ProcessLock) -> dict:
    return json.loads(lock.path.read_text())


def test_a_second_holder_is_refused_naming_the_first_and_may_take_it_once_released(tmp_path):
    workbook = tmp_path / "mods.xlsx"
    first = workbook_lock(workbook, "bcmod apply").acquire()
    assert first.path == journal_path(workbook.resolve()).with_name("mods.xlsx.journal.jsonl.lock")
    holder = _holder_text(first)
    assert (holder["pid"], holder["host"], holder["command"]) == (os.getpid(), socket.gethostname(), "bcmod apply")
    # another path to the same workbook is the same lock (a second open file in this process conflicts too)
    with pytest.raises(LockHeld) as held:
        workbook_lock(tmp_path / "." / "mods.xlsx").acquire()
    assert held.value.holder.pid == os.getpid()
    assert f"process {os.getpid()} on {socket.gethostname()}" in str(held.value)
    assert "mods.xlsx" in str(held.value) and "nothing was sent" in str(held.value)
    assert isinstance(held.value, BigCommerceError)  # every command reports it in one line
    first.release()
    assert first.path.read_text() == ""  # nobody holds it
    with workbook_lock(workbook) as again:
        assert again.held
    assert not again.held


def test_the_journal_lock_is_the_workbook_lock(tmp_path):
    workbook = tmp_path / "mods.xlsx"
    with journal_lock(journal_path(workbook)):
        with pytest.raises(LockHeld):
            workbook_lock(workbook).acquire()


_HOLD = ("import sys, time; from pathlib import Path; from pipeline.apply.lock import workbook_lock; "
         "lock = workbook_lock(Path(sys.argv[1]), 'bcmod apply').acquire(); print('held', flush=True); time.sleep(600)")


def _holding_process(workbook: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", _HOLD, str(workbook)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_lock_held_by_another_process_names_it_and_a_dead_holders_lock_is_taken_over(tmp_path):
    workbook = tmp_path / "mods.xlsx"
    holder = _holding_process(workbook)
    try:
        with pytest.raises(LockHeld) as held:
            workbook_lock(workbook).acquire()
        assert held.value.holder.pid == holder.pid and f"process {holder.pid}" in str(held.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lock = workbook_lock(workbook)
    assert json.loads(lock.path.read_text())["pid"] == holder.pid  # its record is still there: stale
    with lock:  # the kernel dropped the dead process's lock: taken over, no clean-up needed
        assert _holder_text(lock)["pid"] == os.getpid()


def test_the_embedded_store_serves_one_command_at_a_time(tmp_path, monkeypatch):
    for name in ("BIGCOMMERCE_API_URL", "BIGCOMMERCE_STORE_HASH", "BIGCOMMERCE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    with open_store(sandbox_dir=tmp_path / "sandbox", sandbox_products=2) as store:
        assert store.sandbox
        with pytest.raises(LockHeld, match="embedded sandbox store"):
            with open_store(sandbox_dir=tmp_path / "sandbox", sandbox_products=2):
                pass
        with open_store(sandbox_dir=tmp_path / "other", sandbox_products=2):  # another store is another lock
            pass
    with store_lock(tmp_path / "sandbox"):  # released with the block
        pass


# --- two real applies of one workbook --------------------------------------------------------------------


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[str, str]]:
    config = SandboxConfig(data_dir=tmp_path / "store", products=20, token=TOKEN, quota=None)
    with serve_in_thread(config) as base_url:
        yield base_url, f"{base_url}/stores/{config.store_hash}/v3"


def _writes(base_url: str) -> int:
    requests = httpx.get(f"{base_url}/_sandbox/stats", timeout=10).json()["requests"]
    return requests["POST"] + requests["PUT"] + requests["DELETE"]


def _command(api_url: str, cwd: Path, *args: str, stdin: int | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIGCOMMERCE_", "BCMOD_"))}
    env |= {"BIGCOMMERCE_API_URL": api_url, "BIGCOMMERCE_ACCESS_TOKEN": TOKEN, "COLUMNS": "300"}
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli.main", *args], stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def _apply(workbook: Path, api_url: str, *extra: str, stdin: int | None = None) -> subprocess.Popen:
    return _command(api_url, workbook.parent, "apply", str(workbook), *extra, stdin=stdin)


async def _products(settings: Settings) -> list[dict]:
    async with BigCommerceClient(settings) as client:
        return await extract_products(client)


def _wait_for_holder(lock: ProcessLock, process: subprocess.Popen) -> None:
    """Until the lock file names `process` (it takes the lock before it plans or sends anything)."""
    while True:
        text = lock.path.read_text() if lock.path.exists() else ""
        if text and json.loads(text)["pid"] == process.pid:
            return
        assert process.poll() is None, process.communicate()
        os.sched_yield()


def test_two_applies_of_one_workbook_at_once_write_once(served, tmp_path):
    base_url, api_url = served
    settings = Settings.for_sandbox(api_url, TOKEN)
    workbook = asyncio.run(export_store(settings, tmp_path / "mods.xlsx")).path
    scripted_edit(workbook)
    plan = _command(api_url, workbook.parent, "plan", str(workbook), "--json")
    out, err = plan.communicate(timeout=300)
    planned = sum(json.loads(out)["operations"].values())  # one write per operation
    # the first apply takes the lock, plans, and waits at its prompt holding it
    first = _apply(workbook, api_url, stdin=subprocess.PIPE)
    _wait_for_holder(workbook_lock(workbook), first)
    second = _apply(workbook, api_url, "--yes", "--json")
    out, err = second.communicate(timeout=300)
    assert second.returncode == ExitCode.LOCKED == 5, out + err
    said = " ".join((out + err).split())
    assert f"in use by bcmod apply (process {first.pid} on {socket.gethostname()}" in said
    assert "nothing was sent" in said and "Traceback" not in said
    assert _writes(base_url) == 0  # the second sent nothing; the first has not been told to go on
    out, err = first.communicate("y\n", timeout=600)
    assert first.returncode == 0, out + err
    applied = _writes(base_url)
    assert applied == planned > 0
    # exactly the single run's writes: planning the same workbook again finds nothing left to do
    again = _apply(workbook, api_url, "--yes", "--json")
    out, err = again.communicate(timeout=300)
    assert _writes(base_url) == applied and "Traceback" not in out + err
    # no duplicates: every product's modifiers have distinct names, every modifier's values distinct labels
    for product in asyncio.run(_products(settings)):
        names = [m["display_name"] for m in product["modifiers"]]
        assert len(names) == len(set(names)), (product["id"], names)
        for modifier in product["modifiers"]:
            labels = [v["label"] for v in modifier.get("option_values", [])]
            assert len(labels) == len(set(labels)), (product["id"], modifier["display_name"], labels)


def test_the_library_entry_point_takes_the_same_lock(served, tmp_path):
    from pipeline.plan.operations import Plan

    base_url, api_url = served
    workbook = tmp_path / "mods.xlsx"
    workbook.write_bytes(b"")
    plan = Plan("sandbox", api_url, str(workbook), "2026-12-01T00:00:00+00:00").save(tmp_path / "plan.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIGCOMMERCE_", "BCMOD_"))}
    env |= {"BIGCOMMERCE_ACCESS_TOKEN": TOKEN}
    command = [sys.executable, "-m", "pipeline.apply", str(plan), "--api-url", api_url, "--no-backup"]
    with workbook_lock(workbook, "bcmod apply"):
        held = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert held.returncode == 5, held.stdout + held.stderr
    assert f"process {os.getpid()}" in " ".join((held.stdout + held.stderr).split())
    free = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert free.returncode == 0, free.stdout + free.stderr
    assert _writes(base_url) == 0
