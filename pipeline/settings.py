"""Store credentials and endpoint, read from the environment or a `.env` file.

`BIGCOMMERCE_STORE_HASH` and `BIGCOMMERCE_ACCESS_TOKEN` point at a real store; `BIGCOMMERCE_API_URL`
overrides the built URL (the sandbox, a proxy). The token is a `SecretStr`: repr, str, `model_dump()`
and `model_dump_json()` all mask it; only `access_token.get_secret_value()` reveals it.

A token that cannot be an HTTP header value (a line break, a control character, a character
outside ASCII: usually a bad paste) is refused as the settings are made, before any request,
with `TokenRefused`: its message names the variable and what is wrong, never the token (sent as
it is, httpx would print it in its error, or fail with a traceback). Validation errors of the
settings never echo their input either.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BIGCOMMERCE_API_ROOT = "https://api.bigcommerce.com"
SANDBOX_STORE_HASH = "sandbox"
TOKEN_VARIABLE = "BIGCOMMERCE_ACCESS_TOKEN"


class TokenRefused(Exception):
    """A token that cannot be sent as an HTTP header; the message names `variable`, never the token.

    Not a ValueError, so that pydantic lets it through as it is instead of wrapping it."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"the token in {variable} cannot be sent to the store: it holds {problem}. Copy the token "
                         f"again (one line of letters and digits) and set {variable} again; nothing was sent")


def token_problem(token: str) -> str | None:
    """What makes `token` unusable as an HTTP header value (for a message), or None when it is fine."""
    if "\n" in token or "\r" in token:
        return "a line break"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in token):
        return "a control character (such as a tab)"
    if not token.isascii():
        return "a character that is not plain ASCII (such as an accented letter, a curly quote or an invisible space)"
    return None


def check_token(token: str, variable: str) -> str:
    """`token`, or `TokenRefused` naming `variable` when it cannot be an HTTP header value."""
    if (problem := token_problem(token)) is not None:
        raise TokenRefused(variable, problem)
    return token


def store_hash_of_url(url: str) -> str | None:
    """The `{hash}` of an API URL `.../stores/{hash}/...`, or None when the URL names none (a proxy).

    The one place a hash is read from a URL, so the export's `_bcmod` sheet, the plan's store
    check, the migration's file names and the flows' per-store slots all name a store alike.
    """
    segments = [segment for segment in urlsplit(url).path.split("/") if segment]
    return segments[segments.index("stores") + 1] if "stores" in segments[:-1] else None


class Settings(BaseSettings):
    """Where the store is and how to authenticate; never prints the token."""

    model_config = SettingsConfigDict(
        env_prefix="BIGCOMMERCE_", env_file=".env", env_file_encoding="utf-8", extra="ignore",
        hide_input_in_errors=True,
    )

    api_url: str | None = None
    store_hash: str | None = None
    access_token: SecretStr | None = None

    @field_validator("api_url", "store_hash", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().rstrip("/") if value.strip() else None
        return value

    @field_validator("access_token", mode="before")
    @classmethod
    def _strip_token(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            return check_token(value.strip(), TOKEN_VARIABLE) or None
        return value

    @property
    def base_url(self) -> str:
        """The V3 API root: `api_url` if set, else BigCommerce's URL for `store_hash`."""
        if self.api_url:
            return self.api_url
        if not self.store_hash:
            raise ValueError("no store configured: set BIGCOMMERCE_STORE_HASH or BIGCOMMERCE_API_URL")
        return f"{BIGCOMMERCE_API_ROOT}/stores/{self.store_hash}/v3"

    @property
    def known_store_hash(self) -> str | None:
        """`store_hash`, else the hash in the API URL's `/stores/{hash}/` part, else None."""
        if self.store_hash:
            return self.store_hash
        return store_hash_of_url(self.api_url) if self.api_url else None

    @property
    def is_configured(self) -> bool:
        """True when there is somewhere to send requests and a token to send with them."""
        return bool((self.api_url or self.store_hash) and self.access_token)

    @classmethod
    def for_sandbox(cls, base_url: str, token: str, store_hash: str = SANDBOX_STORE_HASH) -> Settings:
        """Settings for a sandbox at `base_url` ("http://127.0.0.1:PORT" or its full `/stores/.../v3` URL).

        Ignores the environment and `.env`, so a developer's real store can never leak into a test.
        """
        url = base_url.rstrip("/")
        if "/stores/" not in url:
            url = f"{url}/stores/{store_hash}/v3"
        return cls(_env_file=None, api_url=url, store_hash=store_hash, access_token=SecretStr(token))
