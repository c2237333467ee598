"""services/loop_state.Api (what `occuloop status` and the demo read the loop with) against a real `occuloop server`:
a call answers its data, a refused call and a missing file raise StateError saying what the server said, and
`occuloop status` reads an empty loop (its service health over services/http_client.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from services.child_processes import EmbeddedServer
from services.loop_state import Api, StateError, read

pytestmark = pytest.mark.contract


def _api(server: EmbeddedServer) -> Api:
    env = server.client_env
    return Api(server.api_url, env["CLEARML_API_ACCESS_KEY"], env["CLEARML_API_SECRET_KEY"])


def test_a_call_logs_in_once_and_answers_the_data(server: EmbeddedServer) -> None:
    api = _api(server)
    assert api.call("projects.get_all", {"only_fields": ["id"]}) == {"projects": []}
    assert read(api).versions == []


def test_a_refused_call_names_the_endpoint_status_and_server_message(server: EmbeddedServer) -> None:
    with pytest.raises(StateError, match=r"tasks\.get_by_id: HTTP 400 .*task") as refused:
        _api(server).call("tasks.get_by_id", {"task": "no-such-task"})
    assert "does not answer" not in str(refused.value)


def test_a_missing_file_and_a_silent_server_are_errors_that_say_so(server: EmbeddedServer) -> None:
    with pytest.raises(StateError, match=r"cannot download .*HTTP 404"):
        _api(server).download(f"{server.files_url}/no/such/file.bin")
    with pytest.raises(StateError, match="does not answer"):
        Api("http://127.0.0.1:9", "key", "secret").call("projects.get_all", {})


def test_occuloop_status_reads_an_empty_loop_from_the_clearml_variables(server: EmbeddedServer) -> None:
    env = {**os.environ, **server.client_env}
    command = [sys.executable, "-m", "services.cli", "status", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["versions"] == 0
