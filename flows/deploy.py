"""Register bcmod's deployments on a process work pool: `python -m flows.deploy [--stores stores.json]`.

The Python twin of `prefect.yaml` (`prefect deploy --all`): against the server PREFECT_API_URL points
at, it creates the process work pool `bcmod-process` when missing and registers

- `export_modifiers/export-store`: one store's export, started per store by `export_all_stores`;
- `import_modifiers/import-store`: one store's validate -> plan -> apply, run on demand;
- `export_all_stores/agency-nightly` (with `--stores`): every listed store, nightly cron, each one
  incremental since its last successful export;

and, with `--stores`, each store's global concurrency limit `store:<hash>` (1 slot) up front
(the flows also create a missing one themselves, see `flows.slot.store_slot`).

Code is not shipped anywhere: entrypoints are module paths (`flows.export_flow.export_modifiers`),
imported from the bcmod installed next to the worker, and the one pull step, `flows.home.enter_home`,
changes into bcmod's home on that worker ($BCMOD_HOME, else its checkout; `--home PATH` pins one
path for every worker). See docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from flows.agency import StoreRef, export_all_stores
from flows.export_flow import export_modifiers
from flows.import_flow import import_modifiers
from flows.nightly import NIGHTLY_CRON
from flows.store import ensure_store_limit, store_key, store_limit_name
from pipeline.settings import Settings

WORK_POOL = "bcmod-process"
PULL_STEP = "flows.home.enter_home"
EXPORT_DEPLOYMENT = "export-store"
IMPORT_DEPLOYMENT = "import-store"
AGENCY_DEPLOYMENT = "agency-nightly"
ENTRYPOINTS = {
    EXPORT_DEPLOYMENT: "flows.export_flow.export_modifiers",
    IMPORT_DEPLOYMENT: "flows.import_flow.import_modifiers",
    AGENCY_DEPLOYMENT: "flows.agency.export_all_stores",
}


def pull_step(home: str | None = None) -> dict[str, Any]:
    """The deployments' one pull step: into `home`, or into each worker's own bcmod home."""
    return {PULL_STEP: {"directory": home} if home else {}}


class HomeStep:
    """Deployment storage that pulls nothing: its pull step only changes into bcmod's home on the
    worker (`flows.home.enter_home`); the code is the bcmod installed there."""

    def __init__(self, home: str | None = None):
        self.home = home
        self._base_path = Path.cwd()

    def set_base_path(self, path: Path) -> None:
        self._base_path = path

    @property
    def destination(self) -> Path:
        return self._base_path

    @property
    def pull_interval(self) -> int | None:
        return None

    async def pull_code(self) -> None:
        return None

    def to_pull_step(self) -> dict[str, Any]:
        return pull_step(self.home)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HomeStep) and other.home == self.home


async def ensure_work_pool(name: str = WORK_POOL) -> bool:
    """Create the process work pool (Prefect's default process job template) when missing; True if created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    async with get_client() as client:
        try:
            await client.read_work_pool(name)
            return False
        except ObjectNotFound:
            pass
        try:
            await client.create_work_pool(WorkPoolCreate(
                name=name, type="process", base_job_template=ProcessWorker.get_default_base_job_template(),
                description="bcmod: one flow run per store; workers on any machine with a checkout of bcmod"))
        except ObjectAlreadyExists:
            return False
    return True


async def ensure_store_limits(stores: list[StoreRef]) -> list[str]:
    """Each store's `store:<hash>` limit (1 slot); returns the names of the limits this call created."""
    created = []
    for store in stores:
        key = store_key(Settings.model_construct(api_url=store.api_url, store_hash=store.store_hash))
        if await ensure_store_limit(key):
            created.append(store_limit_name(key))
    return created


def load_stores(path: Path) -> list[StoreRef]:
    """A JSON or YAML list of stores: `[{name, store_hash | api_url, token_env | token_secret_block}]`."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in {".yaml", ".yml"}:
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if isinstance(data, dict):
        data = data.get("stores")
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of stores (or {{stores: [...]}})")
    return [StoreRef.model_validate(item) for item in data]


async def register(pool: str = WORK_POOL, home: str | None = None, stores: list[StoreRef] | None = None,
                   out: str = "exports", cron: str = NIGHTLY_CRON) -> dict[str, UUID]:
    """Create the pool if needed and register (create or update) the deployments; returns their ids by name."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    await ensure_work_pool(pool)
    storage = HomeStep(home)
    common: dict[str, Any] = {"work_pool_name": pool, "tags": ["bcmod"], "entrypoint_type": EntrypointType.MODULE_PATH}
    deployments = [
        await export_modifiers.ato_deployment(
            name=EXPORT_DEPLOYMENT,
            description="Export one store's modifiers (started per store by export_all_stores).",
            **common),
        await import_modifiers.ato_deployment(
            name=IMPORT_DEPLOYMENT, description="Validate, plan and apply one store's edited workbook.", **common),
    ]
    if stores:
        await ensure_store_limits(stores)
        deployments.append(await export_all_stores.ato_deployment(
            name=AGENCY_DEPLOYMENT, schedule=Cron(cron, timezone="UTC"),
            description="Nightly: one export run per store, each since its last successful export.",
            parameters={"stores": [s.model_dump(exclude_none=True) for s in stores], "out": out, "incremental": True},
            **common))
    ids: dict[str, UUID] = {}
    for deployment in deployments:
        deployment.storage = storage
        if deployment.entrypoint != ENTRYPOINTS[deployment.name]:  # prefect.yaml must name the same one
            raise RuntimeError(f"{deployment.name}: entrypoint {deployment.entrypoint}, "
                               f"expected {ENTRYPOINTS[deployment.name]}")
        ids[f"{deployment.flow_name}/{deployment.name}"] = await deployment.apply(work_pool_name=pool)
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", default=WORK_POOL, help=f"process work pool (default {WORK_POOL})")
    parser.add_argument("--home", default=None,
                        help="bcmod's home on every worker (default: each worker's $BCMOD_HOME, else its checkout)")
    parser.add_argument("--stores", type=Path, help="JSON/YAML list of stores: also registers agency-nightly")
    parser.add_argument("--out", default="exports", help="export folder for agency-nightly (one sub-folder per store)")
    parser.add_argument("--cron", default=NIGHTLY_CRON, help=f"agency-nightly schedule, UTC (default {NIGHTLY_CRON!r})")
    args = parser.parse_args(argv)
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        print("PREFECT_API_URL is not set: start `prefect server start` and export "
              "PREFECT_API_URL=http://127.0.0.1:4200/api (or your server's URL) first", file=sys.stderr)
        return 2
    stores = load_stores(args.stores) if args.stores else None
    ids = asyncio.run(register(args.pool, args.home, stores, args.out, args.cron))
    for name, deployment_id in ids.items():
        print(f"registered {name} ({deployment_id}) on work pool {args.pool}")
    print(f"next: on each worker machine, in its checkout: prefect worker start --pool {args.pool}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
