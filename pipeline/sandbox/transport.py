"""An httpx transport that runs the sandbox in process and shows drops as httpx shows them.

`httpx.ASGITransport` would surface the app's `SandboxConnectionDropped` as an arbitrary
exception; a real dropped connection reaches httpx clients as `httpx.RemoteProtocolError`, which
is what client retry code catches. This transport makes the in-process sandbox behave the same.
"""

from __future__ import annotations

import httpx

from pipeline.sandbox.faults import SandboxConnectionDropped


class SandboxTransport(httpx.ASGITransport):
    """`httpx.AsyncClient(transport=SandboxTransport(app=app), base_url="http://sandbox")`."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except SandboxConnectionDropped as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a complete response (sandbox drop).", request=request
            ) from exc
