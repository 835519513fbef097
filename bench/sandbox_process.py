"""The sandbox store as its own process for the benchmarks (`bcmod sandbox serve`), as a real store is.

`sandbox(...)` starts one on a free 127.0.0.1 port with a fresh data folder, waits until it answers,
and yields a `SandboxProcess` (its settings for a client, and its `/_sandbox` stats); the process
is stopped and the folder removed on the way out.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from pipeline.settings import Settings

TOKEN = "bench-token"
STARTUP_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(data_dir: str, port: int, *, products: int, seed: int = 7, quota: int = 0, window_ms: int = 1000,
                  latency_ms: float = 0, options: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `bcmod sandbox serve` and wait until `/_sandbox/stats` answers. `quota` 0 = unlimited;
    `options`: further CLI options, e.g. `{"--fault-5xx-rate": "0.1"}`."""
    args = [sys.executable, "-m", "pipeline.cli.main", "sandbox", "serve", "--port", str(port), "--data", data_dir,
            "--products", str(products), "--seed", str(seed), "--quota", str(quota), "--window-ms", str(window_ms),
            "--latency-ms", str(latency_ms), *[item for pair in (options or {}).items() for item in pair]]
    env = {**os.environ, "SANDBOX_TOKEN": TOKEN}
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_sandbox/stats", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    raise RuntimeError("sandbox did not start")


@dataclass
class SandboxProcess:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> Settings:
        return Settings.for_sandbox(f"{self.root}/stores/sandbox/v3", TOKEN)

    def stats(self) -> dict[str, Any]:
        """Counters of `/stores` requests since the start or the last `reset()`."""
        return httpx.get(f"{self.root}/_sandbox/stats").json()

    def reset(self) -> None:
        """Fresh counters and rate window (`POST /_sandbox/reset`); the catalog is kept."""
        httpx.post(f"{self.root}/_sandbox/reset").raise_for_status()


@contextmanager
def sandbox(*, products: int, seed: int = 7, quota: int = 0, window_ms: int = 1000, latency_ms: float = 0,
            options: Mapping[str, str] | None = None) -> Iterator[SandboxProcess]:
    """A sandbox process with a fresh catalog of `products`, stopped on exit."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        process = start_sandbox(data_dir, port, products=products, seed=seed, quota=quota, window_ms=window_ms,
                                latency_ms=latency_ms, options=options)
        try:
            yield SandboxProcess(process, port)
        finally:
            process.terminate()
            process.wait(timeout=10)
