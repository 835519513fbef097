"""Process-wide counts of the spec check, for a test session's summary and the project's notes.

Every sandbox in a process adds to one `TALLY` (a test session starts hundreds of sandboxes).
A sandbox served in its own process (`bcmod sandbox serve`, a test's subprocess) appends its
tally as one JSON line to the file named by `$BCMOD_SANDBOX_TALLY_FILE` when it stops, so the
session that started it can add it to its own numbers.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

ENV_FILE = "BCMOD_SANDBOX_TALLY_FILE"
MAX_KEPT = 1000  # response violations kept with their details (the count goes on)
_GOT = re.compile(r" \(got .*\)$")
COUNTERS = ("checked", "refused", "request_violations", "responses_checked", "response_violations")


class Tally:
    """Counters of checked requests and responses, and the details of non-conforming responses.

    checked: requests checked against the spec; refused: those answered 422 for it (strict);
    request_violations: non-conforming requests served anyway (strict off); responses_checked /
    response_violations: responses checked, and those that broke the spec.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.violations: list[dict[str, Any]] = []
        self.request_kinds: Counter[str] = Counter()
        self.check_seconds = 0.0

    def add_time(self, seconds: float) -> None:
        """Time spent checking (request decoding and checks, response checks), for the suite's figures."""
        with self._lock:
            self.check_seconds += seconds

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                self.counts[name] += n

    def response_violation(self, method: str, path: str, status: int, messages: list[str]) -> None:
        with self._lock:
            self.counts["response_violations"] += 1
            if len(self.violations) < MAX_KEPT:
                self.violations.append({"method": method, "path": path, "status": status, "messages": messages})

    def request_violation(self, operation_id: str, errors: dict[str, str]) -> None:
        """Count the kinds of violation of one non-conforming request (values left out)."""
        with self._lock:
            for location, message in errors.items():
                self.request_kinds[f"{operation_id} {location}: {_GOT.sub('', message)}"] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**self.counts, "violations": list(self.violations), "request_kinds": dict(self.request_kinds),
                    "check_seconds": self.check_seconds}

    def reset(self) -> None:
        with self._lock:
            self.counts = dict.fromkeys(COUNTERS, 0)
            self.violations.clear()
            self.request_kinds.clear()
            self.check_seconds = 0.0


TALLY = Tally()


def write_report(path: str | os.PathLike[str] | None = None) -> bool:
    """Append this process's tally to `path` (default `$BCMOD_SANDBOX_TALLY_FILE`); False if none."""
    target = path or os.environ.get(ENV_FILE)
    if not target:
        return False
    line = json.dumps({"pid": os.getpid(), **TALLY.snapshot()})
    with open(target, "a", encoding="utf-8") as handle:  # one short append: whole lines from each process
        handle.write(line + "\n")
    return True


def read_reports(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The tallies appended to `path` so far (none if it does not exist)."""
    file = Path(path)
    if not file.is_file():
        return []
    return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]


def summary_line(totals: dict[str, Any]) -> str:
    """`strict sandbox: N requests checked, M refused for violations, K response violations`."""
    line = (f"strict sandbox: {totals['checked']} requests checked, {totals['refused']} refused for violations, "
            f"{totals['response_violations']} response violations")
    if totals.get("request_violations"):
        line += f" ({totals['request_violations']} non-conforming requests served with strict off)"
    return line
