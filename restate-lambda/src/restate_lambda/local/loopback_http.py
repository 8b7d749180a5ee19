"""What the local stand-ins for AWS HTTP endpoints share: a threaded loopback server."""

from __future__ import annotations

import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from restate_lambda.local.processes import loopback_url


class KeepAliveNoDelayHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive with TCP_NODELAY, as the AWS endpoints the callers expect."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Without it, small responses wait for Nagle + delayed ACK: ~40 ms per call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by http.server
        pass  # each server keeps its own per-request log lines (the function's START/END/REPORT)


class QuietAboutGoneCallers(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A caller that went away mid-request (restate-server killed or stopping) is normal here, not a
        # traceback on stderr; anything else still is one.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class LoopbackHttpServer:
    """Serves ``handler_class`` on ``host:port`` (0 = a free port) from a background thread."""

    def __init__(self, handler_class: type[BaseHTTPRequestHandler], *, host: str, port: int, name: str) -> None:
        self._server = QuietAboutGoneCallers((host, port), handler_class)
        self._server.daemon_threads = True
        # shutdown() waits for the loop's next poll: at the default 0.5 s, every stop would take that long.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=name, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return loopback_url(self.port)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
