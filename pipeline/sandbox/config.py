"""Settings of one sandbox store.

Everything that changes how the sandbox behaves lives in one frozen dataclass, so a test, the
demo and a benchmark describe their store in one line and two stores never share hidden state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.sandbox.specs import default_spec_dir

ENV_STRICT = "BCMOD_SANDBOX_STRICT"
ENV_CHECK_RESPONSES = "BCMOD_SANDBOX_CHECK_RESPONSES"


def env_flag(name: str, default: bool = False) -> bool:
    """A boolean from the environment: 1/true/yes/on, 0/false/no/off (case-insensitive)."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0, got {raw!r}")


def _strict_default() -> bool:
    # Strict wherever the specs are found (tests, CI, the demo beside ../shared); BCMOD_SANDBOX_STRICT=0
    # or `bcmod sandbox serve --no-strict` turns it off.
    return env_flag(ENV_STRICT, default=True)


def _check_responses_default() -> bool:
    return env_flag(ENV_CHECK_RESPONSES, default=False)


@dataclass(frozen=True)
class SandboxConfig:
    """How a sandbox store is set up.

    data_dir: where the SQLite file and uploaded images live (created if missing).
    store_hash / token: what `/stores/{store_hash}/v3` and `X-Auth-Token` must be.
    quota / window_ms: requests allowed per fixed window (None = unlimited, headers still sent).
    latency_ms: delay added to every /stores request.
    fault_5xx_rate / fault_429_rate: chance that a request is answered by an injected 5xx or a
        bare 429 (no rate-limit headers) before it is processed, so nothing is written.
    fault_drop_rate: chance that the connection is dropped after the request was processed.
    seed: seeds the fault random generator, so a run with faults is reproducible.
    products: seed a generated catalog of this many products when the database is empty.
    crash_after_writes: after this many successful writes every further request is dropped.
    strict: check every request to a served `/stores/{hash}/v3` operation against BigCommerce's
        OpenAPI specs (with `errata.py`) and refuse a non-conforming one with 422 listing every
        violation. Without the specs the sandbox keeps its own rules. Default: `$BCMOD_SANDBOX_STRICT`, on when unset.
    check_responses: check every response against the specs and record the ones that break
        them (`/_sandbox/stats`, `tally.TALLY`); the test suite turns it on. With strict off,
        requests are still checked and counted, not refused. Default: `$BCMOD_SANDBOX_CHECK_RESPONSES`.
    literal_include_fields: apply `include_fields` literally, as some stores do: with it, a
        product's `modifiers`/`options` come back only when named there (which the products spec's
        enum does not allow), so `include=modifiers` alone no longer embeds them.
    spec_dir: where the specs are (default: `$BIGCOMMERCE_OPENAPI_DIR`, else
        `shared/bigcommerce-openapi` beside the checkout).
    image_origin: the origin value image URLs are rendered on (`http://localhost:8765`), whatever
        address the request came in on, so an image keeps its URL across ports and restarts as a
        CDN URL does (an export's URLs still match the store's the next day). None: the request's
        own address. URLs on either are stored relative when written back.
    """

    data_dir: Path
    store_hash: str = "sandbox"
    token: str = "sandbox-token"
    quota: int | None = 150
    window_ms: int = 30000
    latency_ms: float = 0
    fault_5xx_rate: float = 0
    fault_429_rate: float = 0
    fault_drop_rate: float = 0
    seed: int = 0
    products: int = 0
    crash_after_writes: int | None = None
    strict: bool = field(default_factory=_strict_default)
    check_responses: bool = field(default_factory=_check_responses_default)
    literal_include_fields: bool = False
    spec_dir: Path = field(default_factory=default_spec_dir)
    image_origin: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "spec_dir", Path(self.spec_dir))
        for name in ("fault_5xx_rate", "fault_429_rate", "fault_drop_rate"):
            rate = getattr(self, name)
            if not 0 <= rate <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        if self.fault_5xx_rate + self.fault_429_rate > 1:
            raise ValueError("fault_5xx_rate + fault_429_rate must not exceed 1")
        if self.quota is not None and self.quota < 1:
            raise ValueError(f"quota must be at least 1 or None, got {self.quota}")
        if self.window_ms < 1:
            raise ValueError(f"window_ms must be positive, got {self.window_ms}")
        if self.image_origin is not None:
            object.__setattr__(self, "image_origin", _origin(self.image_origin))


def _origin(url: str) -> str:
    """`http://host:port` of an image origin, or ValueError: a path or query would be pasted into every URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query:
        raise ValueError(f"image_origin must be an origin such as http://localhost:8765, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"
