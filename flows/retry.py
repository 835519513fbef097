"""Which task failures Prefect may retry: only those that can heal by waiting.

The client already retries each request (429s, 5xx, drops) within its own budget. A Prefect retry
minutes later helps when the store was down or overloaded for longer than that budget. It cannot
help a wrong token (401/403), a missing object (404), a refused payload (422), a conflict (409),
broken pagination, a workbook with problems or a missing Secret block: retrying those only holds
the store's slot for minutes and hides the real error, so they fail the run at once.
"""

from __future__ import annotations

from typing import Any

import httpx

from pipeline.client.errors import AmbiguousWriteError, BigCommerceError, RetriesExhaustedError

TRANSIENT_NETWORK_ERRORS = (httpx.TransportError, ConnectionError, TimeoutError)


def is_transient(error: BaseException | None) -> bool:
    """True when the same work may succeed later: a retriable API error, the client's own retries
    exhausted on one, an apply write of unknown outcome (the journal and natural keys make a
    re-run safe), or a network failure outside the client."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, RetriesExhaustedError):
            return error.last_error.retriable
        if isinstance(error, AmbiguousWriteError):
            return True
        if isinstance(error, BigCommerceError):
            return error.retriable
        if isinstance(error, TRANSIENT_NETWORK_ERRORS):
            return True
        error = error.__cause__
    return False


def _exception_of(state: Any) -> BaseException | None:
    """The exception a failed task raised (Prefect hands the condition `Failed(data=exception)`)."""
    data = getattr(state, "data", None)
    return data if isinstance(data, BaseException) else None


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """`retry_condition_fn` for every retried task: retry transient failures only (see module doc)."""
    return is_transient(_exception_of(state))
