"""Everything the UI reads, and the only place its requests are built: the ClearML REST API (through
`loop_state.Api`, plain HTTP with the UI's own read credentials), the file server (receipts), and the services'
small HTTP APIs (`/status`, the sync's `/quarantine`).

Read-only by construction: `Reader.call` refuses any endpoint outside `READ_ENDPOINTS`, and nothing else here sends
a request to the API. `tests/services/test_ui_reads.py` checks that every name in it is a read, and the page tests
check the server's own request log after crawling every page.

The pages never see a payload they did not ask for through a method of `Reader`; they get plain dicts (the
wire shapes, documented by the ClearML API) and pass them to the pure joins in `joins.py`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import requests

from .. import http_client
from ..loop_state import POINTER_TAG, Api, StateError, Unreachable

# auth.login is a POST that creates nothing but a token; every other entry reads.
READ_ENDPOINTS = frozenset(
    {
        "auth.login",
        "projects.get_all",
        "tasks.get_all",
        "tasks.get_configurations",
        "events.get_task_log",
        "events.scalar_metrics_iter_histogram",
        "events.get_task_plots",
        "events.get_task_single_value_metrics",
        "events.debug_images",
        "models.get_all",
        "queues.get_all",
        "workers.get_all",
    }
)
TASK_LIST_FIELDS = [
    "id",
    "name",
    "type",
    "status",
    "status_message",
    "project",
    "tags",
    "system_tags",
    "created",
    "started",
    "completed",
    "last_update",
    "comment",
    "runtime",
    "models",
    "parent",
    "last_iteration",
]
RUN_FIELDS = ["id", "name", "status", "project", "tags", "started", "completed", "models.output"]
VERSION_FIELDS = ["id", "name", "status", "project", "tags", "completed", "comment", "runtime"]
MODEL_LIST_FIELDS = ["id", "name", "tags", "system_tags", "metadata", "task", "created", "ready", "project", "uri"]
PROJECTS_SECONDS = 30.0
RECEIPT_CACHE_SIZE = 2048
SCALARS_CACHE_SIZE = (
    16  # finished tasks' scalar series (each up to a few MB)  # receipts are write-once: a cached one is never stale
)


class ReadRefused(RuntimeError):
    """A write (or an unknown endpoint) was asked of the read-only client: a bug in the UI."""


class Reader:
    """The UI's read-only view of one ClearML server and the loop's services."""

    def __init__(
        self,
        api_host: str,
        access_key: str,
        secret_key: str,
        *,
        service_urls: Mapping[str, str] | None = None,
        dataset_project: str = "occuloop/labels",
        training_project: str = "occuloop/training",
        rollout_project: str = "occuloop/rollout",
        serving_project: str = "occuloop/serving",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = requests.Session()
        self._api = Api(api_host, access_key, secret_key, session=self._session)
        self.api_host = api_host
        self.service_urls = dict(service_urls or {})  # name -> base URL of its HTTP API (sync, trigger, rollout)
        self.dataset_project = dataset_project
        self.training_project = training_project
        self.rollout_project = rollout_project
        self.serving_project = serving_project
        self._clock = clock
        self._projects: dict[str, tuple[float, dict[str, str]]] = {}  # pattern -> (read at, id -> name)
        self._receipts: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._receipts_lock = threading.Lock()  # also guards the scalars cache
        self._scalars: OrderedDict[tuple[str, str, int, str | None], dict[str, Any]] = OrderedDict()

    # -- the API -------------------------------------------------------------------------------------------------

    def call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        if endpoint not in READ_ENDPOINTS:
            raise ReadRefused(f"{endpoint} is not a read; the UI never writes")
        return self._api.call(endpoint, body)

    def projects(self, ids: list[str] | None = None, pattern: str | None = None) -> dict[str, str]:
        """Project id -> name."""
        body: dict[str, Any] = {"only_fields": ["id", "name"], "search_hidden": True}
        if ids is not None:
            if not ids:
                return {}
            body["id"] = sorted(set(ids))
        if pattern is not None:
            body["name"] = pattern
        found = self.call("projects.get_all", body).get("projects") or []
        return {str(item["id"]): str(item.get("name") or "") for item in found}

    def tasks(
        self,
        *,
        ids: list[str] | None = None,
        tags: list[str] | None = None,
        system_tags: list[str] | None = None,
        projects: list[str] | None = None,
        status: list[str] | None = None,
        types: list[str] | None = None,
        fields: list[str] | None = None,
        order_by: str = "-created",
        page: int = 0,
        page_size: int = 100,
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {
            "only_fields": fields or TASK_LIST_FIELDS,
            "order_by": [order_by],
            "page": page,
            "page_size": page_size,
            "search_hidden": True,
        }
        for key, value in (
            ("id", ids),
            ("tags", tags),
            ("system_tags", system_tags),
            ("project", projects),
            ("status", status),
            ("type", types),
        ):
            if value is not None:
                body[key] = value
        return list(self.call("tasks.get_all", body).get("tasks") or [])

    def task(self, task_id: str) -> dict[str, Any] | None:
        """One task with every field (configuration, hyper-parameters, execution, models)."""
        found = self.call("tasks.get_all", {"id": [task_id], "search_hidden": True}).get("tasks") or []
        return found[0] if found else None

    def configurations(self, task_id: str) -> list[dict[str, Any]]:
        found = self.call("tasks.get_configurations", {"tasks": [task_id]}).get("configurations") or []
        return list((found[0].get("configuration") or []) if found else [])

    def console(self, task_id: str, *, batch_size: int, before: int | None = None) -> dict[str, Any]:
        """A page of console lines, newest first (`before`: a timestamp, for the page before it)."""
        body: dict[str, Any] = {"task": task_id, "batch_size": batch_size, "navigate_earlier": True, "order": "desc"}
        if before is not None:
            body["from_timestamp"] = before
        return self.call("events.get_task_log", body)

    def console_after(self, task_id: str, *, after: int, batch_size: int) -> dict[str, Any]:
        """Lines newer than `after` (a timestamp), oldest first: what a followed console appends."""
        body = {
            "task": task_id,
            "batch_size": batch_size,
            "navigate_earlier": False,
            "order": "asc",
            "from_timestamp": after,
        }
        return self.call("events.get_task_log", body)

    def scalars(self, task_id: str, *, samples: int, finished_at: str | None = None) -> dict[str, Any]:
        """A task's scalar series. A finished task's (`finished_at`: its last update) are kept: they cannot change
        without changing that, and reading 100,000 points costs the server seconds."""
        body = {"task": task_id, "samples": samples, "key": "iter"}
        return self._kept(("scalars", task_id, samples, finished_at), "events.scalar_metrics_iter_histogram", body)

    def single_values(self, task_id: str, *, finished_at: str | None = None) -> list[dict[str, Any]]:
        """A task's single-value metrics (kept like its scalars: the server reads every scalar event to find them)."""
        found = (
            self._kept(
                ("single", task_id, 0, finished_at), "events.get_task_single_value_metrics", {"tasks": [task_id]}
            ).get("tasks")
            or []
        )
        return list(found[0].get("values") or []) if found else []

    def _kept(self, key: tuple[str, str, int, str | None], endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        if key[3] is None:  # not finished: read it now
            return self.call(endpoint, body)
        with self._receipts_lock:
            if key in self._scalars:
                self._scalars.move_to_end(key)
                return self._scalars[key]
        found = self.call(endpoint, body)
        with self._receipts_lock:
            self._scalars[key] = found
            while len(self._scalars) > SCALARS_CACHE_SIZE:
                self._scalars.popitem(last=False)
        return found

    def plots(self, task_id: str) -> list[dict[str, Any]]:
        return list(self.call("events.get_task_plots", {"task": task_id, "iters": 1}).get("plots") or [])

    def debug_images(self, task_id: str) -> list[dict[str, Any]]:
        found = self.call("events.debug_images", {"metrics": [{"task": task_id}], "iters": 1}).get("metrics") or []
        return [event for item in found for it in item.get("iterations") or [] for event in it.get("events") or []]

    def models(
        self,
        *,
        ids: list[str] | None = None,
        tags: list[str] | None = None,
        task: str | None = None,
        page: int = 0,
        page_size: int = 100,
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {
            "only_fields": MODEL_LIST_FIELDS,
            "order_by": ["-created"],
            "page": page,
            "page_size": page_size,
        }
        if ids is not None:
            if not ids:
                return []
            body["id"] = sorted(set(ids))
        if tags is not None:
            body["tags"] = tags
        if task is not None:
            body["task"] = [task]
        return list(self.call("models.get_all", body).get("models") or [])

    def model(self, model_id: str) -> dict[str, Any] | None:
        found = self.call("models.get_all", {"id": [model_id]}).get("models") or []
        return found[0] if found else None

    def queues(self) -> list[dict[str, Any]]:
        return list(
            self.call("queues.get_all", {"only_fields": ["id", "name", "entries", "last_update"]}).get("queues") or []
        )

    def workers(self) -> list[dict[str, Any]]:
        return list(self.call("workers.get_all", {}).get("workers") or [])

    # -- the loop's own records ------------------------------------------------------------------------------------
    # Every list is narrowed to the projects that hold it: the server filters other fields by scanning all tasks
    # (~100 ms at 10,000 tasks, BENCHMARKS.md), a project is an index lookup.

    def named_projects(self, pattern: str) -> dict[str, str]:
        """Projects whose name matches `pattern` (id -> name), kept PROJECTS_SECONDS: names and ids do not change,
        and a project created meanwhile shows up at most that much later."""
        now = self._clock()
        found = self._projects.get(pattern)
        if found is None or now - found[0] > PROJECTS_SECONDS:
            found = (now, self.projects(pattern=pattern))
            self._projects[pattern] = found
        return found[1]

    def project_ids(self, name: str) -> list[str]:
        """The id of the project called exactly `name` (a list: empty when there is none)."""
        return list(self.named_projects(f"^{re.escape(name)}$"))

    def dataset_projects(self, *, every_dataset: bool = False) -> dict[str, str]:
        """The hidden `.datasets` projects of the labeled data set (id -> name), or of every data set."""
        if every_dataset:
            return self.named_projects("/\\.datasets/")
        return self.named_projects(f"^{re.escape(self.dataset_project)}/\\.datasets/")

    def runs(self, *, dataset_ids: list[str] | None = None, page_size: int = 500) -> list[dict[str, Any]]:
        """The training runs the trigger made (tag `retrain`), newest first; only those of `dataset_ids` (their tag
        `dataset:<id>`) when given."""
        projects = self.project_ids(self.training_project)
        if not projects or dataset_ids == []:
            return []
        tags = [f"dataset:{item}" for item in dataset_ids] if dataset_ids is not None else ["retrain"]  # any of them
        return self.tasks(
            tags=tags, system_tags=["-archived"], projects=projects, fields=RUN_FIELDS, page_size=page_size
        )

    def dataset_versions(self, *, projects: list[str] | None = None, page_size: int = 500) -> list[dict[str, Any]]:
        """Dataset versions (tasks with the system tag `dataset`), newest first; all data sets when `projects` is
        None."""
        return self.tasks(
            system_tags=["dataset", "-archived"], projects=projects, fields=VERSION_FIELDS, page_size=page_size
        )

    def receipt_tasks(
        self, *, model_ids: list[str] | None = None, ids: list[str] | None = None, page: int = 0, page_size: int = 500
    ) -> list[dict[str, Any]]:
        """Decision receipts, newest first: all, those about `model_ids` (a receipt task is named
        `<decision> <model id>`, registry.py), or those with these ids."""
        projects = self.project_ids(f"{self.rollout_project}/receipts")
        if not projects or model_ids == [] or ids == []:
            return []
        body: dict[str, Any] = {
            "project": projects,
            "status": ["published"],
            "order_by": ["-created"],
            "page": page,
            "page_size": page_size,
            "search_hidden": True,
            "only_fields": ["id", "created", "project", "hyperparams.Receipt", "execution.artifacts"],
        }
        if model_ids is not None:
            body["name"] = " (" + "|".join(re.escape(item) for item in sorted(set(model_ids))) + ")$"
        if ids is not None:
            body["id"] = ids
        return list(self.call("tasks.get_all", body).get("tasks") or [])

    def pointer(self) -> dict[str, Any] | None:
        """The champion pointer task (its `Champion` section holds model_id, revision, decision_id, history)."""
        projects = self.project_ids(self.rollout_project)
        if not projects:
            return None
        fields = ["id", "name", "hyperparams", "project", "last_update"]
        found = self.tasks(tags=[POINTER_TAG], projects=projects, fields=fields, order_by="created", page_size=1)
        return found[0] if found else None

    def receipt(self, receipt_task_id: str, uri: str) -> dict[str, Any]:
        """A receipt's JSON from the file server; cached (receipts are never rewritten)."""
        with self._receipts_lock:
            if receipt_task_id in self._receipts:
                self._receipts.move_to_end(receipt_task_id)
                return self._receipts[receipt_task_id]
        document = self._receipt_bytes(uri)
        with self._receipts_lock:
            self._receipts[receipt_task_id] = document
            while len(self._receipts) > RECEIPT_CACHE_SIZE:
                self._receipts.popitem(last=False)
        return document

    def receipt_raw(self, uri: str) -> bytes:
        return self._api.download(uri)

    def _receipt_bytes(self, uri: str) -> dict[str, Any]:
        value = json.loads(self._api.download(uri))
        return value if isinstance(value, dict) else {}

    # -- the services --------------------------------------------------------------------------------------------

    def service_status(self, name: str) -> dict[str, Any]:
        """`GET /status` of a loop service: its answer, or {"state": "not running", "error": ...}."""
        base = self.service_urls.get(name)
        if not base:
            return {"state": "not configured"}
        answer = http_client.get(f"{base.rstrip('/')}/status", timeout=3)
        if answer.status is None:
            return {"state": "not running", "error": answer.error[:200]}
        return answer.json_object() or {"state": f"HTTP {answer.status}"}

    def quarantine(self) -> dict[str, Any] | None:
        """The sync's `GET /quarantine` (rejected files with their reasons), or None when the sync does not answer."""
        base = self.service_urls.get("sync")
        if not base:
            return None
        answer = http_client.get(f"{base.rstrip('/')}/quarantine", timeout=5)
        return answer.json_object() if answer.ok else None


__all__ = ["READ_ENDPOINTS", "ReadRefused", "Reader", "StateError", "Unreachable"]


def reader_of(request: Any) -> Reader:
    """The app's Reader (set by `app.create_app`)."""
    reader: Reader = request.app.state.reader
    return reader
