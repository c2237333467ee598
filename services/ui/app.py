"""The UI's ASGI app: the route table (occuloop's pages and the ClearML link shapes the SDK prints), the error
pages (400 naming the parameter, 404 with a "go to id" box, 503 with a banner that retries), static assets at
versioned immutable URLs, optional basic auth, and security headers. The pages themselves live in `pages/`."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from ..loop_state import StateError, Unreachable
from ..metrics import PATH as METRICS_PATH
from ..metrics import AsgiApp, exposition, instrument
from ..settings import UiSettings
from ..shutdown import arm_overrun_guard, replay_early_stop
from . import assets, urls
from .metrics import UiMetrics
from .pages import datasets, links, loop, models, orchestration, quarantine, receipts, serving, tasks
from .reads import Reader
from .rendering import BadParameter, NotFound, Renderer, wants_json

logger = logging.getLogger(__name__)

SHUTDOWN_BOUND_SECONDS = 15.0  # uvicorn drains for DRAIN_SECONDS, then the lifespan ends


def routes() -> list[BaseRoute]:
    return [
        Route("/", loop.timeline_view),
        Route("/healthz", lambda _request: JSONResponse({"status": "ok"})),
        Route("/static/{version}/{name:path}", assets.static),
        Route("/datasets", datasets.listing),
        Route("/datasets/{dataset_id}", datasets.detail),
        Route("/runs", tasks.listing),
        Route("/tasks/{task_id}", tasks.canonical),
        Route("/projects/{project}/experiments/{task_id}", tasks.page),
        Route("/projects/{project}/tasks/{task_id}", tasks.page),
        Route("/projects/{project}/experiments/{task_id}/{tab:path}", tasks.page),
        Route("/projects/{project}/tasks/{task_id}/{tab:path}", tasks.page),
        Route("/tasks/{task_id}/scalars.json", tasks.scalars_json),
        Route("/tasks/{task_id}/plots.json", tasks.plots_json),
        Route("/models", models.listing),
        Route("/projects/{project}/models/{model_id}", models.detail),
        Route("/projects/{project}/models/{model_id}/{tab:path}", models.detail),
        Route("/receipts", receipts.listing),
        Route("/receipts/{receipt_id}", receipts.detail),
        Route("/serving", serving.page),
        Route("/orchestration", orchestration.page),
        Route("/quarantine", quarantine.page),
        Route("/go", links.go),
        Route("/go/{ident}", links.go),
        *links.clearml_routes(),
    ]


class SecurityHeaders(BaseHTTPMiddleware):
    """No inline script may run (the pages pass data as JSON blocks); plotly needs inline styles."""

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


class FormatCheck(BaseHTTPMiddleware):
    """`?format=` is checked before a page reads anything, so a bad one is a 400 even when the API is down."""

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        try:
            wants_json(request)
        except BadParameter as error:
            return await bad_parameter(request, error)
        return await call_next(request)


OPEN_PATHS = frozenset({"/healthz", METRICS_PATH})


class BasicAuth(BaseHTTPMiddleware):
    """Built-in basic auth (OCCULOOP_UI_USER / OCCULOOP_UI_PASSWORD); `/healthz` stays open for probes and
    `/metrics` for Prometheus (numbers only; the NetworkPolicy says who may scrape)."""

    def __init__(self, app: Any, user: str, password: str) -> None:
        super().__init__(app)
        self._expected = f"{user}:{password}".encode()

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path in OPEN_PATHS or self._allowed(request.headers.get("authorization", "")):
            return await call_next(request)
        return PlainTextResponse(
            "authentication required", status_code=401, headers={"WWW-Authenticate": 'Basic realm="occuloop"'}
        )

    def _allowed(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._expected)


def _renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


async def bad_parameter(request: Request, error: Exception) -> Response:
    assert isinstance(error, BadParameter)
    data = {"error": "bad_parameter", "parameter": error.name, "value": error.value, "expected": error.expected}
    if request.query_params.get("format") == "json" and error.name != "format":
        return JSONResponse(data, status_code=400)
    return _renderer(request).html(request, "error_400.html", {**data, "title": "Bad request"}, status=400)


async def not_found(request: Request, error: Exception) -> Response:
    what = error.what if isinstance(error, NotFound) else "page"
    ident = error.ident if isinstance(error, NotFound) else ""
    data = {"error": "not_found", "what": what, "id": ident, "path": request.url.path}
    if wants_json_safely(request):
        return JSONResponse(data, status_code=404)
    return _renderer(request).html(request, "error_404.html", {**data, "title": "Not found"}, status=404)


async def unreachable(request: Request, error: Exception) -> Response:
    data = {"error": "api_unreachable", "api": request.app.state.reader.api_host, "detail": str(error)}
    if wants_json_safely(request):
        return JSONResponse(data, status_code=503)
    return _renderer(request).html(request, "error_503.html", {**data, "title": "ClearML API unreachable"}, status=503)


async def api_error(request: Request, error: Exception) -> Response:
    logger.warning("event=ui_api_error path=%s detail=%s", request.url.path, str(error)[:300])
    data = {"error": "api_error", "detail": str(error)}
    if wants_json_safely(request):
        return JSONResponse(data, status_code=502)
    return _renderer(request).html(request, "error_503.html", {**data, "title": "ClearML API error"}, status=502)


def wants_json_safely(request: Request) -> bool:
    try:
        return wants_json(request)
    except BadParameter:
        return False


def create_app(settings: UiSettings, reader: Reader, *, guard_shutdown: bool = False) -> Starlette:
    """`guard_shutdown`: when the app's shutdown begins, arm the process's overrun guard (the shutdown contract,
    services/shutdown.py). Only `occuloop ui` sets it: in a test process the guard would end the tests."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        logger.info("event=ui_started url=http://%s:%d api=%s", settings.host, settings.port, reader.api_host)
        if guard_shutdown:
            replay_early_stop()  # uvicorn's handlers are in place now
        yield
        if guard_shutdown:
            arm_overrun_guard("ui", SHUTDOWN_BOUND_SECONDS)
        logger.info("event=ui_stopped")

    middleware = [Middleware(SecurityHeaders)]
    if settings.auth_user and settings.auth_password:  # outermost after the headers: nothing answers before it
        middleware.append(Middleware(BasicAuth, user=settings.auth_user, password=settings.auth_password))
    middleware.append(Middleware(FormatCheck))
    app = Starlette(
        routes=routes(),
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={
            BadParameter: bad_parameter,
            NotFound: not_found,
            404: not_found,
            Unreachable: unreachable,
            StateError: api_error,
        },
    )
    app.state.settings = settings
    app.state.reader = reader
    app.state.renderer = Renderer(
        {"poll_seconds": settings.poll_seconds, "asset": assets.url, "api_host": reader.api_host, **urls.GLOBALS}
    )
    app.state.metrics = UiMetrics()
    app.add_route(METRICS_PATH, _metrics)
    return app


async def _metrics(request: Request) -> Response:
    body, content_type = exposition(request.app.state.metrics.registry, request.headers.get("accept"))
    return Response(body, headers={"Content-Type": content_type})


def instrumented(app: Starlette) -> AsgiApp:
    """The app with every request timed in its page-latency histogram (what `occuloop ui` serves)."""
    return instrument(app, app.state.metrics.page_seconds)
