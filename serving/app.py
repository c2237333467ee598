"""The ASGI app `occuloop serving run` starts: clearml-serving's inference app, unchanged, plus one error handler and
`GET /metrics` (serving/metrics.py).

Its shutdown follows occuloop's contract (`services/shutdown.py`): uvicorn drains requests in flight for up to
`serving.command.DRAIN_SECONDS` after SIGTERM, then the app's shutdown arms the overrun guard;
`kill -USR1` dumps every thread's stack.

A body that is valid JSON but not an object or a string (e.g. `Infinity`, which Python's JSON parser accepts) fails
FastAPI's body validation, and the stock handler then fails to encode the offending value (`inf` is not JSON)
and answers 500. Such a body is the caller's mistake: it gets a 422 that says what the body must be.
"""

from __future__ import annotations

import math
import signal
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.metrics import PATH as METRICS_PATH
from services.metrics import MetricsApp
from services.shutdown import STOP_SIGNALS, arm_overrun_guard, enable_stack_dumps, replay_early_stop
from serving.metrics import Weights, endpoint_labels
from serving.telemetry import process_telemetry


def _stock_app_keeping_the_stop_signals() -> Any:
    """Import clearml-serving's app module, whose import runs `Task.init` on the main thread, and put back the
    SIGTERM/SIGINT handlers it replaces (uvicorn's). The SDK's handler runs the task's whole shutdown inside the
    signal handler, on the event loop's thread, in the middle of whatever it interrupted: the `make stress` run saw
    an app hang there for 35 s after a SIGTERM mid-request, until it was killed. The task still closes, from the
    SDK's atexit hook, after uvicorn has drained."""
    handlers = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    from clearml_serving.serving import main as stock_main

    for number, handler in handlers.items():
        signal.signal(number, handler)
    return stock_main


stock = _stock_app_keeping_the_stop_signals()
app = stock.app
AFTER_DRAIN_SECONDS = 10.0  # the app's own shutdown and the interpreter's exit, then the guard dumps and exits 1


def _printable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _printable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(item) for item in value]
    return value


async def invalid_body(_request: Request, error: RequestValidationError) -> JSONResponse:
    problems = [
        {"field": ".".join(str(part) for part in item.get("loc", ())), "error": str(item.get("msg", ""))}
        for item in _printable(list(error.errors()))
    ]
    return JSONResponse(
        status_code=422,
        content={"error": 'the body must be a JSON object: one reading, or {"readings": [...]}', "problems": problems},
    )


def canary_weights() -> Weights:
    """The public endpoints' weights per version, as this app's copy of the control plane routes them."""
    processor = getattr(stock, "processor", None)  # set by the stock app's startup
    weights: dict[str, dict[str, float]] = {}
    if processor is None:
        return weights
    for canary in processor.get_canary_endpoints().values():
        for url, weight in zip(canary.load_endpoints or (), canary.weights or (), strict=False):
            endpoint, version = endpoint_labels(str(url))
            weights.setdefault(endpoint, {})[version] = float(weight)
    return weights


app.add_exception_handler(RequestValidationError, invalid_body)
metrics = process_telemetry().metrics
metrics.watch_canary(canary_weights)
app.add_route(METRICS_PATH, MetricsApp(metrics.registry), include_in_schema=False)
enable_stack_dumps()
app.router.add_event_handler("startup", replay_early_stop)  # uvicorn's handlers are in place (serving/launch.py)
app.router.add_event_handler("shutdown", lambda: arm_overrun_guard("serving", AFTER_DRAIN_SECONDS))

__all__ = ["app"]
