"""Which two stores a migration talks to, with tokens taken from the environment, never from flags.

The source's token is read from an environment variable (BCMOD_SOURCE_TOKEN unless told another
name); the target's from BCMOD_TARGET_TOKEN, else the usual BIGCOMMERCE_ACCESS_TOKEN (environment
or .env). A store is named by its API URL (`.../stores/{hash}/v3`, or a sandbox's address) or its
hash; the target defaults to the configured store (BIGCOMMERCE_API_URL / BIGCOMMERCE_STORE_HASH).
"""

from __future__ import annotations

import os

from pipeline.settings import Secret, Settings, TokenRefused, check_token

SOURCE_TOKEN_ENV = "BCMOD_SOURCE_TOKEN"
TARGET_TOKEN_ENV = "BCMOD_TARGET_TOKEN"


class StoreConfigError(ValueError):
    """A store of the migration is not named, or has no token; the message says what to set."""


def _token(names: tuple[str, ...]) -> str | None:
    """The first of the variables `names` that is set, checked to be sendable as a header (the
    error names the variable, never the token)."""
    name = next((n for n in names if n and os.environ.get(n, "").strip()), None)
    if name is None:
        return None
    try:
        return check_token(os.environ[name].strip(), name)
    except TokenRefused as exc:
        raise StoreConfigError(str(exc)) from None


def _settings(**values: object) -> Settings:
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except TokenRefused as exc:  # BIGCOMMERCE_ACCESS_TOKEN (environment or .env)
        raise StoreConfigError(str(exc)) from None


def source_settings(api_url: str | None, store_hash: str | None, token_env: str = SOURCE_TOKEN_ENV) -> Settings:
    """The source store: `api_url` or `store_hash`, token from the variable `token_env`."""
    if not (api_url or store_hash):
        raise StoreConfigError("name the source store: --from-url URL or --from-hash HASH")
    token = _token((token_env,))
    if token is None:
        raise StoreConfigError(f"no token for the source store: set the environment variable {token_env}")
    return Settings(_env_file=None, api_url=api_url, store_hash=store_hash, access_token=Secret(token))


def target_settings(api_url: str | None, store_hash: str | None, token_env: str = TARGET_TOKEN_ENV) -> Settings:
    """The target store: `api_url` or `store_hash`, else the configured store; token from
    `token_env`, else BIGCOMMERCE_ACCESS_TOKEN."""
    configured = _settings(api_url=api_url, store_hash=store_hash) if (api_url or store_hash) else _settings()
    if not (configured.api_url or configured.store_hash):
        raise StoreConfigError("name the target store: --to-url URL or --to-hash HASH (or set BIGCOMMERCE_API_URL "
                               "or BIGCOMMERCE_STORE_HASH)")
    token = _token((token_env,))
    if token is not None:
        configured = _settings(api_url=configured.api_url, store_hash=configured.store_hash, access_token=token)
    if configured.access_token is None:
        raise StoreConfigError(f"no token for the target store: set {token_env} or BIGCOMMERCE_ACCESS_TOKEN")
    return configured
