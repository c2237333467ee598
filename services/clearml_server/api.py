"""The API server: one HTTP request in, one `{meta, data}` envelope out.

`handle()` holds the whole call pipeline without sockets (parse the path, authenticate, decode the body, run the
handler, wrap the result), so it can be tested in-process; `ApiHandler` is the thin HTTP layer around it.
A client mistake always becomes a 4xx envelope; a 500 means a bug in this server and is logged with its stack.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from ..http_base import BodyError
from ..metrics import PATH as METRICS_PATH
from .calls import Call, Server
from .endpoints import ENDPOINTS
from .metrics import Measured, api_endpoint
from .wire import (
    ENDPOINT_NOT_SUPPORTED,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    REQUEST_TOO_LARGE,
    ApiError,
    Body,
    encode,
    envelope,
    parse_body,
    parse_call_path,
)

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024 * 1024  # the SDK splits event batches at 15 MB
NO_WEB_UI = (
    b"This is occuloop's embedded ClearML-compatible server. Its web UI is `occuloop ui`: start it and run the\n"
    b"server with --web-host <the UI's URL> (as `make demo` does) and these links lead there.\n"
)


def web_location(web_host: str, path: str) -> str:
    """The UI's URL for a web path (and query) the API port was asked for: same path, on the UI."""
    return web_host.rstrip("/") + "/" + path.lstrip("/")


@dataclass(frozen=True)
class ApiRequest:
    path: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """Case-insensitive: the agent spells it `Content-type`."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


def _query_params(path: str) -> dict[str, Any]:
    """Query-string parameters merge into the body (`auth.login?expiration_sec=`, `users.get_vaults?...`)."""
    if "?" not in path:
        return {}
    params: dict[str, Any] = {}
    for key, values in parse_qs(path.split("?", 1)[1], keep_blank_values=True).items():
        decoded = []
        for value in values:
            try:
                decoded.append(json.loads(value))
            except ValueError:
                decoded.append(value)
        params[key] = decoded[0] if len(decoded) == 1 else decoded
    return params


def handle(server: Server, request: ApiRequest) -> tuple[int, bytes]:
    call_path = parse_call_path(request.path)
    if call_path is None:
        error = ApiError(ENDPOINT_NOT_SUPPORTED, f"'{request.path.split('?', 1)[0]}' is not an API call")
        status, document = envelope("", None, None, error)
        return status, encode(document)
    endpoint = call_path.endpoint
    try:
        data = _dispatch(server, endpoint, request)
        status, document = envelope(endpoint, call_path.version, data)
    except ApiError as error:
        status, document = envelope(endpoint, call_path.version, None, error)
    except Exception:
        logger.exception("event=api_internal_error endpoint=%s", endpoint)
        status, document = envelope(endpoint, call_path.version, None, ApiError(INTERNAL_ERROR))
    return status, encode(document)


def _dispatch(server: Server, endpoint: str, request: ApiRequest) -> dict[str, Any]:
    now = server.clock.now()
    if endpoint == "debug.ping":
        return {"msg": "occuloop embedded ClearML-compatible server"}
    content_type = request.header("Content-Type") or ""
    raw = parse_body(request.body, content_type)
    params = _query_params(request.path)
    if endpoint == "auth.login":
        expiration = params.get("expiration_sec", raw.get("expiration_sec") if isinstance(raw, dict) else None)
        if expiration is not None and (isinstance(expiration, bool) or not isinstance(expiration, int)):
            raise ApiError(INVALID_REQUEST, "expiration_sec must be an integer")
        return {"token": server.auth.login(request.header("Authorization"), expiration, now=now)}
    handler = ENDPOINTS.get(endpoint)
    if handler is None:
        raise ApiError(ENDPOINT_NOT_SUPPORTED, endpoint)
    identity = server.auth.verify(request.header("Authorization"), now=now)
    if endpoint == "events.add_batch":  # JSON lines: a batch of one event parses as a single object
        if isinstance(raw, list):
            raw = {"requests": raw}
        elif isinstance(raw, dict) and "requests" not in raw:
            raw = {"requests": [raw]}
    if params and isinstance(raw, dict):
        raw = {**params, **raw}
    return handler(Call(endpoint=endpoint, body=Body(raw), identity=identity, server=server, now=now))


class ApiHandler(Measured):
    port_name = "api"

    def endpoint(self) -> str:
        return api_endpoint(self.command, self.path)

    def _serve(self) -> None:
        with self.server.in_flight:
            try:
                body = self.read_body(MAX_REQUEST_BYTES)
            except BodyError as error:
                self.close_connection = True  # the rest of the body was not read: the connection cannot be reused
                code = REQUEST_TOO_LARGE if error.status == 413 else INVALID_REQUEST
                status, document = envelope("", None, None, ApiError(code, error.reason))
                self.reply(status, encode(document), "application/json")
                return
            path = self.path.split("?", 1)[0]
            if path in ("/", "/healthz"):
                self.reply_json(200, {"status": "ok"})
                return
            if self.command == "GET" and path == METRICS_PATH:
                self.reply_metrics(self.server.context.metrics.registry)
                return
            if self.command == "GET" and parse_call_path(path) is None:  # a "results page" link the SDK printed
                web_host = self.server.context.web_host
                if web_host:
                    self.reply(302, b"", "text/plain", {"Location": web_location(web_host, self.path)})
                else:
                    self.reply(404, NO_WEB_UI, "text/plain; charset=utf-8")
                return
            headers = dict(self.headers.items())
            status, payload = handle(self.server.context, ApiRequest(self.path, headers, body))
            self.reply(status, payload, "application/json")

    do_GET = do_POST = do_PUT = _serve
