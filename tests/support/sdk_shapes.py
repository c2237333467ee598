"""Check a reply the way the clearml SDK will read it: through its own v2.23 response classes.

The SDK builds `XxxResponse(**data)`, and the classes' setters check every field's type, so a reply that parses
here is one the SDK can use. (The SDK itself only logs a warning and carries on with no response object.)
"""

from __future__ import annotations

import importlib
from typing import Any


def _response_class(endpoint: str) -> type | None:
    service, action = endpoint.split(".", 1)
    try:
        module = importlib.import_module(f"clearml.backend_api.services.v2_23.{service}")
    except ImportError:
        return None
    name = "".join(part.capitalize() for part in action.split("_")) + "Response"
    found = getattr(module, name, None)
    return found if isinstance(found, type) else None


def assert_parses_as_sdk_response(endpoint: str, data: dict[str, Any]) -> None:
    response_class = _response_class(endpoint)
    if response_class is None:
        return
    try:
        response_class(**data)
    except Exception as error:  # the SDK would drop this reply; say which field broke it
        raise AssertionError(f"{endpoint} reply does not parse as {response_class.__name__}: {error}") from error
