"""`/_sandbox` routes for tests and benchmarks: stats, reset, request log, images.

They need no token and are neither rate limited nor counted, so observing the sandbox never
changes what is being measured. Images are served here so uploaded and seeded image URLs
resolve like a CDN's would.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline.sandbox.errors import invalid, not_found
from pipeline.sandbox.images import load_image
from pipeline.sandbox.state import SandboxState

DEFAULT_LOG_LIMIT = 100


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox  # type: ignore[no-any-return]


async def stats(request: Request) -> JSONResponse:
    return JSONResponse(_state(request).stats.snapshot())


async def reset(request: Request) -> JSONResponse:
    state = _state(request)
    state.reset_runtime()
    return JSONResponse(state.stats.snapshot())


async def log(request: Request) -> JSONResponse:
    raw = request.query_params.get("limit", str(DEFAULT_LOG_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        raise invalid({"limit": f"limit must be an integer, got {raw!r}"}) from None
    return JSONResponse(_state(request).stats.recent(limit))


async def image(request: Request) -> Response:
    found = load_image(_state(request).images_dir, request.path_params["path"])
    if found is None:
        raise not_found()
    data, content_type = found
    return Response(data, media_type=content_type, headers={"Cache-Control": "public, max-age=3600"})


ROUTES = [
    Route("/_sandbox/stats", stats, methods=["GET"]),
    Route("/_sandbox/reset", reset, methods=["POST"]),
    Route("/_sandbox/log", log, methods=["GET"]),
    Route("/_sandbox/images/{path:path}", image, methods=["GET"]),
]
