"""`export_all_stores`: one `export_modifiers` flow run per store, spread over a work pool's workers.

The parent starts every child through a deployment (`export_modifiers/export-store` by default,
registered by `python -m flows.deploy` or `prefect deploy`), so each store's export runs on
whichever worker of the pool picks it up; workers on many machines share the load. The parent waits
for the children and returns one row per store: its state, the counts and the export's path, read
from the table artifact each child publishes (no shared result storage needed). Tokens never
appear: a store names the worker environment variable (`token_env`) or the Prefect Secret block
(`token_secret_block`) that holds its token; a `token` key is refused without being echoed.

Each child takes its store's slot (`store:<hash>`, one at a time), so a nightly run and an ad-hoc
import of the same store, or two parents listing it, take turns rather than share its quota. By
default each child is incremental: it reads what changed since its store's last successful export.
A parent with no stores fails and says where to list them, rather than completing green.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterType,
)
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import ArtifactSort
from prefect.deployments import arun_deployment
from prefect.runtime import flow_run as current_flow_run
from pydantic import Field, model_validator

from flows.naming import agency_run_name, export_name
from flows.store import StoreParams

EXPORT_FLOW_NAME = "export_modifiers"
DEFAULT_EXPORT_DEPLOYMENT = "export-store"
SUMMARY_FIELDS = ("store_hash", "products", "modifiers", "values", "window", "requests", "attempts", "seconds",
                  "path", "host")
NO_STORES = ("no stores listed: give agency-nightly its stores (the `stores` parameter in prefect.yaml, then "
             "`prefect deploy -n agency-nightly`; or `python -m flows.deploy --stores stores.json`)")


class StoreRef(StoreParams):
    """One store of the agency: a name, where it is and where its token lives, never the token itself."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100,
                      description="Short label: the export's sub-folder and the child run's name.")

    @model_validator(mode="after")
    def _one_store_one_token_source(self) -> StoreRef:
        if not (self.api_url or self.store_hash):
            raise ValueError(f"store {self.name!r}: give store_hash or api_url")
        if bool(self.token_env) == bool(self.token_secret_block):
            raise ValueError(f"store {self.name!r}: give exactly one of token_env or token_secret_block")
        return self

    def export_parameters(self) -> dict[str, Any]:
        """The child export's `store` parameter: this store without its name."""
        return {"store": self.parameters()}


class StoresFailed(Exception):
    """At least one store's export did not complete; the others' results are in the message."""


class NoStoresListed(ValueError):
    """The parent was given no store: a nightly run that exports nothing must not look green."""


@flow(name="export_all_stores", flow_run_name=agency_run_name)
async def export_all_stores(
    stores: list[StoreRef],
    out: str = "exports",
    deployment: str = DEFAULT_EXPORT_DEPLOYMENT,
    incremental: bool = True,
    since_hours: float | None = None,
    csv: bool = False,
    concurrency: int = 8,
    timeout: float | None = 4 * 3600,
    poll_interval: float = 5,
) -> list[dict[str, Any]]:
    """Export every store in its own flow run of `export_modifiers/<deployment>`, to `out/<name>/`.

    Each child is `incremental` (since its store's last successful export) unless `since_hours` is
    given. Returns one row per store (name, flow run id, state, counts, path, host); fails, after
    collecting every row, when a child failed or had not finished within `timeout` seconds.
    """
    logger = get_run_logger()
    if not stores:
        raise NoStoresListed(NO_STORES)
    stores = [s if isinstance(s, StoreRef) else StoreRef.model_validate(s) for s in stores]
    names = [s.name for s in stores]
    if len(set(names)) != len(names):
        raise ValueError(f"store names must be unique: {names}")
    common: dict[str, Any] = {"csv": csv, "concurrency": concurrency, "incremental": incremental}
    if since_hours is not None:
        common["since_hours"] = since_hours
    parent_id = current_flow_run.id

    async def start(store: StoreRef) -> FlowRun:
        parameters = {**common, **store.export_parameters(), "out": str(Path(out) / store.name)}
        return await arun_deployment(
            name=f"{EXPORT_FLOW_NAME}/{deployment}", parameters=parameters, timeout=timeout,
            poll_interval=poll_interval, flow_run_name=export_name(store),
            tags=["bcmod", f"store-{store.name}"],
            idempotency_key=f"{parent_id}:{store.name}" if parent_id else None,
        )

    logger.info("starting %s export runs through %s/%s", len(stores), EXPORT_FLOW_NAME, deployment)
    children = await asyncio.gather(*(start(s) for s in stores))
    summaries = await _summaries([c.id for c in children])
    rows = [_row(store, child, summaries.get(child.id)) for store, child in zip(stores, children)]
    await acreate_table_artifact(rows, key="bcmod-agency-export", description="bcmod: one export run per store")
    for row in rows:
        logger.info("%s: %s, %s products, %s", row["name"], row["state"], row.get("products"), row.get("path"))
    failed = [r for r in rows if r["state"] != "COMPLETED"]
    if failed:
        raise StoresFailed(f"{len(failed)} of {len(rows)} store exports did not complete: "
                           + json.dumps(rows, default=str))
    return rows


async def _summaries(flow_run_ids: list[UUID], batch: int = 50) -> dict[UUID, dict[str, Any]]:
    """The summary row each child published as a table artifact, by flow run id (newest wins)."""
    from prefect.client.schemas.objects import Artifact

    artifacts: list[Artifact] = []
    async with get_client() as client:
        for i in range(0, len(flow_run_ids), batch):
            artifacts += await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=flow_run_ids[i:i + batch]),
                                               type=ArtifactFilterType(any_=["table"])),
                sort=ArtifactSort.CREATED_DESC, limit=200)
    found: dict[UUID, dict[str, Any]] = {}
    for artifact in reversed(artifacts):
        data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
        if artifact.flow_run_id and isinstance(data, list) and data and isinstance(data[0], dict):
            found[artifact.flow_run_id] = data[0]
    return found


def _row(store: StoreRef, child: FlowRun, summary: dict[str, Any] | None) -> dict[str, Any]:
    state = child.state
    row: dict[str, Any] = {"name": store.name, "flow_run_id": str(child.id),
                           "state": state.type.value if state else "UNKNOWN"}
    if state and not state.is_final():
        row["message"] = f"still {state.type.value.lower()} when the parent stopped waiting"
    elif state and not state.is_completed() and state.message:
        row["message"] = state.message
    if summary:
        row.update({k: summary.get(k) for k in SUMMARY_FIELDS})
    elif state and state.is_completed():
        row["message"] = "completed, but its summary artifact was not found"
    return row
