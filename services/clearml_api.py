"""Plain ClearML API requests on the SDK's session (its configuration, auth and retries), for the callers that need
a request the SDK has no method for, or want the answer as plain data: the trigger's scheduler and the service
tasks (services/service_tasks/).

One of the modules allowed to import `clearml` (the `clearml` import contract in pyproject.toml).
"""

from __future__ import annotations

import re
from typing import Any

from clearml import Task


class ServerError(RuntimeError):
    pass


def call(endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    """One API request on the SDK's session (its auth and retries); the `data` of the answer, or ServerError."""
    service, action = endpoint.split(".", 1)
    response = Task._get_default_session().send_request(service, action, json=body)
    try:
        payload = response.json()
    except ValueError as error:
        raise ServerError(f"{endpoint}: HTTP {response.status_code}") from error
    meta = payload.get("meta") or {}
    if not response.ok:
        raise ServerError(
            f"{endpoint}: {meta.get('result_code')}/{meta.get('result_subcode')} {meta.get('result_msg')}"
        )
    data: dict[str, Any] = payload.get("data") or {}
    return data


PAGE = 500  # rows per request when reading every page


def every_page(endpoint: str, body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Every row of a `*.get_all` listing, a page at a time (ordered by id, which no edit moves): a single request
    with a large page size silently drops the rows past it."""
    rows: list[dict[str, Any]] = []
    for page in range(1_000_000):
        found = call(endpoint, {**body, "order_by": ["id"], "page": page, "page_size": PAGE}).get(key) or []
        rows.extend(found)
        if len(found) < PAGE:
            return rows
    return rows


def project_id(name: str, *, create: bool = False) -> str | None:
    found = call("projects.get_all", {"name": f"^{re.escape(name)}$", "only_fields": ["id"], "search_hidden": True})
    if found.get("projects"):
        return str(found["projects"][0]["id"])
    if not create:
        return None
    return str(call("projects.create", {"name": name, "description": "occuloop"})["id"])


def queue_id(name: str) -> str | None:
    """The id of the queue with exactly this name, or None."""
    found = call("queues.get_all", {"name": f"^{re.escape(name)}$", "only_fields": ["id", "name"]})
    return next((str(queue["id"]) for queue in found.get("queues") or [] if queue.get("name") == name), None)
