"""Settings: where the store is, and a token that never shows."""

import pickle

import pytest
from pydantic import SecretStr

from pipeline.connection import store_hash_of
from pipeline.settings import Settings, store_hash_of_url

TOKEN = "tok-SETTINGS-7f3a9c"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in ("BIGCOMMERCE_API_URL", "BIGCOMMERCE_STORE_HASH", "BIGCOMMERCE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no developer .env leaks in


def test_reads_environment_and_builds_the_store_url(monkeypatch):
    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", "abc123")
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", TOKEN)
    settings = Settings()
    assert settings.base_url == "https://api.bigcommerce.com/stores/abc123/v3"
    assert settings.is_configured
    assert settings.access_token.get_secret_value() == TOKEN


def test_api_url_overrides_the_built_url(monkeypatch):
    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", "abc123")
    monkeypatch.setenv("BIGCOMMERCE_API_URL", "http://127.0.0.1:8000/stores/abc/v3/")
    assert Settings().base_url == "http://127.0.0.1:8000/stores/abc/v3"


def test_reads_a_dotenv_file(tmp_path):
    (tmp_path / ".env").write_text(f"BIGCOMMERCE_STORE_HASH=fromfile\nBIGCOMMERCE_ACCESS_TOKEN={TOKEN}\n")
    settings = Settings()
    assert settings.store_hash == "fromfile" and settings.is_configured


def test_not_configured_without_token_or_store():
    assert not Settings().is_configured
    assert not Settings(store_hash="abc").is_configured
    assert not Settings(access_token="  ").is_configured  # blank is absent
    with pytest.raises(ValueError, match="BIGCOMMERCE_STORE_HASH"):
        Settings().base_url


def test_token_never_shows():
    settings = Settings(store_hash="abc", access_token=TOKEN)
    shown = [
        repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump()),
        str(settings.model_dump(mode="json")), repr(settings.access_token),
    ]
    for text in shown:
        assert TOKEN not in text
    assert TOKEN.encode() not in pickle.dumps(settings.model_dump(mode="json"))


def test_for_sandbox_builds_the_store_path_and_ignores_the_environment(monkeypatch):
    monkeypatch.setenv("BIGCOMMERCE_API_URL", "https://real.example/stores/real/v3")
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", "real-token")
    settings = Settings.for_sandbox("http://127.0.0.1:8123/", "sandbox-token")
    assert settings.base_url == "http://127.0.0.1:8123/stores/sandbox/v3"
    assert settings.access_token == SecretStr("sandbox-token")
    full = Settings.for_sandbox("http://127.0.0.1:8123/stores/xyz/v3", "t")
    assert full.base_url == "http://127.0.0.1:8123/stores/xyz/v3"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://api.bigcommerce.com/stores/abc123/v3", "abc123"),
    ("https://api.bigcommerce.com/stores/abc123/v3/", "abc123"),
    ("http://127.0.0.1:8000/stores/sandbox/v3?x=1", "sandbox"),
    ("http://127.0.0.1:8000/stores/abc123", "abc123"),
    ("http://proxy.example/bc/v3", None),
    ("http://proxy.example/stores", None),  # names no hash
    ("http://stores/v3", None),  # a host called stores is not a path segment
])
def test_one_reading_of_the_hash_in_an_api_url(url, expected):
    assert store_hash_of_url(url) == expected


def test_the_known_store_hash_prefers_the_setting_then_the_url():
    assert Settings(_env_file=None, store_hash="abc123", api_url="http://x/stores/other/v3").known_store_hash == "abc123"
    settings = Settings(_env_file=None, api_url="http://127.0.0.1:9/stores/beta/v3")
    assert settings.known_store_hash == store_hash_of(settings) == "beta"
    proxy = Settings(_env_file=None, api_url="http://proxy.example/bc/v3")
    assert proxy.known_store_hash is None and store_hash_of(proxy) == "unknown"
