"""Image hosts for the download tests, served on 127.0.0.1: a plain ASGI app under uvicorn (well
behaved and misbehaving routes) and a raw socket server for a Content-Length that undercounts,
which uvicorn itself would refuse to send."""

from __future__ import annotations

import base64
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from pipeline.modifier_types import IMAGE_MAX_BYTES
from sample_data.generator import png_bytes

PNG = png_bytes(b"\xc0\x30\x30", 4, 4)
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")  # 1x1, 43 bytes
JPEG = bytes.fromhex(  # 1x1 grey baseline JFIF
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a"
    "1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ffc4001f"
    "0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d010203"
    "00041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a343536373839"
    "3a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4"
    "a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa"
    "ffda0008010100003f00fbd3ffd9")
CHUNK = 64 * 1024


@dataclass
class Seen:
    """What the image host was asked: (path, Host header) per request."""

    requests: list[tuple[str, str]] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


def _image_app(seen: Seen):
    """Routes: /red.png /pic.gif /pic.jpg (real images), /page.png (HTML), /huge (8 MB + 1, chunked, no
    Content-Length), /declared-huge (a Content-Length over 8 MB), /short (declares more than it sends, then
    drops), /hop/N (N redirects, then the PNG), /to?url=U (a redirect to U), /missing (404)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        seen.requests.append((path, headers.get("host", "")))

        async def respond(status: int, body: bytes, content_type: str = "image/png",
                          extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", content_type.encode()),
                                    (b"content-length", str(len(body)).encode()), *extra]})
            await send({"type": "http.response.body", "body": body})

        if path == "/red.png":
            await respond(200, PNG)
        elif path == "/pic.gif":
            await respond(200, GIF, "image/gif")
        elif path == "/pic.jpg":
            await respond(200, JPEG, "image/jpeg")
        elif path == "/page.png":
            await respond(200, b"<!doctype html><html><body>Not found, but 200</body></html>", "text/html")
        elif path == "/missing":
            await respond(404, b"no", "text/plain")
        elif path == "/huge":  # no Content-Length: uvicorn sends it chunked
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]})
            body = PNG + b"\0" * (IMAGE_MAX_BYTES + 1 - len(PNG))
            for start in range(0, len(body), CHUNK):
                await send({"type": "http.response.body", "body": body[start:start + CHUNK], "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/declared-huge":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"image/png"),
                                    (b"content-length", str(IMAGE_MAX_BYTES + 1).encode())]})
            await send({"type": "http.response.body", "body": PNG, "more_body": True})
            return  # never completes: uvicorn closes the socket
        elif path == "/short":  # claims 5000 bytes, sends the PNG, then the connection drops
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"image/png"), (b"content-length", b"5000")]})
            await send({"type": "http.response.body", "body": PNG, "more_body": True})
            return
        elif path.startswith("/hop/"):
            left = int(path.rsplit("/", 1)[1])
            if left == 0:
                await respond(200, PNG)
            else:
                await respond(302, b"", "text/plain", ((b"location", f"/hop/{left - 1}".encode()),))
        elif path == "/to":
            target = parse_qs(scope["query_string"].decode())["url"][0]
            await respond(302, b"", "text/plain", ((b"location", target.encode()),))
        else:
            await respond(404, b"no", "text/plain")

    return app


class _QuietIncomplete(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


@contextmanager
def image_host() -> Iterator[tuple[str, Seen]]:
    """Serve the image routes with uvicorn on 127.0.0.1; yields (`http://127.0.0.1:PORT`, what it saw)."""
    seen = Seen()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    logging.getLogger("uvicorn.error").addFilter(quiet := _QuietIncomplete())
    server = uvicorn.Server(uvicorn.Config(_image_app(seen), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", access_log=False, http="h11"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="image-host", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the image host did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}", seen
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        logging.getLogger("uvicorn.error").removeFilter(quiet)


class _RawHandler(socketserver.BaseRequestHandler):
    """Answers any request with a head saying Content-Length: 200 and then far more bytes: a PNG
    that starts well, padding, then 9 MB more, as a server that ignores its own header would."""

    def handle(self) -> None:
        self.request.settimeout(10)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            received += chunk
        head = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 200\r\nConnection: close\r\n\r\n"
        try:
            self.request.sendall(head + PNG[:33])  # signature and header only: the rest never comes in 200
            for _ in range(0, 9 * 2**20, CHUNK):
                self.request.sendall(b"\0" * CHUNK)
        except OSError:
            return  # the client hung up, as it should


@contextmanager
def undercounting_host() -> Iterator[str]:
    """A raw HTTP server on 127.0.0.1 whose Content-Length (200) is smaller than what it sends."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RawHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
