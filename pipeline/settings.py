"""Store credentials and endpoint, read from the environment or a `.env` file.

`BIGCOMMERCE_STORE_HASH` and `BIGCOMMERCE_ACCESS_TOKEN` point at a real store; `BIGCOMMERCE_API_URL`
overrides the built URL (the sandbox, a proxy). The token is a `Secret`: repr, str, `model_dump()`
and `model_dump_json()` all mask it; only `access_token.get_secret_value()` reveals it.

A plain class, not pydantic-settings: with pydantic it was 0.13 s of every command's start-up
(pydantic, pydantic-settings and their plugin scan), a tenth of a small export. It keeps the
same interface and precedence: arguments, then the environment, then `.env` (parsed by
python-dotenv), variable names in any case.

A token that cannot be an HTTP header value (a line break, a control character, a character
outside ASCII: usually a bad paste) is refused as the settings are made, before any request,
with `TokenRefused`: its message names the variable and what is wrong, never the token (sent as
it is, httpx would print it in its error, or fail with a traceback). Validation errors of the
settings never echo their input either.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

BIGCOMMERCE_API_ROOT = "https://api.bigcommerce.com"
SANDBOX_STORE_HASH = "sandbox"
TOKEN_VARIABLE = "BIGCOMMERCE_ACCESS_TOKEN"
ENV_PREFIX: Final = "BIGCOMMERCE_"
ENV_FILE: Final = ".env"
FIELDS: Final = ("api_url", "store_hash", "access_token")
_UNSET: Final = object()


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


class Secret:
    """A token that prints as stars; `get_secret_value()` is the only way to read it.

    Equal to any secret holding the same text (pydantic's `SecretStr` too), so callers may pass either.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        reveal = getattr(other, "get_secret_value", None)
        return callable(reveal) and reveal() == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _text(value: object, name: str) -> str | None:
    """A URL or hash: stripped, without a final slash; blank is None. Never echoes a wrong value."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{ENV_PREFIX}{name.upper()} must be text, not {type(value).__name__}")
    value = value.strip().rstrip("/")
    return value or None


def _token(value: object) -> Secret | None:
    """The token, trimmed and checked to be sendable as a header; blank is None."""
    if value is None:
        return None
    if callable(getattr(value, "get_secret_value", None)):
        value = value.get_secret_value()  # type: ignore[union-attr]
    if not isinstance(value, str):
        raise ValueError(f"{TOKEN_VARIABLE} must be text, not {type(value).__name__}")
    token = check_token(value.strip(), TOKEN_VARIABLE)
    return Secret(token) if token else None


def _from_environment(env_file: str | Path | None) -> dict[str, str]:
    """The fields' values from `.env` (if `env_file` exists), overridden by the process environment."""
    found: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        from dotenv import dotenv_values  # only when there is a file to read

        found.update({k.lower(): v for k, v in dotenv_values(env_file, encoding="utf-8").items() if v is not None})
    found.update({k.lower(): v for k, v in os.environ.items()})
    prefix = ENV_PREFIX.lower()
    return {name: found[prefix + name] for name in FIELDS if prefix + name in found}


class Settings:
    """Where the store is and how to authenticate; never prints the token.

    `Settings()` reads the environment and `.env`; a field passed as an argument (None included)
    wins over both; `_env_file=None` skips `.env` (the environment is still read).
    """

    __slots__ = FIELDS

    api_url: str | None
    store_hash: str | None
    access_token: Secret | None

    def __init__(self, *, _env_file: str | Path | None = ENV_FILE, api_url: object = _UNSET,
                 store_hash: object = _UNSET, access_token: object = _UNSET) -> None:
        given = {"api_url": api_url, "store_hash": store_hash, "access_token": access_token}
        if any(value is _UNSET for value in given.values()):
            environment = _from_environment(_env_file)
            given = {name: environment.get(name) if value is _UNSET else value for name, value in given.items()}
        self._set(given)

    def _set(self, values: Mapping[str, object]) -> None:
        self.api_url = _text(values.get("api_url"), "api_url")
        self.store_hash = _text(values.get("store_hash"), "store_hash")
        self.access_token = _token(values.get("access_token"))

    @classmethod
    def model_construct(cls, **values: Any) -> Settings:
        """Settings from `values` alone: no environment, no `.env`."""
        settings = cls.__new__(cls)
        settings._set(values)
        return settings

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Settings:
        """A copy with `update`'s fields replaced (checked as the constructor checks them)."""
        return type(self).model_construct(**{**self._fields(), **(update or {})})

    def _fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    def model_dump(self, *, mode: str = "python") -> dict[str, Any]:
        """The fields; the token stays a `Secret` (or, with mode="json", its stars)."""
        out = self._fields()
        if mode == "json" and out["access_token"] is not None:
            out["access_token"] = str(out["access_token"])
        return out

    def model_dump_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"))

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{name}={value!r}" for name, value in self._fields().items()) + ")"

    def __str__(self) -> str:
        return " ".join(f"{name}={value!r}" for name, value in self._fields().items())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

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
        return cls(_env_file=None, api_url=url, store_hash=store_hash, access_token=Secret(token))
