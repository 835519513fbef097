"""How a flow's tasks reach the store without the token ever being a parameter or a result."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from pipeline.settings import Settings


def resolve_settings(api_url: str | None, store_hash: str | None, token_secret_block: str | None) -> Settings:
    """Settings from the environment (.env), the flow's parameters taking precedence; the token
    from a Prefect Secret block when one is named."""
    overrides: dict[str, Any] = {k: v for k, v in {"api_url": api_url, "store_hash": store_hash}.items() if v}
    settings = Settings(**overrides)
    if token_secret_block:
        from prefect.blocks.system import Secret

        settings = settings.model_copy(update={"access_token": SecretStr(Secret.load(token_secret_block).get())})
    if not settings.is_configured:
        raise ValueError("no store configured: set BIGCOMMERCE_API_URL or BIGCOMMERCE_STORE_HASH, and "
                         "BIGCOMMERCE_ACCESS_TOKEN or a Secret block name")
    return settings
