"""Settings: where the store is, and a token that never shows (nor goes out when it cannot be a header)."""

import asyncio
import os
import pickle
import subprocess
import sys

import httpx

import pytest
from pydantic import SecretStr  # what the flows pass: taken as the token it holds

from pipeline.connection import store_hash_of
from pipeline.plan.operations import Plan
from pipeline.settings import Secret, Settings, TokenRefused, check_token, store_hash_of_url, token_problem

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



def test_an_argument_wins_over_the_environment_and_dotenv_even_when_it_is_none(monkeypatch, tmp_path):
    """A flow run naming its store by URL must not pick up the worker's BIGCOMMERCE_STORE_HASH."""
    (tmp_path / ".env").write_text("BIGCOMMERCE_API_URL=http://dotenv.example/stores/dot/v3\n")
    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", "fromenv")
    monkeypatch.setenv("bigcommerce_access_token", TOKEN)  # names in any case, as before
    read = Settings()
    assert (read.api_url, read.store_hash) == ("http://dotenv.example/stores/dot/v3", "fromenv")
    assert read.access_token == Secret(TOKEN)
    named = Settings(api_url="http://127.0.0.1:9/stores/beta/v3", store_hash=None)
    assert named.store_hash is None and named.known_store_hash == "beta"
    assert named.access_token.get_secret_value() == TOKEN  # not named: from the environment
    assert Settings(_env_file=None).api_url is None  # no .env read; the environment still is
    assert Settings(_env_file=None).store_hash == "fromenv"


def test_copies_and_constructs_keep_the_token_masked_and_checked(monkeypatch):
    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", "fromenv")
    built = Settings.model_construct(api_url="http://127.0.0.1:9/stores/a/v3/")
    assert built.store_hash is None and built.api_url == "http://127.0.0.1:9/stores/a/v3"  # no environment
    copied = built.model_copy(update={"access_token": SecretStr(TOKEN)})  # what the flows pass
    assert copied.access_token.get_secret_value() == TOKEN and built.access_token is None
    assert copied.model_dump(mode="json") == {"api_url": built.api_url, "store_hash": None,
                                              "access_token": "**********"}
    assert pickle.loads(pickle.dumps(copied)) == copied
    with pytest.raises(TokenRefused):
        built.model_copy(update={"access_token": BAD_TOKENS["tab"]})


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


# --- tokens that cannot be an HTTP header ------------------------------------------------------------

BAD_TOKENS = {
    "line break": "tok-BAD\nSECRET-1a2b",
    "carriage return": "tok-BAD\rSECRET-1a2b",
    "non-ASCII": "tok-BAD\u00e9SECRET-1a2b",
    "invisible space": "tok-BAD\u200bSECRET-1a2b",
    "tab": "tok-BAD\tSECRET-1a2b",
    "DEL": "tok-BAD\x7fSECRET-1a2b",
}
SECRET_PART = "SECRET-1a2b"  # no message may hold any part of a token


@pytest.mark.parametrize("name", list(BAD_TOKENS))
def test_a_token_that_cannot_be_a_header_is_refused_naming_the_variable_never_the_value(name, monkeypatch):
    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", "abc123")
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", BAD_TOKENS[name])
    with pytest.raises(TokenRefused) as refused:
        Settings()
    assert "BIGCOMMERCE_ACCESS_TOKEN" in str(refused.value) and SECRET_PART not in str(refused.value)
    with pytest.raises(TokenRefused):
        Settings(_env_file=None, store_hash="abc", access_token=SecretStr(BAD_TOKENS[name]))
    assert token_problem(BAD_TOKENS[name])


def test_surrounding_spaces_and_a_final_line_break_are_trimmed_not_refused(monkeypatch):
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", f"  {TOKEN}\r\n")
    assert Settings().access_token.get_secret_value() == TOKEN
    assert token_problem(TOKEN) is None and check_token(TOKEN, "X") == TOKEN


def test_other_validation_errors_do_not_echo_their_input():
    with pytest.raises(ValueError) as refused:
        Settings(_env_file=None, store_hash=["not", SECRET_PART])
    assert SECRET_PART not in str(refused.value)


