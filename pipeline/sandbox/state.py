"""Everything one running sandbox holds, in one object the routes reach via `app.state.sandbox`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.faults import FaultInjector, FaultPlan
from pipeline.sandbox.ratelimit import RateLimiter
from pipeline.sandbox.stats import Stats
from pipeline.sandbox.store import Store


@dataclass
class SandboxState:
    config: SandboxConfig
    store: Store
    stats: Stats
    limiter: RateLimiter
    faults: FaultInjector

    @property
    def images_dir(self) -> Path:
        return self.config.data_dir / "images"

    @classmethod
    def open(cls, config: SandboxConfig) -> SandboxState:
        plan = FaultPlan(config.latency_ms, config.fault_5xx_rate, config.fault_429_rate, config.fault_drop_rate,
                         config.crash_after_writes)
        return cls(config, Store(config.data_dir), Stats(), RateLimiter(config.quota, config.window_ms),
                   FaultInjector(plan, config.seed))

    def reset_runtime(self) -> None:
        """Fresh counters, log, rate window and crash state; the catalog is kept."""
        self.stats.reset()
        self.limiter.reset()
        self.faults.reset()
