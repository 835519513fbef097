"""How a flow reaches its store without the token ever being a parameter, a task input or a result.

A run names where the token lives: the worker's environment (`.env`, BIGCOMMERCE_ACCESS_TOKEN, or the
variable `token_env` names) or a Prefect Secret block (`token_secret_block`). The token is read
where it is used. Async code reads blocks with `Secret.aload`: `Secret.load` called inside a running
event loop returns a coroutine, and `.get()` on that crashed the first 3.8 deployments.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from pipeline.settings import Settings

STORE_LIMIT_PREFIX = "store:"
STORE_LIMIT_SLOTS = 1  # one run at a time per store: the API quota is per store
SECRET_HINT = "create it with `python -m flows.secret {name}` (the token is read from the terminal or stdin)"


class SecretBlockMissing(LookupError):
    """The run names a Prefect Secret block that does not exist on the server."""


def store_settings(api_url: str | None, store_hash: str | None) -> Settings:
    """The store's address from the environment (.env), the run's parameters taking precedence."""
    overrides: dict[str, Any] = {k: v for k, v in {"api_url": api_url, "store_hash": store_hash}.items() if v}
    return Settings(**overrides)


def _with_token(settings: Settings, token: str | None, token_env: str | None) -> Settings:
    if token is not None:
        settings = settings.model_copy(update={"access_token": SecretStr(token)})
    elif token_env:
        value = os.environ.get(token_env, "").strip()
        if not value:
            raise ValueError(f"environment variable {token_env} (the store's token) is not set where this flow runs")
        settings = settings.model_copy(update={"access_token": SecretStr(value)})
    if not settings.is_configured:
        raise ValueError("no store configured: set BIGCOMMERCE_API_URL or BIGCOMMERCE_STORE_HASH, and "
                         "BIGCOMMERCE_ACCESS_TOKEN or a Secret block name")
    return settings


def _check_sources(token_secret_block: str | None, token_env: str | None) -> None:
    if token_secret_block and token_env:
        raise ValueError("name either token_secret_block or token_env, not both")


def read_secret(name: str) -> str:
    """The token in Prefect Secret block `name`, from synchronous code."""
    from prefect.blocks.system import Secret

    try:
        block = Secret.load(name, _sync=True)
    except ValueError as error:
        if _names_a_missing_block(error):
            raise SecretBlockMissing(f"no Prefect Secret block named {name!r}: {SECRET_HINT.format(name=name)}") \
                from error
        raise
    return str(block.get())


async def aread_secret(name: str) -> str:
    """The token in Prefect Secret block `name`, from async code (`Secret.aload`)."""
    from prefect.blocks.system import Secret

    try:
        block = await Secret.aload(name)
    except ValueError as error:
        if _names_a_missing_block(error):
            raise SecretBlockMissing(f"no Prefect Secret block named {name!r}: {SECRET_HINT.format(name=name)}") \
                from error
        raise
    return str(block.get())


def _names_a_missing_block(error: ValueError) -> bool:
    """Prefect says "Unable to find block document named ..." with a ValueError raised from ObjectNotFound."""
    from prefect.exceptions import ObjectNotFound

    return isinstance(error.__cause__, ObjectNotFound)


def resolve_settings(api_url: str | None, store_hash: str | None, token_secret_block: str | None, *,
                     token_env: str | None = None) -> Settings:
    """Settings with the token, from synchronous code; see `aresolve_settings`."""
    _check_sources(token_secret_block, token_env)
    token = read_secret(token_secret_block) if token_secret_block else None
    return _with_token(store_settings(api_url, store_hash), token, token_env)


async def aresolve_settings(api_url: str | None, store_hash: str | None, token_secret_block: str | None, *,
                            token_env: str | None = None) -> Settings:
    """Settings from the environment (.env), the run's parameters taking precedence; the token from a
    Prefect Secret block when one is named, or from the environment variable `token_env` names (one
    worker can then hold the tokens of many stores, `BCMOD_TOKEN_<STORE>=...`)."""
    _check_sources(token_secret_block, token_env)
    token = await aread_secret(token_secret_block) if token_secret_block else None
    return _with_token(store_settings(api_url, store_hash), token, token_env)


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


def key_of(api_url: str | None, store_hash: str | None) -> str | None:
    """The store key for these parameters and the environment, or None when no store is configured."""
    try:
        return store_key(store_settings(api_url, store_hash))
    except ValueError:
        return None


def slug(key: str) -> str:
    """`key` in the characters Prefect allows in variable names and artifact keys (a-z, 0-9, -, _);
    a key that had to change gets a short digest, so two stores never share one name."""
    clean = re.sub(r"[^a-z0-9_-]+", "-", key.lower()).strip("-") or "store"
    if clean != key:
        clean += "-" + hashlib.sha256(key.encode()).hexdigest()[:8]
    return clean


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
