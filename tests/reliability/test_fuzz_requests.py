"""Fuzzed request bodies never crash the server: every reply is an envelope, never a 500.

Bodies are drawn per endpoint from its own request fields (taken from the SDK's v2.23 request schemas) with
values of any JSON type, plus ids of objects that exist, so handlers get past "not found" and deep into their
validation. The hot endpoints get many more examples.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from services.clearml_server.endpoints import ENDPOINTS
from tests.clearml_server.conftest import InProcessApi

HOT = [
    "tasks.get_all",
    "tasks.get_by_id",
    "tasks.create",
    "tasks.edit",
    "tasks.enqueue",
    "tasks.clone",
    "tasks.started",
    "tasks.edit_hyper_params",
    "tasks.add_or_update_artifacts",
    "events.add_batch",
    "queues.get_next_task",
    "queues.get_all",
    "models.get_all",
    "projects.get_all",
]


def _request_schema(endpoint: str) -> dict[str, Any]:
    service, action = endpoint.split(".", 1)
    try:
        module = importlib.import_module(f"clearml.backend_api.services.v2_23.{service}")
    except ImportError:
        return {}
    request = getattr(module, "".join(part.capitalize() for part in action.split("_")) + "Request", None)
    return dict(getattr(request, "_schema", None) or {})


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessApi, list[str]]]:
    api = InProcessApi(Path(tmp_path_factory.mktemp("fuzz")))
    project = api.project("fuzz")
    task = api.task("fuzz", project)
    model = api.ok("models.create", {"name": "m", "uri": "http://x/m", "task": task})["id"]
    queue = api.ok("queues.get_default", {})["id"]
    yield api, [project, task, model, queue, "default", "", "-archived", "__$all"]
    api.state.server.store.close()


# Values the handlers look for, so fuzzed bodies often get past the first check.
VOCABULARY = [
    "training", "data_processing", "service", "created", "queued", "in_progress", "completed", "published",
    "input", "output", "all", "section", "none", "log", "training_stats_scalar", "plot", "iter", "asc", "desc",
    "General", "Production", "m", "v",
]  # fmt: skip


def json_values(ids: list[str]) -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**40), 2**40)
        | st.floats(allow_nan=True)
        | st.text(max_size=20)
        | st.sampled_from(ids)
        | st.sampled_from(VOCABULARY)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | st.sampled_from(ids), inner, max_size=4)
        ),
        max_leaves=12,
    )


def typed_value(declared: Any, ids: list[str]) -> st.SearchStrategy[Any]:
    """A value of the JSON type the request schema declares, most of the time; anything, sometimes."""
    kinds = declared if isinstance(declared, list) else [declared]
    names = st.sampled_from(ids) | st.sampled_from(VOCABULARY) | st.text(max_size=12)
    options: list[st.SearchStrategy[Any]] = []
    for kind in kinds:
        if kind == "string":
            options.append(names)
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind in ("integer", "number"):
            options.append(st.integers(-5, 1000))
        elif kind == "array":
            options.append(st.lists(names, max_size=4) | st.lists(json_values(ids), max_size=3))
        elif kind == "object" or kind is None:
            options.append(st.dictionaries(names, json_values(ids), max_size=4))
    typed = st.one_of(options) if options else json_values(ids)
    return st.one_of(typed, typed, typed, json_values(ids))


def bodies(endpoint: str, ids: list[str]) -> st.SearchStrategy[Any]:
    schema = _request_schema(endpoint)
    properties: dict[str, Any] = schema.get("properties") or {
        key: {"type": "string"} for key in ("task", "id", "name", "queue", "model", "project")
    }
    required = [key for key in schema.get("required") or [] if key in properties]
    fields = {key: typed_value(spec.get("type"), ids) for key, spec in properties.items()}
    shaped = st.fixed_dictionaries(
        {key: fields[key] for key in required},
        optional={key: value for key, value in fields.items() if key not in required},
    )
    return st.one_of(shaped, shaped, shaped, json_values(ids))


def _assert_envelope(api: InProcessApi, endpoint: str, body: Any) -> None:
    raw = json.dumps(body, allow_nan=True).encode()
    status, document = api.raw(f"/v2.23/{endpoint}", raw, {"Authorization": f"Bearer {api.token}"})
    assert status in (200, 400, 413), (endpoint, body, document["meta"])
    assert document["meta"]["result_msg"]


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_every_endpoint_survives_fuzzed_bodies(seeded: tuple[InProcessApi, list[str]], endpoint: str) -> None:
    api, ids = seeded

    @settings(
        max_examples=150 if endpoint in HOT else 25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(body=bodies(endpoint, ids))
    def check(body: Any) -> None:
        _assert_envelope(api, endpoint, body)

    check()


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=st.binary(max_size=200),
    path=st.sampled_from(
        ["/v2.23/tasks.get_all", "/tasks.edit", "/v2.5/events.add_batch", "/auth.login", "/v2.23/queues.get_next_task"]
    ),
)
def test_arbitrary_bytes_are_rejected_cleanly(seeded: tuple[InProcessApi, list[str]], raw: bytes, path: str) -> None:
    api, _ = seeded
    status, document = api.raw(
        path, raw, {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json-lines"}
    )
    assert status in (200, 400, 401) and document["meta"]["result_msg"]


class CallSequences(RuleBasedStateMachine):
    """Random call sequences on a fresh server: objects created by earlier calls (with fuzzed fields) are fed to
    later ones, so a malformed value that was stored and only breaks a later read or transition is caught too."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory(prefix="occuloop-fuzz-")
        self.api = InProcessApi(Path(self.folder.name))
        self.ids = ["", "default", "-archived", "__$all"]

    def _send(self, endpoint: str, body: Any) -> None:
        raw = json.dumps(body, allow_nan=True).encode()
        status, document = self.api.raw(f"/v2.23/{endpoint}", raw, {"Authorization": f"Bearer {self.api.token}"})
        assert status in (200, 400, 413), (endpoint, body, document["meta"])
        reply = document.get("data") or {}
        if status == 200 and isinstance(reply.get("id"), str):
            self.ids.append(reply["id"])

    @rule(data=st.data(), endpoint=st.sampled_from(["tasks.create", "tasks.clone", "models.create", "projects.create"]))
    def create(self, data: st.DataObject, endpoint: str) -> None:
        """Mostly valid creates with fuzzed optional fields, so later calls have objects to chew on."""
        valid = {
            "tasks.create": {
                "name": st.text(min_size=1, max_size=8),
                "type": st.sampled_from(["training", "data_processing"]),
            },
            "tasks.clone": {"task": st.sampled_from(self.ids)},
            "models.create": {"name": st.text(min_size=1, max_size=8), "uri": st.just("http://files/m.bin")},
            "projects.create": {"name": st.text(alphabet="abc/", min_size=1, max_size=8)},
        }[endpoint]
        base = data.draw(st.fixed_dictionaries(valid))
        extra = data.draw(bodies(endpoint, self.ids))
        self._send(endpoint, {**extra, **base} if isinstance(extra, dict) else base)

    @rule(data=st.data(), endpoint=st.sampled_from(sorted(ENDPOINTS)))
    def call(self, data: st.DataObject, endpoint: str) -> None:
        self._send(endpoint, data.draw(bodies(endpoint, self.ids)))

    def teardown(self) -> None:
        self.api.state.server.store.close()
        self.folder.cleanup()


TestCallSequences = CallSequences.TestCase
TestCallSequences.settings = settings(max_examples=40, stateful_step_count=50, deadline=None, derandomize=True)
