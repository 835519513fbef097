"""Session-wide fixtures, and the suite's check of every sandbox against BigCommerce's specs.

Every sandbox the suite starts checks its responses against the official OpenAPI specs (when
they are present): a test whose sandbox sent a response that breaks them fails, and the session
ends with one line counting what was checked. Sandboxes run as subprocesses inherit the settings
and report through `$BCMOD_SANDBOX_TALLY_FILE`.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("BCMOD_SANDBOX_CHECK_RESPONSES", "1")
# The strict sandbox for the whole suite: every request checked against BigCommerce's specs.
os.environ.setdefault("BCMOD_SANDBOX_STRICT", "1")

from pipeline.sandbox.tally import ENV_FILE, TALLY, COUNTERS, read_reports, summary_line  # noqa: E402

# A command run without --sandbox-dir uses the embedded store in $BCMOD_SANDBOX_DIR: one folder for
# the session, never the user's own store (subprocesses inherit it).
os.environ.setdefault("BCMOD_SANDBOX_DIR", tempfile.mkdtemp(prefix="bcmod-test-sandbox-"))

_TALLY_FILE = Path(tempfile.gettempdir()) / f"bcmod-sandbox-tally-{os.getpid()}.jsonl"
# The sandbox's own tests break the contract on purpose (that is what they test): their counts are
# shown apart, so the main figures are those of the client's requests (export, plan, apply, ...).
_SANDBOX_TESTS = "tests/pipeline/sandbox/"
_ON_PURPOSE = dict.fromkeys(COUNTERS, 0)
_CLIENT_KINDS: Counter[str] = Counter()  # what the other tests' non-conforming requests broke


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "expects_response_violations(n): the test makes a sandbox send n "
                                       "non-conforming responses on purpose (a test of the check itself)")
    _TALLY_FILE.unlink(missing_ok=True)
    os.environ[ENV_FILE] = str(_TALLY_FILE)  # subprocess sandboxes append their tally here


def _totals() -> dict[str, Any]:
    """Counts of this process and of the subprocess sandboxes so far, with the violations' details."""
    totals = TALLY.snapshot()
    kinds = Counter(totals["request_kinds"])
    for report in read_reports(_TALLY_FILE):
        for name in COUNTERS:
            totals[name] += report.get(name, 0)
        totals["violations"] = totals["violations"] + report["violations"]
        totals["check_seconds"] += report.get("check_seconds", 0.0)
        kinds.update(report.get("request_kinds", {}))
    totals["request_kinds"] = kinds
    return totals


@pytest.fixture(autouse=True)
def _sandbox_responses_conform(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if a sandbox it used (in process or as a subprocess) broke the spec in a response."""
    before = _totals()
    yield
    after = _totals()
    delta = {name: after[name] - before[name] for name in COUNTERS}
    count = delta["response_violations"]
    if request.node.nodeid.startswith(_SANDBOX_TESTS):
        for name in COUNTERS:
            _ON_PURPOSE[name] += delta[name]
    else:
        _CLIENT_KINDS.update(after["request_kinds"] - before["request_kinds"])
    expected = request.node.get_closest_marker("expects_response_violations")
    if expected is not None:
        assert count == expected.args[0], f"expected {expected.args[0]} response violations, the sandbox sent {count}"
    elif count:
        found = [v for v in after["violations"] if v not in before["violations"]]
        lines = [f"{v['method']} {v['path']} -> {v['status']}: {'; '.join(v['messages'])}" for v in found[:10]]
        pytest.fail(f"the sandbox sent {count} response(s) that break BigCommerce's OpenAPI specs:\n"
                    + "\n".join(lines), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    totals = _totals()
    line = summary_line({name: totals[name] - _ON_PURPOSE[name] for name in COUNTERS})
    if any(_ON_PURPOSE.values()):
        own = _ON_PURPOSE
        line += (f"; the sandbox's own tests (on purpose): {own['checked']} checked, {own['refused']} refused, "
                 f"{own['response_violations']} response violations")
    line += f"; checking took {totals['check_seconds']:.1f} s"
    terminalreporter.write_line(line)
    for kind, count in _CLIENT_KINDS.most_common(20):  # with strict off: what the client still sends wrong
        terminalreporter.write_line(f"  {count:6d} x {kind}")


def pytest_unconfigure(config: pytest.Config) -> None:
    _TALLY_FILE.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for every flow test (starting one costs seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
