"""Where a run finds its store and its token: Secret blocks from sync and async code, names that
Prefect accepts for any store key."""

from __future__ import annotations

import asyncio

import pytest

from flows.store import (
    SecretBlockMissing,
    StoreParams,
    aresolve_settings,
    resolve_settings,
    slug,
    store_limit_name,
)
from tests.stores import TEST_TOKEN

URL = "http://127.0.0.1:9/stores/blocky/v3"
IN_BLOCK = StoreParams(api_url=URL, token_secret_block="bcmod-test-store")


def test_a_secret_block_is_read_from_sync_code_and_from_async_code(prefect_harness, no_store_env):
    from prefect.blocks.system import Secret

    Secret(value=TEST_TOKEN).save("bcmod-test-store", overwrite=True)

    async def from_async() -> tuple:
        # `resolve_settings` is sync: called inside a running loop it must still return settings, not a coroutine
        return await aresolve_settings(IN_BLOCK), resolve_settings(IN_BLOCK)

    for settings in (resolve_settings(IN_BLOCK), *asyncio.run(from_async())):
        assert settings.access_token.get_secret_value() == TEST_TOKEN and settings.base_url == URL
        assert TEST_TOKEN not in repr(settings)


def test_a_missing_secret_block_says_how_to_create_it(prefect_harness, no_store_env):
    hint = "no Prefect Secret block named 'bcmod-missing': create it with `python -m flows.secret bcmod-missing`"
    missing = StoreParams(api_url=URL, token_secret_block="bcmod-missing")
    with pytest.raises(SecretBlockMissing, match=hint):
        resolve_settings(missing)
    with pytest.raises(SecretBlockMissing, match=hint):
        asyncio.run(aresolve_settings(missing))


def test_a_token_comes_from_one_place_only_and_is_never_a_parameter():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="either token_secret_block or token_env"):
        StoreParams(api_url=URL, token_secret_block="some-block", token_env="BCMOD_TOKEN_X")
    with pytest.raises(ValidationError) as refused:
        StoreParams.model_validate({"api_url": URL, "token": TEST_TOKEN})
    assert "token" in str(refused.value) and TEST_TOKEN not in str(refused.value)


def test_a_run_that_names_its_store_takes_no_address_from_the_environment(no_store_env, monkeypatch):
    """A worker configured for one store (BIGCOMMERCE_STORE_HASH) runs an export of another by URL:
    the slot, the window and the file names are the URL's store's, not the worker's."""
    from flows.naming import store_label
    from flows.store import key_of, store_key, store_settings

    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", "workers-own")
    monkeypatch.setenv("BIGCOMMERCE_API_URL", "https://proxy.example/stores/workers-own/v3")
    assert store_key(store_settings(StoreParams(api_url=URL))) == "blocky"
    assert key_of({"api_url": "https://proxy.example/bc/v3"}) == "proxy.example/bc/v3"
    assert key_of({"store_hash": "abc123"}) == "abc123"
    assert key_of(None) == store_label({}) == "workers-own"


def test_names_built_from_a_store_key_are_valid_and_distinct():
    assert slug("abc123") == "abc123"
    odd = [slug("proxy.example:8443/bc"), slug("Proxy.example:8443/bc"), slug("ABC123")]
    assert len(set(odd)) == 3 and all(s.replace("-", "").isalnum() and s == s.lower() for s in odd)
    assert store_limit_name("proxy.example/bc") == "store:proxy.example_bc"
