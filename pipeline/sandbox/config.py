"""Settings of one sandbox store.

Everything that changes how the sandbox behaves lives in one frozen dataclass, so a test, the
demo and a benchmark describe their store in one line and two stores never share hidden state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
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
