"""`create_app(config)`: the sandbox store as a Starlette ASGI app.

Routes live in `api.py` (catalog) and `control.py` (`/_sandbox`); the store-wide behaviour
(auth, rate limit, faults, counting, drops) is the `SandboxGate` middleware, and the check
against BigCommerce's OpenAPI specs (strict mode, response checks) is `contract.py` around it. Errors of every
kind, including unknown routes and wrong methods, answer BigCommerce-shaped JSON.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount

from pipeline.sandbox import api, control
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.contract import RequestCheck, ResponseCheck, contract_for
from pipeline.sandbox.errors import NOT_FOUND_TITLE, ApiError, error_body
from pipeline.sandbox.gate import SandboxGate
from pipeline.sandbox.state import SandboxState

logger = logging.getLogger(__name__)
STORE_PREFIX = "/stores/{store_hash}/v3"


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    title = NOT_FOUND_TITLE if exc.status_code == 404 else (exc.detail or "Error")
    if exc.status_code == 405:
        title = f"The {request.method} method is not allowed on this resource."
    return JSONResponse(error_body(exc.status_code, title), status_code=exc.status_code, headers=exc.headers)


def seed_if_empty(state: SandboxState) -> int:
    """Seed `config.products` generated products when the database is empty (first start only)."""
    config = state.config
    if config.products <= 0 or not state.store.is_empty():
        return 0
    from sample_data.generator import generate_catalog

    count = state.store.seed_catalog(generate_catalog(n_products=config.products, seed=config.seed))
    logger.info("seeded %d products into %s", count, state.store.path)
    return count


def _middleware(config: SandboxConfig, state: SandboxState) -> list[Middleware]:
    """Outermost first: response check, gate (auth, rate limit, faults, counting), request check."""
    gate = Middleware(SandboxGate, store_hash=config.store_hash, token=config.token,
                      limiter=state.limiter, faults=state.faults, stats=state.stats)
    contract = contract_for(config)
    if contract is None:
        return [gate]
    layers = [gate, Middleware(RequestCheck, contract=contract, strict=config.strict, stats=state.stats)]
    if config.check_responses:
        layers.insert(0, Middleware(ResponseCheck, contract=contract, stats=state.stats))
    return layers


def create_app(config: SandboxConfig) -> Starlette:
    """A sandbox store over `config.data_dir`; `app.state.sandbox` holds its store and counters."""
    state = SandboxState.open(config)
    seed_if_empty(state)
    app = Starlette(
        routes=[Mount(STORE_PREFIX, routes=api.ROUTES), *control.ROUTES],
        middleware=_middleware(config, state),
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.sandbox = state
    return app
