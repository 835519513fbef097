"""Where a run finds its store and its token: Secret blocks from sync and async code, names that
Prefect accepts for any store key."""

from __future__ import annotations

import asyncio

import pytest

from flows.store import SecretBlockMissing, aresolve_settings, resolve_settings, slug, store_limit_name
from tests.stores import TEST_TOKEN

URL = "http://127.0.0.1:9/stores/blocky/v3"


def test_a_secret_block_is_read_from_sync_code_and_from_async_code(prefect_harness, no_store_env):
    from prefect.blocks.system import Secret

    Secret(value=TEST_TOKEN).save("bcmod-test-store", overwrite=True)

    async def from_async() -> tuple:
        # `resolve_settings` is sync: called inside a running loop it must still return settings, not a coroutine
        return (await aresolve_settings(URL, None, "bcmod-test-store"), resolve_settings(URL, None, "bcmod-test-store"))

    for settings in (resolve_settings(URL, None, "bcmod-test-store"), *asyncio.run(from_async())):
        assert settings.access_token.get_secret_value() == TEST_TOKEN and settings.base_url == URL
        assert TEST_TOKEN not in repr(settings)


def test_a_missing_secret_block_says_how_to_create_it(prefect_harness, no_store_env):
    hint = "no Prefect Secret block named 'bcmod-missing': create it with `python -m flows.secret bcmod-missing`"
    with pytest.raises(SecretBlockMissing, match=hint):
        resolve_settings(URL, None, "bcmod-missing")
    with pytest.raises(SecretBlockMissing, match=hint):
        asyncio.run(aresolve_settings(URL, None, "bcmod-missing"))


def test_a_token_comes_from_one_place_only(no_store_env, monkeypatch):
    monkeypatch.setenv("BCMOD_TOKEN_X", TEST_TOKEN)
    with pytest.raises(ValueError, match="either token_secret_block or token_env"):
        resolve_settings(URL, None, "some-block", token_env="BCMOD_TOKEN_X")


def test_names_built_from_a_store_key_are_valid_and_distinct():
    assert slug("abc123") == "abc123"
    odd = [slug("proxy.example:8443/bc"), slug("Proxy.example:8443/bc"), slug("ABC123")]
    assert len(set(odd)) == 3 and all(s.replace("-", "").isalnum() and s == s.lower() for s in odd)
    assert store_limit_name("proxy.example/bc") == "store:proxy.example_bc"
