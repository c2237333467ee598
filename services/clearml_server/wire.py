"""The ClearML wire protocol, server side: URL shapes, request bodies, the {meta, data} envelope and error codes.

Everything that knows how a ClearML client frames a call lives here, so the endpoint modules only see plain
dicts and raise `ApiError`. Facts come from docs/clearml-wire-protocol.md §1-§3; no clearml-server code was used.
This module must not touch the store, the clock or the network.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

API_VERSION = "2.23"  # highest services module of clearml 2.1.12; Dataset needs >= 2.20
SERVER_VERSION = "1.16.3"  # >= 1.16.3 with feature_set "basic" makes the TriggerScheduler send `_or_` datetime queries
FEATURE_SET = "basic"  # "basic" keeps the SDK from calling enterprise-only endpoints (users.get_vaults)


@dataclass(frozen=True)
class ErrorCode:
    http: int
    subcode: int
    message: str


# (HTTP code, subcode) pairs. The SDK mostly checks only that result_code is 200, but the HTTP status must
# equal meta.result_code, and 401 makes every client refresh its token once.
ENDPOINT_NOT_SUPPORTED = ErrorCode(400, 1, "endpoint is not supported")
INVALID_REQUEST = ErrorCode(400, 11, "invalid request")
REQUEST_TOO_LARGE = ErrorCode(413, 0, "request too large")
VALIDATION_ERROR = ErrorCode(400, 12, "validation error")
INVALID_TASK_ID = ErrorCode(400, 101, "invalid task id")
INVALID_TASK_STATUS = ErrorCode(400, 110, "invalid task status")
INVALID_MODEL_ID = ErrorCode(400, 201, "invalid model id")
INVALID_PROJECT_ID = ErrorCode(400, 401, "invalid project id")
PROJECT_EXISTS = ErrorCode(400, 402, "project name already exists")
PROJECT_NOT_EMPTY = ErrorCode(400, 403, "project has associated tasks or models")
INVALID_QUEUE_ID = ErrorCode(400, 701, "invalid queue id")
QUEUE_EXISTS = ErrorCode(400, 702, "queue name already exists")
QUEUE_NOT_EMPTY = ErrorCode(400, 703, "queue is not empty")
INVALID_CREDENTIALS = ErrorCode(401, 20, "unauthorized (invalid credentials)")
MISSING_CREDENTIALS = ErrorCode(401, 21, "unauthorized (missing credentials)")
INVALID_TOKEN = ErrorCode(401, 23, "unauthorized (invalid token)")
EXPIRED_TOKEN = ErrorCode(401, 24, "unauthorized (token expired)")
INTERNAL_ERROR = ErrorCode(500, 0, "internal server error")


class ApiError(Exception):
    """A client-visible failure: becomes an envelope with `code.http` as both HTTP status and result_code."""

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.code.message}: {self.detail}" if self.detail else self.code.message


def fail(code: ErrorCode, detail: str = "") -> NoReturn:
    raise ApiError(code, detail)


# ---------------------------------------------------------------------------------------------------------------
# URL: /v2.23/tasks.get_all, /tasks.get_all, /api/v2.23/tasks.get_all (behind a path-prefixing ingress)

_CALL_PATH = re.compile(r"^/(?:api/)?(?:v(?P<version>\d+\.\d+)/)?(?P<service>[a-z_]+)\.(?P<action>[a-z_]+)/?$")


@dataclass(frozen=True)
class CallPath:
    service: str
    action: str
    version: str | None

    @property
    def endpoint(self) -> str:
        return f"{self.service}.{self.action}"


def parse_call_path(path: str) -> CallPath | None:
    """The endpoint a request path names, or None when the path is not an API call at all."""
    match = _CALL_PATH.match(path.split("?", 1)[0])
    if not match:
        return None
    return CallPath(match["service"], match["action"], match["version"])


# ---------------------------------------------------------------------------------------------------------------
# Bodies


def parse_body(raw: bytes, content_type: str) -> Any:
    """Decode a request body the way the clients send it.

    The SDK sends JSON on GET (whatever the Content-Type says), the agent POSTs event batches as JSON lines.
    An empty body is an empty object.
    """
    try:
        text = raw.decode("utf-8") if raw else ""
    except UnicodeDecodeError as error:
        fail(INVALID_REQUEST, f"body is not UTF-8 ({error.reason} at byte {error.start})")
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except RecursionError:
        fail(INVALID_REQUEST, "body is nested too deeply")
    except ValueError as whole_error:
        if "json-lines" in content_type.lower() or "\n" in text.strip():
            try:
                return [json.loads(line) for line in text.splitlines() if line.strip()]
            except (ValueError, RecursionError):
                pass
        fail(INVALID_REQUEST, f"body is not valid JSON ({whole_error})")


class Body:
    """Typed, validating access to one request body: a wrong field becomes a 400 that names it.

    Unknown keys (the SDK adds `"method": "get"` to every body) are ignored, never treated as filters.
    """

    def __init__(self, data: Any) -> None:
        if not isinstance(data, dict):
            fail(VALIDATION_ERROR, "request body must be a JSON object")
        self.data: dict[str, Any] = data

    def __contains__(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def _get(self, key: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            fail(VALIDATION_ERROR, f"missing required field '{key}'")
        return value

    def string(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str):
            fail(VALIDATION_ERROR, f"field '{key}' must be a string")
        if required and not value:
            fail(VALIDATION_ERROR, f"field '{key}' must not be empty")
        return value

    def required_string(self, key: str) -> str:
        value = self.string(key, required=True)
        assert value is not None
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            fail(VALIDATION_ERROR, f"field '{key}' must be a boolean")
        return value

    def integer(self, key: str, default: int | None = None, *, minimum: int | None = None) -> int | None:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            fail(VALIDATION_ERROR, f"field '{key}' must be an integer")
        if minimum is not None and value < minimum:
            fail(VALIDATION_ERROR, f"field '{key}' must be >= {minimum}")
        return value

    def number(self, key: str, default: float | None = None) -> float | None:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(VALIDATION_ERROR, f"field '{key}' must be a number")
        return float(value)

    def mapping(self, key: str, *, required: bool = False) -> dict[str, Any] | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            fail(VALIDATION_ERROR, f"field '{key}' must be an object")
        return value

    def array(self, key: str, *, required: bool = False) -> list[Any] | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, list):
            fail(VALIDATION_ERROR, f"field '{key}' must be an array")
        return value

    def strings(self, key: str, *, required: bool = False) -> list[str] | None:
        """A list of strings; a single string is accepted as a one-element list (some clients send `id: "x"`)."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            fail(VALIDATION_ERROR, f"field '{key}' must be an array of strings")
        return value

    def enum(self, key: str, allowed: Iterable[str], default: str | None = None) -> str | None:
        value = self.string(key, default=default)
        allowed = tuple(allowed)
        if value is not None and value not in allowed:
            fail(VALIDATION_ERROR, f"field '{key}' must be one of {', '.join(allowed)}")
        return value


