"""Requests a run sent to its store, counted over every attempt of its tasks.

A task's result only exists for its last attempt, so a count returned by the task hides what the
failed attempts cost the store's quota. Each attempt adds its client's count here, in the run's
own process, and the flow reads the total when it reports.
"""

from __future__ import annotations

import threading
from collections import defaultdict

_lock = threading.Lock()
_attempts: dict[tuple[str, str], list[int]] = defaultdict(list)


def _run_id() -> str:
    from prefect.runtime import flow_run

    return flow_run.id or "no-run"


def record_attempt(stage: str, requests: int) -> None:
    """Add one attempt of `stage` (extract, plan, apply...) that sent `requests` requests."""
    with _lock:
        _attempts[(_run_id(), stage)].append(int(requests))


def attempts(stage: str) -> list[int]:
    """Requests of each attempt of `stage` in the current flow run, oldest first."""
    with _lock:
        return list(_attempts.get((_run_id(), stage), ()))


def total(*stages: str) -> int:
    """Requests of every attempt of these stages in the current flow run."""
    return sum(sum(attempts(stage)) for stage in stages)
