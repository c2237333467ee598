"""How a page leaves the UI: one Jinja template (autoescape on, so every server value is text) or, with
`?format=json` (or an `Accept: application/json`), the same data as JSON for tests and scripts; the query-parameter
readers that answer 400 naming the parameter; and the filters the templates share (short ids, times, sizes)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"


class BadParameter(ValueError):
    """A malformed query parameter: answered 400 with the parameter's name, value and what was expected."""

    def __init__(self, name: str, value: str, expected: str) -> None:
        super().__init__(f"query parameter {name}={value!r}: expected {expected}")
        self.name = name
        self.value = value
        self.expected = expected


T = TypeVar("T", int, float)


class NotFound(LookupError):
    """An id or path the server does not know: answered with the 404 page and its "go to id" box."""

    def __init__(self, what: str, ident: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.ident = ident


def _number_param(
    request: Request, name: str, default: T, parse: Callable[[str], T], ok: Callable[[T], bool], expected: str
) -> T:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise BadParameter(name, raw, expected) from None
    if not ok(value):
        raise BadParameter(name, raw, expected)
    return value


def int_param(request: Request, name: str, default: int, *, low: int = 0, high: int = 1_000_000) -> int:
    return _number_param(
        request, name, default, int, lambda value: low <= value <= high, f"an integer from {low} to {high}"
    )


def float_param(request: Request, name: str, default: float, *, low: float, high: float) -> float:
    return _number_param(
        request,
        name,
        default,
        float,
        lambda value: math.isfinite(value) and low <= value <= high,
        f"a number from {low:g} to {high:g}",
    )


def tab_param(raw: str, aliases: Mapping[str, str], what: str) -> str:
    """A task or model page's tab from the rest of its path, as the ClearML web app spells it (`output/<tab>` or
    `<tab>`, with its aliases); an unknown tab is a 404."""
    parts = [part for part in raw.split("/") if part]
    if parts and parts[0] == "output":
        parts = parts[1:]
    tab = aliases.get(parts[0] if parts else "")
    if tab is None:
        raise NotFound(what, raw)
    return tab


def choice_param(request: Request, name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise BadParameter(name, raw, "one of " + ", ".join(choices))
    return raw


def wants_json(request: Request) -> bool:
    fmt = choice_param(request, "format", "html", ("html", "json"))
    return fmt == "json" or request.url.path.endswith(".json")


def plain(value: Any) -> Any:
    """Dataclasses, datetimes and tuples as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {item.name: plain(getattr(value, item.name)) for item in dataclasses.fields(value)}
        for name in getattr(value, "json_properties", ()):
            fields[name] = plain(getattr(value, name))
        return fields
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def short(value: Any, length: int = 8) -> str:
    text = str(value or "")
    return text[:length] if len(text) > length else text


def when(value: Any) -> str:
    """A time as people read it here: `2026-12-04 17:49:07 UTC`."""
    moment = value if isinstance(value, datetime) else None
    if moment is None and value:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value or "")


def pct(value: Any, digits: int = 2) -> str:
    if value is None or value == "":
        return "-"
    return f"{100 * float(value):.{digits}f} %"


def size(value: Any) -> str:
    number = float(value or 0)
    sign = "-" if number < 0 else ""
    number = abs(number)
    for unit in ("B", "KB", "MB", "GB"):
        if number < 1024 or unit == "GB":
            return f"{sign}{number:.0f} {unit}" if unit == "B" else f"{sign}{number:.1f} {unit}"
        number /= 1024
    return f"{sign}{number:.1f} GB"


def duration(seconds: Any) -> str:
    if seconds is None:
        return "-"
    total = float(seconds)
    if total < 60:
        return f"{total:.1f} s"
    minutes, rest = divmod(int(total), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(short=short, when=when, iso=iso, pct=pct, size=size, duration=duration)
    env.filters["tojson_safe"] = lambda value: json.dumps(plain(value)).replace("</", "<\\/")
    return env


class Renderer:
    """Renders a page's data with its template, or as JSON."""

    def __init__(self, globals_: Mapping[str, Any]) -> None:
        self.env = environment()
        self.env.globals.update(globals_)

    def page(
        self, request: Request, template: str, data: Mapping[str, Any], *, status: int = 200, title: str = ""
    ) -> Response:
        if wants_json(request):
            return JSONResponse(plain(data), status_code=status)
        return self.html(request, template, {**data, "title": title}, status=status)

    def html(self, request: Request, template: str, context: Mapping[str, Any], *, status: int = 200) -> Response:
        fragment = request.query_params.get("fragment") == "1"
        body = self.env.get_template(template).render(request=request, fragment=fragment, **context)
        return HTMLResponse(body, status_code=status)


def renderer_of(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer
