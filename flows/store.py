"""How a flow's tasks reach the store without the token ever being a parameter or a result,
and how runs of one store take turns (a Prefect global concurrency limit per store)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from pipeline.settings import Settings

STORE_LIMIT_PREFIX = "store:"
STORE_LIMIT_SLOTS = 1  # one run at a time per store: the API quota is per store
# BCMOD_STORE_SLOTS: "auto" (default) creates a missing `store:<hash>` limit with 1 slot before taking it;
# "existing" only uses limits an operator created (`prefect gcl create store:<hash> --limit 1`) and runs
# unguarded, with a warning, when there is none; "off" takes no slot at all.
STORE_SLOTS_ENV = "BCMOD_STORE_SLOTS"
STORE_SLOT_TIMEOUT_ENV = "BCMOD_STORE_SLOT_TIMEOUT"  # seconds to wait for the slot; unset = wait as long as it takes


def resolve_settings(api_url: str | None, store_hash: str | None, token_secret_block: str | None, *,
                     token_env: str | None = None) -> Settings:
    """Settings from the environment (.env), the flow's parameters taking precedence; the token
    from a Prefect Secret block when one is named, or from the environment variable `token_env`
    names (one worker can then hold the tokens of many stores, `BCMOD_TOKEN_<STORE>=...`)."""
    if token_secret_block and token_env:
        raise ValueError("name either token_secret_block or token_env, not both")
    overrides: dict[str, Any] = {k: v for k, v in {"api_url": api_url, "store_hash": store_hash}.items() if v}
    settings = Settings(**overrides)
    if token_secret_block:
        from prefect.blocks.system import Secret

        settings = settings.model_copy(update={"access_token": SecretStr(Secret.load(token_secret_block).get())})
    elif token_env:
        token = os.environ.get(token_env, "").strip()
        if not token:
            raise ValueError(f"environment variable {token_env} (the store's token) is not set where this flow runs")
        settings = settings.model_copy(update={"access_token": SecretStr(token)})
    if not settings.is_configured:
        raise ValueError("no store configured: set BIGCOMMERCE_API_URL or BIGCOMMERCE_STORE_HASH, and "
                         "BIGCOMMERCE_ACCESS_TOKEN or a Secret block name")
    return settings


def store_key(settings: Settings) -> str:
    """What identifies the store's API quota: its hash (from settings or the `/stores/<hash>/` part
    of the URL), else the URL's host and path (a proxy without a hash in its URL)."""
    if settings.store_hash:
        return settings.store_hash
    parts = urlsplit(settings.base_url)
    segments = [s for s in parts.path.split("/") if s]
    if "stores" in segments[:-1]:
        return segments[segments.index("stores") + 1]
    return f"{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}{parts.path}".rstrip("/")


def store_limit_name(key: str) -> str:
    """`store:<key>`, with the characters Prefect refuses in names (/ % & > <) replaced."""
    return STORE_LIMIT_PREFIX + re.sub(r"[/%&><]", "_", key)


async def ensure_store_limit(key: str, slots: int = STORE_LIMIT_SLOTS) -> bool:
    """Create the store's global concurrency limit when there is none; True when it was created.

    An existing limit (another slot count, inactive) is left as the operator set it.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = store_limit_name(key)
    async with get_client() as client:
        try:
            await client.read_global_concurrency_limit_by_name(name)
            return False
        except ObjectNotFound:
            pass
        try:
            await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=slots))
        except ObjectAlreadyExists:  # another run created it first
            return False
    return True


@asynccontextmanager
async def store_slot(key: str, *, timeout_seconds: float | None = None) -> AsyncIterator[str | None]:
    """Hold the store's slot (`store:<key>`, 1 slot) for the block: runs of one store, on any worker,
    take turns instead of sharing its API quota blindly. Yields the limit's name (None when off).

    The slot is a lease the server expires if the holder dies, so a killed worker frees it within
    `lease_duration` (300 s). Waits as long as it takes unless `timeout_seconds` (or
    BCMOD_STORE_SLOT_TIMEOUT) is set, then raises `TimeoutError` having sent nothing.
    """
    mode = os.environ.get(STORE_SLOTS_ENV, "auto").strip().lower() or "auto"
    if mode not in {"auto", "existing", "off"}:
        raise ValueError(f"{STORE_SLOTS_ENV} must be auto, existing or off, not {mode!r}")
    if mode == "off":
        yield None
        return
    from prefect.concurrency.asyncio import concurrency
    from prefect.logging import get_logger

    name = store_limit_name(key)
    if mode == "auto":
        await ensure_store_limit(key)
    if timeout_seconds is None and os.environ.get(STORE_SLOT_TIMEOUT_ENV):
        timeout_seconds = float(os.environ[STORE_SLOT_TIMEOUT_ENV])
    logger = _run_logger() or get_logger("bcmod.store")
    logger.info("waiting for the store slot %s", name)
    # strict=False: a missing limit (mode "existing") logs a warning and the block runs unguarded
    async with concurrency(name, occupy=1, timeout_seconds=timeout_seconds, strict=False):
        logger.info("holding the store slot %s", name)
        yield name
    logger.info("released the store slot %s", name)


def _run_logger() -> Any:
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return None
