"""In-process access to the server: `api.handle` without sockets, on a fresh data dir per test."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.clearml_server import api as api_module
from services.clearml_server.app import ServerState, open_state
from services.settings import ServerSettings
from tests.support.sdk_shapes import assert_parses_as_sdk_response


class InProcessApi:
    def __init__(self, data_dir: Path) -> None:
        self.state: ServerState = open_state(ServerSettings(data_dir=data_dir))
        assert self.state.credentials is not None
        self.access_key = self.state.credentials.access_key
        self.secret_key = self.state.credentials.secret_key
        self.token = self.login()

    def basic(self, access: str | None = None, secret: str | None = None) -> str:
        pair = f"{access or self.access_key}:{secret if secret is not None else self.secret_key}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def login(self) -> str:
        status, document = self.raw("/auth.login", headers={"Authorization": self.basic()})
        assert status == 200, document
        return str(document["data"]["token"])

    def raw(
        self, path: str, body: bytes | dict[str, Any] | list[Any] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        payload = body if isinstance(body, bytes) else json.dumps(body if body is not None else {}).encode()
        status, encoded = api_module.handle(self.state.server, api_module.ApiRequest(path, headers or {}, payload))
        document = json.loads(encoded)
        assert status == document["meta"]["result_code"]
        return status, document

    def call(self, endpoint: str, body: Any = None, **headers: str) -> tuple[int, dict[str, Any]]:
        all_headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", **headers}
        return self.raw(f"/v2.23/{endpoint}", body if body is not None else {}, all_headers)

    def ok(self, endpoint: str, body: Any = None) -> dict[str, Any]:
        status, document = self.call(endpoint, body)
        assert status == 200, document["meta"]["result_msg"]
        assert_parses_as_sdk_response(endpoint, document["data"])
        return dict(document["data"])

    def fails(self, endpoint: str, body: Any = None, status: int = 400, match: str = "") -> dict[str, Any]:
        actual, document = self.call(endpoint, body)
        assert actual == status, document
        assert re.search(match, document["meta"]["result_msg"]), document["meta"]["result_msg"]
        return dict(document["meta"])

    # shortcuts for building state
    def project(self, name: str = "demo") -> str:
        return str(self.ok("projects.create", {"name": name})["id"])

    def task(self, name: str = "t", project: str | None = None, **fields: Any) -> str:
        body = {"name": name, "type": "training", **fields}
        if project:
            body["project"] = project
        return str(self.ok("tasks.create", body)["id"])

    def get_task(self, task_id: str) -> dict[str, Any]:
        return dict(self.ok("tasks.get_by_id", {"task": task_id})["task"])


@pytest.fixture
def api(tmp_path: Path) -> Iterator[InProcessApi]:
    client = InProcessApi(tmp_path / "server")
    yield client
    client.state.server.store.close()
