"""The front door of every `/stores` request: counting, rate limit, faults, auth and drops.

It is ASGI middleware rather than per-route code so that every `/stores` answer, including 401,
404 and 422, gets the rate-limit headers and is counted exactly once, and so a dropped
connection can be simulated after the route has done its work (the write happened, the client
never hears). `/_sandbox` routes pass straight through: they are for tests, not for clients.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pipeline.sandbox.errors import NOT_FOUND_TITLE, error_body
from pipeline.sandbox.faults import BARE_429, FaultInjector, SandboxConnectionDropped
from pipeline.sandbox.ratelimit import RateLimiter
from pipeline.sandbox.stats import Stats

logger = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STORES_PREFIX = "/stores/"
WRITE_METHODS = frozenset(("POST", "PUT", "DELETE"))
_FAULT_TITLES = {
    500: "Internal Server Error (injected fault)",
    502: "Bad Gateway (injected fault)",
    503: "Service Unavailable (injected fault)",
    504: "Gateway Timeout (injected fault)",
    BARE_429: "Too many requests",
}


async def send_json(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    """Send a complete JSON response on a raw ASGI channel."""
    payload = json.dumps(body).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def drop_connection(send: Send, start: Message | None = None) -> None:
    """Send only a response head (promising a body that never comes) and raise.

    The head is needed over uvicorn: an app that fails before starting a response gets a 500
    written for it, while one that stops after the head makes uvicorn close the socket, which
    an HTTP client sees as a dropped connection.
    """
    if start is None:
        start = {"type": "http.response.start", "status": 503,
                 "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")]}
    await send(start)
    raise SandboxConnectionDropped("connection dropped by the sandbox (fault injection)")


class SandboxGate:
    """ASGI middleware applying the store-wide behaviour around the catalog routes."""

    def __init__(self, app: ASGIApp, *, store_hash: str, token: str, limiter: RateLimiter,
                 faults: FaultInjector, stats: Stats) -> None:
        self.app = app
        self.store_hash = store_hash
        self.token = token
        self.limiter = limiter
        self.faults = faults
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(STORES_PREFIX):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if self.faults.crashed:
            self.stats.record(method, path, None, fault="crash")
            await drop_connection(send)
        if self.faults.latency_s:
            await asyncio.sleep(self.faults.latency_s)
        decision = self.limiter.take()
        rate_headers = decision.headers()
        if not decision.allowed:
            self.stats.record(method, path, 429, throttled=True)
            await send_json(send, 429, error_body(429, "Too many requests"), rate_headers)
            return
        injected = self.faults.before_processing()
        if injected is not None:
            self.stats.record(method, path, injected, fault="429" if injected == BARE_429 else "5xx")
            await send_json(send, injected, error_body(injected, _FAULT_TITLES[injected]),
                            None if injected == BARE_429 else rate_headers)
            return
        refusal = self._access_error(scope)
        if refusal is not None:
            self.stats.record(method, path, refusal[0])
            await send_json(send, refusal[0], error_body(*refusal), rate_headers)
            return
        await self._process(scope, receive, send, rate_headers)

    def _access_error(self, scope: Scope) -> tuple[int, str] | None:
        parts = scope["path"].split("/")
        if len(parts) < 3 or parts[2] != self.store_hash:
            return 404, NOT_FOUND_TITLE
        headers = dict(scope["headers"])
        token = headers.get(b"x-auth-token")
        if token is None:
            return 401, "No X-Auth-Token header was sent; the API needs an access token."
        if token.decode("latin-1") != self.token:
            return 401, "The X-Auth-Token is not valid for this store."
        return None

    async def _process(self, scope: Scope, receive: Receive, send: Send, rate_headers: dict[str, str]) -> None:
        drop = self.faults.drop_after_processing()
        extra = [(k.lower().encode(), v.encode()) for k, v in rate_headers.items()]
        held: dict[str, Any] = {"status": 500, "start": None}

        async def forward(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
                held["status"], held["start"] = message["status"], message
                if drop:
                    return
            elif drop:
                return  # the body is never delivered
            await send(message)

        try:
            await self.app(scope, receive, forward)
        except SandboxConnectionDropped:
            raise
        except Exception:  # a sandbox bug: answer like a server would, keep counting, keep serving
            logger.exception("unhandled error in the sandbox while serving %s %s", scope["method"], scope["path"])
            if held["start"] is not None:
                raise
            held["status"] = 500
            if not drop:
                await send_json(send, 500, error_body(500, "Internal Server Error"), rate_headers)
        method = scope["method"]
        wrote = method in WRITE_METHODS and 200 <= held["status"] < 300
        if wrote:
            self.faults.note_write()
        self.stats.record(method, scope["path"], held["status"], fault="drop" if drop else None, write=wrote)
        if drop:
            await drop_connection(send, held["start"])
