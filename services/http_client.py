"""How occuloop's processes call HTTP ports: each other's (`/sync`, `/notify`, `/status`, `/healthz`), the inference
app's and the ClearML REST API. One `requests` call with a timeout, and one `Answer` that says what came back, so a
caller decides what a refusal or silence means instead of repeating its own ladder of `HTTPError`/`OSError`.

A 4xx/5xx is an answer (`status` set), not an exception; only "nothing answered" (refused, reset, timed out, a bad
host) has `status=None`, with the reason in `error`. Nothing here retries: the callers' loops do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests


@dataclass(frozen=True)
class Answer:
    status: int | None  # the HTTP status, or None when nothing answered
    body: bytes = b""
    error: str = ""  # why nothing answered

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def json_object(self) -> dict[str, Any] | None:
        value = self.json()
        return value if isinstance(value, dict) else None

    def detail(self) -> str:
        """One line for a log or an error message: `HTTP 503 <start of the body>`, or why nothing answered."""
        if self.status is None:
            return self.error
        return f"HTTP {self.status} {self.body[:200].decode(errors='replace')}".rstrip()


def call(
    method: str,
    url: str,
    *,
    timeout: float,
    json_body: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
) -> Answer:
    """`session`: keep connections alive across calls (a long-running reader); None: one connection per call."""
    try:
        response = (session or requests).request(
            method, url, json=json_body, data=data, headers=dict(headers or {}), timeout=timeout
        )
    except requests.RequestException as error:
        return Answer(None, error=str(error))
    return Answer(response.status_code, response.content)


def get(
    url: str, *, timeout: float, headers: Mapping[str, str] | None = None, session: requests.Session | None = None
) -> Answer:
    return call("GET", url, timeout=timeout, headers=headers, session=session)


def post(
    url: str,
    *,
    timeout: float,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
) -> Answer:
    """POST `json_body` as JSON (no body when None)."""
    data = None if json_body is not None else b""
    return call("POST", url, timeout=timeout, json_body=json_body, data=data, headers=headers, session=session)
