"""kill -9 in the middle of an apply, then run it again: the store converges, with no duplicates.

Two real processes: the sandbox store (uvicorn, with latency so writes are in flight when the
blow lands) and `python -m pipeline.apply`, killed with SIGKILL once the store has seen part of
the writes. The same command run again resumes from the journal. The result is compared, by
natural key, with the same plan applied without interruption to an identically seeded store.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipeline.apply import Journal, apply_plan
from pipeline.client import BigCommerceClient
from pipeline.settings import Settings
from tests.pipeline.apply.support import (
    PNG,
    client_for,
    duplicates,
    mixed_plan,
    products_of,
    products_over_http,
    state_of,
)
from tests.stores import TEST_TOKEN, sandbox_store

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
REPO = Path(__file__).resolve().parents[3]
PRODUCTS, SEED = 20, 3
SERVE = (
    "import sys\n"
    "from pathlib import Path\n"
    "from pipeline.sandbox.config import SandboxConfig\n"
    "from pipeline.sandbox.server import serve_forever\n"
    "serve_forever(SandboxConfig(data_dir=Path(sys.argv[1]), products=int(sys.argv[2]), seed=int(sys.argv[3]),\n"
    "              token=sys.argv[4], quota=None, latency_ms=float(sys.argv[5])), port=int(sys.argv[6]),\n"
    "              log_level='warning')\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env() -> dict[str, str]:
    return {**os.environ, "BIGCOMMERCE_ACCESS_TOKEN": TEST_TOKEN, "PYTHONPATH": str(REPO),
            "BIGCOMMERCE_STORE_HASH": "", "BIGCOMMERCE_API_URL": ""}


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def writes(url: str) -> int:
    try:
        return int(httpx.get(f"{url}/_sandbox/stats", timeout=2).json()["writes"])
    except httpx.HTTPError:
        return -1


@pytest.fixture
def sandbox_process(tmp_path: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-c", SERVE, str(tmp_path / "served"), str(PRODUCTS), str(SEED),
                                TEST_TOKEN, "25", str(port)], cwd=REPO, env=env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: writes(url) >= 0 or process.poll() is not None, 20, "the sandbox to start")
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def apply_command(plan_file: Path, url: str) -> list[str]:
    api_url = Settings.for_sandbox(url, TEST_TOKEN).base_url
    return [sys.executable, "-m", "pipeline.apply", str(plan_file), "--api-url", api_url, "--concurrency", "4", "--json"]


async def test_killed_mid_apply_then_rerun_converges(sandbox_process: str, tmp_path: Path) -> None:
    url = sandbox_process
    settings = Settings.for_sandbox(url, TEST_TOKEN)
    folder = tmp_path / "wb"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "swatch.png").write_bytes(PNG)
    async with BigCommerceClient(settings) as client:
        plan = mixed_plan(await products_over_http(client), n_products=PRODUCTS)
    plan.workbook = str(folder / "edits.xlsx")  # not there: the journal goes beside the plan file
    plan_file = plan.save(folder / "plan.json")
    total = len(plan.operations)

    journal_file = plan_file.with_name("plan.json.journal.jsonl")
    for share in (3, 2):  # killed after a third of the writes, then again (mid-resume) after half
        victim = subprocess.Popen(apply_command(plan_file, url), cwd=REPO, env=env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        landed = wait_until(lambda: (n := writes(url)) >= total // share and n or victim.poll() is not None,
                            30, f"1/{share} of the writes")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        assert victim.returncode == -signal.SIGKILL, f"the apply ended before it was killed: {victim.stderr.read()}"
        at_kill = writes(url)
        assert landed >= total // share and at_kill < total
    journal = Journal(journal_file).open(plan.plan_id)
    assert journal.runs == 2 and 0 < len(journal.done) < total
    backups = list((folder / "backups").glob("backup-*.xlsx"))
    assert len(backups) == 1  # taken once, before the first write

    rerun = subprocess.run(apply_command(plan_file, url), cwd=REPO, env=env(), capture_output=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr.decode()[-3000:]
    report = json.loads(rerun.stdout)
    assert report["resumed"] and report["counts"] == {"ok": total, "failed": 0, "skipped": 0}
    resumed = sum(o["from_journal"] for o in report["outcomes"])
    assert resumed == len(journal.done)
    assert report["writes"] <= total - resumed + 4 * 2  # at most the in-flight ones are looked at again
    assert list((folder / "backups").glob("backup-*.xlsx")) == backups  # the first backup is the one kept

    async with BigCommerceClient(settings) as client:
        after = await products_over_http(client)
    assert duplicates(after) == []

    reference = sandbox_store(tmp_path / "reference", products=PRODUCTS, seed=SEED)
    assert state_of(products_of(reference)) != state_of(after)
    async with client_for(reference) as client:
        clean = await apply_plan(plan, client, workbook_dir=folder, journal=None, backup=False)
    assert clean.ok
    assert state_of(after) == state_of(products_of(reference))
    print(f"\n{total} operations; killed twice, the second time after {at_kill} writes; the last run skipped {resumed} done, sent "
          f"{report['writes']} writes and {report['reconcile_reads']} natural-key lookups "
          f"({sum(o['reconciled'] for o in report['outcomes'])} creates matched)")
