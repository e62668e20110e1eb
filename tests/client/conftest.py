"""Clients of the session's live server (see tests/conftest.py), and a plain HTTP server
that answers what a proxy in front of dbplane might: errors that are not problem details.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dbplane import ApiClient, AsyncApiClient
from tests.conftest import LiveServer


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[ApiClient]:
    with ApiClient(live_server.token, live_server.base_url) as c:
        yield c


@pytest.fixture
async def aclient(live_server: LiveServer) -> AsyncIterator[AsyncApiClient]:
    async with AsyncApiClient(live_server.token, live_server.base_url) as c:
        yield c


class _ProxyLike(BaseHTTPRequestHandler):
    """``/bad-gateway``: 502 in plain text; ``/future``: a problem with a code this client
    does not know; ``/html``: 200 with a body that is not JSON."""

    def do_GET(self) -> None:
        if self.path.startswith("/bad-gateway/"):
            self._send(502, "text/plain", b"upstream is down")
        elif self.path.startswith("/future/"):
            self._send(418, "application/problem+json",
                       b'{"type":"urn:dbplane:error:DBP-Z999","title":"Teapot","status":418,'
                       b'"detail":"a newer error","code":"DBP-Z999","field":"x"}')
        else:
            self._send(200, "text/html", b"<html>not dbplane</html>")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def proxy_like() -> Iterator[str]:
    """The base URL of a real HTTP server that is not dbplane."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyLike)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
