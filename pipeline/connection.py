"""Which store a command talks to: the configured BigCommerce store, or the embedded sandbox.

When no store hash/URL and token are configured, commands run against a sandbox store served on
127.0.0.1 from a folder that persists between commands, so `export` today and `apply` tomorrow
see the same catalog. The sandbox is imported lazily: a configured real store never loads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.client.errors import FatalError
from pipeline.settings import Settings, TokenRefused

DEFAULT_SANDBOX_DIR = Path(".sandbox")
DEFAULT_SANDBOX_PRODUCTS = 300
SANDBOX_TOKEN = "sandbox-token"


class StoreSetupError(FatalError):
    """The configured store cannot be used as it is set up (a token that cannot be sent); nothing was sent."""

    default_title = "the store is not set up right"


@dataclass(frozen=True)
class StoreConnection:
    settings: Settings
    store_hash: str
    sandbox: bool

    @property
    def label(self) -> str:
        return f"sandbox store ({self.settings.base_url})" if self.sandbox else f"store {self.store_hash}"


def store_hash_of(settings: Settings) -> str:
    """The store hash, from settings or from the `/stores/{hash}/` part of an API URL override;
    "unknown" for a URL that names none (files still record which store they came from)."""
    return settings.known_store_hash or "unknown"


@contextmanager
def open_store(
    settings: Settings | None = None,
    *,
    sandbox_dir: Path = DEFAULT_SANDBOX_DIR,
    sandbox_products: int = DEFAULT_SANDBOX_PRODUCTS,
    sandbox_quota: int | None = 150,
    sandbox_window_ms: int = 30_000,
    sandbox_only: bool = False,
) -> Iterator[StoreConnection]:
    """Yield a connection to the configured store, or start the embedded sandbox for the block.

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

    config = SandboxConfig(data_dir=sandbox_dir, products=sandbox_products, token=SANDBOX_TOKEN,
                           quota=sandbox_quota, window_ms=sandbox_window_ms)
    # one command serves a store folder at a time (`LockHeld` otherwise, naming the command that does)
    with store_lock(sandbox_dir), serve_in_thread(config) as base_url:
        api_url = f"{base_url}/stores/{config.store_hash}/v3"
        yield StoreConnection(Settings.for_sandbox(api_url, SANDBOX_TOKEN), config.store_hash, sandbox=True)
