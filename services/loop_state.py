"""The loop's state as the ClearML server records it, read over the plain REST API: dataset versions, training
runs, models, gate receipts, the champion pointer and queue depths. `occuloop status` and the demo's live table
read it; so does the end-to-end test. Read-only, and independent of the SDK so that a status query never
creates tasks or caches."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

import requests

from . import http_client

RECEIPTS_PROJECT = "occuloop/rollout/receipts"
POINTER_TAG = "champion-pointer"
# The history policy (services/dataset_history.py): a squash of the labeled dataset's chain is tagged SQUASH_TAG
# (never Production: it adds no session) and its runtime property SQUASH_OF names the version whose whole content it
# holds, its parent on the dataset's one chain (a new root has no parent in the SDK's sense).
SQUASH_TAG = "squashed"
SQUASH_OF = "squash_of"


class StateError(RuntimeError):
    pass


class Unreachable(StateError):
    """Nothing answered at the API's address (refused, timed out): the server is down or the URL is wrong."""


@dataclass(frozen=True)
class DatasetVersionState:
    dataset_id: str
    name: str
    version: str
    status: str
    tags: tuple[str, ...]
    completed: str | None
    sessions: str  # the version's description: the labeling sessions it added


@dataclass(frozen=True)
class RunState:
    run_id: str
    dataset_id: str
    status: str
    model_id: str | None


@dataclass(frozen=True)
class Decision:
    receipt_id: str
    decision: str  # gate_passed | gate_failed | promoted | rolled_back
    model_id: str
    receipt_uri: str | None  # the receipt JSON on the file server


@dataclass
class LoopState:
    versions: list[DatasetVersionState] = field(default_factory=list)
    runs: list[RunState] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {tags, metadata}
    champion: str | None = None
    queues: dict[str, int] = field(default_factory=dict)

    def run_for(self, dataset_id: str) -> RunState | None:
        return next((run for run in self.runs if run.dataset_id == dataset_id), None)

    def decision_for(
        self, model_id: str | None, kinds: tuple[str, ...] = ("gate_passed", "gate_failed")
    ) -> Decision | None:
        found = [item for item in self.decisions if item.model_id == model_id and item.decision in kinds]
        return found[-1] if found else None


class Expired(StateError):
    """The token was refused (expired or revoked)."""


class Api:
    """A minimal authenticated client of the ClearML REST API (plain HTTP, no SDK)."""

    def __init__(
        self, api_host: str, access_key: str, secret_key: str, *, session: requests.Session | None = None
    ) -> None:
        self.base = api_host.rstrip("/")
        self.session = session  # keep-alive for a long-running reader (the UI); None: a connection per call
        self._basic = "Basic " + base64.b64encode(f"{access_key}:{secret_key}".encode()).decode()
        self._token: str | None = None

    def _post(self, endpoint: str, body: dict[str, Any], authorization: str) -> dict[str, Any]:
        answer = http_client.post(
            f"{self.base}/{endpoint}",
            json_body=body,
            headers={"Authorization": authorization},
            timeout=30,
            session=self.session,
        )
        if answer.status is None:
            raise Unreachable(f"{self.base} does not answer: {answer.error}")
        payload = answer.json_object() or {}
        if not answer.ok:
            detail = (payload.get("meta") or {}).get("result_msg")
            error = Expired if answer.status == 401 and endpoint != "auth.login" else StateError
            raise error(f"{endpoint}: HTTP {answer.status} {detail}")
        data: dict[str, Any] = payload.get("data") or {}
        return data

    def call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        token = self._login() if self._token is None else self._token
        try:
            return self._post(endpoint, body, f"Bearer {token}")
        except Expired:  # a long-running reader (the UI) outlives its token: log in again, once
            return self._post(endpoint, body, f"Bearer {self._login()}")

    def _login(self) -> str:
        self._token = str(self._post("auth.login", {}, self._basic)["token"])
        return self._token

    def download(self, uri: str) -> bytes:
        """A file from the file server (which takes the same token)."""
        if self._token is None:
            self.call("projects.get_all", {"only_fields": ["id"], "page": 0, "page_size": 1})
        answer = http_client.get(
            uri, headers={"Authorization": f"Bearer {self._token}"}, timeout=30, session=self.session
        )
        if not answer.ok:
            raise StateError(f"cannot download {uri}: {answer.detail()}")
        return answer.body

    def project_ids(self, pattern: str) -> list[str]:
        found = self.call("projects.get_all", {"name": pattern, "search_hidden": True, "only_fields": ["id"]})
        return [str(item["id"]) for item in found.get("projects") or []]


