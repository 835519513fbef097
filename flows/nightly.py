"""Serve a nightly export from this process: `python -m flows.nightly` (needs a Prefect server).

`serve` registers `export_modifiers/nightly-export-served` and runs its scheduled runs here, in the
current directory, with this shell's store settings (.env or BIGCOMMERCE_*). It has its own name:
prefect.yaml's `nightly-export` runs on the work pool instead, and two deployments with one name
would take each other over whenever either is deployed again.

Schedules only fire on a real Prefect server: the temporary server a flow starts by itself when no
PREFECT_API_URL is set lives only as long as that one run.
"""

from __future__ import annotations

import os

from flows.export_flow import export_modifiers

NIGHTLY_CRON = os.environ.get("BCMOD_NIGHTLY_CRON", "0 2 * * *")
SERVED_DEPLOYMENT = "nightly-export-served"


def main() -> None:
    export_modifiers.serve(
        name=SERVED_DEPLOYMENT,
        cron=NIGHTLY_CRON,
        parameters={"out": os.environ.get("BCMOD_EXPORT_DIR", "exports"), "incremental": True},
        tags=["bcmod", "export"],
        pause_on_shutdown=False,
    )


if __name__ == "__main__":
    main()
