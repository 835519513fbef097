"""bcmod's library: client, extract, normalise, workbook, validate, plan, apply.

Nothing here imports Prefect; `flows/` wraps these functions for scheduling and retries.

The calls a notebook or script wants are in `pipeline.api` (`export_frames`, `read_workbook`,
`validate`, `plan`, `apply`, each with a `*_sync` twin). `export_frames` and `read_workbook` (and
every `*_sync` twin) are also reachable here, imported on first use so `import pipeline` stays
cheap; `validate`, `plan` and `apply` are not, because those names are this package's
subpackages: use `from pipeline import api` and `api.validate(...)`.
"""

from __future__ import annotations

from typing import Any

_API = frozenset({"export_frames", "export_frames_sync", "read_workbook", "read_workbook_sync", "validate_sync",
                  "plan_sync", "apply_sync", "run_sync"})

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        from pipeline import api

        return getattr(api, name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
