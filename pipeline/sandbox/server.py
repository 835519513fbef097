"""Run the sandbox over HTTP with uvicorn, in the foreground or in a background thread.

Dropped connections must look like dropped connections to a real client. The app raises
`SandboxConnectionDropped` after sending only a response head (with a Content-Length it never
honours); `drop_aware` swallows that exception, so uvicorn sees an app that "returned without
completing the response" and closes the socket. httpx then raises `RemoteProtocolError`
(or `ReadError`), never a 500. The log line uvicorn writes for each such drop is filtered out.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

from pipeline.sandbox.app import create_app
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.faults import SandboxConnectionDropped
from pipeline.sandbox.gate import ASGIApp, Receive, Scope, Send
from pipeline.sandbox.tally import write_report

_DROP_LOG_MESSAGE = "ASGI callable returned without completing response."
STARTUP_TIMEOUT_S = 10.0


def drop_aware(app: ASGIApp) -> ASGIApp:
    """Wrap an app so a simulated drop ends the request quietly (uvicorn closes the socket)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except SandboxConnectionDropped:
            return

    return wrapped


class _HideDropLogs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _DROP_LOG_MESSAGE


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDropLogs) for f in logger.filters):
        logger.addFilter(_HideDropLogs())


def _server(app: Starlette, host: str, port: int, log_level: str) -> uvicorn.Server:
    _install_log_filter()
    return uvicorn.Server(uvicorn.Config(drop_aware(app), host=host, port=port, log_level=log_level,
                                         lifespan="off", access_log=False, http="h11"))


def serve_forever(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8765,
                  log_level: str = "info") -> None:
    """Serve in the foreground until interrupted (the CLI's `bcmod sandbox serve`).

    On the way out the spec-check tally is appended to `$BCMOD_SANDBOX_TALLY_FILE` when set, so
    a test session counts the requests of sandboxes it ran as subprocesses.
    """
    app = create_app(config)
    reported = _report_on_terminate()
    try:
        _server(app, host, port, log_level).run()
    finally:
        app.state.sandbox.store.close()
        if not reported:
            write_report()


def _report_on_terminate() -> list[bool]:
    """Write the tally when SIGTERM ends the server, then die of it as before.

    uvicorn shuts down cleanly on SIGTERM but then raises the signal again with the handler it
    found, so code after `run()` never runs; the handler found is this one. Returns a flag that
    is set once it has reported (so the normal exit does not report twice).
    """
    reported: list[bool] = []

    def handler(signum: int, frame: object) -> None:
        if not reported:
            reported.append(write_report())
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: no signal handling to hook into
        pass
    return reported


@contextmanager
def serve_in_thread(config: SandboxConfig, host: str = "127.0.0.1", port: int = 0,
                    log_level: str = "warning", *, preferred_port: int | None = None) -> Iterator[str]:
    """Serve in a background thread; yields `http://HOST:PORT` (port 0 = any free port).

    `preferred_port` is tried first and `port` only when it is taken: the embedded store asks for
    its image origin's port, so its image URLs open in a browser while it runs when it can have it
    (bcmod's own downloads reach it on whichever port it got, `pipeline.image_fetch`)."""
    sock = _bound_socket(host, preferred_port, port)
    bound_port = sock.getsockname()[1]
    app = create_app(config)
    server = _server(app, host, bound_port, log_level)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="bcmod-sandbox", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        sock.close()
        app.state.sandbox.store.close()


def _bound_socket(host: str, preferred_port: int | None, port: int) -> socket.socket:
    """A socket bound to `preferred_port` if it is free, else to `port`."""
    if preferred_port:
        try:
            return _bind(host, preferred_port)
        except OSError:
            pass  # taken (another sandbox, another program): `port` will do
    return _bind(host, port)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