# The CLI: every command that takes a token refuses it before any request, in one line, without a
# traceback, and never prints it. The store is a sandbox on 127.0.0.1 that counts what it receives.

COMMANDS = {
    "validate": ["validate", "{xlsx}"],
    "plan": ["plan", "{xlsx}"],
    "apply": ["apply", "{xlsx}", "--yes"],
    "export": ["export", "--out", "{tmp}/out.xlsx"],
    "doctor": ["doctor"],
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from pipeline.export import export_store
    from pipeline.sandbox.config import SandboxConfig
    from pipeline.sandbox.server import serve_in_thread

    folder = tmp_path_factory.mktemp("tokens")
    config = SandboxConfig(data_dir=folder / "store", products=3, token="good-token", quota=None)
    with serve_in_thread(config) as base_url:
        api_url = f"{base_url}/stores/{config.store_hash}/v3"
        xlsx = asyncio.run(export_store(Settings.for_sandbox(api_url, "good-token"), folder / "export.xlsx")).path
        yield base_url, api_url, xlsx


def _run(args: list[str], env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BIGCOMMERCE_", "BCMOD_"))}
    return subprocess.run(args, env=base | env, cwd=cwd, capture_output=True, text=True, timeout=300)


def _requests(base_url: str) -> int:
    return sum(httpx.get(f"{base_url}/_sandbox/stats", timeout=10).json()["requests"].values())


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("name", ["line break", "non-ASCII"])
def test_the_cli_refuses_a_bad_token_before_any_request_without_traceback_or_echo(command, name, served, tmp_path):
    base_url, api_url, xlsx = served
    args = [a.format(xlsx=xlsx, tmp=tmp_path) for a in COMMANDS[command]]
    before = _requests(base_url)
    done = _run([sys.executable, "-m", "pipeline.cli.main", *args],
                {"BIGCOMMERCE_API_URL": api_url, "BIGCOMMERCE_ACCESS_TOKEN": BAD_TOKENS[name]}, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output and SECRET_PART not in output and "tok-BAD" not in output
    assert "BIGCOMMERCE_ACCESS_TOKEN" in " ".join(output.split()), output
    assert _requests(base_url) == before


def test_migrate_names_the_source_token_variable(served, tmp_path):
    base_url, api_url, _ = served
    before = _requests(base_url)
    done = _run([sys.executable, "-m", "pipeline.cli.main", "migrate", "--from-url", api_url, "--to-url", api_url,
                 "--workdir", str(tmp_path / "m")],
                {"BCMOD_SOURCE_TOKEN": BAD_TOKENS["line break"], "BCMOD_TARGET_TOKEN": "good-token"}, tmp_path)
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2 and "BCMOD_SOURCE_TOKEN" in output, output
    assert "Traceback" not in output and SECRET_PART not in output
    done = _run([sys.executable, "-m", "pipeline.cli.main", "migrate", "--from-url", api_url, "--to-url", api_url,
                 "--workdir", str(tmp_path / "m")],
                {"BCMOD_SOURCE_TOKEN": "good-token", "BIGCOMMERCE_ACCESS_TOKEN": BAD_TOKENS["non-ASCII"]}, tmp_path)
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2 and "BIGCOMMERCE_ACCESS_TOKEN" in output, output
    assert "Traceback" not in output and SECRET_PART not in output
    assert _requests(base_url) == before


def test_the_library_apply_entry_point_refuses_a_bad_token(served, tmp_path):
    base_url, api_url, _ = served
    plan = Plan("sandbox", api_url, "", "2026-12-01T00:00:00+00:00").save(tmp_path / "plan.json")
    done = _run([sys.executable, "-m", "pipeline.apply", str(plan), "--api-url", api_url],
                {"BIGCOMMERCE_ACCESS_TOKEN": BAD_TOKENS["line break"]}, tmp_path)
    output = done.stdout + done.stderr
    assert "Traceback" not in output and SECRET_PART not in output, output
    assert done.returncode == 2 and "BIGCOMMERCE_ACCESS_TOKEN" in " ".join(output.split())