def require_shape(key: str, value: Any, expected: type | tuple[type, ...], what: str) -> None:
    """Validate a nested value; `key` is the dotted path reported back to the client."""
    if isinstance(value, bool) and expected in (int, float, (int, float)):
        fail(VALIDATION_ERROR, f"field '{key}' must be {what}")
    if not isinstance(value, expected):
        fail(VALIDATION_ERROR, f"field '{key}' must be {what}")


def metadata_items(key: str, raw: Any) -> dict[str, dict[str, Any]]:
    """Model and queue metadata: a request's `[{key, type, value}]` list as the stored `{key: item}` object."""
    require_shape(key, raw, list, "an array of {key, type, value}")
    result: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(raw):
        path = f"{key}[{index}]"
        require_shape(path, item, dict, "an object with 'key'")
        if not isinstance(item.get("key"), str) or not item["key"]:
            fail(VALIDATION_ERROR, f"field '{path}.key' must be a non-empty string")
        result[item["key"]] = {"key": item["key"], "type": item.get("type"), "value": item.get("value")}
    return result


# ---------------------------------------------------------------------------------------------------------------
# Envelope


def envelope(
    endpoint: str,
    requested_version: str | None,
    data: dict[str, Any] | None,
    error: ApiError | None = None,
) -> tuple[int, dict[str, Any]]:
    """The HTTP status and the JSON document for one call. The status always equals meta.result_code."""
    code = error.code if error else None
    status = code.http if code else 200
    meta = {
        "id": uuid.uuid4().hex,
        "trx": uuid.uuid4().hex,
        "endpoint": {
            "name": endpoint,
            "requested_version": requested_version or API_VERSION,
            "actual_version": API_VERSION,
        },
        "result_code": status,
        "result_subcode": code.subcode if code else 0,
        "result_msg": error.message if error else "OK",
        "error_stack": None,
        "error_data": {},
    }
    return status, {"meta": meta, "data": data if data is not None else {}}


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")
