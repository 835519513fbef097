"""The spec check around the catalog routes: requests refused with 422, responses recorded.

Two ASGI layers, because they sit at different places of the request's path:
- `RequestCheck` runs inside the gate (after the token, the rate limit and the faults, as a
  real API gateway orders them) and checks each request to a served operation against the spec;
  strict, it answers 422 listing every violation, otherwise it serves the request and counts it.
- `ResponseCheck` runs outside the gate so it sees every answer of a served route, including the
  gate's own 401/429/5xx, and records each one that breaks the spec (the test suite fails on them).

Requests to routes the spec does not have, or the sandbox does not serve, pass untouched (404).
Counts go to the sandbox's `Stats` (`/_sandbox/stats`) and to the process-wide `TALLY`.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.errors import error_body
from pipeline.sandbox.gate import ASGIApp, Message, Receive, Scope, Send, send_json
from pipeline.sandbox.openapi import NO_BODY, UNREADABLE, Contract, Operation, load_contract
from pipeline.sandbox.stats import Stats
from pipeline.sandbox.tally import TALLY

logger = logging.getLogger(__name__)
REFUSAL_TITLE = "The request does not conform to the API specification"
FIELD_SELECTORS = ("include_fields=", "exclude_fields=")
_said_no_specs = False


def contract_for(config: SandboxConfig) -> Contract | None:
    """The compiled spec when this sandbox checks anything and the specs exist; says once if not."""
    global _said_no_specs
    if not (config.strict or config.check_responses):
        return None
    contract = load_contract(config.spec_dir)
    if contract is None and not _said_no_specs:
        _said_no_specs = True
        logger.warning("BigCommerce OpenAPI specs not found in %s (set BIGCOMMERCE_OPENAPI_DIR): the sandbox runs "
                       "without the spec check, on its own rules only", config.spec_dir)
    return contract


def _operation(contract: Contract, scope: Scope) -> tuple[Operation, dict[str, str]] | None:
    """The served operation a `/stores/{hash}/v3/...` request hits, or None."""
    if scope["type"] != "http":
        return None
    parts = scope["path"].split("/", 4)  # ['', 'stores', hash, 'v3', rest]
    if len(parts) < 5 or parts[1] != "stores" or parts[3] != "v3":
        return None
    matched = contract.match(scope["method"], "/" + parts[4])
    return matched if matched is not None and matched[0].served else None


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}


def _media_type(content_type: str | None) -> str | None:
    return content_type.split(";", 1)[0].strip().lower() if content_type else None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that hands out the already read body once, then the real channel."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _decoded(scope: Scope, receive: Receive, media_type: str | None, raw: bytes, op: Operation) -> Any:
    """The body as the spec's schemas see it: JSON, multipart fields, or a marker."""
    if not raw:
        return NO_BODY
    if media_type == "application/json":
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return UNREADABLE  # the handler answers 400, as for any malformed body
    if media_type == "multipart/form-data" and media_type in op.bodies:
        try:
            form = await Request(scope, _replay(raw, receive)).form(max_files=10, max_fields=50)
        except Exception:  # noqa: BLE001 - a broken form is the handler's to refuse
            return UNREADABLE
        fields = {name: (b"" if isinstance(value, UploadFile) else value) for name, value in form.multi_items()}
        await form.close()
        return fields
    return UNREADABLE


class RequestCheck:
    """Check each request to a served operation; refuse it with 422 when strict."""

    def __init__(self, app: ASGIApp, *, contract: Contract, strict: bool, stats: Stats) -> None:
        self.app = app
        self.contract = contract
        self.strict = strict
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = _operation(self.contract, scope)
        if matched is None:
            await self.app(scope, receive, send)
            return
        op, path_params = matched
        raw = await _read_body(receive)
        started = time.perf_counter()
        headers = _headers(scope)
        media_type = _media_type(headers.get("content-type"))
        body = await _decoded(scope, receive, media_type, raw, op)
        query = Request(scope).query_params.multi_items()
        violations = op.check_request(path_params, query, headers, media_type, body)
        TALLY.add_time(time.perf_counter() - started)
        refused = bool(violations) and self.strict
        counts = {"checked": 1, "refused": int(refused), "request_violations": int(bool(violations) and not refused)}
        self.stats.record_contract(**counts)
        TALLY.add(**counts)
        if violations:
            TALLY.request_violation(op.operation_id, violations)
        if refused:
            await send_json(send, 422, error_body(422, REFUSAL_TITLE, violations))
            return
        if violations:
            logger.debug("non-conforming request served (strict off): %s %s %s", scope["method"], scope["path"],
                         violations)
        await self.app(scope, _replay(raw, receive), send)


class ResponseCheck:
    """Record every response of a served operation that breaks the spec."""

    def __init__(self, app: ASGIApp, *, contract: Contract, stats: Stats) -> None:
        self.app = app
        self.contract = contract
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = _operation(self.contract, scope)
        if matched is None:
            await self.app(scope, receive, send)
            return
        op = matched[0]
        response: dict[str, Any] = {"status": 0, "content_type": None, "body": bytearray(), "done": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        response["content_type"] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                response["body"] += message.get("body", b"")
                response["done"] = not message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, capture)  # a dropped connection raises past this: nothing to check
        if not response["done"]:
            return
        query = scope.get("query_string", b"").decode("latin-1")
        fields_selected = any(selector in query for selector in FIELD_SELECTORS)
        started = time.perf_counter()
        violations = op.check_response(response["status"], _media_type(response["content_type"]),
                                       bytes(response["body"]), fields_selected)
        TALLY.add_time(time.perf_counter() - started)
        self.stats.record_contract(responses_checked=1, response_violations=int(bool(violations)))
        TALLY.add(responses_checked=1)
        if violations:
            TALLY.response_violation(scope["method"], scope["path"], response["status"], violations)
            logger.warning("sandbox response breaks the spec: %s %s -> %s", scope["method"], scope["path"], violations)
