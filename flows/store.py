"""How a flow reaches its store without the token ever being a parameter, a task input or a result.

A run takes one `store` parameter (`StoreParams`): where the store is (`api_url`, `store_hash`) and
where its token lives: the worker's environment (`.env`, BIGCOMMERCE_ACCESS_TOKEN, or the variable
`token_env` names) or a Prefect Secret block (`token_secret_block`). Left empty, the store is the
worker's own (`.env` or BIGCOMMERCE_*). The token is read where it is used. Async code reads blocks
with `Secret.aload`: `Secret.load` called inside a running event loop returns a coroutine, and
`.get()` on that crashed the first 3.8 deployments.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from pipeline.settings import Settings

STORE_LIMIT_PREFIX = "store:"
STORE_LIMIT_SLOTS = 1  # one run at a time per store: the API quota is per store
SECRET_HINT = "create it with `python -m flows.secret {name}` (the token is read from the terminal or stdin)"


class SecretBlockMissing(LookupError):
    """The run names a Prefect Secret block that does not exist on the server."""


class StoreParams(BaseModel):
    """Which store a run talks to and where its token lives, never the token itself.

    One flow parameter instead of four loose ones, so every task gets the same store and the UI
    shows it as one form. A key named `token` is refused without its value being echoed.
    """

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)

    api_url: str | None = Field(None, description="API root override (a proxy, the sandbox); else from store_hash.")
    store_hash: str | None = Field(None, description="The store's hash; empty: the worker's .env / BIGCOMMERCE_*.")
    token_env: str | None = Field(None, description="Environment variable holding the token on the workers.")
    token_secret_block: str | None = Field(None, description="Prefect Secret block holding the token.")

    @model_validator(mode="after")
    def _one_token_source(self) -> StoreParams:
        if self.token_secret_block and self.token_env:
            raise ValueError("name either token_secret_block or token_env, not both")
        return self

    @classmethod
    def of(cls, value: Any) -> StoreParams:
        """`value` as StoreParams: a run's parameters may hold the model, its dict, or nothing."""
        if isinstance(value, StoreParams):
            return StoreParams(**value.parameters())
        return cls.model_validate(value or {})

    def parameters(self) -> dict[str, str]:
        """The fields that are set, as a deployment run's `store` parameter."""
        return {k: v for k, v in self.model_dump(include=set(StoreParams.model_fields)).items() if v is not None}


def store_settings(store: StoreParams) -> Settings:
    """The store's address: the run's, else the environment's (.env).

    A run that names its store by `api_url` or `store_hash` takes nothing of the address from the
    environment, so a worker's BIGCOMMERCE_STORE_HASH never relabels another store's URL.
    """
    if store.api_url or store.store_hash:
        return Settings(api_url=store.api_url, store_hash=store.store_hash)
    return Settings()


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


def resolve_settings(store: StoreParams) -> Settings:
    """Settings with the token, from synchronous code; see `aresolve_settings`."""
    token = read_secret(store.token_secret_block) if store.token_secret_block else None
    return _with_token(store_settings(store), token, store.token_env)


async def aresolve_settings(store: StoreParams) -> Settings:
    """Settings for `store` (see `store_settings`); the token from a Prefect Secret block when one is
    named, or from the environment variable `token_env` names (one worker can then hold the tokens
    of many stores, `BCMOD_TOKEN_<STORE>=...`), else BIGCOMMERCE_ACCESS_TOKEN / .env."""
    token = await aread_secret(store.token_secret_block) if store.token_secret_block else None
    return _with_token(store_settings(store), token, store.token_env)


def store_key(settings: Settings) -> str:
    """What identifies the store's API quota: its own hash (`Settings.known_store_hash`: the
    settings' hash, else the `/stores/<hash>/` part of the URL), else the URL's host and path (a
    proxy without a hash in its URL)."""
    if known := settings.known_store_hash:
        return known
    parts = urlsplit(settings.base_url)
    return f"{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}{parts.path}".rstrip("/")


async def run_store(store: StoreParams | dict[str, Any] | None) -> tuple[StoreParams, str]:
    """A flow's `store` parameter as a model, and its slot key. The settings are resolved here so a
    run with a wrong store fails before it queues for the slot."""
    store = StoreParams.of(store)
    return store, store_key(await aresolve_settings(store))


def key_of(store: StoreParams | dict[str, Any] | None) -> str | None:
    """The store key for a run's `store` parameter and the environment, or None when no store is configured."""
    try:
        return store_key(store_settings(StoreParams.of(store)))
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
