"""Static assets at versioned, immutable URLs (`/static/<digest>/<name>`): the UI's own CSS and JS, htmx (vendored
in `static/`, see its README) and plotly.js, read from the installed `plotly` wheel
(`plotly/package_data/plotly.min.js`, 4.8 MB, 1.5 MB gzipped) and only ever linked from pages that draw a chart.
Nothing is fetched at run time; each file is read, digested and gzipped once, on first use."""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import threading
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from .rendering import STATIC, NotFound

PLOTLY = "plotly.min.js"
OWN = ("ui.css", "ui.js", "plots.js", "htmx.min.js")
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    name: str
    digest: str
    raw: bytes
    gzipped: bytes


_assets: dict[str, Asset] = {}
_lock = threading.Lock()


def _source(name: str) -> bytes:
    if name == PLOTLY:
        return (importlib.resources.files("plotly") / "package_data" / PLOTLY).read_bytes()
    if name not in OWN:
        raise NotFound("static file", name)
    return Path(STATIC / name).read_bytes()


def asset(name: str) -> Asset:
    with _lock:
        found = _assets.get(name)
        if found is None:
            raw = _source(name)
            found = _assets[name] = Asset(
                name, hashlib.sha256(raw).hexdigest()[:16], raw, gzip.compress(raw, compresslevel=9, mtime=0)
            )
        return found


def url(name: str) -> str:
    return f"/static/{asset(name).digest}/{name}"


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name != PLOTLY and name not in OWN:
        raise NotFound("static file", name)
    found = asset(name)
    if request.path_params["version"] != found.digest:
        raise NotFound("static file version", request.path_params["version"])
    headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
    media = TYPES[Path(name).suffix]
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(found.gzipped, media_type=media, headers={**headers, "Content-Encoding": "gzip"})
    return Response(found.raw, media_type=media, headers=headers)
