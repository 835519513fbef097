"""Which store a command talks to: the configured BigCommerce store, or the embedded sandbox.

When no store hash/URL and token are configured, commands run against a sandbox store served on
127.0.0.1 from one folder per user (`default_sandbox_dir`: `$BCMOD_SANDBOX_DIR`, else the
platform's data folder), so `export` today and `apply` tomorrow, from any folder, see the same
catalog. Its image URLs name a fixed origin (`SANDBOX_IMAGE_ORIGIN`), not the port it happens to
get, so an export's image URLs still match the store's in the next command. The sandbox is
imported lazily: a configured real store never loads it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pipeline.client.errors import FatalError
from pipeline.settings import Settings, TokenRefused

if TYPE_CHECKING:
    import httpx

ENV_SANDBOX_DIR = "BCMOD_SANDBOX_DIR"
DEFAULT_SANDBOX_DIR: Path | None = None  # the CLI options' default: `default_sandbox_dir()` at run time
DEFAULT_SANDBOX_PRODUCTS = 300
SANDBOX_TOKEN = "sandbox-token"
# Where the embedded sandbox's image URLs point, whatever port it serves on; it takes this port when free.
SANDBOX_IMAGE_ORIGIN = "http://localhost:8765"


class StoreSetupError(FatalError):
    """The configured store cannot be used as it is set up (a token that cannot be sent); nothing was sent."""

    default_title = "the store is not set up right"


def user_data_dir() -> Path:
    """The platform's per-user data folder: `$XDG_DATA_HOME` or `~/.local/share` (Linux and others),
    `~/Library/Application Support` (macOS), `%LOCALAPPDATA%` (Windows). What `platformdirs` answers,
    without depending on it for three lines."""
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    return Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"


def default_sandbox_dir() -> Path:
    """The embedded store's folder: `$BCMOD_SANDBOX_DIR`, else `<user data folder>/bcmod/sandbox`.

    One folder per user, never the current folder: a command run from another folder must see the
    edits applied from this one, not seed a fresh catalog beside it."""
    override = os.environ.get(ENV_SANDBOX_DIR, "").strip()
    return Path(override).expanduser() if override else user_data_dir() / "bcmod" / "sandbox"


@dataclass(frozen=True)
class StoreConnection:
    settings: Settings
    store_hash: str
    sandbox: bool
    sandbox_dir: Path | None = None  # the embedded store's folder

    @property
    def label(self) -> str:
        """The store in a few words, for "Exporting from the ...", "Apply 3 operations to the ...?"."""
        if self.sandbox:
            where = f" in {self.sandbox_dir}" if self.sandbox_dir is not None else ""
            return f"embedded sandbox store{where}"
        host = urlsplit(self.settings.base_url).hostname or "?"
        return f"store {self.store_hash} at {host}"

    @property
    def description(self) -> str:
        """The one line every command prints (to stderr) to name the store it talks to."""
        if self.sandbox:
            return (f"Store: the {self.label} (no store is configured; --sandbox-dir or ${ENV_SANDBOX_DIR} "
                    "chooses another folder)")
        return f"Store: {self.label}"

    def as_dict(self) -> dict[str, object]:
        """The store for `--json` output (the `store` field)."""
        return {"label": self.label, "sandbox": self.sandbox, "store_hash": self.store_hash,
                "sandbox_dir": str(self.sandbox_dir) if self.sandbox_dir is not None else None,
                "api_host": None if self.sandbox else urlsplit(self.settings.base_url).hostname}

    def image_transport(self) -> httpx.AsyncBaseTransport | None:
        """The transport for reading this store's own image URLs (the doctor's image check): for the
        embedded sandbox one that reaches it on the port it got; None (the network) for a real store."""
        if not self.sandbox:
            return None
        from pipeline.image_fetch import GuardedTransport, ImagePolicy

        return GuardedTransport(ImagePolicy.for_stores(self.settings.base_url))


def store_hash_of(settings: Settings) -> str:
    """The store hash, from settings or from the `/stores/{hash}/` part of an API URL override;
    "unknown" for a URL that names none (files still record which store they came from)."""
    return settings.known_store_hash or "unknown"


@contextmanager
def open_store(
    settings: Settings | None = None,
    *,
    sandbox_dir: Path | None = None,
    sandbox_products: int = DEFAULT_SANDBOX_PRODUCTS,
    sandbox_quota: int | None = 150,
    sandbox_window_ms: int = 30_000,
    sandbox_only: bool = False,
    image_origin: str = SANDBOX_IMAGE_ORIGIN,
) -> Iterator[StoreConnection]:
    """Yield a connection to the configured store, or start the embedded sandbox for the block.

    The sandbox serves `sandbox_dir` (default: `default_sandbox_dir()`) and renders image URLs on
    `image_origin`, taking that origin's port when it is free (any port otherwise: bcmod's own
    downloads reach it there, `ImagePolicy.for_stores`).

    `sandbox_only` ignores any configured store: the demo must never write to a real catalog.
    The embedded sandbox's folder is locked for the block (`pipeline.apply.lock.store_lock`): a
    second command on the same folder raises `LockHeld` at once instead of serving it too.
    """
    try:
        settings = settings if settings is not None else Settings()
    except TokenRefused as exc:  # as the store's own errors are reported: one line, no traceback
        raise StoreSetupError(str(exc)) from None
    if settings.is_configured and not sandbox_only:
        yield StoreConnection(settings, store_hash_of(settings), sandbox=False)
        return
    from pipeline.apply.lock import store_lock
    from pipeline.sandbox.config import SandboxConfig
    from pipeline.sandbox.server import serve_in_thread

    folder = Path(sandbox_dir if sandbox_dir is not None else default_sandbox_dir()).expanduser().resolve()
    config = SandboxConfig(data_dir=folder, products=sandbox_products, token=SANDBOX_TOKEN,
                           quota=sandbox_quota, window_ms=sandbox_window_ms, image_origin=image_origin)
    folder.mkdir(parents=True, exist_ok=True)
    # one command serves a store folder at a time (`LockHeld` otherwise, naming the command that does)
    with store_lock(folder), serve_in_thread(config, preferred_port=urlsplit(image_origin).port) as base_url:
        api_url = f"{base_url}/stores/{config.store_hash}/v3"
        yield StoreConnection(Settings.for_sandbox(api_url, SANDBOX_TOKEN), config.store_hash, sandbox=True,
                              sandbox_dir=folder)
