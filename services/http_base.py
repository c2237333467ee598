"""The HTTP plumbing occuloop's servers share (the embedded ClearML server, the services' small APIs): a threaded HTTP/1.1 server, body reading, replies, in-flight tracking.

Python's `http.server` keeps this dependency-free and lets the file server stream with plain blocking I/O
(`socket.sendfile` on downloads). One thread per connection; clients keep connections alive.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .metrics import PATH as METRICS_PATH
from .metrics import exposition
from .shutdown import run_until_signalled

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

logger = logging.getLogger(__name__)

IDLE_CONNECTION_SECONDS = 300
CHUNK = 1 << 20


class BodyError(Exception):
    """A request body that cannot be read: the status and reason to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class InFlight:
    """Counts requests being handled, so shutdown can let them finish."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def __enter__(self) -> None:
        with self._idle:
            self._count += 1

    def __exit__(self, *_: object) -> None:
        with self._idle:
            self._count -= 1
            if self._count == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


class Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not block shutdown; in-flight work is tracked
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], context: Any) -> None:
        self.context = context
        self.in_flight = InFlight()
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up is routine; anything else is a bug worth a stack trace."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            logger.debug("event=connection_dropped client=%s error=%s", client_address, error)
        else:
            logger.exception("event=http_handler_error client=%s", client_address)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_SECONDS
    server: Server

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; without TCP_NODELAY, Nagle's algorithm plus the client's
        # delayed ACK stall every small reply by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("event=http_request client=%s %s", self.address_string(), format % args)

    def iter_body(self, limit: int) -> Iterator[bytes]:
        """The request body in chunks (Content-Length or chunked transfer encoding), at most `limit` bytes."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            yield from self._iter_chunked(limit)
            return
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return
        try:
            remaining = int(raw_length)
        except ValueError:
            raise BodyError(400, "invalid Content-Length") from None
        if remaining < 0:
            raise BodyError(400, "invalid Content-Length")
        if remaining > limit:
            raise BodyError(413, f"request body larger than {limit} bytes")
        while remaining > 0:
            chunk = self.rfile.read(min(CHUNK, remaining))
            if not chunk:
                raise BodyError(400, "request body shorter than Content-Length")
            remaining -= len(chunk)
            yield chunk

    def _iter_chunked(self, limit: int) -> Iterator[bytes]:
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BodyError(400, "malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            total += size
            if total > limit:
                raise BodyError(413, f"request body larger than {limit} bytes")
            data = self.rfile.read(size)
            self.rfile.readline(16)
            if len(data) != size:
                raise BodyError(400, "request body ended mid-chunk")
            yield data

    def read_body(self, limit: int) -> bytes:
        return b"".join(self.iter_body(limit))

    def reply(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply_json(self, status: int, document: Any) -> None:
        self.reply(status, json.dumps(document, separators=(",", ":")).encode("utf-8"), "application/json")

    def reply_metrics(self, registry: CollectorRegistry) -> None:
        """`GET /metrics`: the process's Prometheus metrics (services/metrics.py)."""
        body, content_type = exposition(registry, self.headers.get("Accept"))
        self.reply(200, body, content_type)


class ServiceHandler(Handler):
    """The small HTTP API of a long-running service: `GET /healthz`, `GET /status` (the service's `status()`),
    `GET /metrics` (the registry of the service's `metrics`), and whatever POST its subclass answers."""

    post_hint = ""  # e.g. "POST /sync": named in 404 answers

    @property
    def service(self) -> Any:
        return self.server.context

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self.reply_json(200, {"status": "ok"})
        elif path == "/status":
            self.reply_json(200, self.service.status())
        elif path == METRICS_PATH:
            self.reply_metrics(self.service.metrics.registry)
        else:
            self.reply_json(404, {"error": f"unknown path; try {self.post_hint}, GET /status or GET /metrics"})


def serve_beside(
    name: str,
    host: str,
    port: int,
    handler: type[BaseHTTPRequestHandler],
    service: Any,
    started: str,
    stop: threading.Event,
) -> None:
    """Run `service.run(stop)` with its HTTP API beside it, until `stop` is set and the service has finished its
    own work (e.g. the sync finalizes its batch); `started` is the log line's extra fields. The work of both run
    modes: a process under `serve_until_signalled`, a ClearML service task under service_tasks/runtime.py."""
    http = Server((host, port), handler, service)
    threading.Thread(target=http.serve_forever, name=f"{name}-http", daemon=True).start()
    logger.info("event=%s_started http=http://%s:%d %s", name, host, http.port, started)
    print(f"occuloop {name}: http://{host}:{http.port}", flush=True)
    try:
        service.run(stop)
    finally:
        http.shutdown()
        http.server_close()


def serve_until_signalled(
    name: str,
    host: str,
    port: int,
    handler: type[BaseHTTPRequestHandler],
    service: Any,
    started: str,
    *,
    bound_seconds: float,
) -> int:
    """`serve_beside` until SIGTERM/SIGINT (`shutdown.run_until_signalled`: the process then has `bound_seconds`
    to exit)."""
    code = run_until_signalled(
        name, lambda stop: serve_beside(name, host, port, handler, service, started, stop), bound_seconds=bound_seconds
    )
    logger.info("event=%s_stopped exit_code=%d", name, code)
    return code
