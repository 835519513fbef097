"""Serve the nightly export deployment: `python -m flows.nightly` (needs `prefect server start`).

Schedules only fire on a real Prefect server: the temporary server a flow starts by itself when no
PREFECT_API_URL is set lives only as long as that one run. See the README's "Nightly export".
"""

from __future__ import annotations

import os

from flows.export_flow import export_modifiers

NIGHTLY_CRON = os.environ.get("BCMOD_NIGHTLY_CRON", "0 2 * * *")


def main() -> None:
    export_modifiers.serve(
        name="nightly-export",
        cron=NIGHTLY_CRON,
        parameters={"out": os.environ.get("BCMOD_EXPORT_DIR", "exports"), "since_hours": 24},
        tags=["bcmod", "export"],
        pause_on_shutdown=False,
    )


if __name__ == "__main__":
    main()