def read(api: Api, dataset_project: str = "occuloop/labels") -> LoopState:
    state = LoopState()
    projects = api.project_ids(f"^{re.escape(dataset_project)}/\\.datasets/")
    if projects:
        found = api.call(
            "tasks.get_all",
            {
                "project": projects,
                "system_tags": ["dataset", "-archived"],
                "only_fields": ["id", "name", "status", "tags", "completed", "runtime", "comment", "created"],
                "order_by": ["created"],
                "search_hidden": True,
            },
        )
        state.versions = [
            DatasetVersionState(
                str(task["id"]),
                str(task.get("name") or ""),
                str((task.get("runtime") or {}).get("version") or ""),
                str(task.get("status")),
                tuple(task.get("tags") or ()),
                task.get("completed"),
                str(task.get("comment") or "").removeprefix("labeling sessions: "),
            )
            for task in found.get("tasks") or []
        ]
    runs = api.call(
        "tasks.get_all",
        {"tags": ["retrain"], "system_tags": ["-archived"], "only_fields": ["id", "tags", "status", "models"]},
    )
    for task in runs.get("tasks") or []:
        dataset = next((tag.split(":", 1)[1] for tag in task.get("tags") or [] if tag.startswith("dataset:")), "")
        outputs = ((task.get("models") or {}).get("output")) or []
        state.runs.append(
            RunState(str(task["id"]), dataset, str(task.get("status")), outputs[-1]["model"] if outputs else None)
        )
    model_ids = [run.model_id for run in state.runs if run.model_id]
    if model_ids:
        models = api.call("models.get_all", {"id": model_ids, "only_fields": ["id", "tags", "metadata"]})
        state.models = {str(item["id"]): item for item in models.get("models") or []}
    receipts_projects = api.project_ids(f"^{re.escape(RECEIPTS_PROJECT)}$")
    if receipts_projects:
        found = api.call(
            "tasks.get_all",
            {
                "project": receipts_projects,
                "status": ["published"],
                "only_fields": ["id", "hyperparams", "execution.artifacts"],
                "order_by": ["created"],
            },
        )
        for task in found.get("tasks") or []:
            receipt = (task.get("hyperparams") or {}).get("Receipt") or {}
            artifacts = (task.get("execution") or {}).get("artifacts") or []
            state.decisions.append(
                Decision(
                    str(task["id"]),
                    str((receipt.get("decision") or {}).get("value") or ""),
                    str((receipt.get("model_id") or {}).get("value") or ""),
                    next((str(item["uri"]) for item in artifacts if item.get("key") == "receipt"), None),
                )
            )
    pointers = api.call(
        "tasks.get_all", {"tags": [POINTER_TAG], "only_fields": ["hyperparams"], "order_by": ["created"]}
    )
    for task in (pointers.get("tasks") or [])[:1]:
        state.champion = ((task.get("hyperparams") or {}).get("Champion") or {}).get("model_id", {}).get(
            "value"
        ) or None
    queues = api.call("queues.get_all", {"only_fields": ["name", "entries"]})
    state.queues = {str(queue["name"]): len(queue.get("entries") or []) for queue in queues.get("queues") or []}
    return state


def holdout_accuracy(model: dict[str, Any] | None) -> str:
    metadata = (model or {}).get("metadata") or {}
    value = (metadata.get("holdout_accuracy") or {}).get("value")
    return f"{100 * float(value):.2f}%" if value else "-"


def receipt(api: Api, decision: Decision) -> dict[str, Any]:
    """The decision's receipt (the gate's JSON: rule, reason, both models' metrics with CIs)."""
    if decision.receipt_uri is None:
        return {}
    value = json.loads(api.download(decision.receipt_uri))
    return value if isinstance(value, dict) else {}


def accuracy_with_ci(entry: dict[str, Any] | None) -> str:
    ci = (entry or {}).get("accuracy_ci95") or {}
    if not ci:
        return "-"
    return f"{100 * ci['accuracy']:.2f} [{100 * ci['low']:.1f}, {100 * ci['high']:.1f}]"
